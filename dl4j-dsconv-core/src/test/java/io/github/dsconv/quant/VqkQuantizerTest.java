package io.github.dsconv.quant;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * VQK + KDS against hand-computed blocks (DSCONV-SPEC.md section 1). Most inputs are dyadic so that
 * {@code s * w} is exact in float32 and the expected codes do not depend on float rounding.
 */
class VqkQuantizerTest {

    /** Tolerance for float32 scales computed in double and stored as float: a few ulp at magnitude ~1. */
    private static final float SCALE_TOL = 1e-7f;

    private static QuantizedKernel vqk(float[] w, KernelShape shape, int bits, int blockSize) {
        return new VqkQuantizer().quantize(w, shape, bits, blockSize);
    }

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    @Test
    void singleBlockAtFourBitsMatchesHandComputation() {
        // w = {0.5, -1.0, 0.25, 0.1}, b = 4: range [-8, 7].
        // a = -1.0 (largest magnitude, signed), s = -8 / -1 = 8.
        // s*w = {4, -8, 2, 0.8} -> rint -> {4, -8, 2, 1}; no clamp needed.
        // sum(w q) = 0.5*4 + (-1)(-8) + 0.25*2 + 0.1*1 = 2 + 8 + 0.5 + 0.1 = 10.6
        // sum(q q) = 16 + 64 + 4 + 1 = 85
        // alpha = 10.6 / 85 = 0.12470588...
        float[] w = {0.5f, -1.0f, 0.25f, 0.1f};
        QuantizedKernel k = vqk(w, new KernelShape(1, 4, 1, 1), 4, 32);
        assertArrayEquals(bytes(4, -8, 2, 1), k.q());
        assertEquals(1, k.alpha().length);
        assertEquals(10.6 / 85, k.alpha()[0], SCALE_TOL);
        assertNull(k.beta());
        assertEquals(1, k.storedScales());
        assertEquals(4, k.bits());
        assertEquals(32, k.blockSize());
    }

    @Test
    void weightedFitMatchesHandComputation() {
        // Same block as above, q = {4, -8, 2, 1}; channel weights h = {1, 0, 2, 0}:
        // sum(h w q) = 1*0.5*4 + 2*0.25*2 = 2 + 1 = 3; sum(h q q) = 16 + 2*4 = 24; alpha = 3/24 = 0.125, which
        // reconstructs the two weighted channels exactly (0.5 = 0.125*4, 0.25 = 0.125*2).
        float[] w = {0.5f, -1.0f, 0.25f, 0.1f};
        QuantizedKernel k = new VqkQuantizer().quantize(w, new KernelShape(1, 4, 1, 1), 4, 32,
                new double[] {1, 0, 2, 0});
        assertArrayEquals(bytes(4, -8, 2, 1), k.q());
        assertEquals(0.125f, k.alpha()[0], 0f);
    }

    @Test
    void weightedFitWithShiftMatchesHandComputation() {
        // w = {1, 0.5, 0}, b = 2 (range [-2, 1]): a = 1, s = -2, s*w = {-2, -1, 0} -> q = {-2, -1, 0}.
        // h = {1, 1, 2}: weighted means mw = (1 + 0.5 + 0)/4 = 0.375, mq = (-2 - 1 + 0)/4 = -0.75;
        // cov = 1*(0.625)(-1.25) + 1*(0.125)(-0.25) + 2*(-0.375)(0.75) = -0.78125 - 0.03125 - 0.5625 = -1.375;
        // var = 1.5625 + 0.0625 + 2*0.5625 = 2.75; alpha = -0.5; beta = 0.375 - (-0.5)(-0.75) = 0: exact.
        float[] w = {1f, 0.5f, 0f};
        QuantizedKernel k = new VqkQuantizer(true, false).quantize(w, new KernelShape(1, 3, 1, 1), 2, 32,
                new double[] {1, 1, 2});
        assertArrayEquals(bytes(-2, -1, 0), k.q());
        assertEquals(-0.5f, k.alpha()[0], 0f);
        assertEquals(0f, k.beta()[0], 0f);
    }

    @Test
    void unitChannelWeightsGiveTheUnweightedFitExactly() {
        Random r = new Random(5);
        KernelShape shape = new KernelShape(6, 40, 3, 3);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        double[] ones = new double[40];
        java.util.Arrays.fill(ones, 1.0);
        for (VqkQuantizer q : new VqkQuantizer[] {new VqkQuantizer(), new VqkQuantizer(true, true)}) {
            QuantizedKernel plain = q.quantize(w, shape, 3, 16);
            QuantizedKernel weighted = q.quantize(w, shape, 3, 16, ones);
            assertArrayEquals(plain.q(), weighted.q());
            assertArrayEquals(plain.alpha(), weighted.alpha(), 0f);
            if (plain.beta() != null) {
                assertArrayEquals(plain.beta(), weighted.beta(), 0f);
            }
        }
    }

    @Test
    void weightedFitLowersTheWeightedErrorAndRejectsBadWeights() {
        Random r = new Random(6);
        KernelShape shape = new KernelShape(8, 32, 1, 1);
        float[] w = new float[shape.numel()];
        double[] h = new double[32];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int c = 0; c < 32; c++) {
            h[c] = Math.exp(3 * r.nextGaussian()); // channel energies spread over orders of magnitude
        }
        VqkQuantizer q = new VqkQuantizer(true, true);
        double plainErr = weightedError(w, q.quantize(w, shape, 3, 32), h);
        double weightedErr = weightedError(w, q.quantize(w, shape, 3, 32, h), h);
        assertTrue(weightedErr < plainErr, weightedErr + " vs " + plainErr);
        assertThrows(IllegalArgumentException.class, () -> q.quantize(w, shape, 3, 32, new double[31]));
        double[] negative = h.clone();
        negative[3] = -1;
        assertThrows(IllegalArgumentException.class, () -> q.quantize(w, shape, 3, 32, negative));
        double[] nan = h.clone();
        nan[4] = Double.NaN;
        assertThrows(IllegalArgumentException.class, () -> q.quantize(w, shape, 3, 32, nan));
    }

    /** {@code sum h_c (w - alpha q - beta)^2} for a 1x1 kernel with one block of all its input channels. */
    private static double weightedError(float[] w, QuantizedKernel k, double[] h) {
        int nIn = h.length;
        double err = 0;
        for (int i = 0; i < w.length; i++) {
            int o = i / nIn;
            double rec = k.alpha()[o] * k.q()[i] + (k.beta() == null ? 0 : k.beta()[o]);
            err += h[i % nIn] * (w[i] - rec) * (w[i] - rec);
        }
        return err;
    }

    @Test
    void partialLastBlockAndKernelPositionsMapToTheRightAlpha() {
        // Shape [nOut=2, nIn=3, kH=1, kW=2], B = 2 -> blocks {c0,c1} and {c2} (partial), b = 3: range [-4, 3].
        // Flat index = (o*3 + c)*2 + x. Values listed per (o, c) as {x=0, x=1}.
        float[] w = {
            1.0f, 0.25f,   // o0 c0
            0.5f, -2.0f,   // o0 c1
            -0.25f, 0.75f, // o0 c2
            0f, -0.5f,     // o1 c0
            0f, 0.125f,    // o1 c1
            3.0f, 0f,      // o1 c2
        };
        // (o0, blk0, x0) {1.0, 0.5}:  a = 1,    s = -4:  s*w = {-4, -2}   -> q {-4, -2}; alpha = (-4 - 1)/(16+4) = -0.25
        // (o0, blk0, x1) {0.25, -2}:  a = -2,   s = 2:   s*w = {0.5, -4}  -> q {0, -4} (rint(0.5) = 0, half to even);
        //                                                                    alpha = (0 + 8)/16 = 0.5
        // (o0, blk1, x0) {-0.25}:     a = -0.25, s = 16: s*w = -4         -> q -4; alpha = 1/16 = 0.0625
        // (o0, blk1, x1) {0.75}:      a = 0.75, s = -16/3: s*w = -4       -> q -4; alpha = -3/16 = -0.1875
        // (o1, blk0, x0) {0, 0}:      all zero                            -> q {0, 0}; alpha = 0
        // (o1, blk0, x1) {-0.5, 0.125}: a = -0.5, s = 8: s*w = {-4, 1}    -> q {-4, 1}; alpha = (2 + 0.125)/17 = 0.125
        // (o1, blk1, x0) {3}:         a = 3,    s = -4/3: s*w = -4        -> q -4; alpha = -12/16 = -0.75
        // (o1, blk1, x1) {0}:         all zero                            -> q 0; alpha = 0
        KernelShape shape = new KernelShape(2, 3, 1, 2);
        QuantizedKernel k = vqk(w, shape, 3, 2);
        assertArrayEquals(bytes(
                -4, 0,
                -2, -4,
                -4, -4,
                0, -4,
                0, 1,
                -4, 0), k.q());
        // alpha layout [nOut, nBlocks, kH, kW] = [2, 2, 1, 2]: index (o*2 + blk)*2 + x.
        float[] expectedAlpha = {-0.25f, 0.5f, 0.0625f, -0.1875f, 0f, 0.125f, -0.75f, 0f};
        assertArrayEquals(expectedAlpha, k.alpha(), SCALE_TOL);
        assertEquals(2, k.layout().nBlocks());
    }

    @Test
    void everyBlockOfASquareKernelPutsItsLargestWeightOnTheExtraNegativeCode() {
        // kH = kW = 2 and a partial block, so a wrong stride over (ky, kx) or a wrong alpha index would show.
        // The checks follow from the definitions alone: the signed max a gets q = -2^(b-1) exactly, and alpha at
        // [o, blk, y, x] is sum(w q)/sum(q q) over that block's channels.
        KernelShape shape = new KernelShape(3, 5, 2, 2);
        int bits = 3;
        int blockSize = 2;
        Random rnd = new Random(7);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        QuantizedKernel k = vqk(w, shape, bits, blockSize);
        BlockLayout layout = new BlockLayout(shape.nIn(), blockSize);
        assertEquals(3, layout.nBlocks());
        assertEquals(shape.nOut() * 3 * 4, k.alpha().length);
        for (int o = 0; o < shape.nOut(); o++) {
            for (int blk = 0; blk < layout.nBlocks(); blk++) {
                for (int y = 0; y < 2; y++) {
                    for (int x = 0; x < 2; x++) {
                        int argMax = -1;
                        double wq = 0;
                        double qq = 0;
                        for (int c = layout.start(blk); c < layout.end(blk); c++) {
                            int i = shape.index(o, c, y, x);
                            if (argMax < 0 || Math.abs(w[i]) > Math.abs(w[argMax])) {
                                argMax = i;
                            }
                            wq += (double) w[i] * k.q()[i];
                            qq += (double) k.q()[i] * k.q()[i];
                        }
                        assertEquals(-4, k.q()[argMax], "block max at " + o + "," + blk + "," + y + "," + x);
                        float alpha = k.alpha()[((o * layout.nBlocks() + blk) * 2 + y) * 2 + x];
                        assertEquals(wq / qq, alpha, 1e-6, "alpha at " + o + "," + blk + "," + y + "," + x);
                        assertTrue(alpha * w[argMax] < 0, "alpha absorbs the sign of a");
                    }
                }
            }
        }
    }

    @Test
    void plusMinusTieTakesTheFirstChannelAndFlipsTheSignOfAlpha() {
        // b = 4, range [-8, 7].
        // w = {0.5, -0.5, 0.25}: a = +0.5 (first), s = -16: s*w = {-8, 8, -4} -> clamp 8 to 7 -> q {-8, 7, -4};
        //   alpha = (0.5*-8 + -0.5*7 + 0.25*-4) / (64 + 49 + 16) = (-4 - 3.5 - 1)/129 = -8.5/129
        // w = {-0.5, 0.5, 0.25}: a = -0.5 (first), s = 16: s*w = {-8, 8, 4} -> q {-8, 7, 4};
        //   alpha = (4 + 3.5 + 1)/129 = +8.5/129
        KernelShape shape = new KernelShape(1, 3, 1, 1);
        QuantizedKernel plusFirst = vqk(new float[] {0.5f, -0.5f, 0.25f}, shape, 4, 8);
        QuantizedKernel minusFirst = vqk(new float[] {-0.5f, 0.5f, 0.25f}, shape, 4, 8);
        assertArrayEquals(bytes(-8, 7, -4), plusFirst.q());
        assertArrayEquals(bytes(-8, 7, 4), minusFirst.q());
        assertEquals(-8.5 / 129, plusFirst.alpha()[0], SCALE_TOL);
        assertEquals(8.5 / 129, minusFirst.alpha()[0], SCALE_TOL);
    }

    @Test
    void allZeroBlockGivesZeroCodesAndZeroScalesWithoutNaN() {
        // Block 0 is all zero (no division by zero allowed); block 1 = {2.0} proves the zero block did not leak.
        KernelShape shape = new KernelShape(1, 4, 1, 1);
        float[] w = {0f, 0f, 0f, 2.0f};
        for (boolean bias : new boolean[] {false, true}) {
            for (boolean clip : new boolean[] {false, true}) {
                QuantizedKernel k = new VqkQuantizer(bias, clip).quantize(w, shape, 4, 3);
                assertArrayEquals(bytes(0, 0, 0, -8), k.q());
                assertEquals(0f, k.alpha()[0], 0f);
                for (float v : k.reconstruct()) {
                    assertFalse(Float.isNaN(v), "reconstruct has NaN (bias " + bias + ", clip " + clip + ")");
                }
                assertArrayEquals(new float[] {0f, 0f, 0f}, java.util.Arrays.copyOf(k.reconstruct(), 3), 0f);
                if (bias) {
                    assertEquals(0f, k.beta()[0], 0f);
                }
            }
        }
    }

    @Test
    void exactHalvesRoundToEven() {
        // b = 4, a = -1.0, s = 8 (all products exact in float32):
        //   0.3125*8 = 2.5 -> 2;  0.4375*8 = 3.5 -> 4;  -0.3125*8 = -2.5 -> -2;  0.0625*8 = 0.5 -> 0
        // alpha = (8 + 0.625 + 1.75 + 0.625 + 0)/(64 + 4 + 16 + 4 + 0) = 11/88 = 0.125
        float[] w = {-1.0f, 0.3125f, 0.4375f, -0.3125f, 0.0625f};
        QuantizedKernel k = vqk(w, new KernelShape(1, 5, 1, 1), 4, 32);
        assertArrayEquals(bytes(-8, 2, 4, -2, 0), k.q());
        assertEquals(0.125f, k.alpha()[0], 0f);
    }

    @Test
    void clampKeepsThePositiveTwinOfTheLargestWeightAtTheTopCode() {
        // For every b, w = {0.3, -0.7, 0.7, 0.1}: a = -0.7 lands exactly on -2^(b-1), and +0.7 would land on
        // +2^(b-1), which does not exist in b-bit two's complement: it must clamp to 2^(b-1) - 1.
        float[] w = {0.3f, -0.7f, 0.7f, 0.1f};
        KernelShape shape = new KernelShape(1, 4, 1, 1);
        for (int bits = 2; bits <= 8; bits++) {
            QuantizedKernel k = vqk(w, shape, bits, 4);
            int lo = -(1 << (bits - 1));
            int hi = (1 << (bits - 1)) - 1;
            assertEquals(lo, k.q()[1], "bits " + bits);
            assertEquals(hi, k.q()[2], "bits " + bits);
            for (byte q : k.q()) {
                assertTrue(q >= lo && q <= hi, "q " + q + " outside [" + lo + "," + hi + "] at bits " + bits);
            }
        }
        // Largest weight positive: w = {1.0, -0.5}, b = 2: a = 1, s = -2: q = {-2, 1};
        // alpha = (1*-2 + -0.5*1)/(4 + 1) = -0.5, and the block reconstructs exactly.
        QuantizedKernel k = vqk(new float[] {1.0f, -0.5f}, new KernelShape(1, 2, 1, 1), 2, 2);
        assertArrayEquals(bytes(-2, 1), k.q());
        assertEquals(-0.5f, k.alpha()[0], 0f);
        assertArrayEquals(new float[] {1.0f, -0.5f}, k.reconstruct(), 0f);
    }

    @Test
    void kdsBiasIsTheLeastSquaresLineWithIntercept() {
        // w = {1, 2, 3, 4}, b = 2: a = 4, s = -0.5: s*w = {-0.5, -1, -1.5, -2} -> rint -> q = {0, -1, -2, -2}
        // (-0.5 -> -0 and -1.5 -> -2, both half to even).
        // mean(w) = 2.5, mean(q) = -1.25
        // w - mw = {-1.5, -0.5, 0.5, 1.5};  q - mq = {1.25, 0.25, -0.75, -0.75}
        // cov = -1.875 - 0.125 - 0.375 - 1.125 = -3.5;  var = 1.5625 + 0.0625 + 0.5625 + 0.5625 = 2.75
        // alpha = -3.5/2.75 = -14/11;  beta = 2.5 - (-14/11)(-1.25) = 2.5 - 17.5/11 = 10/11
        float[] w = {1f, 2f, 3f, 4f};
        KernelShape shape = new KernelShape(1, 4, 1, 1);
        QuantizedKernel k = new VqkQuantizer(true, false).quantize(w, shape, 2, 4);
        assertArrayEquals(bytes(0, -1, -2, -2), k.q());
        assertEquals(-14.0 / 11, k.alpha()[0], 1e-6);
        assertNotNull(k.beta());
        assertEquals(10.0 / 11, k.beta()[0], 1e-6);
        assertEquals(2, k.storedScales(), "alpha and beta are both stored");
        // Without the bias: alpha = sum(wq)/sum(qq) = (0 - 2 - 6 - 8)/(0 + 1 + 4 + 4) = -16/9; the line with an
        // intercept can only fit better.
        QuantizedKernel noBias = vqk(w, shape, 2, 4);
        assertEquals(-16.0 / 9, noBias.alpha()[0], 1e-6);
        assertTrue(l2(w, k.reconstruct()) < l2(w, noBias.reconstruct()));
    }

    @Test
    void kdsBiasFallsBackToTheMeanWhenTheCodesAreConstant() {
        // w = {0.5, 0.5}, b = 4: a = 0.5, s = -16: q = {-8, -8}; var(q) = 0 -> alpha = 0, beta = mean(w) = 0.5.
        // A single-channel block (here the partial block {-0.75}) has var(q) = 0 too: alpha = 0, beta = -0.75.
        KernelShape shape = new KernelShape(1, 3, 1, 1);
        QuantizedKernel k = new VqkQuantizer(true, false).quantize(new float[] {0.5f, 0.5f, -0.75f}, shape, 4, 2);
        assertArrayEquals(bytes(-8, -8, -8), k.q());
        assertArrayEquals(new float[] {0f, 0f}, k.alpha(), 0f);
        assertArrayEquals(new float[] {0.5f, -0.75f}, k.beta(), 0f);
        assertArrayEquals(new float[] {0.5f, 0.5f, -0.75f}, k.reconstruct(), 0f);
    }

    @Test
    void clippingSearchIsNeverWorseThanTheClosedFormOnAnyBlock() {
        // r = 1 is on the search grid, so per block the search error is at most the closed-form error. Errors are
        // summed in the same order from the stored float scales, so they are compared with a tolerance of only
        // 1e-12 relative.
        Random rnd = new Random(20240601L);
        KernelShape shape = new KernelShape(4, 11, 3, 3);
        int blockSize = 4;
        for (int trial = 0; trial < 6; trial++) {
            float[] w = new float[shape.numel()];
            for (int i = 0; i < w.length; i++) {
                double g = rnd.nextGaussian();
                w[i] = (float) (trial % 2 == 0 ? g : g * g * g); // Gaussian and heavy-tailed kernels
            }
            for (boolean bias : new boolean[] {false, true}) {
                for (int bits = 2; bits <= 4; bits++) {
                    double[] closed = blockErrors(w, new VqkQuantizer(bias, false).quantize(w, shape, bits, blockSize));
                    double[] search = blockErrors(w, new VqkQuantizer(bias, true).quantize(w, shape, bits, blockSize));
                    for (int b = 0; b < closed.length; b++) {
                        assertTrue(search[b] <= closed[b] * (1 + 1e-12),
                                "block " + b + " trial " + trial + " bits " + bits + " bias " + bias + ": search "
                                        + search[b] + " > closed form " + closed[b]);
                    }
                }
            }
        }
    }

    @Test
    void clippingSearchBeatsTheClosedFormOnAHeavyTailedBlockAtTwoBits() {
        // Block of 32: one outlier 1.0 and 31 values +-0.2 (alternating). b = 2, codes [-2, 1].
        // Closed form: a = 1, s = -2: +-0.2 -> -+0.4 -> q = 0; outlier -> -2; alpha = -2/4 = -0.5.
        //   Only the outlier survives: error = 31 * 0.04 = 1.24.
        // Search, r < 0.8: s = -2/r, |s * 0.2| > 0.5 -> q = -+1; outlier -> clamp to -2.
        //   sum(wq) = -2 - 31*0.2 = -8.2, sum(qq) = 4 + 31 = 35, alpha = -8.2/35
        //   error = (1 - 16.4/35)^2 + 31 (0.2 - 8.2/35)^2 = (18.6^2 + 31 * 1.2^2)/35^2 = 390.6/1225 = 0.31886
        float[] w = new float[32];
        w[0] = 1.0f;
        for (int i = 1; i < 32; i++) {
            w[i] = i % 2 == 0 ? 0.2f : -0.2f;
        }
        KernelShape shape = new KernelShape(1, 32, 1, 1);
        QuantizedKernel closed = vqk(w, shape, 2, 32);
        QuantizedKernel search = new VqkQuantizer(false, true).quantize(w, shape, 2, 32);
        double closedErr = l2(w, closed.reconstruct());
        double searchErr = l2(w, search.reconstruct());
        // Tolerance 1e-5: 0.2f and the float alpha are not exact decimals.
        assertEquals(1.24, closedErr, 1e-5);
        assertEquals(390.6 / 1225, searchErr, 1e-5);
        assertEquals(-8.2 / 35, search.alpha()[0], 1e-6);
        assertEquals(-2, search.q()[0]);
    }

    @Test
    void reconstructIsAlphaTimesQPlusBetaPerBlock() {
        // Computed here with KernelShape.index and the same float32 operations, so the match is exact.
        KernelShape shape = new KernelShape(2, 7, 2, 2);
        Random rnd = new Random(3);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        for (boolean bias : new boolean[] {false, true}) {
            QuantizedKernel k = new VqkQuantizer(bias, false).quantize(w, shape, 3, 3);
            int nb = 3; // ceil(7 / 3)
            float[] rec = k.reconstruct();
            for (int o = 0; o < 2; o++) {
                for (int c = 0; c < 7; c++) {
                    for (int y = 0; y < 2; y++) {
                        for (int x = 0; x < 2; x++) {
                            int ai = ((o * nb + c / 3) * 2 + y) * 2 + x;
                            int wi = shape.index(o, c, y, x);
                            float expected = k.alpha()[ai] * k.q()[wi];
                            if (bias) {
                                expected += k.beta()[ai];
                            }
                            assertEquals(expected, rec[wi], 0f);
                        }
                    }
                }
            }
        }
    }

    @Test
    void sqnrGrowsWithEveryExtraBit() {
        // Uniform quantization gains ~6 dB a bit (halving the step quarters the noise); on this seeded Gaussian
        // kernel every extra bit from 2 to 8 gained 6.0-6.3 dB (10.4 dB at 2 bits, 47.2 dB at 8), so a gain under
        // 5 dB means a broken scale or rounding, not noise.
        KernelShape shape = new KernelShape(16, 40, 3, 3);
        Random rnd = new Random(11);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        double previous = 0;
        for (int bits = 2; bits <= 8; bits++) {
            double db = Sqnr.db(w, vqk(w, shape, bits, 16).reconstruct());
            if (bits > 2) {
                assertTrue(db - previous > 5, bits + " bits: " + db + " dB, only " + (db - previous) + " dB above "
                        + (bits - 1) + " bits");
            }
            previous = db;
        }
    }

    @Test
    void rejectsBadBitWidthsNonFiniteWeightsAndWrongLength() {
        KernelShape shape = new KernelShape(2, 3, 2, 2);
        float[] ok = new float[shape.numel()];
        VqkQuantizer q = new VqkQuantizer();
        assertThrows(IllegalArgumentException.class, () -> q.quantize(ok, shape, 1, 32));
        assertThrows(IllegalArgumentException.class, () -> q.quantize(ok, shape, 9, 32));

        float[] nan = ok.clone();
        nan[shape.index(1, 2, 1, 0)] = Float.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> q.quantize(nan, shape, 4, 32));
        assertTrue(e.getMessage().contains("[1,2,1,0]"), e.getMessage());
        assertTrue(e.getMessage().contains("NaN"), e.getMessage());

        float[] inf = ok.clone();
        inf[shape.index(0, 1, 0, 1)] = Float.NEGATIVE_INFINITY;
        e = assertThrows(IllegalArgumentException.class, () -> q.quantize(inf, shape, 4, 32));
        assertTrue(e.getMessage().contains("[0,1,0,1]"), e.getMessage());
        assertTrue(e.getMessage().contains("Infinity"), e.getMessage());

        e = assertThrows(IllegalArgumentException.class,
                () -> q.quantize(new float[shape.numel() - 1], shape, 4, 32));
        assertTrue(e.getMessage().contains(String.valueOf(shape.numel())), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> q.quantize(new float[shape.numel() + 1], shape, 4, 32));
        assertThrows(IllegalArgumentException.class, () -> q.quantize(ok, shape, 4, 0));
    }

    private static double l2(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) a[i] - b[i];
            s += d * d;
        }
        return s;
    }

    /** Squared error per (o, blk, ky, kx) block, indexed like alpha, summed in channel order. */
    private static double[] blockErrors(float[] w, QuantizedKernel k) {
        KernelShape shape = k.shape();
        BlockLayout layout = k.layout();
        float[] rec = k.reconstruct();
        double[] err = new double[k.alpha().length];
        for (int o = 0; o < shape.nOut(); o++) {
            for (int c = 0; c < shape.nIn(); c++) {
                for (int s = 0; s < shape.spatial(); s++) {
                    int wi = (o * shape.nIn() + c) * shape.spatial() + s;
                    double d = (double) w[wi] - rec[wi];
                    err[(o * layout.nBlocks() + layout.blockOf(c)) * shape.spatial() + s] += d * d;
                }
            }
        }
        return err;
    }
}
