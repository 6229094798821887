package io.github.dsconv.quant;

/**
 * The integers a quantized kernel may hold, {@code [lo, hi]}: every rounding method clamps to it.
 *
 * @param lo smallest value
 * @param hi largest value
 */
public record IntegerRange(int lo, int hi) {

    public IntegerRange {
        if (lo > 0 || hi < 0 || lo < Byte.MIN_VALUE || hi > Byte.MAX_VALUE) {
            throw new IllegalArgumentException("range [" + lo + ", " + hi + "] must contain 0 and fit a byte");
        }
    }

    /** Two's complement range of {@code bits}: {@code [-2^(bits-1), 2^(bits-1) - 1]} (DSConv's VQK). */
    public static IntegerRange signed(int bits) {
        KernelQuantizer.requireBits(bits);
        return new IntegerRange(-(1 << (bits - 1)), (1 << (bits - 1)) - 1);
    }

    /** Symmetric range of {@code bits}: {@code [-(2^(bits-1) - 1), 2^(bits-1) - 1]} (the round-to-nearest methods). */
    public static IntegerRange symmetric(int bits) {
        KernelQuantizer.requireBits(bits);
        int m = (1 << (bits - 1)) - 1;
        return new IntegerRange(-m, m);
    }

    /** {@code v} clamped to the range. */
    public double clamp(double v) {
        return Math.max(lo, Math.min(hi, v));
    }
}
