package io.github.dsconv.engine.graph;

/**
 * DL4J's {@code MergeVertex}: concatenation along {@code axis} (1 for NCHW channels, 3 for a Keras NHWC import) of
 * c-ordered inputs; a copy, so exact.
 */
final class ConcatStep implements Step {

    private final int axis;

    ConcatStep(int axis) {
        this.axis = axis;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        long[] shape = inputs[0].shape().clone();
        int rank = shape.length;
        int ax = axis < 0 ? axis + rank : axis;
        long total = 0;
        for (Tensor t : inputs) {
            total += t.shape()[ax];
        }
        shape[ax] = total;
        int outer = 1;
        for (int i = 0; i < ax; i++) {
            outer *= Math.toIntExact(shape[i]);
        }
        int inner = 1;
        for (int i = ax + 1; i < rank; i++) {
            inner *= Math.toIntExact(shape[i]);
        }
        int rowOut = Math.toIntExact(total) * inner;
        float[] out = arena.take(outer * rowOut);
        int offset = 0;
        for (Tensor t : inputs) {
            int row = t.dim(ax) * inner;
            float[] d = t.data();
            for (int o = 0; o < outer; o++) {
                System.arraycopy(d, o * row, out, o * rowOut + offset, row);
            }
            offset += row;
        }
        return new Tensor(out, shape);
    }

    @Override
    public String kind() {
        return "concat";
    }
}
