package io.github.dsconv.engine.graph;

/**
 * DL4J's {@code ElementWiseVertex} with {@code Add} on inputs of equal shape: {@code ((x0 + x1) + x2) ...} in float,
 * in the order DL4J adds them ({@code sum.assign(x0); sum.addi(x1); ...}), so the same bits. Inputs of different
 * shapes (DL4J broadcasts them) go to DL4J's vertex.
 */
final class AddStep implements Step {

    private final String name;
    /** DL4J's vertex, for inputs of different shapes (broadcasting). */
    private final Step broadcast;
    /** True if the plain ReLU after the add is applied here (the plan fused it: the add's only consumer). */
    private final boolean relu;

    AddStep(String name, Step broadcast) {
        this(name, broadcast, false);
    }

    private AddStep(String name, Step broadcast, boolean relu) {
        this.name = name;
        this.broadcast = broadcast;
        this.relu = relu;
    }

    /** This add followed by a plain ReLU ({@code x < 0 ? 0 : x}, as libnd4j), in the same pass. */
    AddStep withRelu() {
        return new AddStep(name, broadcast, true);
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor first = inputs[0];
        int n = first.length();
        for (Tensor t : inputs) {
            if (!java.util.Arrays.equals(t.shape(), first.shape())) {
                Tensor out = broadcast.run(inputs, arena);
                return relu ? reluInPlace(out) : out;
            }
        }
        float[] out = arena.take(n);
        Chunks.run(n, (from, to) -> {
            System.arraycopy(first.data(), from, out, from, to - from);
            for (int k = 1; k < inputs.length; k++) {
                float[] b = inputs[k].data();
                for (int i = from; i < to; i++) {
                    out[i] += b[i];
                }
            }
            if (relu) {
                for (int i = from; i < to; i++) {
                    out[i] = out[i] < 0f ? 0f : out[i];
                }
            }
        });
        return new Tensor(out, first.shape().clone());
    }

    private static Tensor reluInPlace(Tensor t) {
        float[] d = t.data();
        for (int i = 0; i < t.length(); i++) {
            d[i] = d[i] < 0f ? 0f : d[i];
        }
        return t;
    }

    String name() {
        return name;
    }

    @Override
    public String kind() {
        return relu ? "add + relu" : "add";
    }
}
