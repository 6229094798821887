package io.github.dsconv.engine.graph;

import java.util.ArrayList;
import java.util.List;

/**
 * The float buffers of one {@link ExecutionPlan}, reused from step to step and call to call: a step takes a buffer
 * for its output, and the plan gives it back once the last consumer of that output has run. With ResNet-50 at batch
 * 8 the live activations at any step are a few of the network's ~80 arrays, so the arena holds a handful of buffers
 * the size of the largest activation instead of one per layer; after the first call nothing is allocated.
 */
final class Arena {

    private final List<float[]> free = new ArrayList<>();

    /** A buffer of at least {@code len} floats (contents undefined): the smallest free one that fits, else new. */
    float[] take(int len) {
        int best = -1;
        for (int i = 0; i < free.size(); i++) {
            float[] b = free.get(i);
            if (b.length >= len && (best < 0 || b.length < free.get(best).length)) {
                best = i;
            }
        }
        if (best >= 0) {
            return free.remove(best);
        }
        return new float[len];
    }

    /** Returns {@code buf} for reuse (it must no longer be read). */
    void give(float[] buf) {
        for (float[] b : free) {
            if (b == buf) {
                throw new IllegalStateException("buffer given back twice");
            }
        }
        free.add(buf);
    }

    /** Floats held by free buffers (for the footprint). */
    long freeFloats() {
        long n = 0;
        for (float[] b : free) {
            n += b.length;
        }
        return n;
    }
}
