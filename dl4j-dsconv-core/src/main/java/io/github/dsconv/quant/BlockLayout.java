package io.github.dsconv.quant;

/**
 * How input channels split into DSConv blocks: {@code nBlocks = ceil(nIn / blockSize)} consecutive runs of
 * {@code blockSize} channels, the last one possibly shorter (spec section 1).
 *
 * @param nIn       input channels
 * @param blockSize channels per block (the last block may be shorter)
 */
public record BlockLayout(int nIn, int blockSize) {

    public BlockLayout {
        if (nIn <= 0) {
            throw new IllegalArgumentException("nIn must be positive, got " + nIn);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be positive, got " + blockSize);
        }
    }

    /**
     * Number of blocks, {@code ceil(nIn / blockSize)}, computed without overflow: a block of at least {@code nIn}
     * channels (up to {@link Integer#MAX_VALUE}) is one block of all of them.
     */
    public int nBlocks() {
        return (nIn - 1) / blockSize + 1;
    }

    /** Block index of input channel {@code c}. */
    public int blockOf(int c) {
        return c / blockSize;
    }

    /** First channel of block {@code b}. */
    public int start(int b) {
        return (int) Math.min(nIn, (long) b * blockSize);
    }

    /** One past the last channel of block {@code b}. */
    public int end(int b) {
        return (int) Math.min(nIn, (b + 1L) * blockSize);
    }
}
