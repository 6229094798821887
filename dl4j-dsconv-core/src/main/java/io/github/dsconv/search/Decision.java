package io.github.dsconv.search;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * The answer of a search: feasible configurations ranked by their {@link DecisionRule} score, best first.
 *
 * @param ranked         up to {@link #TOP} feasible configurations, best first
 * @param configurations distinct configurations considered
 * @param feasible       how many of them satisfy the constraints
 */
public record Decision(List<Choice> ranked, int configurations, int feasible) {

    /** Number of configurations kept in {@link #ranked()}. */
    public static final int TOP = 20;

    public Decision {
        ranked = List.copyOf(ranked);
    }

    /** The best feasible configuration, empty if none is feasible. */
    public Optional<Choice> best() {
        return ranked.isEmpty() ? Optional.empty() : Optional.of(ranked.get(0));
    }

    /**
     * One bit configuration with its prediction.
     *
     * @param bits        bit width per layer
     * @param theta       a curve parameter giving these bits
     * @param value       predicted target value (GP posterior mean averaged over the candidate grid points that
     *                    give these bits; the observed mean for random search)
     * @param observed    mean of the target-task evaluations of these bits, {@code NaN} if none
     * @param evaluations number of target-task evaluations of these bits
     * @param bytes       weight bytes, {@code sum(weights_k * bits_k) / 8}
     * @param score       {@code value - penalty}
     */
    public record Choice(int[] bits, double[] theta, double value, double observed, int evaluations, double bytes,
                         double score) {
        public Choice {
            bits = bits.clone();
            theta = theta.clone();
        }

        @Override
        public int[] bits() {
            return bits.clone();
        }

        @Override
        public double[] theta() {
            return theta.clone();
        }

        @Override
        public String toString() {
            return "Choice[bits " + Arrays.toString(bits) + ", value " + value + ", observed " + observed + " ("
                    + evaluations + "), bytes " + bytes + ", score " + score + "]";
        }
    }
}
