package io.github.dsconv.quant;

/** Signal-to-quantization-noise ratio in decibels: {@code 10 log10(sum ref^2 / sum (ref - approx)^2)}. */
public final class Sqnr {

    private Sqnr() {
    }

    /** SQNR of {@code approx} against {@code ref}; {@code +Infinity} when they are equal. */
    public static double db(float[] ref, float[] approx) {
        if (ref.length != approx.length) {
            throw new IllegalArgumentException("length mismatch: " + ref.length + " vs " + approx.length);
        }
        double signal = 0;
        double noise = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = (double) ref[i] - approx[i];
            signal += (double) ref[i] * ref[i];
            noise += d * d;
        }
        return db(signal, noise);
    }

    /** SQNR from accumulated signal and noise energies. */
    public static double db(double signal, double noise) {
        if (noise == 0) {
            return Double.POSITIVE_INFINITY;
        }
        return 10 * Math.log10(signal / noise);
    }
}
