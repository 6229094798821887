package io.github.dsconv.engine;

/** Plain-Java int8 products with int32 accumulation: the fallback of {@link Backend#JAVA}. */
final class JavaGemm implements Int8BatchedGemm {

    private final int blockSize;
    private final int nOut;
    /** Weights {@code [g][nOut][B]}: each output channel's block is contiguous, for the dot products. */
    private final byte[] wt;

    /** @param w weights {@code [g][B][nOut]} row-major */
    JavaGemm(byte[] w, int g, int blockSize, int nOut) {
        this.blockSize = blockSize;
        this.nOut = nOut;
        this.wt = new byte[w.length];
        for (int gi = 0; gi < g; gi++) {
            int base = gi * blockSize * nOut;
            for (int c = 0; c < blockSize; c++) {
                for (int o = 0; o < nOut; o++) {
                    wt[base + o * blockSize + c] = w[base + c * nOut + o];
                }
            }
        }
    }

    @Override
    public void multiply(int g0, int gc, int pc, byte[] src, int[] dst) {
        int b = blockSize;
        for (int gi = 0; gi < gc; gi++) {
            int wBase = (g0 + gi) * nOut * b;
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                int sBase = row * b;
                int dBase = row * nOut;
                for (int o = 0; o < nOut; o++) {
                    int wRow = wBase + o * b;
                    int acc = 0;
                    for (int c = 0; c < b; c++) {
                        acc += src[sBase + c] * wt[wRow + c];
                    }
                    dst[dBase + o] = acc;
                }
            }
        }
    }

    @Override
    public Backend backend() {
        return Backend.JAVA;
    }

    @Override
    public long weightBytes() {
        return wt.length;
    }

    @Override
    public void close() {
        // Heap memory only.
    }
}
