package io.github.dsconv.inference;

import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.engine.EngineOptions;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.engine.graph.ExecutionPlan;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import org.nd4j.linalg.indexing.BooleanIndexing;
import org.nd4j.linalg.indexing.conditions.Conditions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * A converted network ready to deploy: its DSConv layers on the integer engine (the native fused kernel where it
 * loads; DSConv, ICCV 2019, section 3) and the whole network run as one {@link ExecutionPlan} (activations in the
 * engine's buffers from input to logits; {@link #fallbacks()} lists the nodes DL4J runs), served to concurrent
 * callers. The logits are the network's own on the engine, bit for bit.
 *
 * <pre>{@code
 * try (DsconvInference model = DsconvInference.load(Path.of("resnet-w4.dsconv.zip"))) {
 *     INDArray logits = model.output(images);              // [n, classes]
 *     float[] probs = model.output(pixels, n, 32, 32);     // n 32x32 images in the model's layout, flattened
 * }
 * }</pre>
 *
 * <p>Thread safety: DL4J networks and the engine's per-layer kernels serve one forward pass at a time, so this class
 * holds {@code replicas} copies of the network (default 1) and lends one to each call; with more concurrent callers
 * than replicas, callers wait. Results are detached copies the caller owns. Memory: {@link #footprint()} (per
 * replica, DL4J's float parameter vector plus the engine's resident weights); activations of a call come on top.
 * Not a training object: {@link #network()} is for inspection only.
 *
 * <p>Deployment tip: export {@code OMP_WAIT_POLICY=PASSIVE} before the JVM starts (the {@code ./dsconv} launcher
 * does). ND4J's OpenMP threads otherwise spin after every DL4J op between two convolutions and take a core from the
 * engine's workers: measured on two cores, ResNet-50 batch 8 went from 25 to 36-37 images/s (docs/results.md).
 */
public final class DsconvInference implements AutoCloseable {

    /** A network copy on the engine and its whole-graph plan: what one call borrows. */
    private record Replica(Model network, ExecutionPlan plan) {
    }

    private final List<Replica> replicas;
    private final BlockingQueue<Replica> idle;
    private final EngineReport report;
    private final InputSpec input;
    private volatile boolean closed;

    private DsconvInference(List<Replica> replicas, EngineReport report, InputSpec input) {
        this.replicas = List.copyOf(replicas);
        this.idle = new ArrayBlockingQueue<>(replicas.size(), false, replicas);
        this.report = report;
        this.input = input;
    }

    /** {@link #load(Path, int)} with one replica. */
    public static DsconvInference load(Path file) throws IOException {
        return load(file, 1);
    }

    /**
     * Loads a model file (a packed {@code *.dsconv.zip}, a DL4J zip, as {@link ModelFiles#load} reads them; its
     * parameters checked finite) and prepares {@code replicas} copies on the integer engine.
     *
     * @throws IOException              if the file cannot be read
     * @throws IllegalArgumentException if {@code replicas < 1}, the file is not a single-input image model, or a
     *                                  parameter is NaN or infinite
     */
    public static DsconvInference load(Path file, int replicas) throws IOException {
        requireReplicas(replicas);
        return of(ModelFiles.load(file), replicas);
    }

    /**
     * Serves {@code network} (not copied: the first replica is the network itself, whose DSConv layers this puts on
     * the integer engine; {@link #close()} takes them off again) and {@code replicas - 1} clones.
     *
     * @throws IllegalArgumentException as {@link #load(Path, int)}
     */
    public static DsconvInference of(Model network, int replicas) {
        requireReplicas(replicas);
        if (network == null) {
            throw new IllegalArgumentException("network is required");
        }
        ModelChecks.requireFinite(network, "network");
        InputSpec spec = ModelInputs.of(network);
        List<Model> copies = new ArrayList<>();
        copies.add(network);
        for (int i = 1; i < replicas; i++) {
            copies.add(network instanceof ComputationGraph cg ? cg.clone() : ((MultiLayerNetwork) network).clone());
        }
        EngineReport report = null;
        List<Replica> ready = new ArrayList<>();
        for (Model m : copies) {
            report = IntegerEngine.enable(m, IntegerEngine.defaultBackend(), EngineOptions.defaults());
            ready.add(new Replica(m, ExecutionPlan.compile(m)));
        }
        return new DsconvInference(ready, report, spec);
    }

    private static void requireReplicas(int replicas) {
        if (replicas < 1 || replicas > 1024) {
            throw new IllegalArgumentException("replicas must be in [1, 1024], got " + replicas);
        }
    }

    /** What the engine did (which layers are on integers, the kernel, resident bytes). */
    public EngineReport report() {
        return report;
    }

    /** The nodes of the network that DL4J runs rather than the engine's whole-graph plan, "name: reason". */
    public List<String> fallbacks() {
        return replicas.get(0).plan().fallbacks();
    }

    /** The input the model takes (channels, size or 0x0 for any, layout). */
    public InputSpec input() {
        return input;
    }

    /** Resident bytes, per replica and in all. */
    public MemoryFootprint footprint() {
        long params = Network.of(network()).model().params().length() * 4L;
        return new MemoryFootprint(params, report.integerConvWeightBytes(), replicas.size());
    }

    /** The first replica (for inspection; do not run or train it while others call {@link #output}). */
    public Model network() {
        return replicas.get(0).network();
    }

    /**
     * The network's output for a batch in its layout ({@code [n, c, h, w]} for NCHW models, {@code [n, h, w, c]} for
     * NHWC ones); thread-safe.
     *
     * @throws IllegalArgumentException if the input is not rank 4 with the model's channels, or not finite
     * @throws IllegalStateException    after {@link #close()}
     */
    public INDArray output(INDArray x) {
        requireImages(x);
        Replica r = borrow();
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            return r.plan().output(x); // a detached FLOAT copy
        } finally {
            idle.add(r);
        }
    }

    /**
     * The classifier's logits (pre-softmax, {@code eval.Logits}: the dense head applied to what the plan computes
     * for it) for a batch in the model's layout; thread-safe. {@code evaluate} and {@code demo} score through this.
     *
     * @throws IllegalArgumentException as {@link #output(INDArray)}
     */
    public INDArray logits(INDArray x) {
        requireImages(x);
        Replica r = borrow();
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            return Logits.of(r.network(), x, r.plan()::headInput, r.plan()::output);
        } finally {
            idle.add(r);
        }
    }

    private void requireImages(INDArray x) {
        if (x == null || x.rank() != 4) {
            throw new IllegalArgumentException("input must be a rank-4 image batch, got "
                    + (x == null ? "null" : java.util.Arrays.toString(x.shape())));
        }
        long channels = input.layout() == CNN2DFormat.NCHW ? x.size(1) : x.size(3);
        if (channels != input.channels()) {
            throw new IllegalArgumentException("input " + java.util.Arrays.toString(x.shape()) + " has " + channels
                    + " channels in " + input.layout() + " layout, the model takes " + input.channels());
        }
        // One pass over the batch (two boolean reductions cost 2% of a ResNet-50 batch on the engine).
        if (BooleanIndexing.or(x, Conditions.notFinite())) {
            throw new IllegalArgumentException("input has NaN or infinite values");
        }
    }

    /**
     * The output for {@code n} images given as one flat float array in the model's layout, at the input size the
     * model records ({@link #input()}; models that do not record one need {@link #output(float[], int, int, int)}).
     * Returns the flattened {@code [n, outputs]}.
     */
    public float[] output(float[] pixels, int n) {
        if (input.height() == 0) {
            throw new IllegalArgumentException("the model does not record its input size: give it, "
                    + "output(pixels, n, height, width)");
        }
        return output(pixels, n, input.height(), input.width());
    }

    /**
     * The output for {@code n} images of {@code height x width} given as one flat float array in the model's layout
     * ({@code n * c * h * w} values, NCHW or NHWC as {@link #input()} says). Returns the flattened
     * {@code [n, outputs]}.
     */
    public float[] output(float[] pixels, int n, int height, int width) {
        if (height < 1 || width < 1 || (input.height() != 0 && (height != input.height()
                || width != input.width()))) {
            throw new IllegalArgumentException("input size " + height + "x" + width + " is not the model's "
                    + (input.height() == 0 ? "(any positive size)" : input.height() + "x" + input.width()));
        }
        long per = (long) input.channels() * height * width;
        if (pixels == null || n < 1 || pixels.length != per * n) {
            throw new IllegalArgumentException("expected " + n + " x " + per + " = " + per * n + " values, got "
                    + (pixels == null ? "null" : pixels.length));
        }
        long[] shape = input.layout() == CNN2DFormat.NCHW
                ? new long[] {n, input.channels(), height, width}
                : new long[] {n, height, width, input.channels()};
        INDArray x;
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            x = Nd4j.create(pixels, shape, 'c');
        }
        return output(x).data().asFloat();
    }

    private Replica borrow() {
        if (closed) {
            throw new IllegalStateException("this DsconvInference is closed");
        }
        try {
            return idle.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a replica", e);
        }
    }

    /** Takes the replicas off the engine (releasing its native resources); calls afterwards throw. */
    @Override
    public void close() {
        closed = true;
        for (Replica r : replicas) {
            r.plan().close();
            IntegerEngine.disable(r.network());
        }
    }
}
