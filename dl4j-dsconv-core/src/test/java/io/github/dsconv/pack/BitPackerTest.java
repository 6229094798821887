package io.github.dsconv.pack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BitPackerTest {

    private static byte[] bytes(int... v) {
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = (byte) v[i];
        }
        return b;
    }

    @Test
    void twoBitPacksFourToAByteLowBitsFirst() {
        // codes 01, 11, 00, 10 -> 0b10_00_11_01
        byte[] p = BitPacker.pack(bytes(1, -1, 0, -2), 2);
        assertArrayEquals(bytes(0x8D), p);
        assertArrayEquals(bytes(1, -1, 0, -2), BitPacker.unpack(p, 2, 4));
        // five values: the fifth starts a new byte, the rest is zero padding
        assertArrayEquals(bytes(0x8D, 0x03), BitPacker.pack(bytes(1, -1, 0, -2, -1), 2));
    }

    @Test
    void threeBitPacksEightValuesInThreeBytes() {
        // codes 0..7 in order: the stream is octal 76543210 = 0xFAC688, little endian
        byte[] p = BitPacker.pack(bytes(0, 1, 2, 3, -4, -3, -2, -1), 3);
        assertArrayEquals(bytes(0x88, 0xC6, 0xFA), p);
        assertArrayEquals(bytes(0, 1, 2, 3, -4, -3, -2, -1), BitPacker.unpack(p, 3, 8));
        // three values of -1: nine one-bits
        assertArrayEquals(bytes(0xFF, 0x01), BitPacker.pack(bytes(-1, -1, -1), 3));
    }

    @Test
    void fourBitPacksTwoToAByteLowNibbleFirst() {
        byte[] p = BitPacker.pack(bytes(3, -8, 7, -1, 5), 4);
        assertArrayEquals(bytes(0x83, 0xF7, 0x05), p);
        assertArrayEquals(bytes(3, -8, 7, -1, 5), BitPacker.unpack(p, 4, 5));
    }

    @Test
    void fiveAndEightBitPatterns() {
        // 5-bit: 10000 then 01111 -> 0b01111_10000 = 0x1F0
        assertArrayEquals(bytes(0xF0, 0x01), BitPacker.pack(bytes(-16, 15), 5));
        assertArrayEquals(bytes(0x80, 0x7F, 0x00), BitPacker.pack(bytes(-128, 127, 0), 8));
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 6, 7, 8})
    void roundTripsEveryWidthAndLength(int bits) {
        Random r = new Random(1000 + bits);
        int lo = BitPacker.minValue(bits);
        int span = BitPacker.maxValue(bits) - lo + 1;
        for (int n = 0; n <= 67; n++) {
            byte[] v = new byte[n];
            for (int i = 0; i < n; i++) {
                v[i] = (byte) (lo + r.nextInt(span));
            }
            if (n >= 2) { // both extremes present
                v[0] = (byte) lo;
                v[n - 1] = (byte) BitPacker.maxValue(bits);
            }
            byte[] p = BitPacker.pack(v, bits);
            assertEquals((n * bits + 7) / 8, p.length, "packed length, n=" + n);
            assertArrayEquals(v, BitPacker.unpack(p, bits, n), "bits=" + bits + " n=" + n);
        }
        byte[] big = new byte[100_003];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (lo + r.nextInt(span));
        }
        assertArrayEquals(big, BitPacker.unpack(BitPacker.pack(big, bits), bits, big.length));
    }

    /** Every sub-range of a packed stream (any start bit, any length) unpacks to the same values as the whole. */
    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 6, 7, 8})
    void unpacksAnySubRange(int bits) {
        Random r = new Random(2000 + bits);
        int lo = BitPacker.minValue(bits);
        int span = BitPacker.maxValue(bits) - lo + 1;
        byte[] v = new byte[45];
        for (int i = 0; i < v.length; i++) {
            v[i] = (byte) (lo + r.nextInt(span));
        }
        byte[] p = BitPacker.pack(v, bits);
        for (int from = 0; from <= v.length; from++) {
            for (int n = 0; from + n <= v.length; n++) {
                byte[] dst = new byte[n + 2];
                BitPacker.unpack(p, bits, from, n, dst, 1);
                assertArrayEquals(java.util.Arrays.copyOfRange(v, from, from + n),
                        java.util.Arrays.copyOfRange(dst, 1, n + 1), "bits=" + bits + " [" + from + ", +" + n + ")");
                assertEquals(0, dst[0], "nothing written before the offset");
                assertEquals(0, dst[n + 1], "nothing written after the range");
            }
        }
    }

    @Test
    void rejectsRangesOutsideTheArrays() {
        byte[] p = BitPacker.pack(bytes(1, 2, 3), 4); // 2 bytes hold 4 values of 4 bits
        byte[] dst = new byte[4];
        BitPacker.unpack(p, 4, 0, 4, dst, 0); // the padding nibble is a readable value
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(p, 4, 1, 4, dst, 0));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(p, 4, -1, 1, dst, 0));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(p, 4, 0, 2, dst, 3));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(p, 1, 0, 1, dst, 0));
    }

    @Test
    void rangesAndLengths() {
        assertEquals(-2, BitPacker.minValue(2));
        assertEquals(1, BitPacker.maxValue(2));
        assertEquals(-4, BitPacker.minValue(3));
        assertEquals(3, BitPacker.maxValue(3));
        assertEquals(-128, BitPacker.minValue(8));
        assertEquals(127, BitPacker.maxValue(8));
        assertEquals(3, BitPacker.packedLength(8, 3));
        assertEquals(4, BitPacker.packedLength(9, 3));
        assertEquals(0, BitPacker.packedLength(0, 5));
        assertEquals(7, BitPacker.packedLength(9, 6)); // 54 bits
    }

    @Test
    void rejectsBadInput() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BitPacker.pack(bytes(0, 2), 2));
        assertTrue(e.getMessage().contains("index 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> BitPacker.pack(bytes(-5), 3));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.pack(bytes(8), 4));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.pack(bytes(0), 1));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.pack(bytes(0), 9));
        // wrong length
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(bytes(0, 0), 4, 2));
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(bytes(0), 4, 3));
        // non-zero padding: three 3-bit values use 9 of 16 bits
        assertThrows(IllegalArgumentException.class, () -> BitPacker.unpack(bytes(0xFF, 0x03), 3, 3));
    }
}
