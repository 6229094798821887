package io.github.dsconv.engine;

/** Plain-Java int8 products with int32 accumulation: the fallback of {@link Backend#JAVA}. */
final class JavaGemm implements Int8BatchedGemm {

    private final int blockSize;
    private final int nOut;

    JavaGemm(int blockSize, int nOut) {
        this.blockSize = blockSize;
        this.nOut = nOut;
    }

    /**
     * Row by row, each source value times a contiguous weight row added into the contiguous output row (a loop
     * the JIT vectorizes); int32 sums are exact, so the order does not change the result.
     */
    @Override
    public void multiply(int gc, int pc, byte[] src, byte[] weights, int[] dst, boolean unsignedSrc) {
        int b = blockSize;
        for (int gi = 0; gi < gc; gi++) {
            int wBase = gi * b * nOut;
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                int sBase = row * b;
                int dBase = row * nOut;
                java.util.Arrays.fill(dst, dBase, dBase + nOut, 0);
                for (int c = 0; c < b; c++) {
                    int s = src[sBase + c];
                    if (s == 0) {
                        continue;
                    }
                    int wRow = wBase + c * nOut;
                    for (int o = 0; o < nOut; o++) {
                        dst[dBase + o] += s * weights[wRow + o];
                    }
                }
            }
        }
    }

    @Override
    public int weightsColumns() {
        return nOut;
    }

    @Override
    public Backend backend() {
        return Backend.JAVA;
    }

    @Override
    public void close() {
        // Heap memory only.
    }
}
