package io.github.dsconv.convert;

/**
 * A plan's entry for one named layer: skip it, or override some of the default settings ({@code null} keeps
 * the default). A skipped layer has no settings: they would have no effect.
 *
 * @param skip       leave this convolution in FP32
 * @param weightBits weight bits ({@link LayerSpec#requireWeightBits range}), or null
 * @param actBits    activation bits ({@link LayerSpec#requireActBits range}), or null
 * @param blockSize  block size ({@link LayerSpec#requireBlockSize range}), or null
 * @throws IllegalArgumentException when a value is out of range, or {@code skip} comes with settings
 */
public record LayerOverride(boolean skip, Integer weightBits, Integer actBits, Integer blockSize) {

    public LayerOverride {
        if (skip && (weightBits != null || actBits != null || blockSize != null)) {
            throw new IllegalArgumentException("a skipped layer has no settings, got weightBits " + weightBits
                    + ", actBits " + actBits + ", blockSize " + blockSize);
        }
        if (weightBits != null) {
            LayerSpec.requireWeightBits(weightBits);
        }
        if (actBits != null) {
            LayerSpec.requireActBits(actBits);
        }
        if (blockSize != null) {
            LayerSpec.requireBlockSize(blockSize);
        }
    }

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
