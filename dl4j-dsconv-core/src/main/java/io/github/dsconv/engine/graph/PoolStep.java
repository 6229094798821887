package io.github.dsconv.engine.graph;

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
    private long[] lastShape;
    private ConvGeometry lastGeometry;

    PoolStep(SubsamplingLayer conf) {
        this.conf = conf;
        this.nhwc = conf.getCnn2dDataFormat() == CNN2DFormat.NHWC;
        this.avg = conf.getPoolingType() == PoolingType.AVG;
        // DL4J passes extra = 1 to avgpool2d when avgPoolIncludePadInDivisor is set, and libnd4j's pooling2d then
        // divides by kh * kw; with extra = 0 (the default) by the number of taps inside the input.
        this.divideByPresent = !conf.isAvgPoolIncludePadInDivisor();
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
        if (nhwc) {
            // Output rows (image, oy) in parallel; each window scans its taps with all channels innermost (contiguous).
            Chunks.run(n * oh, ow * c * taps, (from, to) -> {
                for (int r = from; r < to; r++) {
                    int img = r / oh;
                    int oy = r % oh;
                    for (int ox = 0; ox < ow; ox++) {
                        int dst = ((img * oh + oy) * ow + ox) * c;
                        java.util.Arrays.fill(out, dst, dst + c, avg ? 0f : -Float.MAX_VALUE);
                        int present = 0;
                        for (int ky = 0; ky < g.kh(); ky++) {
                            int iy = g.inputY(oy, ky);
                            if (iy < 0 || iy >= h) {
                                continue;
                            }
                            for (int kx = 0; kx < g.kw(); kx++) {
                                int ix = g.inputX(ox, kx);
                                if (ix < 0 || ix >= w) {
                                    continue;
                                }
                                int src = ((img * h + iy) * w + ix) * c;
                                present++;
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
                            float div = divideByPresent ? (float) present : (float) taps;
                            for (int ch = 0; ch < c; ch++) {
                                out[dst + ch] = out[dst + ch] / div;
                            }
                        }
                    }
                }
            });
        } else {
            // Planes (image, channel) in parallel.
            Chunks.run(n * c, oh * ow * taps, (from, to) -> {
                for (int plane = from; plane < to; plane++) {
                    int src = plane * h * w;
                    int dst = plane * oh * ow;
                    for (int oy = 0; oy < oh; oy++) {
                        for (int ox = 0; ox < ow; ox++) {
                            float m = avg ? 0f : -Float.MAX_VALUE;
                            int present = 0;
                            for (int ky = 0; ky < g.kh(); ky++) {
                                int iy = g.inputY(oy, ky);
                                if (iy < 0 || iy >= h) {
                                    continue;
                                }
                                for (int kx = 0; kx < g.kw(); kx++) {
                                    int ix = g.inputX(ox, kx);
                                    if (ix < 0 || ix >= w) {
                                        continue;
                                    }
                                    float v = x[src + iy * w + ix];
                                    present++;
                                    if (avg) {
                                        m += v;
                                    } else if (v > m) {
                                        m = v;
                                    }
                                }
                            }
                            out[dst + oy * ow + ox] = avg ? m / (divideByPresent ? (float) present : (float) taps) : m;
                        }
                    }
                }
            });
        }
        long[] shape = nhwc ? new long[] {n, oh, ow, c} : new long[] {n, c, oh, ow};
        return new Tensor(out, shape);
    }

    @Override
    public String kind() {
        return avg ? "avg-pool" : "max-pool";
    }
}
