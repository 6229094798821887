package io.github.dsconv.quant;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hand-computed roundings, the error feedback, and the output error against the plain VQK fit. */
class HessianRoundingSolverTest {

    private static final HessianRoundingSolver NO_DAMPING = new HessianRoundingSolver(false, false, 0.0);

    private static double[] identity(int k) {
        double[] h = new double[k * k];
        for (int i = 0; i < k; i++) {
            h[i * k + i] = 1;
        }
        return h;
    }

    /**
     * With uncorrelated inputs nothing propagates and each weight goes to the nearest point of its block's VQK grid.
     * Block {@code [1.0, 0.5, -0.25, 0.8]} at 2 bits: VQK gives {@code q = rint(-2 w) = [-2, -1, 0, -2]} and
     * {@code alpha = -4.1 / 9}; the grid {@code alpha * {-2, -1, 0, 1}} = {0.911, 0.456, 0, -0.456} puts -0.25 at
     * -0.456 (distance 0.206) rather than at 0 (0.25), so the third q becomes 1.
     */
    @Test
    void uncorrelatedInputsRoundToTheNearestGridPoint() {
        KernelShape shape = new KernelShape(1, 4, 1, 1);
        float[] w = {1.0f, 0.5f, -0.25f, 0.8f};
        QuantizedKernel vqk = new VqkQuantizer().quantize(w, shape, 2, 4);
        assertArrayEquals(new byte[] {-2, -1, 0, -2}, vqk.q());
        QuantizedKernel hr = NO_DAMPING.quantize(w, shape, 2, 4, identity(4), ScalePrecision.FP32);
        assertArrayEquals(new byte[] {-2, -1, 1, -2}, hr.q());
        assertEquals((float) (-4.1 / 9), hr.alpha()[0], 1e-7f);
        assertTrue(HessianRoundingSolver.outputError(w, hr.reconstruct(), shape, identity(4))
                < HessianRoundingSolver.outputError(w, vqk.reconstruct(), shape, identity(4)));
    }

    /**
     * Error feedback, by hand. Block {@code [1.0, 0.8, 0.3]} at 2 bits: VQK {@code q = [-2, -2, -1]}, {@code alpha =
     * -3.9 / 9}, grid {0.867, 0.433, 0, -0.433}. With inputs 0 and 2 correlated ({@code H[0][2] = -0.9}) the first
     * column's error 0.1333 moves weight 2 by {@code rho * 0.1333 = -0.12} to 0.18 (OBQ: {@code dw_2 = -e_0
     * Hinv[2][0] / Hinv[0][0] = rho e_0}), which rounds to 0 instead of 0.433. Output errors {@code e^T H e}: 0.04022
     * against 0.072 for the nearest-point rounding.
     */
    @Test
    void errorOfOneColumnIsCompensatedByACorrelatedOne() {
        KernelShape shape = new KernelShape(1, 3, 1, 1);
        float[] w = {1.0f, 0.8f, 0.3f};
        double[] h = identity(3);
        h[2] = -0.9;
        h[6] = -0.9;
        QuantizedKernel nearest = NO_DAMPING.quantize(w, shape, 2, 3, identity(3), ScalePrecision.FP32);
        assertArrayEquals(new byte[] {-2, -2, -1}, nearest.q());
        QuantizedKernel hr = NO_DAMPING.quantize(w, shape, 2, 3, h, ScalePrecision.FP32);
        assertArrayEquals(new byte[] {-2, -2, 0}, hr.q());
        assertEquals(0.072, HessianRoundingSolver.outputError(w, nearest.reconstruct(), shape, h), 1e-5);
        assertEquals(0.04022, HessianRoundingSolver.outputError(w, hr.reconstruct(), shape, h), 1e-5);
    }

    /**
     * A 3x3 kernel on correlated inputs (a smooth random image's patches, as real activations are): the
     * Hessian-aware rounding has a much smaller output error than the VQK fit at the same bits and blocks, with
     * and without the KDS shift and clipping search, and it keeps DSConv's storage (same scale count, q in range).
     */
    @Test
    void correlatedPatchesGiveASmallerOutputErrorThanVqk() {
        KernelShape shape = new KernelShape(6, 10, 3, 3);
        int k = HessianRoundingSolver.columns(shape);
        double[] h = patchHessian(shape, new Random(3));
        Random r = new Random(4);
        float[] w = new float[shape.numel()];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (boolean kds : new boolean[] {false, true}) {
            for (boolean clip : new boolean[] {false, true}) {
                QuantizedKernel vqk = new VqkQuantizer(kds, clip).quantize(w, shape, 3, 4);
                QuantizedKernel hr = new HessianRoundingSolver(kds, clip)
                        .quantize(w, shape, 3, 4, h, ScalePrecision.FP16);
                double eV = HessianRoundingSolver.outputError(w, vqk.reconstruct(), shape, h);
                double eH = HessianRoundingSolver.outputError(w, hr.reconstruct(), shape, h);
                assertTrue(eH < 0.5 * eV, "kds " + kds + " clip " + clip + ": " + eH + " vs VQK " + eV);
                assertEquals(vqk.alpha().length, hr.alpha().length);
                assertEquals(vqk.storedScales(), hr.storedScales());
                assertEquals(kds, hr.beta() != null);
                for (byte q : hr.q()) {
                    assertTrue(q >= -4 && q <= 3);
                }
                float[] a = hr.alpha().clone();
                ScalePrecision.FP16.roundInPlace(a);
                assertArrayEquals(a, hr.alpha(), "scales are stored at the given precision");
            }
        }
        assertEquals(90, k);
    }

    /** {@code E[x x^T]} of 3x3 patches (valid positions) of a smooth random 10-channel 16x16 image. */
    private static double[] patchHessian(KernelShape shape, Random r) {
        int c = shape.nIn();
        int size = 16;
        double[][][] img = new double[c][size][size];
        for (int ch = 0; ch < c; ch++) {
            double base = r.nextGaussian();
            for (int y = 0; y < size; y++) {
                for (int x = 0; x < size; x++) {
                    // A shared slow wave plus channel noise: neighbouring pixels and channels correlate.
                    img[ch][y][x] = base + Math.sin(0.4 * x + 0.3 * y + ch) + 0.3 * r.nextGaussian();
                }
            }
        }
        int k = HessianRoundingSolver.columns(shape);
        double[] h = new double[k * k];
        double[] v = new double[k];
        int n = 0;
        for (int y = 0; y + 3 <= size; y++) {
            for (int x = 0; x + 3 <= size; x++) {
                for (int ky = 0; ky < 3; ky++) {
                    for (int kx = 0; kx < 3; kx++) {
                        for (int ch = 0; ch < c; ch++) {
                            v[HessianRoundingSolver.column(shape, ch, ky, kx)] = img[ch][y + ky][x + kx];
                        }
                    }
                }
                for (int i = 0; i < k; i++) {
                    for (int j = 0; j < k; j++) {
                        h[i * k + j] += v[i] * v[j];
                    }
                }
                n++;
            }
        }
        for (int i = 0; i < h.length; i++) {
            h[i] /= n;
        }
        return h;
    }

    /** An input that is always zero cannot matter: the factorisation still exists and its weight is quantized. */
    @Test
    void deadInputsAreHandled() {
        KernelShape shape = new KernelShape(2, 3, 1, 1);
        float[] w = {0.5f, -1f, 0.25f, 2f, 0.1f, -0.7f};
        double[] h = identity(3);
        h[4] = 0; // input 1 is never non-zero
        QuantizedKernel hr = new HessianRoundingSolver(false, false).quantize(w, shape, 4, 3, h, ScalePrecision.FP32);
        assertEquals(6, hr.q().length);
        assertEquals(0.0, HessianRoundingSolver.outputError(w, new float[] {0.5f, 7f, 0.25f, 2f, -9f, -0.7f}, shape, h),
                1e-12, "the dead input's weights do not count");
    }

    @Test
    void badInputIsRejected() {
        KernelShape shape = new KernelShape(1, 2, 1, 1);
        float[] w = {1f, 2f};
        HessianRoundingSolver hr = new HessianRoundingSolver(false, false);
        assertThrows(IllegalArgumentException.class, () -> new HessianRoundingSolver(false, false, -0.1));
        assertThrows(IllegalArgumentException.class, () -> new HessianRoundingSolver(false, false, Double.NaN));
        assertThrows(IllegalArgumentException.class,
                () -> hr.quantize(w, shape, 3, 32, new double[3], ScalePrecision.FP32));
        assertThrows(IllegalArgumentException.class,
                () -> hr.quantize(w, shape, 3, 32, new double[] {1, 0, 0, Double.NaN}, ScalePrecision.FP32));
        IllegalArgumentException neg = assertThrows(IllegalArgumentException.class,
                () -> hr.quantize(w, shape, 3, 32, new double[] {1, 0, 0, -1}, ScalePrecision.FP32));
        assertTrue(neg.getMessage().contains("negative diagonal"), neg.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> hr.quantize(w, shape, 9, 32, identity(2), ScalePrecision.FP32));
        assertThrows(IllegalArgumentException.class,
                () -> hr.quantize(new float[] {1f, Float.NaN}, shape, 3, 32, identity(2), ScalePrecision.FP32));
        // Indefinite (a correlation above 1) even after the default dampening.
        IllegalArgumentException indef = assertThrows(IllegalArgumentException.class,
                () -> hr.quantize(w, shape, 3, 32, new double[] {1, 2, 2, 1}, ScalePrecision.FP32));
        assertTrue(indef.getMessage().contains("not positive definite"), indef.getMessage());
    }
}
