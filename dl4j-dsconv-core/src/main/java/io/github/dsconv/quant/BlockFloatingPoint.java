package io.github.dsconv.quant;

/**
 * Block floating point activations (spec section 2): blocks of {@code B} consecutive channels at one
 * {@code (n, y, x)} share the exponent {@code e = max floor(log2|x|)} (zeros ignored) and keep an {@code m}-bit
 * magnitude plus a sign:
 * <pre>
 *   x_q = clamp(rint(x * 2^(m-1-e)), -(2^m - 1), 2^m - 1) * 2^(e+1-m)
 * </pre>
 * The exponent is taken exactly ({@link Math#getExponent(double)}), not from a floating point log2. All scaling
 * is by powers of two ({@link Math#scalb(double, int)}), so the result is exact for float and double inputs.
 */
public final class BlockFloatingPoint {

    /** The fewest activation bits (sign included) a block can have: a sign and one magnitude bit. */
    public static final int MIN_BITS = 2;
    /** The most activation bits (sign included). */
    public static final int MAX_BITS = 16;

    private BlockFloatingPoint() {
    }

    /**
     * Mantissa magnitude bits for a total activation bit width (sign included): "A8" means {@code m = 7}.
     *
     * @throws IllegalArgumentException unless {@code 2 <= actBits <= 16}
     */
    public static int mantissaBits(int actBits) {
        if (actBits < MIN_BITS || actBits > MAX_BITS) {
            throw new IllegalArgumentException("activation bits must be in [" + MIN_BITS + ", " + MAX_BITS
                    + "] (or 0 for off), got " + actBits);
        }
        return actBits - 1;
    }

    /**
     * Quantizes activations in place.
     *
     * @param x            values, c order, either {@code [n, c, spatial]} (NCHW) or {@code [n, spatial, c]} (NHWC)
     * @param n            batch size
     * @param channels     channels
     * @param spatial      positions per image ({@code H * W})
     * @param channelsLast true for NHWC layout
     * @param blockSize    channels per block
     * @param actBits      total bits including the sign (see {@link #mantissaBits(int)})
     */
    public static void quantizeInPlace(double[] x, int n, int channels, int spatial, boolean channelsLast,
                                       int blockSize, int actBits) {
        quantizeInPlace(x, n, channels, spatial, channelsLast, blockSize, actBits, false);
    }

    /**
     * Quantizes activations in place, optionally with unsigned blocks: with {@code unsignedBlocks}, a block whose
     * values are all non-negative (ReLU outputs, raw pixels) spends the sign bit on the mantissa, i.e. keeps
     * {@code m + 1} magnitude bits, {@code x_q = min(rint(x * 2^(m-e)), 2^(m+1) - 1) * 2^(e-m)} (A8: 0..255, so raw
     * 8-bit pixels are exact). A block with any negative value is quantized as signed. The choice costs one flag bit
     * per block beside the exponent. Not in the DSConv paper (ours).
     *
     * @see #quantizeInPlace(double[], int, int, int, boolean, int, int)
     */
    public static void quantizeInPlace(double[] x, int n, int channels, int spatial, boolean channelsLast,
                                       int blockSize, int actBits, boolean unsignedBlocks) {
        int m = mantissaBits(actBits);
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be positive, got " + blockSize);
        }
        if ((long) n * channels * spatial != x.length) {
            throw new IllegalArgumentException("array of " + x.length + " values is not [" + n + "," + channels + ","
                    + spatial + "]");
        }
        double maxMag = (1 << m) - 1;
        int cStride = channelsLast ? 1 : spatial;
        int pStride = channelsLast ? channels : 1;
        for (int img = 0; img < n; img++) {
            int imgBase = img * channels * spatial;
            for (int p = 0; p < spatial; p++) {
                for (int c0 = 0, c1; c0 < channels; c0 = c1) {
                    c1 = c0 + Math.min(blockSize, channels - c0); // no overflow for any positive block
                    int base = imgBase + p * pStride;
                    int e = Integer.MIN_VALUE;
                    boolean negative = false;
                    for (int c = c0; c < c1; c++) {
                        double v = x[base + c * cStride];
                        if (v != 0) {
                            e = Math.max(e, Math.getExponent(v));
                            negative |= v < 0;
                        }
                    }
                    if (e == Integer.MIN_VALUE) {
                        continue; // all-zero block stays zero
                    }
                    boolean unsigned = unsignedBlocks && !negative;
                    int up = (unsigned ? m : m - 1) - e;
                    int down = -up;
                    double lo = unsigned ? 0 : -maxMag;
                    double hi = unsigned ? 2 * maxMag + 1 : maxMag;
                    for (int c = c0; c < c1; c++) {
                        int i = base + c * cStride;
                        double mant = Math.rint(Math.scalb(x[i], up));
                        mant = Math.max(lo, Math.min(hi, mant));
                        x[i] = Math.scalb(mant, down);
                    }
                }
            }
        }
    }
}
