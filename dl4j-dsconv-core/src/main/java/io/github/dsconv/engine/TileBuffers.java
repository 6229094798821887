package io.github.dsconv.engine;

/** Reusable per-thread tile buffers (shared by all kernels: a thread runs one tile at a time). */
final class TileBuffers {

    private static final ThreadLocal<TileBuffers> BUFFERS = ThreadLocal.withInitial(TileBuffers::new);

    byte[] src = new byte[0];
    byte[] wei = new byte[0];
    float[] alpha = new float[0];
    float[] beta = new float[0];
    float[] sc = new float[0];
    int[] msum = new int[0];
    int[] acc = new int[0];
    float[] accf = new float[0];
    /** Float epilogue: this batch's alpha and beta one array per block, and one output row and one sum row. */
    float[][] alphaG = new float[0][];
    float[][] betaG = new float[0][];
    float[] yRow = new float[0];
    float[] loRow = new float[0];
    float[] accRow = new float[0];
    /** The native route's double sums of one tile, {@code [pc][nOut]}. */
    double[] yTile = new double[0];
    int[] pImg = new int[0];
    int[] pY = new int[0];
    int[] pX = new int[0];

    /** The calling thread's buffers. */
    static TileBuffers get() {
        return BUFFERS.get();
    }

    /**
     * Grows the buffers for a tile of {@code pc} output positions in batches of up to {@code gcMax} block products
     * of {@code rowBytes} mantissa bytes each; the int32 sums ({@code intAcc}), the float sums ({@code floatAcc})
     * and the unpacked weights ({@code weights}) only for a route that uses them.
     */
    void reserve(int gcMax, int pc, int rowBytes, int nOut, boolean intAcc, boolean floatAcc, boolean weights) {
        int rows = gcMax * pc;
        if (src.length < rows * rowBytes) {
            src = new byte[rows * rowBytes];
        }
        if (sc.length < rows) {
            sc = new float[rows];
            msum = new int[rows];
        }
        if (intAcc && acc.length < rows * nOut) {
            acc = new int[rows * nOut];
        }
        if (floatAcc && accf.length < rows * nOut) {
            accf = new float[rows * nOut];
        }
        if (weights && wei.length < gcMax * rowBytes * nOut) {
            wei = new byte[gcMax * rowBytes * nOut];
        }
        if (alpha.length < gcMax * nOut) {
            alpha = new float[gcMax * nOut];
            beta = new float[gcMax * nOut];
        }
        if (pImg.length < pc) {
            pImg = new int[pc];
            pY = new int[pc];
            pX = new int[pc];
        }
    }

    /** Grows the rows of {@code nOut} floats ({@link #yRow}, {@link #loRow}, {@link #accRow}). */
    void reserveRows(int nOut) {
        if (yRow.length < nOut) {
            yRow = new float[nOut];
            loRow = new float[nOut];
            accRow = new float[nOut];
        }
    }
}
