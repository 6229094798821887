package io.github.dsconv.engine.graph;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;

/**
 * DL4J's {@code ZeroPaddingLayer} (Keras' {@code ZeroPadding2D}, the stem of DL4J's ResNet-50): the input copied into
 * the middle of a zeroed output, {@code padding = {top, bottom, left, right}}; exact.
 */
final class ZeroPaddingStep implements Step {

    private final int top;
    private final int bottom;
    private final int left;
    private final int right;
    private final boolean nhwc;

    ZeroPaddingStep(ZeroPaddingLayer conf) {
        int[] p = conf.getPadding();
        this.top = p[0];
        this.bottom = p[1];
        this.left = p[2];
        this.right = p[3];
        this.nhwc = conf.getDataFormat() == CNN2DFormat.NHWC;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor in = inputs[0];
        int n = in.dim(0);
        int c = in.dim(nhwc ? 3 : 1);
        int h = in.dim(nhwc ? 1 : 2);
        int w = in.dim(nhwc ? 2 : 3);
        int oh = h + top + bottom;
        int ow = w + left + right;
        float[] x = in.data();
        float[] out = arena.take(n * c * oh * ow);
        java.util.Arrays.fill(out, 0, n * c * oh * ow, 0f);
        // One contiguous run per input row: w values (NCHW) or w * c values (NHWC).
        int planes = nhwc ? n : n * c;
        int run = nhwc ? w * c : w;
        int outRow = nhwc ? ow * c : ow;
        int offset = nhwc ? left * c : left;
        Chunks.run(planes, oh * outRow, (from, to) -> {
            for (int p = from; p < to; p++) {
                for (int y = 0; y < h; y++) {
                    System.arraycopy(x, (p * h + y) * run, out, (p * oh + y + top) * outRow + offset, run);
                }
            }
        });
        long[] shape = nhwc ? new long[] {n, oh, ow, c} : new long[] {n, c, oh, ow};
        return new Tensor(out, shape);
    }

    @Override
    public String kind() {
        return "zero-padding";
    }
}
