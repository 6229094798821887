package io.github.dsconv.engine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The native fused kernel against a plain-Java statement of what it computes (the integer engine's double epilogue):
 * bit for bit on every path this CPU runs (VNNI, AVX2, portable C), for output counts that are not a multiple of
 * the vector width, blocks of 4 to 260 channels (including ones the vector paths hand to the portable one), signed
 * and 8-bit extreme values, zero scales and the KDS shift term.
 */
class NativeKernelsTest {

    /** The build of this project on x86-64 Linux with gcc must produce and load the library (CI runs there). */
    @Test
    void loadsOnThisMachine() {
        assumeTrue(System.getProperty("os.name", "").toLowerCase().contains("linux")
                && System.getProperty("os.arch", "").equals("amd64"), "native kernel is built for linux/x86-64");
        assertTrue(NativeKernels.available(), "native kernel did not load: " + NativeKernels.unavailableReason());
        assertNull(NativeKernels.unavailableReason());
        assertNotNull(NativeKernels.best());
    }

    /** The paths this CPU can run: every path up to its best. */
    static List<NativeKernels.Path> runnablePaths() {
        List<NativeKernels.Path> out = new ArrayList<>();
        if (NativeKernels.available()) {
            for (NativeKernels.Path p : NativeKernels.Path.values()) {
                if (p.ordinal() <= NativeKernels.best().ordinal()) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (NativeKernels.Path p : runnablePaths()) {
            //                   gc  pc  kb  nOut beta
            out.add(Arguments.of(p, 1, 1, 4, 1, false));
            out.add(Arguments.of(p, 9, 13, 32, 37, true));
            out.add(Arguments.of(p, 18, 7, 32, 64, false));
            out.add(Arguments.of(p, 3, 5, 36, 16, true));
            out.add(Arguments.of(p, 2, 4, 6, 20, true));     // kb % 4 != 0: AVX2 instead of VNNI
            out.add(Arguments.of(p, 2, 3, 7, 9, false));     // odd kb: portable
            out.add(Arguments.of(p, 2, 3, 260, 17, true));   // kb above the AVX2 limit: portable
        }
        return out.stream();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void matchesTheJavaEpilogueBitForBit(NativeKernels.Path path, int gc, int pc, int kb, int nOut, boolean kds) {
        Random r = new Random(gc * 31L + pc * 7L + kb + nOut);
        byte[] src = new byte[gc * pc * kb];
        byte[] w = new byte[gc * kb * nOut];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) (r.nextInt(255) - 127); // BFP mantissas: [-127, 127]
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) (r.nextInt(256) - 128); // 8-bit weights: [-128, 127]
        }
        src[0] = -127;
        w[0] = -128;
        float[] sc = new float[gc * pc];
        int[] msum = new int[gc * pc];
        for (int row = 0; row < sc.length; row++) {
            // Powers of two (BFP scales), some zero (all-zero or padding blocks).
            sc[row] = r.nextInt(5) == 0 ? 0f : (float) Math.scalb(1.0, -r.nextInt(20));
            for (int c = 0; c < kb; c++) {
                msum[row] += src[row * kb + c];
            }
        }
        float[] alpha = new float[gc * nOut];
        float[] beta = new float[gc * nOut];
        for (int i = 0; i < alpha.length; i++) {
            alpha[i] = (float) (r.nextGaussian() * 0.05);
            beta[i] = (float) (r.nextGaussian() * 0.01);
        }
        int offset = 5;
        double[] y = new double[offset + pc * nOut + 3];
        for (int i = 0; i < y.length; i++) {
            y[i] = r.nextGaussian();
        }
        double[] expect = y.clone();
        reference(gc, pc, kb, nOut, src, w, sc, alpha, kds ? beta : null, msum, expect, offset);
        // The layer holds one more term before these: the call starts at term 1 of the packed weights.
        byte[] layer = new byte[(gc + 1) * kb * nOut];
        for (int i = 0; i < kb * nOut; i++) {
            layer[i] = (byte) (r.nextInt(256) - 128);
        }
        System.arraycopy(w, 0, layer, kb * nOut, w.length);
        NativeKernels.Path effective = NativeKernels.pathFor(path, kb);
        assertTrue(effective.ordinal() <= path.ordinal());
        NativeKernels.PackedLayer packed = NativeKernels.pack(effective, gc + 1, kb, nOut, layer);
        boolean unsigned = true;
        for (byte v : src) {
            unsigned &= v >= 0;
        }
        NativeKernels.fused(packed, 1, gc, pc, unsigned, src, sc, alpha, kds ? beta : null, kds ? msum : null, y,
                offset);
        for (int i = 0; i < y.length; i++) {
            assertEquals(Double.doubleToRawLongBits(expect[i]), Double.doubleToRawLongBits(y[i]),
                    effective + ": y[" + i + "] = " + y[i] + ", expected " + expect[i]);
        }
    }

    /** Non-negative sources (after a ReLU) take VNNI's unshifted u8 route: same bits. */
    @ParameterizedTest
    @MethodSource("cases")
    void unsignedSourcesAgreeToo(NativeKernels.Path path, int gc, int pc, int kb, int nOut, boolean kds) {
        Random r = new Random(5 + gc + kb);
        byte[] src = new byte[gc * pc * kb];
        byte[] w = new byte[gc * kb * nOut];
        for (int i = 0; i < src.length; i++) {
            src[i] = (byte) r.nextInt(128);
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (byte) (r.nextInt(256) - 128);
        }
        float[] sc = new float[gc * pc];
        int[] msum = new int[gc * pc];
        float[] alpha = new float[gc * nOut];
        float[] beta = new float[gc * nOut];
        for (int row = 0; row < sc.length; row++) {
            sc[row] = (float) Math.scalb(1.0, -r.nextInt(12));
            for (int c = 0; c < kb; c++) {
                msum[row] += src[row * kb + c];
            }
        }
        for (int i = 0; i < alpha.length; i++) {
            alpha[i] = (float) r.nextGaussian();
            beta[i] = (float) r.nextGaussian();
        }
        double[] expect = new double[pc * nOut];
        double[] y = new double[pc * nOut];
        reference(gc, pc, kb, nOut, src, w, sc, alpha, kds ? beta : null, msum, expect, 0);
        NativeKernels.PackedLayer packed = NativeKernels.pack(NativeKernels.pathFor(path, kb), gc, kb, nOut, w);
        NativeKernels.fused(packed, 0, gc, pc, true, src, sc, alpha, kds ? beta : null, kds ? msum : null, y, 0);
        for (int i = 0; i < y.length; i++) {
            assertEquals(Double.doubleToRawLongBits(expect[i]), Double.doubleToRawLongBits(y[i]), "y[" + i + "]");
        }
    }

    /** The integer engine's double epilogue, term by term in the same order. */
    static void reference(int gc, int pc, int kb, int nOut, byte[] src, byte[] w, float[] sc, float[] alpha,
                          float[] beta, int[] msum, double[] y, int offset) {
        for (int gi = 0; gi < gc; gi++) {
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                float s = sc[row];
                if (s == 0f) {
                    continue;
                }
                for (int o = 0; o < nOut; o++) {
                    int acc = 0;
                    for (int c = 0; c < kb; c++) {
                        acc += src[row * kb + c] * w[(gi * kb + c) * nOut + o];
                    }
                    y[offset + pi * nOut + o] += (double) (alpha[gi * nOut + o] * s) * acc;
                }
                if (beta != null) {
                    double xs = (double) s * msum[row];
                    for (int o = 0; o < nOut; o++) {
                        y[offset + pi * nOut + o] += beta[gi * nOut + o] * xs;
                    }
                }
            }
        }
    }

    @Test
    void refusesShortArraysAndTermsOutsideTheLayer() {
        assumeTrue(NativeKernels.available(), "native kernel not loaded");
        NativeKernels.PackedLayer p = NativeKernels.pack(NativeKernels.Path.PORTABLE, 2, 4, 3, new byte[24]);
        assertThrows(IllegalArgumentException.class, () -> NativeKernels.pack(NativeKernels.Path.PORTABLE, 2, 4, 3,
                new byte[23]));
        assertThrows(IllegalArgumentException.class, () -> NativeKernels.fused(p, 0, 2, 2, false, new byte[15],
                new float[4], new float[6], null, null, new double[6], 0));
        assertThrows(IllegalArgumentException.class, () -> NativeKernels.fused(p, 0, 2, 2, false, new byte[16],
                new float[4], new float[6], new float[6], null, new double[6], 0));
        assertThrows(IllegalArgumentException.class, () -> NativeKernels.fused(p, 0, 2, 2, false, new byte[16],
                new float[4], new float[6], null, null, new double[6], 1));
        assertThrows(IllegalArgumentException.class, () -> NativeKernels.fused(p, 1, 2, 2, false, new byte[16],
                new float[4], new float[6], null, null, new double[6], 0));
    }

    @Test
    void gatherCopiesBlocksAndZeroesThePaddingByHand() {
        assumeTrue(NativeKernels.available(), "native kernel not loaded");
        // One 2x2 image, 8 channels in 2 blocks of 4: mantissa p * 10 + c at pixel p, scale (p + 1) + 0.5 * block.
        byte[] mant = new byte[4 * 8];
        float[] scale = new float[4 * 2];
        for (int p = 0; p < 4; p++) {
            for (int c = 0; c < 8; c++) {
                mant[p * 8 + c] = (byte) (p * 10 + c);
            }
            scale[p * 2] = p + 1;
            scale[p * 2 + 1] = p + 1.5f;
        }
        // Terms 0 and 1 (1x1 kernel: blocks 0 and 1); position 0 reads pixel (1, 0) = 2, position 1 the padding.
        byte[] src = new byte[4 * 4];
        float[] sc = new float[4];
        int[] msum = new int[4];
        java.util.Arrays.fill(src, (byte) 99);
        java.util.Arrays.fill(sc, 99f);
        NativeKernels.gather(0, 2, 2, new int[] {0, 0}, new int[] {1, -1}, new int[] {0, 0}, 2, 2, 1, 1, 1, 2, 4, 8,
                mant, scale, src, sc, msum);
        assertArrayEquals(new byte[] {20, 21, 22, 23, 0, 0, 0, 0, 24, 25, 26, 27, 0, 0, 0, 0}, src);
        assertArrayEquals(new float[] {3f, 0f, 3.5f, 0f}, sc);
        assertArrayEquals(new int[] {86, 0, 102, 0}, msum);
        // A position whose image lies outside the input is refused before any native code runs.
        assertThrows(IllegalArgumentException.class, () -> NativeKernels.gather(0, 2, 2, new int[] {0, 1},
                new int[] {0, 0}, new int[] {0, 0}, 2, 2, 1, 1, 1, 2, 4, 8, mant, scale, src, sc, msum));
    }

    /**
     * The AVX-512 and AVX2 quantization (NCHW) and output pass against the portable C ones, raw bits: odd channel and
     * position counts (remainder lanes), zeros, subnormals and a block's exponent spread; CDS, bias, fused batch
     * normalization and ReLU (negative zeros kept as the scalar code keeps them).
     */
    @Test
    void vectorQuantizeAndOutputPassMatchThePortableOnes() {
        assumeTrue(NativeKernels.available() && NativeKernels.best() != NativeKernels.Path.PORTABLE,
                "no vector path on this CPU");
        for (NativeKernels.Path vector : NativeKernels.Path.values()) {
            if (vector != NativeKernels.Path.PORTABLE && vector.ordinal() <= NativeKernels.best().ordinal()) {
                vectorPathMatchesPortable(vector);
            }
        }
    }

    private static void vectorPathMatchesPortable(NativeKernels.Path vector) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(11);
        int spatial = 37;
        int nIn = 45;
        int bs = 16;
        int nb = 3;
        int n = 2;
        float[] x = new float[n * nIn * spatial];
        for (int i = 0; i < x.length; i++) {
            int kind = r.nextInt(10);
            x[i] = kind == 0 ? 0f : kind == 1 ? Float.MIN_VALUE * r.nextInt(1, 100) : kind == 2 ? -0f
                    : (float) (r.nextGaussian() * Math.pow(2, r.nextInt(-20, 20)));
        }
        for (int c = 0; c < 16; c++) { // block 0 of image 0 at position 5: all zero
            x[c * spatial + 5] = 0f;
        }
        for (int m : new int[] {3, 7}) {
            byte[][] mant = new byte[2][n * spatial * nb * bs];
            float[][] scale = new float[2][n * spatial * nb];
            boolean[] neg = new boolean[2];
            NativeKernels.Path[] paths = {NativeKernels.Path.PORTABLE, vector};
            for (int k = 0; k < 2; k++) {
                for (int img = 0; img < n; img++) {
                    neg[k] |= NativeKernels.quantize(paths[k], false, x, mant[k], scale[k], img, 0, nb, spatial, nIn,
                            bs, bs, nb, m);
                }
            }
            assertArrayEquals(mant[0], mant[1], vector + " m=" + m);
            assertArrayEquals(scale[0], scale[1], vector + " m=" + m);
            assertEquals(neg[0], neg[1]);
        }
        int nOut = 21;
        double[] y = new double[n * spatial * nOut];
        for (int i = 0; i < y.length; i++) {
            y[i] = r.nextGaussian() * 3;
        }
        double[] gamma = new double[nOut];
        double[] delta = new double[nOut];
        double[] bias = new double[nOut];
        float[] mean = new float[nOut];
        float[] std = new float[nOut];
        float[] bg = new float[nOut];
        float[] bb = new float[nOut];
        for (int o = 0; o < nOut; o++) {
            gamma[o] = 1 + r.nextGaussian() * 0.1;
            delta[o] = r.nextGaussian() * 0.01;
            bias[o] = r.nextGaussian();
            mean[o] = (float) r.nextGaussian();
            std[o] = (float) (0.5 + r.nextDouble());
            bg[o] = (float) r.nextGaussian();
            bb[o] = o == 3 ? 0f : (float) r.nextGaussian();
            y[o] = o == 3 ? 0 : y[o]; // one output 0 * gamma ... feeds a negative zero into the ReLU
        }
        double[] xsum = new double[n * spatial];
        for (int i = 0; i < xsum.length; i++) {
            xsum[i] = r.nextGaussian() * 50;
        }
        FusedBatchNorm.Params bn = new FusedBatchNorm.Params(mean, std, bg, bb, true);
        for (boolean nhwc : new boolean[] {false, true}) {
            for (FusedBatchNorm.Params b : new FusedBatchNorm.Params[] {null, bn}) {
                for (boolean cds : new boolean[] {false, true}) {
                    float[][] z = new float[2][y.length];
                    NativeKernels.Path[] paths = {NativeKernels.Path.PORTABLE, vector};
                    for (int k = 0; k < 2; k++) {
                        for (int img = 0; img < n; img++) {
                            NativeKernels.epilogue(paths[k], nhwc, nOut, spatial, img, 3, spatial, y, 0,
                                    cds ? gamma : null, cds ? delta : null, cds ? xsum : null, bias, b, z[k]);
                        }
                    }
                    for (int i = 0; i < y.length; i++) {
                        assertEquals(Float.floatToRawIntBits(z[0][i]), Float.floatToRawIntBits(z[1][i]),
                                vector + ", nhwc " + nhwc + ", bn " + (b != null) + ", cds " + cds + ", element " + i);
                    }
                }
            }
        }
    }

    @Test
    void propertyChoosesThePath() {
        String old = System.getProperty(NativeKernels.PROPERTY);
        try {
            System.setProperty(NativeKernels.PROPERTY, "off");
            assertNull(NativeKernels.selected());
            System.setProperty(NativeKernels.PROPERTY, "portable");
            assertEquals(NativeKernels.available() ? NativeKernels.Path.PORTABLE : null, NativeKernels.selected());
            System.setProperty(NativeKernels.PROPERTY, "auto");
            assertEquals(NativeKernels.best(), NativeKernels.selected());
            // The defaults follow the native kernel (integer stem with it); the GEMM route never takes it.
            EngineOptions d = EngineOptions.defaults();
            assertEquals(NativeKernels.best(), d.nativePath());
            assertEquals(NativeKernels.available() ? EngineOptions.Stem.INTEGER : EngineOptions.Stem.DOUBLE, d.stem());
            EngineOptions g = EngineOptions.gemmRoute();
            assertNull(g.nativePath());
            assertEquals(EngineOptions.Stem.DOUBLE, g.stem());
            assertEquals(Accumulation.defaultAccumulation(), g.effectiveAccumulation());
            System.setProperty(NativeKernels.PROPERTY, "sse9");
            assertThrows(IllegalArgumentException.class, NativeKernels::selected);
        } finally {
            if (old == null) {
                System.clearProperty(NativeKernels.PROPERTY);
            } else {
                System.setProperty(NativeKernels.PROPERTY, old);
            }
        }
    }

    @Test
    void cpuFeaturesFromCpuinfo() {
        CpuFeatures f = CpuFeatures.parse(List.of("processor\t: 0", "model name\t: AMD EPYC 9B14",
                "flags\t\t: fpu sse2 avx2 fma avx512f avx512bw avx512_vnni", "processor\t: 1",
                "model name\t: other", "flags\t\t: fpu"));
        assertEquals("AMD EPYC 9B14", f.model());
        assertEquals(List.of("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"), f.features());
        assertEquals(List.of(), CpuFeatures.parse(List.of("model name : x")).features());
    }
}
