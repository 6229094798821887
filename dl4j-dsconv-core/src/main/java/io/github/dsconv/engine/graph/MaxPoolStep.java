package io.github.dsconv.engine.graph;

import io.github.dsconv.layers.ConvGeometry;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;

import java.util.Arrays;

/**
 * A max-pooling {@code SubsamplingLayer} as libnd4j's {@code maxpool2d} computes it: per window the maximum of the
 * taps inside the input (padding taps skipped), scanned row by row from {@code -Float.MAX_VALUE} with a strict
 * {@code >}, so the same value (and the same zero sign) as DL4J. Both layouts; the output geometry is DL4J's.
 */
final class MaxPoolStep implements Step {

    private final SubsamplingLayer conf;
    private final boolean nhwc;
    private long[] lastShape;
    private ConvGeometry lastGeometry;

    MaxPoolStep(SubsamplingLayer conf) {
        this.conf = conf;
        this.nhwc = conf.getCnn2dDataFormat() == CNN2DFormat.NHWC;
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
                        java.util.Arrays.fill(out, dst, dst + c, -Float.MAX_VALUE);
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
                                for (int ch = 0; ch < c; ch++) {
                                    float v = x[src + ch];
                                    if (v > out[dst + ch]) {
                                        out[dst + ch] = v;
                                    }
                                }
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
                            float m = -Float.MAX_VALUE;
                            for (int ky = 0; ky < g.kh(); ky++) {
                                int iy = g.inputY(oy, ky);
                                if (iy < 0 || iy >= h) {
                                    continue;
                                }
                                for (int kx = 0; kx < g.kw(); kx++) {
                                    int ix = g.inputX(ox, kx);
                                    if (ix >= 0 && ix < w && x[src + iy * w + ix] > m) {
                                        m = x[src + iy * w + ix];
                                    }
                                }
                            }
                            out[dst + oy * ow + ox] = m;
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
        return "max-pool";
    }
}
