package io.github.dsconv.engine;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.pack.BitPacker;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static io.github.dsconv.layers.DSConvParamInitializer.ALPHA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.BETA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.DELTA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.GAMMA_KEY;

/**
 * A DSConv layer's parameters read into the integer engine's layouts when its kernel is built: {@code q} as int8
 * GEMM weights, the per-block scales in GEMM order, and a stem route's effective kernel.
 */
final class KernelParams {

    /**
     * {@code q} as int8 {@code [g][kb][nOut]} (channels padded with zeros) and its largest magnitude.
     *
     * @param w      the weights
     * @param maxAbs {@code max |q|}
     */
    record GemmWeights(byte[] w, int maxAbs) {
    }

    private KernelParams() {
    }

    static double[] hostDoubles(INDArray a) {
        return a.dup('c').data().asDouble();
    }

    static float[] hostFloats(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    /**
     * {@code q} ({@code qf}, {@code [nOut, nIn, kH, kW]}) as int8 GEMM weights.
     *
     * @throws IllegalArgumentException if a {@code q} value is not an integer of the layer's weight bits
     */
    static GemmWeights gemmWeights(float[] qf, DSConvLayer lc, KernelShape s) {
        int nIn = s.nIn();
        int nOut = s.nOut();
        int kh = s.kh();
        int kw = s.kw();
        int nb = s.nb();
        int bs = s.bs();
        int kb = s.kb();
        int bits = lc.getWeightBits();
        int lo = BitPacker.minValue(bits);
        int hi = BitPacker.maxValue(bits);
        byte[] w = new byte[s.g() * kb * nOut];
        int maxAbs = 0;
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        int i = ((o * nIn + c) * kh + ky) * kw + kx;
                        float v = qf[i];
                        if (v != Math.rint(v) || v < lo || v > hi) {
                            throw new IllegalArgumentException("DSConvLayer '" + lc.getLayerName() + "': q[" + i
                                    + "] = " + v + " is not a " + bits + "-bit integer in [" + lo + ", " + hi + "]");
                        }
                        int gi = (ky * kw + kx) * nb + c / bs;
                        w[(gi * kb + c % kb) * nOut + o] = (byte) v;
                        maxAbs = Math.max(maxAbs, Math.abs((int) v));
                    }
                }
            }
        }
        return new GemmWeights(w, maxAbs);
    }

    /** {@code [nOut, nBlocks, kH, kW]} to {@code [g][nOut]}. */
    static float[] perBlock(float[] v, KernelShape s) {
        int nOut = s.nOut();
        int nb = s.nb();
        int kh = s.kh();
        int kw = s.kw();
        float[] out = new float[s.g() * nOut];
        for (int o = 0; o < nOut; o++) {
            for (int blk = 0; blk < nb; blk++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        int gi = (ky * kw + kx) * nb + blk;
                        out[gi * nOut + o] = v[((o * nb + blk) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        return out;
    }

    /**
     * The float simulation's effective kernel {@code gamma * (alpha * q + beta) + delta} {@code [nOut, nIn, kH, kW]},
     * evaluated in double exactly as the simulation does ({@code alpha * q} alone is exact even in float).
     */
    static double[] effectiveKernel(DSConvRuntime runtime, float[] qf, DSConvLayer lc, KernelShape s) {
        int nIn = s.nIn();
        int nOut = s.nOut();
        int nb = s.nb();
        int bs = s.bs();
        float[] a = hostFloats(runtime.getParam(ALPHA_KEY));
        float[] be = lc.isKdsBias() ? hostFloats(runtime.getParam(BETA_KEY)) : null;
        double[] ga = lc.isCds() ? hostDoubles(runtime.getParam(GAMMA_KEY)) : null;
        double[] de = lc.isCds() ? hostDoubles(runtime.getParam(DELTA_KEY)) : null;
        int kk = s.kh() * s.kw();
        double[] w = new double[qf.length];
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                int blk = c / bs;
                for (int k = 0; k < kk; k++) {
                    int i = (o * nIn + c) * kk + k;
                    int j = (o * nb + blk) * kk + k;
                    double v = (double) a[j] * qf[i] + (be == null ? 0 : be[j]);
                    w[i] = ga == null ? v : ga[o] * v + de[o];
                }
            }
        }
        return w;
    }
}
