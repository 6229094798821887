package io.github.dsconv.engine;

/**
 * A batch of int8 matrix products: for each batch entry {@code gi} in {@code [0, gc)},
 * {@code dst[gi] (pc x nOut, int32) = src[gi] (pc x B, int8) * weights[gi] (B x nOut, int8)}, all row-major and
 * contiguous; with {@code unsignedSrc} the source bytes are read as uint8 (the caller promises they are all in
 * {@code [0, 127]}, where int8 and uint8 agree, so the result is the same). The weights are the caller's int8 scratch
 * (a layer's {@link PackedWeights} unpacked for this call), so an implementation holds no weights, only per-thread
 * buffers and primitives. Thread-safe.
 */
interface Int8BatchedGemm extends AutoCloseable {

    /**
     * Multiplies {@code gc} pairs of {@code src} and {@code weights} matrices into {@code dst}.
     *
     * @param unsignedSrc true if every source byte is in {@code [0, 127]}: a hint that lets oneDNN take its native
     *                    u8 x s8 path (no +128 shift and compensation, about 30% faster on AVX2); the result is the
     *                    same either way
     */
    void multiply(int gc, int pc, byte[] src, byte[] weights, int[] dst, boolean unsignedSrc);

    /** Which backend this is. */
    Backend backend();

    @Override
    void close();
}
