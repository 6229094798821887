package io.github.dsconv.quant;

/**
 * DSConv weight quantization: Variable Quantized Kernel plus Kernel Distribution Shifter.
 *
 * <p>Nascimento, Fawcett and Prisacariu, "DSConv: Efficient Convolution Operator", ICCV 2019. For each block of
 * {@code B} consecutive input channels at one {@code (o, ky, kx)} (spec section 1):
 * <pre>
 *   a = the signed element of largest magnitude (first in channel order on a +a/-a tie)
 *   s = -2^(b-1) / a                          (float32)
 *   q = clamp(rint(s * w), -2^(b-1), 2^(b-1)-1)
 *   alpha = sum(w q) / sum(q q)               (least squares; computed in double, stored as float)
 * </pre>
 * With the KDS bias, {@code (alpha, beta)} is the least-squares line with intercept. An all-zero block gives
 * {@code q = 0, alpha = 0}.
 *
 * <p>Optional clipping search (ours, spec section 1): try {@code s = -2^(b-1) / (r a)} for {@code r} on an
 * evenly spaced grid over {@code [0.5, 1]} and keep the {@code r} with the least block L2 error. {@code r = 1}
 * is on the grid, so the search is never worse than the closed form in L2.
 */
public final class VqkQuantizer implements KernelQuantizer {

    /** Grid points of the clipping search over {@code [0.5, 1]}. */
    public static final int CLIP_GRID = 21;

    private final boolean kdsBias;
    private final boolean clippingSearch;

    /**
     * @param kdsBias        fit a per-block shift {@code beta} as well as the scale
     * @param clippingSearch search the clipping ratio per block (helps at 2-3 bits)
     */
    public VqkQuantizer(boolean kdsBias, boolean clippingSearch) {
        this.kdsBias = kdsBias;
        this.clippingSearch = clippingSearch;
    }

    /** The reference method: L2 closed form, no bias, no clipping search. */
    public VqkQuantizer() {
        this(false, false);
    }

    @Override
    public String method() {
        return "dsconv";
    }

    @Override
    public boolean fitsShift() {
        return kdsBias;
    }

    @Override
    public QuantizedKernel quantize(float[] w, KernelShape shape, int bits, int blockSize) {
        return quantize(w, shape, bits, blockSize, null);
    }

    /**
     * The VQK/KDS fit with each input channel's squared error weighted by {@code channelWeights[c]}: alpha (and
     * beta) by weighted least squares, and the clipping search compares weighted errors. With an input of
     * per-channel mean square {@code h_c}, {@code sum_c h_c (w_c - alpha q_c - beta)^2} is the expected squared
     * output error of the block under independent inputs, less the mean-shift term that bias correction removes;
     * the paper's closed form is the case of equal {@code h}. Not in the DSConv paper (activation-aware fitting
     * as in AdaRound's and AWQ's objectives, diagonal only). Equal weights give the unweighted fit (up to rounding;
     * null weights give it exactly).
     */
    @Override
    public QuantizedKernel quantize(float[] w, KernelShape shape, int bits, int blockSize, double[] channelWeights) {
        KernelQuantizer.requireBits(bits);
        KernelQuantizer.requireFinite(w, shape, "kernel");
        KernelQuantizer.requireChannelWeights(channelWeights, shape);
        BlockLayout layout = new BlockLayout(shape.nIn(), blockSize);
        int nb = layout.nBlocks();
        int sp = shape.spatial();
        byte[] q = new byte[w.length];
        float[] alpha = new float[shape.nOut() * nb * sp];
        float[] beta = kdsBias ? new float[alpha.length] : null;
        int blockMax = 0;
        for (int b = 0; b < nb; b++) {
            blockMax = Math.max(blockMax, layout.end(b) - layout.start(b));
        }
        float[] wb = new float[blockMax];
        double[] hb = channelWeights == null ? null : new double[blockMax];
        byte[] qb = new byte[blockMax];
        byte[] best = new byte[blockMax];
        double[] fit = new double[3]; // alpha, beta, squared error
        for (int o = 0; o < shape.nOut(); o++) {
            for (int blk = 0; blk < nb; blk++) {
                int c0 = layout.start(blk);
                int len = layout.end(blk) - c0;
                if (hb != null) {
                    System.arraycopy(channelWeights, c0, hb, 0, len);
                }
                for (int s = 0; s < sp; s++) {
                    int base = (o * shape.nIn() + c0) * sp + s;
                    for (int i = 0; i < len; i++) {
                        wb[i] = w[base + i * sp];
                    }
                    int ai = (o * nb + blk) * sp + s;
                    float a = signedMaxAbs(wb, len);
                    if (a == 0f) {
                        for (int i = 0; i < len; i++) {
                            q[base + i * sp] = 0;
                        }
                        alpha[ai] = 0f;
                        if (beta != null) {
                            beta[ai] = 0f;
                        }
                        continue;
                    }
                    double bestErr = Double.POSITIVE_INFINITY;
                    float bestAlpha = 0f;
                    float bestBeta = 0f;
                    int steps = clippingSearch ? CLIP_GRID : 1;
                    for (int k = 0; k < steps; k++) {
                        float r = clippingSearch ? (float) (1.0 - 0.5 * k / (CLIP_GRID - 1)) : 1f;
                        quantizeBlock(wb, len, bits, r * a, qb);
                        fitScales(wb, hb, qb, len, kdsBias, fit);
                        if (fit[2] < bestErr) {
                            bestErr = fit[2];
                            bestAlpha = (float) fit[0];
                            bestBeta = (float) fit[1];
                            System.arraycopy(qb, 0, best, 0, len);
                        }
                    }
                    for (int i = 0; i < len; i++) {
                        q[base + i * sp] = best[i];
                    }
                    alpha[ai] = bestAlpha;
                    if (beta != null) {
                        beta[ai] = bestBeta;
                    }
                }
            }
        }
        long stored = (long) alpha.length * (kdsBias ? 2 : 1);
        return new QuantizedKernel(shape, bits, blockSize, q, alpha, beta, stored);
    }

    /** The signed element of largest magnitude; on a tie the first in order wins (like argmax). */
    static float signedMaxAbs(float[] v, int len) {
        float best = 0f;
        for (int i = 0; i < len; i++) {
            if (Math.abs(v[i]) > Math.abs(best)) {
                best = v[i];
            }
        }
        return best;
    }

    /** {@code q = clamp(rint(s w), -2^(b-1), 2^(b-1)-1)} with {@code s = -2^(b-1)/a}, all in float32. */
    static void quantizeBlock(float[] w, int len, int bits, float a, byte[] out) {
        int lo = -(1 << (bits - 1));
        int hi = (1 << (bits - 1)) - 1;
        float s = (float) lo / a;
        for (int i = 0; i < len; i++) {
            float v = (float) Math.rint(s * w[i]);
            out[i] = (byte) Math.max(lo, Math.min(hi, (int) v));
        }
    }

    /** Least-squares fit of {@code w ~ alpha q (+ beta)}; writes alpha, beta and the squared error to {@code out}. */
    static void fitScales(float[] w, byte[] q, int len, boolean withBias, double[] out) {
        fitScales(w, null, q, len, withBias, out);
    }

    /**
     * Weighted least-squares fit of {@code w ~ alpha q (+ beta)} with weights {@code h} (null: all 1); writes alpha,
     * beta and the weighted squared error to {@code out}. With every weight zero the fit is the unweighted one.
     */
    static void fitScales(float[] w, double[] h, byte[] q, int len, boolean withBias, double[] out) {
        if (h != null) {
            double total = 0;
            for (int i = 0; i < len; i++) {
                total += h[i];
            }
            if (total == 0) {
                h = null; // a block no input ever reaches: nothing to weigh by
            }
        }
        double alpha;
        double beta = 0;
        if (!withBias) {
            double wq = 0;
            double qq = 0;
            for (int i = 0; i < len; i++) {
                double hi = h == null ? 1 : h[i];
                wq += hi * w[i] * q[i];
                qq += hi * q[i] * q[i];
            }
            alpha = qq == 0 ? 0 : wq / qq;
        } else {
            double mw = 0;
            double mq = 0;
            double sh = 0;
            for (int i = 0; i < len; i++) {
                double hi = h == null ? 1 : h[i];
                mw += hi * w[i];
                mq += hi * q[i];
                sh += hi;
            }
            mw /= sh;
            mq /= sh;
            double cov = 0;
            double var = 0;
            for (int i = 0; i < len; i++) {
                double hi = h == null ? 1 : h[i];
                cov += hi * (w[i] - mw) * (q[i] - mq);
                var += hi * (q[i] - mq) * (q[i] - mq);
            }
            if (var == 0) {
                alpha = 0;
                beta = mw;
            } else {
                alpha = cov / var;
                beta = mw - alpha * mq;
            }
        }
        // The error is measured with the float32 scales that will actually be stored.
        float fa = (float) alpha;
        float fb = (float) beta;
        double err = 0;
        for (int i = 0; i < len; i++) {
            double d = w[i] - (fa * q[i] + fb);
            err += (h == null ? 1 : h[i]) * d * d;
        }
        out[0] = alpha;
        out[1] = beta;
        out[2] = err;
    }
}
