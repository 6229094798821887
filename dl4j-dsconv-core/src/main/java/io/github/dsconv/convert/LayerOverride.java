package io.github.dsconv.convert;

/**
 * A plan's entry for one named layer: skip it, or override some of the default settings ({@code null} keeps
 * the default).
 *
 * @param skip       leave this convolution in FP32
 * @param weightBits weight bits, or null
 * @param actBits    activation bits, or null
 * @param blockSize  block size, or null
 */
public record LayerOverride(boolean skip, Integer weightBits, Integer actBits, Integer blockSize) {

    /** An override that skips the layer. */
    public static LayerOverride skipped() {
        return new LayerOverride(true, null, null, null);
    }

    /** The settings for this layer given the plan's defaults. */
    public LayerSpec apply(LayerSpec defaults) {
        return new LayerSpec(weightBits == null ? defaults.weightBits() : weightBits,
                actBits == null ? defaults.actBits() : actBits,
                blockSize == null ? defaults.blockSize() : blockSize);
    }
}
