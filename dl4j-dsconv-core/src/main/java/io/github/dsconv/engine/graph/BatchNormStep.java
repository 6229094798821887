package io.github.dsconv.engine.graph;

import io.github.dsconv.engine.FusedBatchNorm;

/**
 * A {@code BatchNormalization} layer the engine did not fuse into a convolution (every BN of a
 * {@code MultiLayerNetwork}, and one after a layer off the engine), in place, bit for bit as DL4J computes it
 * ({@link FusedBatchNorm.Params}); on rank-4 input of either layout or rank-2 input.
 */
final class BatchNormStep implements Step {

    private final FusedBatchNorm bn;
    private final boolean nhwc;

    BatchNormStep(FusedBatchNorm bn, boolean nhwc) {
        this.bn = bn;
        this.nhwc = nhwc;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor t = inputs[0];
        FusedBatchNorm.Params p = bn.params();
        int c = p.mean().length;
        float[] z = t.data();
        if (t.shape().length == 2 || nhwc) {
            // Rows of c channels: [n, c] or [n, h, w, c].
            Chunks.run(t.length() / c, c, (from, to) -> p.applyRows(z, from * c, to - from, new float[c]));
        } else {
            int n = t.dim(0);
            int spatial = t.length() / (n * c);
            // Runs of one (image, channel).
            Chunks.run(n * c, spatial, (from, to) -> {
                for (int r = from; r < to; r++) {
                    p.applyRun(z, r * spatial, (r + 1) * spatial, r % c);
                }
            });
        }
        return t;
    }

    @Override
    public boolean inPlace() {
        return true;
    }

    @Override
    public String kind() {
        return "batch-norm";
    }
}
