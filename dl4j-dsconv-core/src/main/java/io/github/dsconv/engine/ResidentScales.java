package io.github.dsconv.engine;

import io.github.dsconv.quant.Half;

/**
 * A layer's float parameters (alpha, beta, CDS, bias) resident at the narrowest IEEE precision that holds every
 * value exactly: fp16 (2 bytes a value) for a layer whose scales were rounded to its FP16
 * {@link io.github.dsconv.quant.ScalePrecision scale precision} at conversion, else fp32, else fp64. Decoding
 * gives back exactly the values given, so the engine's arithmetic is the same whatever the precision held.
 */
final class ResidentScales {

    /** Exactly one of these is non-null. */
    private final short[] half;
    private final float[] single;
    private final double[] wide;

    private ResidentScales(short[] half, float[] single, double[] wide) {
        this.half = half;
        this.single = single;
        this.wide = wide;
    }

    /** Holds {@code v} as fp16 if every value is one, else as fp32. */
    static ResidentScales of(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return of(d);
    }

    /** Holds {@code v} as fp16 if every value is one, else as fp32 if every value is a float, else as fp64. */
    static ResidentScales of(double[] v) {
        short[] h = new short[v.length];
        boolean halves = true;
        boolean floats = true;
        for (int i = 0; i < v.length && floats; i++) {
            float f = (float) v[i];
            floats = sameBits(f, v[i]);
            h[i] = Half.fromFloat(f);
            halves &= floats && sameBits(Half.toFloat(h[i]), v[i]);
        }
        if (halves) {
            return new ResidentScales(h, null, null);
        }
        if (floats) {
            float[] f = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                f[i] = (float) v[i];
            }
            return new ResidentScales(null, f, null);
        }
        return new ResidentScales(null, null, v.clone());
    }

    private static boolean sameBits(float f, double d) {
        return Double.doubleToRawLongBits(f) == Double.doubleToRawLongBits(d);
    }

    /** Values {@code [from, from + n)} as floats into {@code dst[0 .. n)} (exact unless held as fp64). */
    void decode(int from, int n, float[] dst) {
        if (single != null) {
            System.arraycopy(single, from, dst, 0, n);
        } else if (half != null) {
            for (int i = 0; i < n; i++) {
                dst[i] = Half.toFloat(half[from + i]);
            }
        } else {
            for (int i = 0; i < n; i++) {
                dst[i] = (float) wide[from + i];
            }
        }
    }

    /** All values as doubles (exact). */
    double[] toDoubles() {
        if (wide != null) {
            return wide.clone();
        }
        int n = half != null ? half.length : single.length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = half != null ? Half.toFloat(half[i]) : single[i];
        }
        return out;
    }

    /** Resident bytes: 2, 4 or 8 a value. */
    long bytes() {
        return half != null ? 2L * half.length : single != null ? 4L * single.length : 8L * wide.length;
    }
}
