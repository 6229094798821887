package io.github.dsconv.pack;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Packs signed integers of {@code bits} bits (two's complement, {@code 2 <= bits <= 8}) into a dense bit stream,
 * as the packed file stores the DSConv kernel {@code q} (spec section 1, Storage).
 *
 * <p>Layout: value {@code i} occupies stream bits {@code [i*bits, (i+1)*bits)}, least significant bit first, and
 * stream bit {@code k} is bit {@code k % 8} of byte {@code k / 8}. So 2-bit values go 4 to a byte (the first in
 * the low two bits), 4-bit values 2 to a byte (the first in the low nibble), 3-bit values exactly 8 in 3 bytes
 * (ours; the reference spends a byte on two), 8-bit values one a byte, and 5-7 bit values are as tight
 * ({@code ceil(n * bits / 8)} bytes for {@code n} values). Unused bits of the last byte are zero, and
 * {@link #unpack} rejects a stream whose padding is not.
 */
public final class BitPacker {

    /** Smallest supported width. */
    public static final int MIN_BITS = 2;
    /** Largest supported width. */
    public static final int MAX_BITS = 8;

    /** Little-endian longs over a byte array: byte {@code k} of the long is array element {@code k}. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);

    private BitPacker() {
    }

    /** Bytes that {@code n} values of {@code bits} bits take: {@code ceil(n * bits / 8)}. */
    public static long packedLength(long n, int bits) {
        requireBits(bits);
        if (n < 0) {
            throw new IllegalArgumentException("negative value count " + n);
        }
        return (n * bits + 7) / 8;
    }

    /** Smallest value representable in {@code bits} bits: {@code -2^(bits-1)}. */
    public static int minValue(int bits) {
        requireBits(bits);
        return -(1 << (bits - 1));
    }

    /** Largest value representable in {@code bits} bits: {@code 2^(bits-1) - 1}. */
    public static int maxValue(int bits) {
        requireBits(bits);
        return (1 << (bits - 1)) - 1;
    }

    /**
     * Packs {@code values}, each of which must lie in {@code [-2^(bits-1), 2^(bits-1)-1]}.
     *
     * @throws IllegalArgumentException on a bad width or a value out of range (naming its index)
     */
    public static byte[] pack(byte[] values, int bits) {
        int lo = minValue(bits);
        int hi = maxValue(bits);
        long len = packedLength(values.length, bits);
        byte[] out = new byte[Math.toIntExact(len)];
        int mask = (1 << bits) - 1;
        long acc = 0;
        int filled = 0;
        int pos = 0;
        for (int i = 0; i < values.length; i++) {
            int v = values[i];
            if (v < lo || v > hi) {
                throw new IllegalArgumentException("value " + v + " at index " + i + " does not fit in " + bits
                        + " signed bits [" + lo + ", " + hi + "]");
            }
            acc |= (long) (v & mask) << filled;
            filled += bits;
            while (filled >= 8) {
                out[pos++] = (byte) acc;
                acc >>>= 8;
                filled -= 8;
            }
        }
        if (filled > 0) {
            out[pos] = (byte) acc;
        }
        return out;
    }

    /**
     * Unpacks {@code n} values of {@code bits} bits, sign-extended.
     *
     * @throws IllegalArgumentException if {@code packed} is not exactly {@link #packedLength} bytes or its padding
     *                                  bits are not zero
     */
    public static byte[] unpack(byte[] packed, int bits, int n) {
        long len = packedLength(n, bits);
        if (packed.length != len) {
            throw new IllegalArgumentException(n + " values of " + bits + " bits take " + len + " bytes, got "
                    + packed.length);
        }
        byte[] out = new byte[n];
        unpack(packed, bits, 0, n, out, 0);
        int usedBits = (int) ((long) n * bits % 8);
        if (usedBits != 0 && (packed[packed.length - 1] & 0xff) >>> usedBits != 0) {
            throw new IllegalArgumentException("non-zero padding bits after " + n + " values of " + bits + " bits");
        }
        return out;
    }

    /**
     * Unpacks values {@code [from, from + n)} of a packed stream, sign-extended, into {@code dst[dstOffset ..]}:
     * a slice of a large packed array without unpacking the rest (the integer engine unpacks the weights of one
     * GEMM at a time). Padding bits are not checked.
     *
     * @throws IllegalArgumentException on a bad width, or if the range lies outside {@code packed} or {@code dst}
     */
    public static void unpack(byte[] packed, int bits, long from, int n, byte[] dst, int dstOffset) {
        requireBits(bits);
        long available = (long) packed.length * 8 / bits;
        if (from < 0 || n < 0 || from + n > available) {
            throw new IllegalArgumentException("values [" + from + ", " + (from + n) + ") are outside the "
                    + available + " values of " + bits + " bits that " + packed.length + " bytes hold");
        }
        if (dstOffset < 0 || dstOffset + n > dst.length) {
            throw new IllegalArgumentException(n + " values at offset " + dstOffset + " do not fit in "
                    + dst.length + " bytes");
        }
        long start = from * bits;
        int done = (start & 7) == 0 ? unpackWhole(packed, bits, (int) (start >>> 3), n, dst, dstOffset) : 0;
        long bit = start + (long) done * bits;
        int pos = (int) (bit >>> 3);
        int skip = (int) (bit & 7);
        int mask = (1 << bits) - 1;
        int shift = 32 - bits;
        long acc = 0;
        int filled = -skip;
        for (int i = done; i < n; i++) {
            while (filled < bits) {
                acc |= filled >= 0 ? (long) (packed[pos++] & 0xff) << filled : (packed[pos++] & 0xff) >>> -filled;
                filled += 8;
            }
            int v = (int) (acc & mask);
            dst[dstOffset + i] = (byte) ((v << shift) >> shift);
            acc >>>= bits;
            filled -= bits;
        }
    }

    /**
     * The fast path of the range unpack, from byte {@code pos} on: 8-bit values are copied, and 2, 3 and 4 bit
     * values go 8 at a time ({@code bits} bytes in, one little-endian long of 8 bytes out) with the bit fields
     * spread to one a byte and sign-extended by word-wide shifts and masks. About 20 times faster than the bit
     * accumulator, which matters because the engine unpacks a layer's weights once per tile of output positions.
     * Returns how many of the {@code n} values it unpacked; the rest start on a byte boundary.
     */
    private static int unpackWhole(byte[] packed, int bits, int pos, int n, byte[] dst, int at) {
        if (bits == 8) {
            System.arraycopy(packed, pos, dst, at, n);
            return n;
        }
        if (bits > 4) {
            return 0;
        }
        int groups = n >>> 3;
        for (int i = 0; i < groups; i++) {
            int p = pos + i * bits;
            long v = (packed[p] & 0xff) | (packed[p + 1] & 0xff) << 8;
            if (bits == 2) {
                v = (v | v << 24) & 0x000000FF000000FFL;
                v = (v | v << 12) & 0x000F000F000F000FL;
                v = (v | v << 6) & 0x0303030303030303L;
                v |= (v & 0x0202020202020202L) * 0x7E; // 2 * 0x7E = 0xFC: bits 2-7 of a negative byte
            } else if (bits == 3) {
                v |= (long) (packed[p + 2] & 0xff) << 16;
                v = (v | v << 20) & 0x00000FFF00000FFFL;
                v = (v | v << 10) & 0x003F003F003F003FL;
                v = (v | v << 5) & 0x0707070707070707L;
                v |= (v & 0x0404040404040404L) * 0x3E; // 4 * 0x3E = 0xF8
            } else {
                v |= (long) (packed[p + 2] & 0xff) << 16 | (long) (packed[p + 3] & 0xff) << 24;
                v = (v | v << 16) & 0x0000FFFF0000FFFFL;
                v = (v | v << 8) & 0x00FF00FF00FF00FFL;
                v = (v | v << 4) & 0x0F0F0F0F0F0F0F0FL;
                v |= (v & 0x0808080808080808L) * 0x1E; // 8 * 0x1E = 0xF0
            }
            LONGS.set(dst, at + 8 * i, v);
        }
        return 8 * groups;
    }

    private static void requireBits(int bits) {
        if (bits < MIN_BITS || bits > MAX_BITS) {
            throw new IllegalArgumentException("bit width must be in [" + MIN_BITS + ", " + MAX_BITS + "], got "
                    + bits);
        }
    }
}
