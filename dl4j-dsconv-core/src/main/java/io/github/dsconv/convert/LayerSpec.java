package io.github.dsconv.convert;

import io.github.dsconv.quant.BlockFloatingPoint;

/**
 * Quantization settings of one layer.
 *
 * @param weightBits bits of the integer kernel, {@value #MIN_WEIGHT_BITS} to {@value #MAX_WEIGHT_BITS}
 * @param actBits    block floating point bits of the layer's input (sign included), 0 = float input, else
 *                   {@value BlockFloatingPoint#MIN_BITS} to {@value BlockFloatingPoint#MAX_BITS}
 * @param blockSize  input channels per block, 1 to {@value #MAX_BLOCK_SIZE}. A block at least as large as a
 *                   layer's input channel count is one block of all its channels (B=1024 on a 16-channel layer is
 *                   B=16); the maximum only keeps typos and overflowing values out.
 */
public record LayerSpec(int weightBits, int actBits, int blockSize) {

    /** The fewest weight bits. */
    public static final int MIN_WEIGHT_BITS = 2;
    /** The most weight bits. */
    public static final int MAX_WEIGHT_BITS = 8;
    /**
     * The largest block size accepted, 2^16 channels: more than any convolution has, so every larger value would
     * mean the same as this one (one block per kernel tap and output channel).
     */
    public static final int MAX_BLOCK_SIZE = 65536;

    /** W4A8 with blocks of 32 channels: the paper's headline setting. */
    public static final LayerSpec DEFAULT = new LayerSpec(4, 8, 32);

    public LayerSpec {
        requireWeightBits(weightBits);
        requireActBits(actBits);
        requireBlockSize(blockSize);
    }

    /** Throws unless {@code bits} is a valid weight bit width ("weight bits must be in [2, 8], got ..."). */
    public static void requireWeightBits(int bits) {
        if (bits < MIN_WEIGHT_BITS || bits > MAX_WEIGHT_BITS) {
            throw new IllegalArgumentException("weight bits must be in [" + MIN_WEIGHT_BITS + ", " + MAX_WEIGHT_BITS
                    + "], got " + bits);
        }
    }

    /** Throws unless {@code bits} is 0 (float input) or a block floating point width. */
    public static void requireActBits(int bits) {
        if (bits != 0 && (bits < BlockFloatingPoint.MIN_BITS || bits > BlockFloatingPoint.MAX_BITS)) {
            throw new IllegalArgumentException("activation bits must be 0 (float input) or in ["
                    + BlockFloatingPoint.MIN_BITS + ", " + BlockFloatingPoint.MAX_BITS + "], got " + bits);
        }
    }

    /** Throws unless {@code block} is in [1, {@value #MAX_BLOCK_SIZE}]. */
    public static void requireBlockSize(int block) {
        if (block < 1 || block > MAX_BLOCK_SIZE) {
            throw new IllegalArgumentException("block size must be in [1, " + MAX_BLOCK_SIZE + "], got " + block);
        }
    }
}
