package io.github.dsconv.quant;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Block floating point against hand-computed vectors (DSCONV-SPEC.md section 2):
 * {@code x_q = clamp(rint(x * 2^(m-1-e)), -(2^m-1), 2^m-1) * 2^(e+1-m)} with {@code e = max floor(log2|x|)}.
 * All expected values are dyadic, so the comparisons are exact (delta 0, which also treats -0.0 as 0.0).
 */
class BlockFloatingPointTest {

    /** One block of channels at a single position of a single image (NCHW with spatial = 1). */
    private static double[] quantizeChannels(int actBits, int blockSize, double... x) {
        double[] v = x.clone();
        BlockFloatingPoint.quantizeInPlace(v, 1, v.length, 1, false, blockSize, actBits);
        return v;
    }

    @Test
    void a8MeansSevenMantissaBits() {
        assertEquals(7, BlockFloatingPoint.mantissaBits(8));
        assertEquals(1, BlockFloatingPoint.mantissaBits(2));
        assertEquals(15, BlockFloatingPoint.mantissaBits(16));
    }

    @Test
    void a8BlockSharesTheExponentOfItsLargestValue() {
        // m = 7. Exponents: 1.0 -> 0, 0.3 -> -2, -0.02 -> -6, so e = 0.
        // Scale up by 2^(m-1-e) = 2^6 = 64:  64 -> 64,  19.2 -> 19,  -1.28 -> -1.
        // Scale down by 2^(e+1-m) = 2^-6:    {1.0, 19/64 = 0.296875, -1/64 = -0.015625}
        double[] q = quantizeChannels(8, 32, 1.0, 0.3, -0.02);
        assertArrayEquals(new double[] {1.0, 19.0 / 64, -1.0 / 64}, q, 0.0);
    }

    @Test
    void zerosAreIgnoredInTheExponentAndAnAllZeroBlockStaysZero() {
        // Block {0, 0.001, 0}: e = floor(log2 0.001) = -10 (2^-10 = 0.0009765625 <= 0.001 < 2^-9), m = 7:
        // 0.001 * 2^16 = 65.536 -> 66 -> 66 * 2^-16 = 0.001007080078125; the zeros stay zero.
        assertArrayEquals(new double[] {0, 66.0 / 65536, 0}, quantizeChannels(8, 32, 0.0, 0.001, 0.0), 0.0);
        // Block size 2: {0, 0} is all zero (no exponent at all) and must stay zero, not NaN; {0.75, 0} next to it
        // is quantized on its own: e = -1, 0.75 * 2^7 = 96 -> 96 * 2^-7 = 0.75.
        assertArrayEquals(new double[] {0, 0, 0.75, 0}, quantizeChannels(8, 2, 0.0, 0.0, 0.75, 0.0), 0.0);
        assertArrayEquals(new double[] {0, -0.0}, quantizeChannels(4, 2, 0.0, -0.0), 0.0);
    }

    @Test
    void anExactPowerOfTwoHasExactlyItsOwnExponent() {
        // A4 (m = 3), block {8, 6}: e = 3 exactly (a float log2 could give 2.9999... or 3.0000...1).
        //   e = 3: scale 2^(m-1-e) = 1/2: {4, 3} -> times 2^(e+1-m) = 2: {8, 6}      (correct)
        //   e = 2 would give scale 1: {8 -> clamp 7, 6} = {7, 6}; e = 4 would give {2, 1.5 -> 2} * 4 = {8, 8}.
        assertArrayEquals(new double[] {8, 6}, quantizeChannels(4, 32, 8.0, 6.0), 0.0);
        // Just below 8 the exponent is 2: scale 1: 7.999... -> 8 -> clamp 7; 1 stays 1.
        assertArrayEquals(new double[] {7, 1}, quantizeChannels(4, 32, Math.nextDown(8.0), 1.0), 0.0);
    }

    @Test
    void mantissaTiesRoundHalfToEven() {
        // A4 (m = 3), block leader 1.0 -> e = 0, scale 2^(m-1) = 4, step 1/4:
        //   0.625*4 = 2.5 -> 2 -> 0.5;  0.875*4 = 3.5 -> 4 -> 1.0;  -0.625*4 = -2.5 -> -2 -> -0.5;
        //   0.375*4 = 1.5 -> 2 -> 0.5;  0.125*4 = 0.5 -> 0 -> 0
        double[] q = quantizeChannels(4, 32, 1.0, 0.625, 0.875, -0.625, 0.375, 0.125);
        assertArrayEquals(new double[] {1.0, 0.5, 1.0, -0.5, 0.5, 0.0}, q, 0.0);
    }

    @Test
    void aValueThatRoundsUpToTwoToTheMClampsToTheLargestMantissa() {
        // A8 (m = 7): 1.999 has e = 0, 1.999 * 64 = 127.936 -> 128 = 2^m, which does not fit: clamp to 127,
        // giving 127/64 = 1.984375 (and -1.984375 for the negative twin).
        assertArrayEquals(new double[] {127.0 / 64, -127.0 / 64}, quantizeChannels(8, 32, 1.999, -1.999), 0.0);
        // Same at A2 (m = 1): 1.75 has e = 0, scale 2^0: 1.75 -> 2 -> clamp 1 -> 1 * 2^0 = 1.
        assertArrayEquals(new double[] {1.0}, quantizeChannels(2, 32, 1.75), 0.0);
    }

    @Test
    void aTinyValueNextToABigOneFlushesToZero() {
        // A8: 1000 has e = 9 (512 <= 1000 < 1024); scale 2^(6-9) = 1/8: 1000/8 = 125 -> 125 * 8 = 1000;
        // 0.001/8 = 0.000125 -> 0.
        assertArrayEquals(new double[] {1000, 0}, quantizeChannels(8, 32, 1000.0, 0.001), 0.0);
    }

    @Test
    void blocksRunAlongChannelsWithAPartialLastBlock() {
        // NCHW, n = 1, 5 channels, 2 positions, B = 2: blocks {c0,c1}, {c2,c3}, {c4}. A4 (m = 3).
        // Position 0, channels {4.0, 0.3, 0.5, 0.3, 0.3}:
        //   {4.0, 0.3}: e = 2, scale 1:    {4, 0.3 -> 0}                  -> {4, 0}
        //   {0.5, 0.3}: e = -1, scale 8:   {4, 2.4 -> 2} / 8              -> {0.5, 0.25}
        //   {0.3}:      e = -2, scale 16:  4.8 -> 5, / 16                 -> 0.3125
        // Position 1, channels {0, 0, 1.0, 0, 0.1}:
        //   {0, 0} stays zero; {1.0, 0}: e = 0 -> {1, 0};
        //   {0.1}: e = -4, scale 64: 6.4 -> 6, / 64 = 0.09375
        // NCHW index = c * spatial + p.
        double[] x = {
            4.0, 0.0,
            0.3, 0.0,
            0.5, 1.0,
            0.3, 0.0,
            0.3, 0.1,
        };
        BlockFloatingPoint.quantizeInPlace(x, 1, 5, 2, false, 2, 4);
        assertArrayEquals(new double[] {
            4.0, 0.0,
            0.0, 0.0,
            0.5, 1.0,
            0.25, 0.0,
            0.3125, 0.09375,
        }, x, 0.0);
    }

    @Test
    void nchwAndNhwcGiveTheSameResultOnTransposedData() {
        int n = 2;
        int c = 7;
        int sp = 6;
        Random rnd = new Random(5);
        double[] nchw = new double[n * c * sp];
        for (int i = 0; i < nchw.length; i++) {
            nchw[i] = rnd.nextGaussian() * Math.pow(2, rnd.nextInt(8) - 4);
        }
        double[] original = nchw.clone();
        double[] nhwc = new double[nchw.length];
        for (int img = 0; img < n; img++) {
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < sp; p++) {
                    nhwc[(img * sp + p) * c + ch] = nchw[(img * c + ch) * sp + p];
                }
            }
        }
        BlockFloatingPoint.quantizeInPlace(nchw, n, c, sp, false, 3, 5);
        BlockFloatingPoint.quantizeInPlace(nhwc, n, c, sp, true, 3, 5);
        for (int img = 0; img < n; img++) {
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < sp; p++) {
                    assertEquals(nchw[(img * c + ch) * sp + p], nhwc[(img * sp + p) * c + ch], 0.0,
                            "image " + img + " channel " + ch + " position " + p);
                }
            }
        }
        // Not a no-op: A5 keeps only 4 mantissa bits, so most random Gaussians must have moved; and a second pass
        // changes nothing, since every value is already on its block's grid.
        int changed = 0;
        for (int i = 0; i < nchw.length; i++) {
            if (nchw[i] != original[i]) {
                changed++;
            }
        }
        assertTrue(changed > nchw.length / 2, changed + " of " + nchw.length + " values changed");
        double[] again = nchw.clone();
        BlockFloatingPoint.quantizeInPlace(again, n, c, sp, false, 3, 5);
        assertArrayEquals(nchw, again, 0.0, "quantizing twice changes nothing");
    }

    @Test
    void rejectsBadBitsBlockSizeAndLength() {
        double[] x = new double[6];
        assertThrows(IllegalArgumentException.class, () -> BlockFloatingPoint.quantizeInPlace(x, 1, 3, 2, false, 2, 1));
        assertThrows(IllegalArgumentException.class, () -> BlockFloatingPoint.quantizeInPlace(x, 1, 3, 2, false, 2, 17));
        assertThrows(IllegalArgumentException.class, () -> BlockFloatingPoint.quantizeInPlace(x, 1, 3, 2, false, 0, 8));
        assertThrows(IllegalArgumentException.class, () -> BlockFloatingPoint.quantizeInPlace(x, 1, 3, 3, false, 2, 8));
        assertThrows(IllegalArgumentException.class, () -> BlockFloatingPoint.quantizeInPlace(x, 2, 3, 2, true, 2, 8));
        assertThrows(IllegalArgumentException.class, () -> BlockFloatingPoint.mantissaBits(0));
    }

    private static double[] quantizeUnsigned(int actBits, int blockSize, double... x) {
        double[] v = x.clone();
        BlockFloatingPoint.quantizeInPlace(v, 1, v.length, 1, false, blockSize, actBits, true);
        return v;
    }

    @Test
    void unsignedBlocksKeepEightBitPixelsExact() {
        // Signed A8 (m = 7) on {255, 129, 3}: e = 7, scale 2^-1: 127.5 -> 128 -> clamp 127, 64.5 -> 64, 1.5 -> 2;
        // times 2: {254, 128, 4}. Unsigned A8: scale 2^0, clamp 255: exact.
        assertArrayEquals(new double[] {254, 128, 4}, quantizeChannels(8, 32, 255, 129, 3), 0.0);
        assertArrayEquals(new double[] {255, 129, 3}, quantizeUnsigned(8, 32, 255, 129, 3), 0.0);
        // ReLU-like block {1.0, 0.3, 0}: e = 0, unsigned scale 2^7: 0.3 * 128 = 38.4 -> 38 (signed gives 19/64).
        assertArrayEquals(new double[] {1.0, 38.0 / 128, 0}, quantizeUnsigned(8, 32, 1.0, 0.3, 0.0), 0.0);
        // Largest mantissa: 1.999 * 128 = 255.87 -> 256 -> clamp 255.
        assertArrayEquals(new double[] {255.0 / 128}, quantizeUnsigned(8, 32, 1.999), 0.0);
    }

    @Test
    void aBlockWithANegativeValueStaysSigned() {
        double[] x = {1.0, 0.3, -0.02, 0.5};
        // Block size 2: {1.0, 0.3} is non-negative (unsigned), {-0.02, 0.5} is signed as before.
        double[] u = quantizeUnsigned(8, 2, x);
        double[] s = quantizeChannels(8, 2, x);
        assertArrayEquals(new double[] {1.0, 38.0 / 128, s[2], s[3]}, u, 0.0);
        assertArrayEquals(quantizeChannels(8, 32, x), quantizeUnsigned(8, 32, x), 0.0);
    }

    @Test
    void exponentOfAFloatIsItsExactExponentAsADouble() {
        assertEquals(0, BlockFloatingPoint.exponent(1.0f));
        assertEquals(0, BlockFloatingPoint.exponent(-1.9999999f));
        assertEquals(-2, BlockFloatingPoint.exponent(0.3f));
        assertEquals(127, BlockFloatingPoint.exponent(Float.MAX_VALUE));
        assertEquals(-126, BlockFloatingPoint.exponent(Float.MIN_NORMAL));
        // Subnormals: the float's exponent field is 0, the double's exponent is exact.
        assertEquals(-149, BlockFloatingPoint.exponent(Float.MIN_VALUE));
        assertEquals(-127, BlockFloatingPoint.exponent(Float.MIN_NORMAL / 2));
        Random rnd = new Random(3);
        for (int i = 0; i < 10000; i++) {
            float v = Float.intBitsToFloat(rnd.nextInt());
            if (v != 0 && Float.isFinite(v)) {
                assertEquals(Math.getExponent((double) v), BlockFloatingPoint.exponent(v), "exponent of " + v);
            }
        }
    }

    @Test
    void blockExponentIgnoresZerosAndFollowsTheStride() {
        double[] f = {0, 100, 0.3, 0, -0.02, 0};
        // Every other value from index 0: 0, 0.3, -0.02 -> -2.
        assertEquals(-2, BlockFloatingPoint.blockExponent(f, 0, 3, 2));
        // From index 1: 100 -> 6.
        assertEquals(6, BlockFloatingPoint.blockExponent(f, 1, 3, 2));
        assertEquals(BlockFloatingPoint.EMPTY, BlockFloatingPoint.blockExponent(new double[] {0, -0.0}, 0, 2, 1));
        double[] d = {0, 0.3, 0, -0.02, 1e-300};
        assertEquals(-2, BlockFloatingPoint.blockExponent(d, 0, 5, 1));
        assertEquals(-997, BlockFloatingPoint.blockExponent(d, 4, 1, 1));
        assertEquals(BlockFloatingPoint.EMPTY, BlockFloatingPoint.blockExponent(d, 0, 1, 1));
    }

    @Test
    void mantissaShiftRangeAndRounding() {
        // A8 (m = 7), e = 0: signed mantissas x * 2^6 in [-127, 127]; unsigned x * 2^7 in [0, 255].
        assertEquals(6, BlockFloatingPoint.mantissaShift(0, 7, false));
        assertEquals(7, BlockFloatingPoint.mantissaShift(0, 7, true));
        assertEquals(9, BlockFloatingPoint.mantissaShift(-3, 7, false));
        assertEquals(127, BlockFloatingPoint.maxMantissa(7, false));
        assertEquals(255, BlockFloatingPoint.maxMantissa(7, true));
        assertEquals(1, BlockFloatingPoint.maxMantissa(1, false));
        assertEquals(32767, BlockFloatingPoint.maxMantissa(15, false));
        // Ties to even, then the clamp: 1.9999 * 64 = 127.99 rounds to 128, clamped to 127.
        assertEquals(2, BlockFloatingPoint.roundMantissa(2.5, -127, 127), 0.0);
        assertEquals(4, BlockFloatingPoint.roundMantissa(3.5, -127, 127), 0.0);
        assertEquals(-2, BlockFloatingPoint.roundMantissa(-2.5, -127, 127), 0.0);
        assertEquals(127, BlockFloatingPoint.roundMantissa(1.9999 * 64, -127, 127), 0.0);
        assertEquals(-127, BlockFloatingPoint.roundMantissa(-1.9999 * 64, -127, 127), 0.0);
        assertEquals(0, BlockFloatingPoint.roundMantissa(-0.4, 0, 255), 0.0);
    }

    /**
     * The steps, composed the way the integer engine composes them on float input (a product with {@code 2^shift},
     * int8 mantissas, scale {@code 2^-shift}), give exactly what {@link BlockFloatingPoint#quantizeInPlace} gives.
     */
    @Test
    void stepsComposeToQuantizeInPlace() {
        Random rnd = new Random(5);
        for (int actBits = 2; actBits <= 8; actBits++) {
            int m = BlockFloatingPoint.mantissaBits(actBits);
            for (int trial = 0; trial < 200; trial++) {
                float[] x = new float[16];
                int scaleExp = rnd.nextInt(60) - 30;
                for (int i = 0; i < x.length; i++) {
                    x[i] = rnd.nextInt(5) == 0 ? 0f : (float) Math.scalb(rnd.nextGaussian(), scaleExp);
                }
                double[] expect = new double[x.length];
                for (int i = 0; i < x.length; i++) {
                    expect[i] = x[i];
                }
                BlockFloatingPoint.quantizeInPlace(expect, 1, x.length, 1, false, x.length, actBits);
                int e = BlockFloatingPoint.EMPTY;
                for (float v : x) {
                    e = v == 0 ? e : Math.max(e, BlockFloatingPoint.exponent(v));
                }
                if (e == BlockFloatingPoint.EMPTY) {
                    continue;
                }
                int shift = BlockFloatingPoint.mantissaShift(e, m, false);
                double up = Math.scalb(1.0, shift);
                float scale = (float) Math.scalb(1.0, -shift);
                double hi = BlockFloatingPoint.maxMantissa(m, false);
                for (int i = 0; i < x.length; i++) {
                    double r = Math.rint(x[i] * up);
                    byte mant = (byte) BlockFloatingPoint.clampMantissa(r, -hi, hi);
                    assertEquals(BlockFloatingPoint.roundMantissa(x[i] * up, -hi, hi), mant, 0.0);
                    assertEquals(expect[i], mant * scale, 0.0, "A" + actBits + " value " + x[i]);
                }
            }
        }
    }
}
