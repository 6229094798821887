package io.github.dsconv.search;

import java.util.ArrayList;
import java.util.List;

/**
 * The evaluations of a search so far, in order. It is the whole state of a search: {@link BitSearch#resume}
 * re-fits the GP from it and draws each step's randomness from {@code (seed, step)}, so a resumed run equals the
 * uninterrupted one. Immutable.
 */
public final class History {

    private static final History EMPTY = new History(List.of());

    private final List<Step> steps;

    private History(List<Step> steps) {
        this.steps = steps;
    }

    /** No evaluations. */
    public static History empty() {
        return EMPTY;
    }

    /**
     * A history of the given steps.
     *
     * @throws IllegalArgumentException if the steps are not numbered 0, 1, 2, ...
     */
    public static History of(List<Step> steps) {
        for (int i = 0; i < steps.size(); i++) {
            if (steps.get(i).step() != i) {
                throw new IllegalArgumentException("history steps must be numbered 0, 1, 2, ...; entry " + i
                        + " is step " + steps.get(i).step());
            }
        }
        return new History(List.copyOf(steps));
    }

    /** This history followed by {@code step}, which must be numbered {@link #size()}. */
    public History plus(Step step) {
        List<Step> next = new ArrayList<>(steps);
        next.add(step);
        return of(next);
    }

    /** The first {@code n} steps. */
    public History truncate(int n) {
        if (n < 0 || n > steps.size()) {
            throw new IllegalArgumentException("cannot keep " + n + " of " + steps.size() + " steps");
        }
        return new History(steps.subList(0, n));
    }

    /** The steps, in order. */
    public List<Step> steps() {
        return steps;
    }

    /** Number of evaluations. */
    public int size() {
        return steps.size();
    }

    /** Number of evaluations of {@code task}. */
    public int count(int task) {
        return (int) steps.stream().filter(s -> s.task() == task).count();
    }

    /** Sum of the task costs of all evaluations. */
    public double cost(List<Task> tasks) {
        return steps.stream().mapToDouble(s -> tasks.get(s.task()).cost()).sum();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof History h && h.steps.equals(steps);
    }

    @Override
    public int hashCode() {
        return steps.hashCode();
    }

    @Override
    public String toString() {
        return "History" + steps;
    }
}
