package io.github.dsconv.engine.graph;

/**
 * One node of an {@link ExecutionPlan}: computes its output from its inputs' {@link Tensor}s. A step either writes a
 * new buffer taken from the {@link Arena} or, when {@link #inPlace()} says so and the plan allows it (its single
 * input is read by nothing else), returns its input's buffer changed in place.
 */
interface Step {

    /** The step's output for {@code inputs} (in the graph's order of the node's inputs). */
    Tensor run(Tensor[] inputs, Arena arena);

    /** True if {@link #run} may overwrite its single input and return that buffer (then the plan lets it). */
    default boolean inPlace() {
        return false;
    }

    /** True if this step runs in the engine; false for a DL4J fallback. */
    default boolean onEngine() {
        return true;
    }

    /** A short description for the plan's report, e.g. {@code "conv native-fused:avx512-vnni"}. */
    String kind();
}
