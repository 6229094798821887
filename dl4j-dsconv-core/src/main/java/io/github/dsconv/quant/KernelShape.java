package io.github.dsconv.quant;

/**
 * Shape of a 2-D convolution kernel in DL4J's layout {@code [nOut, nIn, kH, kW]} (c order).
 *
 * @param nOut output channels
 * @param nIn  input channels
 * @param kH   kernel height
 * @param kW   kernel width
 */
public record KernelShape(int nOut, int nIn, int kH, int kW) {

    public KernelShape {
        if (nOut <= 0 || nIn <= 0 || kH <= 0 || kW <= 0) {
            throw new IllegalArgumentException("kernel shape must be positive, got " + this.toStringRaw(nOut, nIn, kH, kW));
        }
    }

    /** Builds a shape from a DL4J weight array shape {@code [nOut, nIn, kH, kW]}. */
    public static KernelShape of(long[] shape) {
        if (shape.length != 4) {
            throw new IllegalArgumentException("expected a rank-4 kernel [nOut,nIn,kH,kW], got rank " + shape.length);
        }
        return new KernelShape(Math.toIntExact(shape[0]), Math.toIntExact(shape[1]),
                Math.toIntExact(shape[2]), Math.toIntExact(shape[3]));
    }

    /** Number of kernel elements. */
    public int numel() {
        return Math.multiplyExact(Math.multiplyExact(nOut, nIn), kH * kW);
    }

    /** Kernel positions per (output, input) channel pair: {@code kH * kW}. */
    public int spatial() {
        return kH * kW;
    }

    /** Flat c-order index of {@code [o, c, y, x]}. */
    public int index(int o, int c, int y, int x) {
        return ((o * nIn + c) * kH + y) * kW + x;
    }

    /** Shape as a DL4J {@code long[]}. */
    public long[] toLongArray() {
        return new long[] {nOut, nIn, kH, kW};
    }

    private static String toStringRaw(int nOut, int nIn, int kH, int kW) {
        return "[" + nOut + "," + nIn + "," + kH + "," + kW + "]";
    }

    @Override
    public String toString() {
        return toStringRaw(nOut, nIn, kH, kW);
    }
}
