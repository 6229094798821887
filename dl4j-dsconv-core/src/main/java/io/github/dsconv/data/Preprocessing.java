package io.github.dsconv.data;

import java.util.Arrays;
import java.util.Locale;

/**
 * How raw pixels {@code p} in {@code [0, 255]} become model inputs: {@code x = (p * scale - mean[c]) / std[c]},
 * channel by channel, with colour channels in {@link #channelOrder()}.
 *
 * <p>The scale is kept as a fraction {@code numerator / denominator} so that the default {@code 1/255} computes
 * {@code p / 255f} exactly as the Fashion-MNIST reader always has (bit-identical results). Defaults: scale
 * {@code 1/255}, no mean, no std, RGB.
 *
 * @param scaleNumerator   numerator of the pixel scale (finite, positive)
 * @param scaleDenominator denominator of the pixel scale (finite, positive)
 * @param mean             per-channel mean subtracted after scaling, or null for none; one value for every
 *                         channel or one per channel
 * @param std              per-channel standard deviation divided by after the mean, or null for none; positive
 * @param channelOrder     the channel order of colour images
 */
public record Preprocessing(double scaleNumerator, double scaleDenominator, float[] mean, float[] std,
                            ChannelOrder channelOrder) {

    public Preprocessing {
        if (!(scaleNumerator > 0) || !(scaleDenominator > 0) || Double.isInfinite(scaleNumerator)
                || Double.isInfinite(scaleDenominator) || !(scaleNumerator / scaleDenominator > 0)
                || Double.isInfinite(scaleNumerator / scaleDenominator)) {
            throw new IllegalArgumentException("--scale must be a finite positive number or fraction, got "
                    + scaleNumerator + "/" + scaleDenominator);
        }
        mean = check("--mean", mean, false);
        std = check("--std", std, true);
        if (channelOrder == null) {
            throw new IllegalArgumentException("channel order must be RGB or BGR, got null");
        }
    }

    /** Scale 1/255, no mean or std, RGB. */
    public static Preprocessing defaults() {
        return new Preprocessing(1, 255, null, null, ChannelOrder.RGB);
    }

    /** This preprocessing with the pixel scale parsed by {@link #parseScale(String)}. */
    public Preprocessing withScale(String scale) {
        double[] f = parseScale(scale);
        return new Preprocessing(f[0], f[1], mean, std, channelOrder);
    }

    /** This preprocessing with a per-channel mean (null for none). */
    public Preprocessing withMean(float... mean) {
        return new Preprocessing(scaleNumerator, scaleDenominator, mean, std, channelOrder);
    }

    /** This preprocessing with a per-channel std (null for none). */
    public Preprocessing withStd(float... std) {
        return new Preprocessing(scaleNumerator, scaleDenominator, mean, std, channelOrder);
    }

    /** This preprocessing with another channel order. */
    public Preprocessing withChannelOrder(ChannelOrder order) {
        return new Preprocessing(scaleNumerator, scaleDenominator, mean, std, order);
    }

    /** The scale as one number. */
    public double scale() {
        return scaleNumerator / scaleDenominator;
    }

    /**
     * Parses a pixel scale: a decimal ({@code 1}, {@code 0.00392}) or a fraction ({@code 1/255}).
     *
     * @return {numerator, denominator}
     * @throws IllegalArgumentException naming the value when it is not a finite positive number or fraction
     */
    public static double[] parseScale(String s) {
        if (s == null || s.isBlank()) {
            throw new IllegalArgumentException("--scale must be a number or a fraction like 1/255, got '" + s + "'");
        }
        String[] p = s.trim().split("/", -1);
        try {
            double num = Double.parseDouble(p[0].trim());
            double den = p.length == 2 ? Double.parseDouble(p[1].trim()) : 1;
            if (p.length > 2 || !(num > 0) || !(den > 0) || Double.isInfinite(num) || Double.isInfinite(den)
                    || !(num / den > 0) || Double.isInfinite(num / den)) {
                throw new NumberFormatException();
            }
            return new double[] {num, den};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--scale must be a finite positive number or a fraction like 1/255,"
                    + " got '" + s + "'");
        }
    }

    /**
     * Parses a comma-separated list of finite floats ({@code 0.485,0.456,0.406}).
     *
     * @param option the option's name, for the message
     */
    public static float[] parseList(String option, String s) {
        if (s == null) {
            return null;
        }
        String[] p = s.split(",", -1);
        float[] v = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            try {
                v[i] = Float.parseFloat(p[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(option + " must be comma-separated numbers like 0.485,0.456,0.406,"
                        + " got '" + s + "'");
            }
        }
        return v;
    }

    /**
     * Checks that mean and std fit a model with {@code channels} input channels.
     *
     * @throws IllegalArgumentException naming the option when it has neither one value nor one per channel
     */
    public void requireChannels(int channels) {
        for (float[] v : new float[][] {mean, std}) {
            if (v != null && v.length != 1 && v.length != channels) {
                throw new IllegalArgumentException((v == mean ? "--mean" : "--std") + " has " + v.length
                        + " values but the model takes " + channels + " channel" + (channels == 1 ? "" : "s"));
            }
        }
    }

    /**
     * Applies the preprocessing in place to raw pixels of one image, planar NCHW order {@code [c][h][w]}, channels
     * already in {@link #channelOrder()}.
     */
    public void apply(float[] pixels, int offset, int channels, int planeSize) {
        float num = (float) scaleNumerator;
        float den = (float) scaleDenominator;
        for (int c = 0; c < channels; c++) {
            float m = mean == null ? 0f : mean[mean.length == 1 ? 0 : c];
            float s = std == null ? 1f : std[std.length == 1 ? 0 : c];
            int base = offset + c * planeSize;
            for (int i = 0; i < planeSize; i++) {
                // p * num / den: with num = 1 this is p / den, bit-identical to the readers' historic p / 255f.
                float x = num == 1f ? pixels[base + i] / den : pixels[base + i] * num / den;
                if (mean != null) {
                    x -= m;
                }
                if (std != null) {
                    x /= s;
                }
                pixels[base + i] = x;
            }
        }
    }

    /** A short description, e.g. {@code scale 1/255, mean [0.485, 0.456, 0.406], std [...], RGB}. */
    public String describe() {
        String scale = scaleDenominator == 1 ? fmt(scaleNumerator) : fmt(scaleNumerator) + "/" + fmt(scaleDenominator);
        return "scale " + scale + (mean == null ? "" : ", mean " + Arrays.toString(mean))
                + (std == null ? "" : ", std " + Arrays.toString(std)) + ", " + channelOrder;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : String.format(Locale.ROOT, "%s", d);
    }

    private static float[] check(String option, float[] v, boolean positive) {
        if (v == null) {
            return null;
        }
        if (v.length == 0) {
            throw new IllegalArgumentException(option + " must have at least one value");
        }
        for (float x : v) {
            if (!Float.isFinite(x) || (positive && !(x > 0))) {
                throw new IllegalArgumentException(option + " values must be finite" + (positive ? " and positive" : "")
                        + ", got " + Arrays.toString(v));
            }
        }
        return v.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Preprocessing p && p.scaleNumerator == scaleNumerator
                && p.scaleDenominator == scaleDenominator && Arrays.equals(p.mean, mean) && Arrays.equals(p.std, std)
                && p.channelOrder == channelOrder;
    }

    @Override
    public int hashCode() {
        return Double.hashCode(scaleNumerator) * 31 + Double.hashCode(scaleDenominator) * 17 + Arrays.hashCode(mean)
                + Arrays.hashCode(std) * 7 + channelOrder.hashCode();
    }

    @Override
    public String toString() {
        return describe();
    }
}
