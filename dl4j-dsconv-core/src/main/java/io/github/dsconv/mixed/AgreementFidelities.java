package io.github.dsconv.mixed;

import io.github.dsconv.engine.Fp32Convolutions;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.search.Evaluator;
import io.github.dsconv.search.Task;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Label-free fidelities of one bit-width configuration for the multi-task search: top-1 agreement with the FP32
 * network on unlabelled images, from cheap to expensive. NUQ's tasks are fine-tuning epochs with labels; ours
 * differ in the calibration recipe and in how many images score the configuration:
 * <ol>
 *   <li>{@code plain-agreement}: the paper's conversion without data, scored on the first {@code cheap}
 *   images;</li>
 *   <li>{@code calibrated-agreement-small}: the calibrated recipe (Hessian-aware rounding + bias correction),
 *   on the same images;</li>
 *   <li>{@code calibrated-agreement} (the target, what a user deploys): the calibrated recipe on all
 *   {@code target} images.</li>
 * </ol>
 * The scoring images must be disjoint from the calibration images (the caller takes them after those) and from the
 * test images that judge the search's answer. Networks are assembled by {@link BitWidthVariants} and run on the
 * integer engine (bit-identical to the float simulation, faster), FP32 convolutions on oneDNN.
 */
public final class AgreementFidelities implements Evaluator {

    /**
     * One fidelity.
     *
     * @param name       task name (in the JSON)
     * @param calibrated whether the calibrated recipe quantizes the configuration
     * @param images     how many scoring images (the first ones) score it
     */
    public record Fidelity(String name, boolean calibrated, int images) {
    }

    private final BitWidthVariants plain;
    private final BitWidthVariants calibrated;
    private final INDArray scoring;
    private final int[] reference;
    private final List<Fidelity> fidelities;
    private final int batch;
    private final double[] seconds;
    private final int[] evaluations;

    /**
     * @param plain      variants of the plain recipe
     * @param calibrated variants of the calibrated recipe
     * @param scoring    unlabelled scoring images (disjoint from the calibration images)
     * @param cheap      images of the cheap fidelities (at most the scoring images)
     * @param batch      inference batch size
     */
    public AgreementFidelities(BitWidthVariants plain, BitWidthVariants calibrated, INDArray scoring, int cheap,
                               int batch) {
        int n = (int) scoring.size(0);
        if (cheap <= 0 || cheap > n) {
            throw new IllegalArgumentException("cheap fidelity images must be in [1, " + n + "], got " + cheap);
        }
        this.plain = plain;
        this.calibrated = calibrated;
        this.scoring = scoring;
        this.batch = batch;
        this.fidelities = List.of(new Fidelity("plain-agreement", false, cheap),
                new Fidelity("calibrated-agreement-small", true, cheap),
                new Fidelity("calibrated-agreement", true, n));
        Fp32Convolutions.enable(plain.fp32());
        this.reference = predictions(plain.fp32(), n);
        this.seconds = new double[fidelities.size()];
        this.evaluations = new int[fidelities.size()];
    }

    /** The fidelities, cheapest first; the last is the target. */
    public List<Fidelity> fidelities() {
        return fidelities;
    }

    /**
     * The search tasks: cost in units of one target evaluation, from the image counts (inference dominates; the
     * assembly of a configuration is counted as 5% of a target evaluation).
     */
    public List<Task> tasks() {
        int n = fidelities.get(fidelities.size() - 1).images();
        List<Task> tasks = new ArrayList<>();
        for (Fidelity f : fidelities) {
            tasks.add(new Task(f.name(), 0.05 + 0.95 * f.images() / n));
        }
        return tasks;
    }

    @Override
    public double evaluate(int task, int[] bits) {
        Fidelity f = fidelities.get(task);
        long t0 = System.nanoTime();
        try {
            Model net = (f.calibrated() ? calibrated : plain).assemble(bits).network();
            IntegerEngine.enable(net);
            Fp32Convolutions.enable(net);
            int[] p = predictions(net, f.images());
            int same = 0;
            for (int i = 0; i < p.length; i++) {
                if (p[i] == reference[i]) {
                    same++;
                }
            }
            return (double) same / p.length;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            synchronized (this) {
                seconds[task] += (System.nanoTime() - t0) / 1e9;
                evaluations[task]++;
            }
        }
    }

    /** Mean wall seconds of one evaluation of each task so far (NaN before the first). */
    public synchronized double[] meanSeconds() {
        double[] m = new double[seconds.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = evaluations[i] == 0 ? Double.NaN : seconds[i] / evaluations[i];
        }
        return m;
    }

    private int[] predictions(Model net, int n) {
        int[] out = new int[n];
        for (int from = 0; from < n; from += batch) {
            int to = Math.min(n, from + batch);
            INDArray logits = Logits.of(net, scoring.get(NDArrayIndex.interval(from, to)));
            int[] p = logits.argMax(1).toIntVector();
            System.arraycopy(p, 0, out, from, p.length);
        }
        return out;
    }
}
