package io.github.dsconv.engine;

/**
 * A batch of int8 matrix products: for each batch entry {@code gi} in {@code [0, gc)},
 * {@code dst[gi] (pc x nOut, int32) = src[gi] (pc x B, int8) * weights[gi] (B x nOut, int8)}, all row-major and
 * contiguous. The weights are the caller's int8 scratch (a layer's {@link PackedWeights} unpacked for this call),
 * so an implementation holds no weights, only per-thread buffers and primitives. Thread-safe.
 */
interface Int8BatchedGemm extends AutoCloseable {

    /** Multiplies {@code gc} pairs of {@code src} and {@code weights} matrices into {@code dst}. */
    void multiply(int gc, int pc, byte[] src, byte[] weights, int[] dst);

    /** Which backend this is. */
    Backend backend();

    @Override
    void close();
}
