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
 * Block floating point for the activations is the DSConv paper's (Nascimento, Fawcett and Prisacariu, "DSConv:
 * Efficient Convolution Operator", ICCV 2019, section 3); the rounding (to nearest, ties to even) and the clamping
 * are spec section 2's.
 *
 * <p>Besides {@link #quantizeInPlace}, the steps it is made of are public ({@link #blockExponent},
 * {@link #mantissaShift}, {@link #maxMantissa}, {@link #roundMantissa}, {@link #clampMantissa}): the integer engine
 * ({@code engine.IntegerConvKernel}) keeps the mantissas as integers and walks its input in its own order, and
 * computes them with these same functions, which is why it is bit-identical to the float simulation.
 */
public final class BlockFloatingPoint {

    /** The fewest activation bits (sign included) a block can have: a sign and one magnitude bit. */
    public static final int MIN_BITS = 2;
    /** The most activation bits (sign included). */
    public static final int MAX_BITS = 16;

    /** {@link #blockExponent} of a block without a nonzero value (an all-zero block, which stays zero). */
    public static final int EMPTY = Integer.MIN_VALUE;

    private BlockFloatingPoint() {
    }

    /**
     * {@code floor(log2|v|)} exactly for {@code v != 0}, i.e. {@code Math.getExponent((double) v)}: read from the
     * float's bits, except for subnormals (whose float exponent field is 0).
     */
    public static int exponent(float v) {
        int biased = (Float.floatToRawIntBits(v) >>> 23) & 0xff;
        return biased != 0 ? biased - 127 : Math.getExponent((double) v);
    }

    /**
     * The shared exponent of a block of {@code count} values {@code x[from + i * stride]}: the largest exponent
     * ({@link Math#getExponent(double)}) of its nonzero values (zeros are ignored), or {@link #EMPTY} if all are
     * zero. For float values this is the largest {@link #exponent(float)}.
     */
    public static int blockExponent(double[] x, int from, int count, int stride) {
        int e = EMPTY;
        for (int i = 0, at = from; i < count; i++, at += stride) {
            double v = x[at];
            if (v != 0) {
                e = Math.max(e, Math.getExponent(v));
            }
        }
        return e;
    }

    /**
     * The power of two that takes a block of exponent {@code e} to its mantissas: {@code mant = x * 2^shift} with
     * {@code shift = m - 1 - e} (signed), or {@code m - e} (unsigned: the sign bit spent on the magnitude). The
     * block's values are {@code mant * 2^-shift}.
     *
     * @param m mantissa magnitude bits ({@link #mantissaBits(int)})
     */
    public static int mantissaShift(int e, int m, boolean unsigned) {
        return (unsigned ? m : m - 1) - e;
    }

    /** The largest mantissa magnitude: {@code 2^m - 1} for a signed block, {@code 2^(m+1) - 1} for an unsigned one. */
    public static int maxMantissa(int m, boolean unsigned) {
        return unsigned ? (1 << (m + 1)) - 1 : (1 << m) - 1;
    }

    /**
     * A mantissa: {@code scaled = x * 2^shift} (exact: a power-of-two product) rounded to the nearest integer, ties
     * to even ({@link Math#rint}), then clamped to {@code [lo, hi]} (a signed block: {@code +-maxMantissa}; an
     * unsigned one: {@code [0, maxMantissa]}). Only a block's largest values can round past the range: {@code x}
     * just below {@code 2^(e+1)} rounds up to {@code 2^m}.
     */
    public static double roundMantissa(double scaled, double lo, double hi) {
        return clampMantissa(Math.rint(scaled), lo, hi);
    }

    /**
     * The clamping step of {@link #roundMantissa} alone, for a caller that rounds with {@link Math#rint} itself: the
     * integer engine reads the sign of the rounded value before clamping, which keeps its loop vectorised (with the
     * sign read from the clamped value, measured 2.4x slower on JDK 17).
     */
    public static double clampMantissa(double rounded, double lo, double hi) {
        return Math.max(lo, Math.min(hi, rounded));
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
        int cStride = channelsLast ? 1 : spatial;
        int pStride = channelsLast ? channels : 1;
        for (int img = 0; img < n; img++) {
            int imgBase = img * channels * spatial;
            for (int p = 0; p < spatial; p++) {
                for (int c0 = 0, c1; c0 < channels; c0 = c1) {
                    c1 = c0 + Math.min(blockSize, channels - c0); // no overflow for any positive block
                    int base = imgBase + p * pStride;
                    int e = blockExponent(x, base + c0 * cStride, c1 - c0, cStride);
                    if (e == EMPTY) {
                        continue; // all-zero block stays zero
                    }
                    boolean negative = false;
                    for (int c = c0; c < c1 && unsignedBlocks && !negative; c++) {
                        negative = x[base + c * cStride] < 0;
                    }
                    boolean unsigned = unsignedBlocks && !negative;
                    int up = mantissaShift(e, m, unsigned);
                    int down = -up;
                    double hi = maxMantissa(m, unsigned);
                    double lo = unsigned ? 0 : -hi;
                    for (int c = c0; c < c1; c++) {
                        int i = base + c * cStride;
                        // scalb, not a product with 2^up: for doubles below about 2^-1009, 2^up overflows.
                        x[i] = Math.scalb(roundMantissa(Math.scalb(x[i], up), lo, hi), down);
                    }
                }
            }
        }
    }
}
