package io.github.dsconv.engine.graph;

import org.deeplearning4j.nn.conf.layers.PoolingType;

/**
 * A {@code GlobalPoolingLayer} (AVG or MAX over the two spatial axes of a rank-4 input, collapsed to
 * {@code [n, c]}, no mask): libnd4j's {@code mean} and {@code max} reductions over each channel's positions, summed
 * sequentially in float in c order and divided by the count as libnd4j's {@code Mean} does, so the same bits
 * ({@code ExecutionPlanTest} checks it against the layer).
 */
final class GlobalPoolStep implements Step {

    private final PoolingType type;
    private final boolean nhwc;
    /** DL4J's layer, for an input of another rank (time series, 3D). */
    private final Step otherRank;

    GlobalPoolStep(PoolingType type, boolean nhwc, Step otherRank) {
        this.type = type;
        this.nhwc = nhwc;
        this.otherRank = otherRank;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor in = inputs[0];
        if (in.shape().length != 4) {
            return otherRank.run(inputs, arena);
        }
        int n = in.dim(0);
        int c = in.dim(nhwc ? 3 : 1);
        int spatial = in.length() / (n * c);
        float[] x = in.data();
        float[] out = arena.take(n * c);
        boolean max = type == PoolingType.MAX;
        if (nhwc) {
            // Per image, all channels at once, positions in order: each channel's sum in the same sequence.
            Chunks.run(n, spatial * c, (from, to) -> {
                for (int img = from; img < to; img++) {
                    int o = img * c;
                    java.util.Arrays.fill(out, o, o + c, max ? -Float.MAX_VALUE : 0f);
                    for (int p = 0; p < spatial; p++) {
                        int src = (img * spatial + p) * c;
                        for (int ch = 0; ch < c; ch++) {
                            float v = x[src + ch];
                            out[o + ch] = max ? (v > out[o + ch] ? v : out[o + ch]) : out[o + ch] + v;
                        }
                    }
                    if (!max) {
                        for (int ch = 0; ch < c; ch++) {
                            out[o + ch] = out[o + ch] / (float) spatial;
                        }
                    }
                }
            });
        } else {
            Chunks.run(n * c, spatial, (from, to) -> {
                for (int r = from; r < to; r++) {
                    float acc = max ? -Float.MAX_VALUE : 0f;
                    for (int p = r * spatial; p < (r + 1) * spatial; p++) {
                        float v = x[p];
                        acc = max ? (v > acc ? v : acc) : acc + v;
                    }
                    out[r] = max ? acc : acc / (float) spatial;
                }
            });
        }
        return new Tensor(out, new long[] {n, c});
    }

    @Override
    public String kind() {
        return "global-" + type.name().toLowerCase(java.util.Locale.ROOT) + "-pool";
    }
}
