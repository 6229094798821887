package io.github.dsconv.engine;

import io.github.dsconv.pack.BitPacker;

/**
 * A layer's integer kernel {@code q} resident in bit-packed form: the int8 GEMM weights {@code [g][B][nOut]}
 * packed at the layer's weight bits with {@link BitPacker} (2 values a byte at 4 bits, 8 in 3 bytes at 3 bits),
 * so a W4 layer holds half a byte per weight instead of one. A GEMM call needs only the {@code gc} matrices of
 * its batch: {@link #unpack} expands those into a caller's int8 scratch buffer right before it, once per tile of
 * output positions, which costs about {@code 1 / positions-per-tile} of the GEMM's multiply-adds.
 */
final class PackedWeights {

    private final byte[] packed;
    private final int bits;
    private final int matrixValues;

    /**
     * @param w            weights {@code [g][B][nOut]} row-major, each in {@code bits} signed bits
     * @param bits         the layer's weight bits, 2..8
     * @param matrixValues {@code B * nOut}: values of one weight matrix
     * @throws IllegalArgumentException if a value does not fit in {@code bits} signed bits
     */
    PackedWeights(byte[] w, int bits, int matrixValues) {
        this.packed = BitPacker.pack(w, bits);
        this.bits = bits;
        this.matrixValues = matrixValues;
    }

    /** Unpacks matrices {@code [g0, g0 + gc)} as int8 into {@code dst[offset ..]} ({@code gc * B * nOut} bytes). */
    void unpack(int g0, int gc, byte[] dst, int offset) {
        BitPacker.unpack(packed, bits, (long) g0 * matrixValues, gc * matrixValues, dst, offset);
    }

    /** Resident bytes: {@code ceil(g * B * nOut * bits / 8)}. */
    long bytes() {
        return packed.length;
    }
}
