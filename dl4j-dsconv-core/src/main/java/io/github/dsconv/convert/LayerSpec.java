package io.github.dsconv.convert;

import io.github.dsconv.quant.BlockFloatingPoint;
import io.github.dsconv.quant.KernelQuantizer;

/**
 * Quantization settings of one layer.
 *
 * @param weightBits bits of the integer kernel, 2 to 8
 * @param actBits    block floating point bits of the layer's input (sign included), 0 = float input
 * @param blockSize  input channels per block, positive
 */
public record LayerSpec(int weightBits, int actBits, int blockSize) {

    /** W4A8 with blocks of 32 channels: the paper's headline setting. */
    public static final LayerSpec DEFAULT = new LayerSpec(4, 8, 32);

    public LayerSpec {
        KernelQuantizer.requireBits(weightBits);
        if (actBits != 0) {
            BlockFloatingPoint.mantissaBits(actBits);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        }
    }
}
