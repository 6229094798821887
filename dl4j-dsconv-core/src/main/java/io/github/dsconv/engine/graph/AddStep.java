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

    AddStep(String name, Step broadcast) {
        this.name = name;
        this.broadcast = broadcast;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor first = inputs[0];
        int n = first.length();
        for (Tensor t : inputs) {
            if (!java.util.Arrays.equals(t.shape(), first.shape())) {
                return broadcast.run(inputs, arena);
            }
        }
        float[] out = arena.take(n);
        System.arraycopy(first.data(), 0, out, 0, n);
        for (int k = 1; k < inputs.length; k++) {
            float[] b = inputs[k].data();
            for (int i = 0; i < n; i++) {
                out[i] += b[i];
            }
        }
        return new Tensor(out, first.shape().clone());
    }

    String name() {
        return name;
    }

    @Override
    public String kind() {
        return "add";
    }
}
