package io.github.dsconv.engine;

/**
 * A batch of int8 matrix products against one layer's resident int8 weights: for each batch entry {@code gi} in
 * {@code [0, gc)}, {@code dst[gi] (pc x nOut, int32) = src[gi] (pc x B, int8) * W[g0 + gi] (B x nOut, int8)},
 * all row-major and contiguous. Implementations keep the weights prepared once and are thread-safe.
 */
interface Int8BatchedGemm extends AutoCloseable {

    /** Multiplies {@code gc} consecutive weight matrices starting at {@code g0}. */
    void multiply(int g0, int gc, int pc, byte[] src, int[] dst);

    /** Which backend this is. */
    Backend backend();

    /** Bytes of weights this implementation keeps resident (int8 q, block-padded). */
    long weightBytes();

    @Override
    void close();
}
