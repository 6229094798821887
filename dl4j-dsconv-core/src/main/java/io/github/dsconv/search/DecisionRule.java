package io.github.dsconv.search;

/**
 * How a search picks its answer: every distinct bit configuration gets a predicted target value (the GP posterior
 * mean of the target task, or the observed mean for random search), configurations that break a hard constraint are
 * dropped, and the rest are ranked by {@code score = value - penalty}; equal scores go to fewer bytes.
 *
 * <p>"Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes" (ECCV 2020) scores
 * {@code acc - (sum(bits) - 4L) / 1000} (accuracy as a fraction: each bit above uniform 4-bit costs 0.1 pp), which
 * is {@link Penalty#BITS} with {@code bitPenalty = 0.001} ({@link #paper()}). Its layers are counted alike whatever
 * their size; this project's default, {@link Penalty#BYTES}, charges memory instead:
 * {@code penalty = bitPenalty * 4L * (bytes / bytesW4 - 1)}, i.e. {@code bitPenalty} per bit on a layer of average
 * size, so that with equal layer sizes it is exactly the paper's rule, and a bit on a large layer costs more than a
 * bit on a small one.
 *
 * @param penalty    which penalty; default {@link Penalty#BYTES}
 * @param bitPenalty penalty per bit above uniform W4 on an average layer, {@code >= 0}; default
 *                   {@value #DEFAULT_BIT_PENALTY} (0.1 pp of an accuracy given as a fraction)
 * @param maxBytes   configurations needing more weight bytes are infeasible; default {@code +inf}
 * @param reference  value the drop is measured from (e.g. the float model's accuracy); {@code NaN} (default) unless
 *                   {@code maxDrop} is finite
 * @param maxDrop    configurations predicted below {@code reference - maxDrop} are infeasible; default {@code +inf}
 */
public record DecisionRule(Penalty penalty, double bitPenalty, double maxBytes, double reference, double maxDrop) {

    /** Default penalty per bit on an average layer. */
    public static final double DEFAULT_BIT_PENALTY = 0.001;

    /** What the score charges for. */
    public enum Penalty {
        /** Weight bytes relative to uniform W4, scaled to bits on an average layer (ours, the default). */
        BYTES,
        /** Bits summed over layers regardless of their size (the paper). */
        BITS
    }

    public DecisionRule {
        if (penalty == null) {
            throw new IllegalArgumentException("penalty must not be null");
        }
        if (!(bitPenalty >= 0) || !Double.isFinite(bitPenalty)) {
            throw new IllegalArgumentException("bitPenalty must be finite and >= 0, got " + bitPenalty);
        }
        if (!(maxBytes > 0)) {
            throw new IllegalArgumentException("maxBytes must be positive, got " + maxBytes);
        }
        if (!(maxDrop >= 0)) {
            throw new IllegalArgumentException("maxDrop must be >= 0, got " + maxDrop);
        }
        if (Double.isFinite(maxDrop) && !Double.isFinite(reference)) {
            throw new IllegalArgumentException("maxDrop needs a finite reference value, got " + reference);
        }
    }

    /** Bytes penalty, {@value #DEFAULT_BIT_PENALTY} per average-layer bit, no constraints. */
    public static DecisionRule defaults() {
        return new DecisionRule(Penalty.BYTES, DEFAULT_BIT_PENALTY, Double.POSITIVE_INFINITY, Double.NaN,
                Double.POSITIVE_INFINITY);
    }

    /** The paper's rule {@code value - (sum(bits) - 4L) / 1000}, no constraints. */
    public static DecisionRule paper() {
        return new DecisionRule(Penalty.BITS, DEFAULT_BIT_PENALTY, Double.POSITIVE_INFINITY, Double.NaN,
                Double.POSITIVE_INFINITY);
    }

    /** This rule with another penalty per average-layer bit. */
    public DecisionRule withBitPenalty(double perBit) {
        return new DecisionRule(penalty, perBit, maxBytes, reference, maxDrop);
    }

    /** This rule with a memory limit in bytes of weights. */
    public DecisionRule withMaxBytes(double bytes) {
        return new DecisionRule(penalty, bitPenalty, bytes, reference, maxDrop);
    }

    /** This rule requiring {@code value >= reference - drop}. */
    public DecisionRule withMaxDrop(double referenceValue, double drop) {
        return new DecisionRule(penalty, bitPenalty, maxBytes, referenceValue, drop);
    }

    /** The penalty of a configuration, given the weight count of each layer. */
    public double penalty(int[] bits, long[] layerWeights) {
        int l = bits.length;
        if (penalty == Penalty.BITS) {
            long sum = 0;
            for (int b : bits) {
                sum += b;
            }
            return bitPenalty * (sum - 4L * l);
        }
        return bitPenalty * 4.0 * l * (SearchConfig.bytes(bits, layerWeights) / SearchConfig.bytes(4, layerWeights)
                - 1);
    }

    /** Whether a configuration with this predicted value and size satisfies the hard constraints. */
    public boolean feasible(double value, double bytes) {
        return bytes <= maxBytes && (!Double.isFinite(maxDrop) || value >= reference - maxDrop);
    }
}
