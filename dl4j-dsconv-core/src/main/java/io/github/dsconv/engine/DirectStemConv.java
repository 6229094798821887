package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;

/**
 * The integer engine's {@link EngineOptions.Stem#DOUBLE} route for an image stem (a layer whose input channels fit
 * one block of at most {@value IntegerConvKernel#STEM_MAX_CHANNELS}):
 * {@code z = conv(x_bfp, W_eff) + bias} in double, rounded once to float, as the float simulation computes it at
 * inference. Every product of a BFP value and the double effective kernel is exact; only the double sums round (in
 * another order than the simulation's, about 1e-14 relative), so the float results agree bit for bit unless an exact
 * sum lies that close to a float rounding boundary.
 *
 * <p>Tiles of {@value #DIRECT_POSITIONS} output positions: the input values under the kernel gathered as
 * {@code col[(ky, kx, c)][position]} (one array per tap), then four output channels at a time, tap by tap, added
 * into rows of double sums: every array indexed from 0, which the JDK 17 JIT needs to vectorise a loop.
 */
final class DirectStemConv {

    /** Output positions per tile. */
    private static final int DIRECT_POSITIONS = 64;

    /** Per-thread buffers: gathered input and rows of sums. */
    private static final class DirectBuffers {
        /** One array per kernel tap {@code (ky, kx, c)}: the loops index every array from 0 (see below). */
        double[][] col = new double[0][];
        double[] acc = new double[0];
        double[][] acc4 = new double[4][DIRECT_POSITIONS];
        int[] base = new int[DIRECT_POSITIONS];
        int[] iy0 = new int[DIRECT_POSITIONS];
        int[] ix0 = new int[DIRECT_POSITIONS];
    }

    private static final ThreadLocal<DirectBuffers> DIRECT_BUFFERS = ThreadLocal.withInitial(DirectBuffers::new);

    /** The effective kernel {@code [nOut][kH][kW][nIn]} in double. */
    private final double[] kernel;
    /** The conv bias in double, or null. */
    private final double[] bias;
    private final int nIn;
    private final int nOut;
    private final int kh;
    private final int kw;
    /** Mantissa bytes per input position (channels padded to the block layout). */
    private final int cp;
    /** Scales per input position. */
    private final int nb;
    private final boolean nhwc;

    /**
     * @param weff the float simulation's effective kernel {@code gamma * (alpha * q + beta) + delta}
     *             {@code [nOut][nIn][kH][kW]} in double
     * @param bias the conv bias, or null
     * @param cp   mantissa bytes per input position in the engine's BFP buffers
     * @param nb   block scales per input position
     */
    DirectStemConv(double[] weff, double[] bias, int nIn, int nOut, int kh, int kw, int cp, int nb, boolean nhwc) {
        // [nOut][nIn][kH][kW] -> [nOut][kH][kW][nIn]: the order the tiles gather the input in.
        double[] d = new double[weff.length];
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                for (int k = 0; k < kh * kw; k++) {
                    d[(o * kh * kw + k) * nIn + c] = weff[(o * nIn + c) * kh * kw + k];
                }
            }
        }
        this.kernel = d;
        this.bias = bias;
        this.nIn = nIn;
        this.nOut = nOut;
        this.kh = kh;
        this.kw = kw;
        this.cp = cp;
        this.nb = nb;
        this.nhwc = nhwc;
    }

    /**
     * Convolves the BFP input ({@code mant[position * cp + c] * scale[position * nb]}) into {@code z}
     * ({@code n * oh * ow * nOut} values in the layer's format), on the engine's workers.
     */
    void forward(ConvGeometry geo, byte[] mant, float[] scale, float[] z) {
        int total = geo.batch() * geo.outPositions();
        int tiles = (total + DIRECT_POSITIONS - 1) / DIRECT_POSITIONS;
        Workers.run(tiles, t -> tile(t * DIRECT_POSITIONS,
                Math.min(DIRECT_POSITIONS, total - t * DIRECT_POSITIONS), geo, mant, scale, z));
    }

    private void tile(int p0, int pc, ConvGeometry geo, byte[] mant, float[] scale, float[] z) {
        int h = geo.height();
        int wd = geo.width();
        int oh = geo.outH();
        int ow = geo.outW();
        int dh = geo.dilY();
        int dw = geo.dilX();
        int kk = kh * kw * nIn;
        DirectBuffers b = DIRECT_BUFFERS.get();
        if (b.col.length < kk || b.acc.length < DIRECT_POSITIONS) {
            b.col = new double[Math.max(kk, b.col.length)][DIRECT_POSITIONS];
            b.acc = new double[DIRECT_POSITIONS];
        }
        double[][] col = b.col;
        double[] acc = b.acc;
        int ospatial = oh * ow;
        int[] base = b.base;
        int[] iy0 = b.iy0;
        int[] ix0 = b.ix0;
        for (int pi = 0; pi < pc; pi++) {
            int p = p0 + pi;
            base[pi] = p / ospatial * h;
            iy0[pi] = geo.inputY((p / ow) % oh, 0);
            ix0[pi] = geo.inputX(p % ow, 0);
        }
        // Tap by tap, so that each tap's row of positions is written in order.
        for (int ky = 0; ky < kh; ky++) {
            for (int kx = 0; kx < kw; kx++) {
                int k0 = (ky * kw + kx) * nIn;
                for (int pi = 0; pi < pc; pi++) {
                    int iy = iy0[pi] + ky * dh;
                    int ix = ix0[pi] + kx * dw;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                        for (int c = 0; c < nIn; c++) {
                            col[k0 + c][pi] = 0;
                        }
                        continue;
                    }
                    int at = (base[pi] + iy) * wd + ix;
                    double s = scale[at * nb]; // a single block
                    for (int c = 0; c < nIn; c++) {
                        col[k0 + c][pi] = mant[at * cp + c] * s;
                    }
                }
            }
        }
        int o = 0;
        for (; o + 4 <= nOut; o += 4) {
            // Four output channels at a time: each tap's gathered row is read once for all four.
            double[] a0 = b.acc4[0];
            double[] a1 = b.acc4[1];
            double[] a2 = b.acc4[2];
            double[] a3 = b.acc4[3];
            java.util.Arrays.fill(a0, 0, pc, 0.0);
            java.util.Arrays.fill(a1, 0, pc, 0.0);
            java.util.Arrays.fill(a2, 0, pc, 0.0);
            java.util.Arrays.fill(a3, 0, pc, 0.0);
            for (int k = 0; k < kk; k++) {
                axpy4out(col[k], kernel[o * kk + k], a0, kernel[(o + 1) * kk + k], a1, kernel[(o + 2) * kk + k], a2,
                        kernel[(o + 3) * kk + k], a3, pc);
            }
            store(z, a0, o, p0, pc, ospatial);
            store(z, a1, o + 1, p0, pc, ospatial);
            store(z, a2, o + 2, p0, pc, ospatial);
            store(z, a3, o + 3, p0, pc, ospatial);
        }
        for (; o < nOut; o++) {
            java.util.Arrays.fill(acc, 0, pc, 0.0);
            for (int k = 0; k < kk; k++) {
                double w0 = kernel[o * kk + k];
                double[] c0 = col[k];
                for (int pi = 0; pi < pc; pi++) {
                    acc[pi] += w0 * c0[pi];
                }
            }
            store(z, acc, o, p0, pc, ospatial);
        }
    }

    /** Output channel {@code o} of positions {@code [p0, p0 + pc)}: {@code (float) (acc + bias)}. */
    private void store(float[] z, double[] acc, int o, int p0, int pc, int ospatial) {
        double bo = bias == null ? 0 : bias[o];
        if (nhwc) {
            for (int pi = 0; pi < pc; pi++) {
                z[(p0 + pi) * nOut + o] = (float) (acc[pi] + bo);
            }
            return;
        }
        // NCHW: runs of positions within one image (a tile may cross an image boundary); no division per element.
        int pi = 0;
        while (pi < pc) {
            int p = p0 + pi;
            int img = p / ospatial;
            int pos = p - img * ospatial;
            int run = Math.min(pc - pi, ospatial - pos);
            int dst = (img * nOut + o) * ospatial + pos - pi;
            for (int end = pi + run; pi < end; pi++) {
                z[dst + pi] = (float) (acc[pi] + bo);
            }
        }
    }

    /** {@code a_j[i] += w_j * c[i]} for four rows of sums, every array indexed from 0. */
    private static void axpy4out(double[] c, double w0, double[] a0, double w1, double[] a1, double w2, double[] a2,
                                 double w3, double[] a3, int n) {
        for (int i = 0; i < n; i++) {
            double v = c[i];
            a0[i] += w0 * v;
            a1[i] += w1 * v;
            a2[i] += w2 * v;
            a3[i] += w3 * v;
        }
    }
}
