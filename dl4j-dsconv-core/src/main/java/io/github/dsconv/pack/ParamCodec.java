package io.github.dsconv.pack;

import io.github.dsconv.quant.Half;
import io.github.dsconv.quant.ScalePrecision;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How one parameter's values become an entry's bytes and back, little endian: {@code int2} .. {@code int8}
 * (signed integers packed with {@link BitPacker}, for DSConv {@code q}), {@code fp16} ({@link Half}, rounded half
 * to even) or {@code fp32}. An fp16 parameter holding a finite value beyond the fp16 range is encoded in fp32
 * instead, so that storage never turns a finite value into an infinity.
 */
final class ParamCodec {

    static final String FP16 = "fp16";
    static final String FP32 = "fp32";

    private ParamCodec() {
    }

    /** Encoded values and the encoding used. */
    record Encoded(String encoding, byte[] bytes) {
    }

    /**
     * The encoding a parameter is written in, before any fp16-to-fp32 fallback.
     *
     * @param bits      packed integer bits, or 0 for a float parameter
     * @param precision float precision when {@code bits == 0}
     */
    static String encodingFor(int bits, ScalePrecision precision) {
        return bits > 0 ? "int" + bits : precision == ScalePrecision.FP16 ? FP16 : FP32;
    }

    /**
     * Encodes a parameter's values.
     *
     * @param what      the parameter's owner, for the error message (a layer name)
     * @param bits      packed integer bits, or 0 for a float parameter
     * @param precision float precision when {@code bits == 0}
     * @throws IllegalArgumentException if {@code bits > 0} and a value is not an integer of that width
     */
    static Encoded encode(String what, int bits, ScalePrecision precision, float[] v) {
        if (bits > 0) {
            byte[] q = new byte[v.length];
            int lo = BitPacker.minValue(bits);
            int hi = BitPacker.maxValue(bits);
            for (int i = 0; i < v.length; i++) {
                float f = v[i];
                if (f != Math.rint(f) || f < lo || f > hi) {
                    throw new IllegalArgumentException("layer '" + what + "': q[" + i + "] = " + f
                            + " is not a " + bits + "-bit integer in [" + lo + ", " + hi + "]");
                }
                q[i] = (byte) f;
            }
            return new Encoded(encodingFor(bits, null), BitPacker.pack(q, bits));
        }
        if (precision == ScalePrecision.FP16) {
            ByteBuffer b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            boolean overflow = false;
            for (float f : v) {
                short h = Half.fromFloat(f);
                if (Float.isFinite(f) && Float.isInfinite(Half.toFloat(h))) {
                    overflow = true;
                    break;
                }
                b.putShort(h);
            }
            if (!overflow) {
                return new Encoded(FP16, b.array());
            }
        }
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return new Encoded(FP32, b.array());
    }

    /**
     * Decodes {@code n} values.
     *
     * @throws IllegalArgumentException on an unknown encoding or a byte count that does not fit {@code n}
     */
    static float[] decode(String encoding, byte[] bytes, int n) {
        float[] out = new float[n];
        switch (encoding) {
            case FP16 -> {
                requireLength(bytes, 2L * n, encoding);
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n; i++) {
                    out[i] = Half.toFloat(b.getShort());
                }
            }
            case FP32 -> {
                requireLength(bytes, 4L * n, encoding);
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < n; i++) {
                    out[i] = b.getFloat();
                }
            }
            default -> {
                byte[] q = BitPacker.unpack(bytes, intBits(encoding), n);
                for (int i = 0; i < n; i++) {
                    out[i] = q[i];
                }
            }
        }
        return out;
    }

    /** Whether a segment stored in {@code actual} is valid where {@code expected} was planned (fp16 may fall back). */
    static boolean accepts(String expected, String actual) {
        return actual.equals(expected) || (expected.equals(FP16) && actual.equals(FP32));
    }

    private static int intBits(String encoding) {
        if (encoding.length() == 4 && encoding.startsWith("int")) {
            int b = encoding.charAt(3) - '0';
            if (b >= BitPacker.MIN_BITS && b <= BitPacker.MAX_BITS) {
                return b;
            }
        }
        throw new IllegalArgumentException("unknown encoding '" + encoding + "'");
    }

    private static void requireLength(byte[] bytes, long expected, String encoding) {
        if (bytes.length != expected) {
            throw new IllegalArgumentException(encoding + " segment has " + bytes.length + " bytes, expected "
                    + expected);
        }
    }
}
