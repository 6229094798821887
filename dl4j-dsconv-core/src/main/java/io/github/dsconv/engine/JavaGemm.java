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

    /** Per-thread int32 results for the float variant (reused: no garbage per call). */
    private static final ThreadLocal<int[][]> SCRATCH = ThreadLocal.withInitial(() -> new int[][] {new int[0]});

    /** The int32 products into a per-thread scratch, then converted to float (exact: far below 2^24). */
    @Override
    public void multiply(int gc, int pc, byte[] src, byte[] weights, float[] dst, boolean unsignedSrc) {
        int n = gc * pc * nOut;
        int[][] holder = SCRATCH.get();
        if (holder[0].length < n) {
            holder[0] = new int[n];
        }
        int[] acc = holder[0];
        multiply(gc, pc, src, weights, acc, unsignedSrc);
        for (int i = 0; i < n; i++) {
            dst[i] = acc[i];
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
