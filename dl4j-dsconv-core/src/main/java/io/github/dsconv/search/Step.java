package io.github.dsconv.search;

import java.util.Arrays;

/**
 * One evaluation of a search.
 *
 * @param step  index, 0 for the random start
 * @param task  index into {@link SearchConfig#tasks()}
 * @param theta curve parameters, in {@code [0,1]^d}
 * @param bits  bit width per layer that {@code theta} gives
 * @param value what the {@link Evaluator} returned
 */
public record Step(int step, int task, double[] theta, int[] bits, double value) {
    public Step {
        if (step < 0 || task < 0) {
            throw new IllegalArgumentException("step and task must be >= 0");
        }
        if (!Double.isFinite(value)) {
            throw new IllegalArgumentException("step " + step + ": value must be finite, got " + value);
        }
        theta = theta.clone();
        bits = bits.clone();
    }

    @Override
    public double[] theta() {
        return theta.clone();
    }

    @Override
    public int[] bits() {
        return bits.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Step s && s.step == step && s.task == task && Arrays.equals(s.theta, theta)
                && Arrays.equals(s.bits, bits) && Double.compare(s.value, value) == 0;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * (31 * step + task) + Arrays.hashCode(theta)) + Arrays.hashCode(bits);
    }

    @Override
    public String toString() {
        return "Step[" + step + ", task " + task + ", theta " + Arrays.toString(theta) + ", bits "
                + Arrays.toString(bits) + ", value " + value + "]";
    }
}
