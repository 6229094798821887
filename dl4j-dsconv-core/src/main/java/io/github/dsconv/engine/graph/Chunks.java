package io.github.dsconv.engine.graph;

import io.github.dsconv.engine.Workers;

/**
 * Splits a plan step's elementwise work over the engine's {@link Workers}: DL4J's own ops run on OpenMP threads, and
 * a single-threaded add or ReLU over ResNet-50's 6.4-million-value activations would cost more than the copies the
 * plan saves.
 */
final class Chunks {

    /** Below this many items per worker the step runs on the calling thread (a fork costs a few microseconds). */
    private static final int MIN_PER_WORKER = 1 << 15;

    /** A range of items {@code [from, to)}. */
    @FunctionalInterface
    interface Range {
        void run(int from, int to);
    }

    private Chunks() {
    }

    /** Runs {@code body} over {@code [0, n)} in near-equal ranges, one per worker (or one range for small work). */
    static void run(int n, Range body) {
        run(n, 1, body);
    }

    /**
     * As {@link #run(int, Range)} for {@code n} items of {@code cost} elements each (e.g. rows of a pooling step), so
     * that small steps stay on one thread.
     */
    static void run(int n, int cost, Range body) {
        int workers = Workers.count();
        long work = (long) n * Math.max(1, cost);
        int parts = (int) Math.min(Math.min(workers, n), Math.max(1, work / MIN_PER_WORKER));
        if (parts <= 1) {
            body.run(0, n);
            return;
        }
        Workers.run(parts, t -> body.run((int) ((long) n * t / parts), (int) ((long) n * (t + 1) / parts)));
    }
}
