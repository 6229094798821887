package io.github.dsconv.search;

import java.util.List;

/**
 * A two-fidelity test problem over 8 layers: the target prefers a ramp of bits (about 3 bits in the first layer to
 * 7 in the last) and the cheap task is a biased, slightly noisy copy of it: {@code g = 0.8 f + 0.1 bias + noise},
 * with a smooth bias (a preference for more bits in the first half) and a deterministic pseudo-noise of amplitude
 * 0.005 derived from the bits.
 */
final class SyntheticProblem implements Evaluator {

    static final int LAYERS = 8;
    static final List<Task> TASKS = List.of(new Task("cheap", 0.1), new Task("target", 1));

    private int targetCalls;

    static double target(int[] bits) {
        double loss = 0;
        for (int k = 0; k < bits.length; k++) {
            double preferred = 3 + 4.0 * k / (bits.length - 1);
            double u = (bits[k] - preferred) / 6;
            loss += u * u;
        }
        return 1 - loss / bits.length;
    }

    static double cheap(int[] bits) {
        double bias = 0;
        for (int k = 0; k < bits.length / 2; k++) {
            bias += (bits[k] - 5) / 6.0;
        }
        bias /= bits.length / 2.0;
        long hash = java.util.Arrays.hashCode(bits) * 0x9E3779B97F4A7C15L;
        double noise = ((hash >>> 11) * 0x1.0p-53 - 0.5) * 0.01;
        return 0.8 * target(bits) + 0.1 * bias + noise;
    }

    /** Best target value over the whole candidate grid of a config. */
    static double bestTarget(BitSearch search) {
        double best = Double.NEGATIVE_INFINITY;
        int g = search.config().gridPoints();
        long size = (long) Math.pow(g, search.config().curve().dimension());
        for (long i = 0; i < size; i++) {
            best = Math.max(best, target(search.config().curve().curve().bits(search.gridPoint(i), LAYERS)));
        }
        return best;
    }

    @Override
    public double evaluate(int task, int[] bits) {
        if (task == 1) {
            targetCalls++;
            return target(bits);
        }
        return cheap(bits);
    }

    int targetCalls() {
        return targetCalls;
    }
}
