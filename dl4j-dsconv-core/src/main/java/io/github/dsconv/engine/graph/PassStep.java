package io.github.dsconv.engine.graph;

/**
 * A node with nothing left to do: a batch normalization (and the ReLU after it) that the engine fused into the DSConv
 * layer before it ({@code engine.BatchNormFusion}), or an identity activation layer. Returns its input unchanged
 * (the same buffer).
 */
final class PassStep implements Step {

    private final String kind;

    /** {@code kind} says why nothing is left to do, for the plan's report. */
    PassStep(String kind) {
        this.kind = kind;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        return inputs[0];
    }

    @Override
    public String kind() {
        return kind;
    }
}
