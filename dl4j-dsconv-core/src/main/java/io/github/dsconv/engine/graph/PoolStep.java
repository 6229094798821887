package io.github.dsconv.engine.graph;

import io.github.dsconv.engine.NativeKernels;
import io.github.dsconv.layers.ConvGeometry;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;

import java.util.Arrays;

/**
 * A max- or average-pooling {@code SubsamplingLayer} as libnd4j's {@code pooling2d} computes it: per window the taps
 * inside the input (padding taps skipped) scanned row by row, the maximum from {@code -Float.MAX_VALUE} with a strict
 * {@code >} (so the same value and zero sign as DL4J), or their sum in float divided by the number of taps present
 * (DL4J's default) or by {@code kh * kw}; the same bits as DL4J ({@code ExecutionPlanTest}). Both layouts; the output
 * geometry is DL4J's.
 */
final class PoolStep implements Step {

    private final SubsamplingLayer conf;
    private final boolean nhwc;
    /** False for max pooling, true for average pooling. */
    private final boolean avg;
    /**
     * Average pooling's divisor: true for the taps inside the input (libnd4j's {@code extraParam0 = 0}, DL4J's
     * default), false for the whole window {@code kh * kw} ({@code avgPoolIncludePadInDivisor}).
     */
    private final boolean divideByPresent;
    /**
     * True to pool NCHW planes in C ({@link NativeKernels#pool}, same bits): the JIT's code for these short tap loops
     * took 22 ms of ResNet-50's 200 ms batch of 8 (its stem pooling) here. Off with the engine's native route
     * ({@code -Ddsconv.engine.native=off}) or without the library.
     */
    private final boolean useNative;
    private long[] lastShape;
    private ConvGeometry lastGeometry;

    PoolStep(SubsamplingLayer conf) {
        this(conf, NativeKernels.selected() != null);
    }

    /** As the layer's step, with the native NCHW pooling on or off (tests compare both). */
    PoolStep(SubsamplingLayer conf, boolean useNative) {
        this.conf = conf;
        this.nhwc = conf.getCnn2dDataFormat() == CNN2DFormat.NHWC;
        this.avg = conf.getPoolingType() == PoolingType.AVG;
        // DL4J passes extra = 1 to avgpool2d when avgPoolIncludePadInDivisor is set, and libnd4j's pooling2d then
        // divides by kh * kw; with extra = 0 (the default) by the number of taps inside the input.
        this.divideByPresent = !conf.isAvgPoolIncludePadInDivisor();
        this.useNative = useNative && NativeKernels.available();
    }

    /** True for the pooling types this step computes (MAX, AVG). */
    static boolean supports(SubsamplingLayer conf) {
        return conf.getPoolingType() == PoolingType.MAX || conf.getPoolingType() == PoolingType.AVG;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor in = inputs[0];
        if (!Arrays.equals(in.shape(), lastShape)) {
            lastGeometry = ConvGeometry.of(conf.getKernelSize(), conf.getStride(), conf.getPadding(),
                    conf.getDilation(), conf.getConvolutionMode(), conf.getCnn2dDataFormat(), in.shape());
            lastShape = in.shape().clone();
        }
        ConvGeometry g = lastGeometry;
        int n = g.batch();
        int c = g.channels();
        int h = g.height();
        int w = g.width();
        int oh = g.outH();
        int ow = g.outW();
        float[] x = in.data();
        float[] out = arena.take(n * c * oh * ow);
        int taps = g.kh() * g.kw();
        // Each output column's first input column and its valid tap range (padding taps skipped), computed once.
        int[] kx0 = new int[ow];
        int[] kx1 = new int[ow];
        for (int ox = 0; ox < ow; ox++) {
            kx0[ox] = firstTap(g.inputX(ox, 0), g.dilX(), w);
            kx1[ox] = lastTap(g.inputX(ox, 0), g.dilX(), g.kw(), w);
        }
        if (nhwc) {
            // Output rows (image, oy) in parallel; each window scans its taps with all channels innermost (contiguous).
            Chunks.run(n * oh, ow * c * taps, (from, to) -> {
                for (int r = from; r < to; r++) {
                    int img = r / oh;
                    int oy = r % oh;
                    int iy0 = g.inputY(oy, 0);
                    int ky0 = firstTap(iy0, g.dilY(), h);
                    int ky1 = lastTap(iy0, g.dilY(), g.kh(), h);
                    for (int ox = 0; ox < ow; ox++) {
                        int dst = ((img * oh + oy) * ow + ox) * c;
                        java.util.Arrays.fill(out, dst, dst + c, avg ? 0f : -Float.MAX_VALUE);
                        int ix0 = g.inputX(ox, 0);
                        for (int ky = ky0; ky < ky1; ky++) {
                            int iy = iy0 + ky * g.dilY();
                            for (int kx = kx0[ox]; kx < kx1[ox]; kx++) {
                                int src = ((img * h + iy) * w + ix0 + kx * g.dilX()) * c;
                                if (avg) {
                                    for (int ch = 0; ch < c; ch++) {
                                        out[dst + ch] += x[src + ch];
                                    }
                                } else {
                                    for (int ch = 0; ch < c; ch++) {
                                        float v = x[src + ch];
                                        if (v > out[dst + ch]) {
                                            out[dst + ch] = v;
                                        }
                                    }
                                }
                            }
                        }
                        if (avg) {
                            float div = divisor(ky1 - ky0, kx1[ox] - kx0[ox], taps);
                            for (int ch = 0; ch < c; ch++) {
                                out[dst + ch] = out[dst + ch] / div;
                            }
                        }
                    }
                }
            });
        } else {
            // Planes (image, channel) in parallel.
            boolean nat = useNative;
            Chunks.run(n * c, oh * ow * taps, (from, to) -> {
                if (nat) {
                    NativeKernels.pool(x, out, from, to, h, w, oh, ow, g.kh(), g.kw(), g.strideY(), g.strideX(),
                            g.padTop(), g.padLeft(), g.dilY(), g.dilX(), avg, divideByPresent);
                    return;
                }
                for (int plane = from; plane < to; plane++) {
                    planeNchw(g, x, plane * h * w, out, plane * oh * ow, kx0, kx1, taps);
                }
            });
        }
        long[] shape = nhwc ? new long[] {n, oh, ow, c} : new long[] {n, c, oh, ow};
        return new Tensor(out, shape);
    }

    /**
     * One NCHW plane in Java (the fallback of {@link NativeKernels#pool}): input from {@code x[src]}, output to
     * {@code out[dst]}.
     */
    private void planeNchw(ConvGeometry g, float[] x, int src, float[] out, int dst, int[] kx0, int[] kx1,
                           int taps) {
        int h = g.height();
        int w = g.width();
        int oh = g.outH();
        int ow = g.outW();
        int dy = g.dilY();
        int dx = g.dilX();
        int kh = g.kh();
        for (int oy = 0; oy < oh; oy++) {
            int iy0 = g.inputY(oy, 0);
            int ky0 = firstTap(iy0, dy, h);
            int ky1 = lastTap(iy0, dy, kh, h);
            int o = dst + oy * ow;
            for (int ox = 0; ox < ow; ox++) {
                int ix0 = g.inputX(ox, 0);
                int a = kx0[ox];
                int b = kx1[ox];
                float m = avg ? 0f : -Float.MAX_VALUE;
                for (int ky = ky0; ky < ky1; ky++) {
                    int row = src + (iy0 + ky * dy) * w + ix0;
                    if (avg) {
                        for (int kx = a; kx < b; kx++) {
                            m += x[row + kx * dx];
                        }
                    } else {
                        for (int kx = a; kx < b; kx++) {
                            float v = x[row + kx * dx];
                            if (v > m) { // not Math.max: the first of -0 and 0 must win, as in libnd4j
                                m = v;
                            }
                        }
                    }
                }
                out[o + ox] = avg ? m / divisor(ky1 - ky0, b - a, taps) : m;
            }
        }
    }

    /** The first tap {@code k >= 0} whose input index {@code i0 + k * dil} is inside {@code [0, size)}. */
    private static int firstTap(int i0, int dil, int size) {
        return i0 >= 0 ? 0 : (-i0 + dil - 1) / dil;
    }

    /** One past the last tap {@code k < taps} whose input index {@code i0 + k * dil} is inside {@code [0, size)}. */
    private static int lastTap(int i0, int dil, int taps, int size) {
        if (i0 >= size) {
            return 0;
        }
        int last = i0 + (taps - 1) * dil;
        return last < size ? taps : (size - 1 - i0) / dil + 1;
    }

    /** Average pooling's divisor for a window of {@code rows x cols} taps inside the input (see the field). */
    private float divisor(int rows, int cols, int taps) {
        return divideByPresent ? (float) (rows * cols) : (float) taps;
    }

    @Override
    public String kind() {
        return avg ? "avg-pool" : "max-pool";
    }
}
