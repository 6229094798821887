package io.github.dsconv.engine.graph;

import io.github.dsconv.engine.FusedBatchNorm;
import io.github.dsconv.engine.IntegerConvKernel;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.layers.DSConvRuntime;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.graph.vertex.impl.PreprocessorVertex;
import org.deeplearning4j.nn.layers.ActivationLayer;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.layers.pooling.GlobalPoolingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A whole network on the integer engine (DSConv, ICCV 2019, section 3, taken from layer to network): compiled once
 * into a list of steps in topological order whose activations stay in plain float buffers of the layers' own layout
 * (NCHW or NHWC, as the model was built or imported) from the input to the logits, instead of a DL4J array per
 * layer. The DSConv layers run on their {@link IntegerConvKernel}s (reading the producer's buffer, with batch
 * normalization and ReLU fused as {@link IntegerEngine} arranged); residual adds, concatenation, max and average
 * pooling, global average and max pooling, zero padding, dropout (the identity at inference), unfused batch
 * normalization and ReLU and the dense head (ND4J's matrix product, as DL4J calls it) run as steps of their own,
 * each bit for bit what DL4J computes; every other node (preprocessors, a DSConv layer off the engine, any custom
 * layer) runs through DL4J on a copy and is listed in {@link #fallbacks()} with the reason. So the outputs equal the
 * network's own {@code output} on the engine, bit for bit.
 *
 * <pre>{@code
 * IntegerEngine.enable(network);
 * try (ExecutionPlan plan = ExecutionPlan.compile(network)) {
 *     INDArray logits = plan.output(images);
 * }
 * }</pre>
 *
 * <p>Buffers come from an {@link Arena} and go back to it when the last consumer of an activation has run, so a
 * call holds only the live activations; in-place steps (ReLU, batch normalization) reuse their input's buffer when
 * nothing else reads it. Not thread-safe: one call at a time (as a DL4J network); {@code DsconvInference} holds one
 * plan per replica. The network must stay on the engine, unchanged, while its plan is used.
 */
public final class ExecutionPlan implements AutoCloseable {

    /** One step and where its inputs come from (node indices; -1 - k for network input k). */
    private record Node(String name, Step step, int[] inputs, int consumers) {
    }

    private final List<Node> nodes;
    /** Node index of each network output. */
    private final int[] outputs;
    private final int numInputs;
    private final Arena arena = new Arena();

    private ExecutionPlan(List<Node> nodes, int[] outputs, int numInputs) {
        this.nodes = nodes;
        this.outputs = outputs;
        this.numInputs = numInputs;
    }

    /**
     * Compiles {@code network} (a {@code MultiLayerNetwork} or {@code ComputationGraph}, usually with its DSConv layers
     * already on the integer engine: {@link IntegerEngine#enable}; layers off it run through DL4J).
     *
     * @throws IllegalArgumentException if {@code network} is null or neither kind
     */
    public static ExecutionPlan compile(Model network) {
        if (network instanceof ComputationGraph cg) {
            return compileGraph(cg);
        }
        if (network instanceof MultiLayerNetwork mln) {
            return compileLayers(mln);
        }
        throw new IllegalArgumentException("ExecutionPlan needs a MultiLayerNetwork or ComputationGraph, got "
                + (network == null ? "null" : network.getClass().getName()));
    }

    private static ExecutionPlan compileGraph(ComputationGraph cg) {
        GraphVertex[] vs = cg.getVertices();
        int[] order = cg.topologicalSortOrder();
        List<String> inputNames = cg.getConfiguration().getNetworkInputs();
        List<String> outputNames = cg.getConfiguration().getNetworkOutputs();
        // Vertex index -> node index of its output.
        int[] nodeOf = new int[vs.length];
        Arrays.fill(nodeOf, Integer.MIN_VALUE);
        List<String> names = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        List<int[]> ins = new ArrayList<>();
        for (int vi : order) {
            GraphVertex v = vs[vi];
            if (v.isInputVertex()) {
                nodeOf[vi] = -1 - inputNames.indexOf(v.getVertexName());
                continue;
            }
            VertexIndices[] from = v.getInputVertices();
            int[] in = new int[from.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = nodeOf[from[i].getVertexIndex()];
            }
            InputPreProcessor pre = v instanceof LayerVertex lv ? lv.getLayerPreProcessor() : null;
            if (pre != null) {
                names.add(v.getVertexName() + "/preprocessor");
                steps.add(Dl4jStep.preProcessor(pre));
                ins.add(in);
                in = new int[] {steps.size() - 1};
            }
            names.add(v.getVertexName());
            steps.add(graphStep(cg, v));
            ins.add(in);
            nodeOf[vi] = steps.size() - 1;
        }
        int[] outs = outputNames.stream().mapToInt(n -> nodeOf[cg.getVertex(n).getVertexIndex()]).toArray();
        return new ExecutionPlan(nodes(names, steps, ins, outs), outs, inputNames.size());
    }

    private static Step graphStep(ComputationGraph cg, GraphVertex v) {
        if (IntegerEngine.isFusedVertex(v)) {
            return new PassStep("fused into the convolution before it");
        }
        if (v.hasLayer()) {
            Step s = layerStep(v.getLayer());
            // The layer itself, not the vertex: a preprocessor is a step of its own (see compileGraph).
            return s != null ? s : Dl4jStep.layer(v.getLayer(), unsupported(v.getLayer()));
        }
        org.deeplearning4j.nn.conf.graph.GraphVertex conf = cg.getConfiguration().getVertices().get(v.getVertexName());
        if (conf instanceof ElementWiseVertex e && e.getOp() == ElementWiseVertex.Op.Add) {
            return new AddStep(v.getVertexName(), Dl4jStep.vertex(v, "add with broadcasting"));
        }
        if (conf instanceof MergeVertex m && v.getNumInputArrays() > 1) {
            return new ConcatStep(m.getMergeAxis());
        }
        if (v instanceof PreprocessorVertex pv) {
            // Not the vertex itself: its doForward asks the graph for the batch size, from the graph's own input
            // arrays, which a plan never sets (Keras' Flatten imports as one of these).
            return Dl4jStep.preProcessor(pv.getPreProcessor());
        }
        return Dl4jStep.vertex(v, conf == null ? v.getClass().getSimpleName() : conf.getClass().getSimpleName());
    }

    private static ExecutionPlan compileLayers(MultiLayerNetwork mln) {
        List<String> names = new ArrayList<>();
        List<Step> steps = new ArrayList<>();
        List<int[]> ins = new ArrayList<>();
        int prev = -1; // network input 0
        Layer[] layers = mln.getLayers();
        for (int i = 0; i < layers.length; i++) {
            String name = layers[i].conf().getLayer().getLayerName();
            name = name == null ? "layer" + i : name;
            InputPreProcessor pre = mln.getLayerWiseConfigurations().getInputPreProcess(i);
            if (pre != null) {
                names.add(name + "/preprocessor");
                steps.add(Dl4jStep.preProcessor(pre));
                ins.add(new int[] {prev});
                prev = steps.size() - 1;
            }
            Step s = layerStep(layers[i]);
            names.add(name);
            steps.add(s != null ? s : Dl4jStep.layer(layers[i], unsupported(layers[i])));
            ins.add(new int[] {prev});
            prev = steps.size() - 1;
        }
        int[] outs = {prev};
        return new ExecutionPlan(nodes(names, steps, ins, outs), outs, 1);
    }

    /** The engine's step for a layer, or null if DL4J must run it. */
    private static Step layerStep(Layer l) {
        if (l instanceof DSConvRuntime rt) {
            IntegerConvKernel k = IntegerEngine.kernel(rt);
            return k == null ? null : new ConvStep(rt, k);
        }
        if (l instanceof BatchNormalization bn) {
            org.deeplearning4j.nn.conf.layers.BatchNormalization c = bn.layerConf();
            FusedBatchNorm f = FusedBatchNorm.of(bn, c.getCnn2DFormat(), c.getNOut(), new String[1]);
            return f == null ? null : new BatchNormStep(f, c.getCnn2DFormat() == CNN2DFormat.NHWC);
        }
        if (l instanceof ActivationLayer a) {
            ActivationStep s = ActivationStep.of(((org.deeplearning4j.nn.conf.layers.ActivationLayer)
                    a.conf().getLayer()).getActivationFn());
            return s == null ? new PassStep("identity activation") : s;
        }
        if (DenseStep.supports(l)) {
            return new DenseStep((org.deeplearning4j.nn.layers.BaseLayer<?>) l);
        }
        org.deeplearning4j.nn.conf.layers.Layer c = l.conf().getLayer();
        if (c.getClass() == org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer.class) {
            return new ZeroPaddingStep((org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer) c);
        }
        if (c.getClass() == org.deeplearning4j.nn.conf.layers.SubsamplingLayer.class
                && PoolStep.supports((org.deeplearning4j.nn.conf.layers.SubsamplingLayer) c)) {
            return new PoolStep((org.deeplearning4j.nn.conf.layers.SubsamplingLayer) c);
        }
        if (c instanceof org.deeplearning4j.nn.conf.layers.DropoutLayer) {
            return new PassStep("dropout (identity at inference)");
        }
        if (l instanceof GlobalPoolingLayer && c instanceof org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer g
                && (g.getPoolingType() == PoolingType.AVG || g.getPoolingType() == PoolingType.MAX)
                && g.isCollapseDimensions() && spatialDims(g.getPoolingDimensions()) != null) {
            return new GlobalPoolStep(g.getPoolingType(), spatialDims(g.getPoolingDimensions()),
                    Dl4jStep.layer(l, "global pooling of a rank other than 4"));
        }
        return null;
    }

    /** True for NHWC pooling dims {1, 2}, false for NCHW {2, 3} (or unset), null for anything else. */
    private static Boolean spatialDims(int[] dims) {
        if (dims == null || Arrays.equals(dims, new int[] {2, 3})) {
            return Boolean.FALSE;
        }
        return Arrays.equals(dims, new int[] {1, 2}) ? Boolean.TRUE : null;
    }

    private static String unsupported(Layer l) {
        if (l instanceof DSConvRuntime) {
            return "DSConv layer on the float simulation";
        }
        return l.conf().getLayer().getClass().getSimpleName();
    }

    private static List<Node> nodes(List<String> names, List<Step> steps, List<int[]> ins, int[] outs) {
        int[] consumers = new int[steps.size()];
        for (int[] in : ins) {
            for (int i : in) {
                if (i >= 0) {
                    consumers[i]++;
                }
            }
        }
        for (int o : outs) {
            if (o >= 0) {
                consumers[o]++;
            }
        }
        // An add whose only consumer is a plain ReLU does both in one pass (ResNet's block ends).
        for (int i = 0; i < steps.size(); i++) {
            int[] in = ins.get(i);
            if (steps.get(i) instanceof ActivationStep a && a.isPlainRelu() && in.length == 1 && in[0] >= 0
                    && steps.get(in[0]) instanceof AddStep add && consumers[in[0]] == 1) {
                steps.set(in[0], add.withRelu());
                steps.set(i, new PassStep("fused into the add before it"));
            }
        }
        List<Node> out = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            out.add(new Node(names.get(i), steps.get(i), ins.get(i), consumers[i]));
        }
        return List.copyOf(out);
    }

    /** The network's first output for {@code input} (a single-input network). */
    public INDArray output(INDArray input) {
        return output(new INDArray[] {input})[0];
    }

    /**
     * The network's outputs for {@code inputs} (one per network input, in the network's layout), as detached FLOAT
     * arrays the caller owns.
     *
     * @throws IllegalArgumentException if the number of inputs is not the network's
     */
    public INDArray[] output(INDArray... inputs) {
        return run(inputs, null, null, false);
    }

    /**
     * What the network's output node reads for {@code input} (after that node's preprocessor): the features a
     * classifier's dense head turns into logits ({@code eval.Logits}). Skips the head itself.
     *
     * @throws IllegalStateException if the network has more than one output, or its output node several inputs
     */
    public INDArray headInput(INDArray input) {
        if (outputs.length != 1 || outputs[0] < 0 || nodes.get(outputs[0]).inputs().length != 1) {
            throw new IllegalStateException("headInput needs one output node with one input");
        }
        return run(new INDArray[] {input}, null, null, true)[0];
    }

    /** Wall time of one step of a {@link #timings} run: the node, what ran it, milliseconds. */
    public record StepTime(String name, String kind, boolean onEngine, double millis) {
    }

    /**
     * Runs {@code input} once and returns every step's wall time in execution order (for the bench's share of time
     * outside convolutions, and for finding the slow step of a network).
     */
    public List<StepTime> timings(INDArray input) {
        List<StepTime> out = new ArrayList<>();
        run(new INDArray[] {input}, null, out, false);
        return out;
    }

    /**
     * Every node's output for {@code input}, by node name (a copy of each, for tests and debugging: it compares a
     * plan with DL4J's {@code feedForward} node by node).
     */
    Map<String, INDArray> trace(INDArray input) {
        Map<String, INDArray> out = new java.util.LinkedHashMap<>();
        run(new INDArray[] {input}, out, null, false);
        return out;
    }

    private INDArray[] run(INDArray[] inputs, Map<String, INDArray> trace, List<StepTime> times, boolean headOnly) {
        if (inputs == null || inputs.length != numInputs) {
            throw new IllegalArgumentException("the network takes " + numInputs + " input(s), got "
                    + (inputs == null ? "null" : inputs.length));
        }
        Tensor[] in = new Tensor[numInputs];
        Map<float[], Integer> live = new IdentityHashMap<>();
        for (int k = 0; k < numInputs; k++) {
            in[k] = Tensor.copyOf(inputs[k], arena);
            hold(live, in[k]);
        }
        Tensor[] values = new Tensor[nodes.size()];
        int[] remaining = new int[nodes.size()];
        for (int i = 0; i < values.length; i++) {
            Node node = nodes.get(i);
            remaining[i] = node.consumers();
            Tensor[] args = new Tensor[node.inputs().length];
            for (int a = 0; a < args.length; a++) {
                int src = node.inputs()[a];
                args[a] = src < 0 ? in[-1 - src] : values[src];
            }
            if (headOnly && i == outputs[0]) {
                INDArray head = args[0].toArray();
                releaseAll(live);
                return new INDArray[] {head};
            }
            Step step = node.step();
            long t0 = times == null ? 0 : System.nanoTime();
            if (step.inPlace() && !(args.length == 1 && lastReader(node.inputs()[0], remaining, live, args[0]))) {
                // Someone else still reads the input: work on a copy.
                float[] copy = arena.take(args[0].length());
                System.arraycopy(args[0].data(), 0, copy, 0, args[0].length());
                args = new Tensor[] {new Tensor(copy, args[0].shape())};
                hold(live, args[0]);
                values[i] = step.run(args, arena);
                hold(live, values[i]);
                release(live, args[0]);
            } else {
                values[i] = step.run(args, arena);
                hold(live, values[i]);
            }
            if (times != null) {
                times.add(new StepTime(node.name(), step.kind(), step.onEngine(), (System.nanoTime() - t0) / 1e6));
            }
            if (trace != null) {
                trace.put(node.name(), values[i].toArray());
            }
            for (int src : node.inputs()) {
                if (src >= 0 && --remaining[src] == 0) {
                    release(live, values[src]);
                    values[src] = null;
                }
            }
        }
        INDArray[] out = new INDArray[outputs.length];
        for (int k = 0; k < outputs.length; k++) {
            int o = outputs[k];
            out[k] = (o < 0 ? in[-1 - o] : values[o]).toArray();
        }
        releaseAll(live);
        return out;
    }

    /**
     * Whether the step about to run is the only remaining reader of its input's buffer: the input is a node read by
     * no one else (and not a network output) whose buffer no other live activation shares. Network inputs are the
     * plan's own copies but may feed several nodes, so they are never overwritten.
     */
    private static boolean lastReader(int src, int[] remaining, Map<float[], Integer> live, Tensor t) {
        return src >= 0 && remaining[src] == 1 && live.getOrDefault(t.data(), 0) == 1;
    }

    /** Gives every buffer still held back to the arena (the end of a call). */
    private void releaseAll(Map<float[], Integer> live) {
        for (float[] b : live.keySet()) {
            arena.give(b);
        }
        live.clear();
    }

    private static void hold(Map<float[], Integer> live, Tensor t) {
        live.merge(t.data(), 1, Integer::sum);
    }

    private void release(Map<float[], Integer> live, Tensor t) {
        int n = live.merge(t.data(), -1, Integer::sum);
        if (n == 0) {
            live.remove(t.data());
            arena.give(t.data());
        }
    }

    /** The steps the engine runs, as "name: kind", in execution order. */
    public List<String> engineSteps() {
        return nodes.stream().filter(n -> n.step().onEngine()).map(n -> n.name() + ": " + n.step().kind()).toList();
    }

    /** The nodes DL4J runs, as "name: reason", in execution order. */
    public List<String> fallbacks() {
        return nodes.stream().filter(n -> !n.step().onEngine())
                .map(n -> n.name() + ": " + ((Dl4jStep) n.step()).reason()).toList();
    }

    /** Floats the plan's buffer arena holds between calls (its working memory; 4 bytes each). */
    public long bufferFloats() {
        return arena.freeFloats();
    }

    /** Releases the plan's buffers (the network and its kernels stay as they are). */
    @Override
    public void close() {
        // Buffers are plain Java arrays: nothing native to free. Kept AutoCloseable so that a later arena of native
        // memory does not change the API.
    }
}
