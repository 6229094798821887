package io.github.dsconv.search;

/**
 * One fidelity of the search, e.g. "accuracy after 2 epochs of adaptation".
 *
 * @param name label for reports
 * @param cost relative cost of one evaluation, positive (the information gain is divided by it)
 */
public record Task(String name, double cost) {
    public Task {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("task name must not be blank");
        }
        if (!(cost > 0) || !Double.isFinite(cost)) {
            throw new IllegalArgumentException("task cost must be positive and finite, got " + cost);
        }
    }
}
