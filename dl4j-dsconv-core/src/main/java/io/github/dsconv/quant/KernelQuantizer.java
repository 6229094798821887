package io.github.dsconv.quant;

/**
 * Turns a float convolution kernel into a {@link QuantizedKernel}. Implementations: {@link VqkQuantizer}
 * (DSConv) and {@link RoundToNearestQuantizer} (the usual baselines).
 */
public interface KernelQuantizer {

    /**
     * Quantizes a kernel.
     *
     * @param w         kernel values, c order {@code [nOut, nIn, kH, kW]}; must be finite
     * @param shape     kernel shape
     * @param bits      weight bits
     * @param blockSize input channels per block (ignored by quantizers that are not blockwise)
     * @return the quantized kernel
     */
    QuantizedKernel quantize(float[] w, KernelShape shape, int bits, int blockSize);

    /**
     * Quantizes a kernel, weighting each input channel's reconstruction error by {@code channelWeights[c]}
     * (e.g. the layer input's mean square per channel, {@code io.github.dsconv.calibrate.ChannelEnergy}), so that the
     * fit favours the channels that carry the most signal. Quantizers that fit no scales by least squares (the
     * round-to-nearest baselines) ignore the weights; that is the default.
     *
     * @param channelWeights one non-negative finite weight per input channel, or null for the unweighted fit
     * @throws IllegalArgumentException if {@code channelWeights} has the wrong length or a negative or non-finite
     *                                  value
     */
    default QuantizedKernel quantize(float[] w, KernelShape shape, int bits, int blockSize, double[] channelWeights) {
        requireChannelWeights(channelWeights, shape);
        return quantize(w, shape, bits, blockSize);
    }

    /** Checks channel weights: null, or {@code nIn} non-negative finite values. */
    static void requireChannelWeights(double[] channelWeights, KernelShape shape) {
        if (channelWeights == null) {
            return;
        }
        if (channelWeights.length != shape.nIn()) {
            throw new IllegalArgumentException(channelWeights.length + " channel weights for " + shape.nIn()
                    + " input channels");
        }
        for (int c = 0; c < channelWeights.length; c++) {
            if (!(channelWeights[c] >= 0) || Double.isInfinite(channelWeights[c])) {
                throw new IllegalArgumentException("channel weight " + c + " is " + channelWeights[c]
                        + " (must be finite and >= 0)");
            }
        }
    }

    /** Short method name used in reports and JSON, e.g. {@code dsconv} or {@code rtn-per-channel}. */
    String method();

    /** Whether the kernels this quantizer makes carry a KDS shift {@code beta}. */
    default boolean fitsShift() {
        return false;
    }

    /** The integers the kernels of this quantizer hold at {@code bits}. Defaults to {@link IntegerRange#signed}. */
    default IntegerRange range(int bits) {
        return IntegerRange.signed(bits);
    }

    /** Whether {@code blockSize} means anything to this quantizer. */
    default boolean blockwise() {
        return true;
    }

    /** Throws a one-line error naming the first non-finite value, if any. */
    static void requireFinite(float[] w, KernelShape shape, String what) {
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                int sp = shape.spatial();
                int o = i / (shape.nIn() * sp);
                int c = (i / sp) % shape.nIn();
                throw new IllegalArgumentException(what + " has a non-finite weight (" + w[i] + ") at [" + o + ","
                        + c + "," + (i % sp) / shape.kW() + "," + (i % shape.kW()) + "]");
            }
        }
        if (w.length != shape.numel()) {
            throw new IllegalArgumentException(what + " has " + w.length + " weights, shape " + shape + " needs "
                    + shape.numel());
        }
    }

    /** Checks a weight bit width against the supported range [2, 8]. */
    static void requireBits(int bits) {
        if (bits < 2 || bits > 8) {
            throw new IllegalArgumentException("weight bits must be in [2, 8], got " + bits);
        }
    }
}
