package io.github.dsconv.search;

/**
 * Measures a bit configuration on one task (fidelity), e.g. top-1 accuracy after {@code epochs[task]} epochs of
 * adaptation. Larger is better. Implementations should be deterministic for a configuration if a search is to be
 * reproducible.
 */
@FunctionalInterface
public interface Evaluator {

    /**
     * @param task index into {@link SearchConfig#tasks()}
     * @param bits one bit width per layer, 2..8
     * @return a finite value, larger is better
     */
    double evaluate(int task, int[] bits);
}
