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

    /**
     * As {@link #multiply(int, int, byte[], byte[], int[], boolean)}, with the int32 results delivered as float
     * (exact: a block sum is far below 2^24 in magnitude). oneDNN converts in its own vectorised output stage; the
     * JDK 17 JIT does not vectorise an int-to-float conversion loop, so converting in Java costs more than the
     * float epilogue that reads the result. This default converts in Java, allocating a buffer per call.
     */
    default void multiply(int gc, int pc, byte[] src, byte[] weights, float[] dst, boolean unsignedSrc) {
        int[] acc = new int[gc * pc * weightsColumns()];
        multiply(gc, pc, src, weights, acc, unsignedSrc);
        for (int i = 0; i < acc.length; i++) {
            dst[i] = acc[i];
        }
    }

    /** {@code nOut}: the columns of each weight matrix. */
    int weightsColumns();

    /** Which backend this is. */
    Backend backend();

    @Override
    void close();
}
