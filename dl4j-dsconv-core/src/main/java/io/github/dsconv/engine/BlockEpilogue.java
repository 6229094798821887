package io.github.dsconv.engine;

/**
 * The sum over a tile's block products: each product's int32 sum scaled by its block scale {@code 2^(e+1-m)} and
 * {@code alpha}, plus the KDS bias {@code beta} times the block's mantissa sum, added into the output positions'
 * sums in double ({@link Accumulation#DOUBLE}), in float ({@link Accumulation#FLOAT}) or in float pairs
 * ({@link Accumulation#COMPENSATED}); and the CDS window sums of the input.
 */
final class BlockEpilogue {

    private final int nOut;
    /** Most block products a batch holds (sizes the float epilogue's scratch arrays). */
    private final int gcMax;

    BlockEpilogue(int nOut, int gcMax) {
        this.nOut = nOut;
        this.gcMax = gcMax;
    }

    /**
     * {@code xsum[p] += 2^(e+1-m) * sum(mant)} over the batch's blocks (the CDS window sums), as {@link #addDouble}.
     */
    static void addWindowSums(int gc, int p0, int pc, float[] sc, int[] msum, double[] xsum) {
        for (int gi = 0; gi < gc; gi++) {
            for (int pi = 0; pi < pc; pi++) {
                float s = sc[gi * pc + pi];
                if (s != 0f) {
                    xsum[p0 + pi] += (double) s * msum[gi * pc + pi];
                }
            }
        }
    }

    /**
     * Double sums: {@code y[p][o] += 2^(e+1-m) * (alpha * acc + beta * sum(mant))}, with this batch's decoded
     * {@code alpha} and {@code beta} ({@code [gc][nOut]}); the scale is a power of two, so every term is exact in
     * double.
     */
    void addDouble(int gc, int p0, int pc, float[] sc, int[] msum, int[] acc, float[] alphas, float[] betas,
                   double[] y, double[] xsum) {
        for (int gi = 0; gi < gc; gi++) {
            int aBase = gi * nOut;
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                float s = sc[row];
                if (s == 0f) {
                    continue; // an all-zero or padding block contributes nothing
                }
                int accBase = row * nOut;
                int yBase = (p0 + pi) * nOut;
                for (int o = 0; o < nOut; o++) {
                    // alpha * s is exact (s is a power of two) and so is the double product with acc.
                    y[yBase + o] += (double) (alphas[aBase + o] * s) * acc[accBase + o];
                }
                if (betas != null) {
                    double xs = (double) s * msum[row];
                    for (int o = 0; o < nOut; o++) {
                        y[yBase + o] += betas[aBase + o] * xs;
                    }
                }
                if (xsum != null) {
                    xsum[p0 + pi] += (double) s * msum[row];
                }
            }
        }
    }

    /**
     * Float sums: as {@link #addDouble}, each term one fused multiply-add {@code y = fma(alpha * s, acc, y)} (one
     * rounding: {@code alpha * s} is exact and the GEMM's float {@code acc} is an exact integer). Per output position
     * its row of sums is copied into a scratch row, every block's row of {@code acc} too, and the block's alpha is
     * its own array, so the inner loop indexes all its arrays from 0: the JDK 17 JIT vectorises a loop only when
     * every array index has the same loop-invariant offset (measured: 3-4x faster than indexing the tile arrays at
     * their own offsets, which it leaves scalar).
     */
    void addFloat(TileBuffers b, int gc, int p0, int pc, int[] msum, boolean kdsBias, float[] yf, float[] ylo,
                  double[] xsum) {
        int inner = b.alphaG.length == 0 ? 0 : b.alphaG[0].length;
        if (b.alphaG.length < gcMax || inner < nOut) {
            b.alphaG = new float[Math.max(gcMax, b.alphaG.length)][Math.max(nOut, inner)];
            b.betaG = new float[b.alphaG.length][b.alphaG[0].length];
        }
        b.reserveRows(nOut);
        for (int gi = 0; gi < gc; gi++) {
            System.arraycopy(b.alpha, gi * nOut, b.alphaG[gi], 0, nOut);
            if (kdsBias) {
                System.arraycopy(b.beta, gi * nOut, b.betaG[gi], 0, nOut);
            }
        }
        float[] yRow = b.yRow;
        float[] loRow = b.loRow;
        float[] accRow = b.accRow;
        for (int pi = 0; pi < pc; pi++) {
            int yBase = (p0 + pi) * nOut;
            System.arraycopy(yf, yBase, yRow, 0, nOut);
            if (ylo != null) {
                System.arraycopy(ylo, yBase, loRow, 0, nOut);
            }
            for (int gi = 0; gi < gc; gi++) {
                int row = gi * pc + pi;
                float s = b.sc[row];
                if (s == 0f) {
                    continue; // an all-zero or padding block contributes nothing
                }
                System.arraycopy(b.accf, row * nOut, accRow, 0, nOut);
                if (ylo != null) {
                    addTwoSum(yRow, loRow, b.alphaG[gi], s, accRow, nOut);
                    if (kdsBias) {
                        addTwoSum(yRow, loRow, b.betaG[gi], s * msum[row], nOut);
                    }
                } else {
                    addScaled(yRow, b.alphaG[gi], s, accRow, nOut);
                    if (kdsBias) {
                        addScaled(yRow, b.betaG[gi], s * msum[row], nOut); // s * msum: |msum| < 2^15, exact
                    }
                }
                if (xsum != null) {
                    xsum[p0 + pi] += (double) s * msum[row];
                }
            }
            System.arraycopy(yRow, 0, yf, yBase, nOut);
            if (ylo != null) {
                System.arraycopy(loRow, 0, ylo, yBase, nOut);
            }
        }
    }

    /**
     * {@code (hi, lo) += alpha[o] * s * acc[o]} in float pairs: the product's rounding error by a fused
     * multiply-add, the addition's by Knuth's two-sum (both exact), their sum added into {@code lo}. Every operation
     * is float and every array indexed from 0, so the JIT vectorises it; Java never reassociates float arithmetic.
     */
    private static void addTwoSum(float[] hi, float[] lo, float[] alpha, float s, float[] acc, int n) {
        for (int o = 0; o < n; o++) {
            float a = alpha[o] * s; // exact: s is a power of two
            float p = a * acc[o];
            float pe = Math.fma(a, acc[o], -p);
            float h = hi[o];
            float t = h + p;
            float bp = t - h;
            float e = (h - (t - bp)) + (p - bp);
            hi[o] = t;
            lo[o] += e + pe;
        }
    }

    /** {@code (hi, lo) += beta[o] * xs} in float pairs, as above. */
    private static void addTwoSum(float[] hi, float[] lo, float[] beta, float xs, int n) {
        for (int o = 0; o < n; o++) {
            float p = beta[o] * xs;
            float pe = Math.fma(beta[o], xs, -p);
            float h = hi[o];
            float t = h + p;
            float bp = t - h;
            float e = (h - (t - bp)) + (p - bp);
            hi[o] = t;
            lo[o] += e + pe;
        }
    }

    /** {@code y[o] = fma(alpha[o] * s, acc[o], y[o])}, all indexed from 0 (a loop C2 vectorises). */
    private static void addScaled(float[] y, float[] alpha, float s, float[] acc, int n) {
        for (int o = 0; o < n; o++) {
            y[o] = Math.fma(alpha[o] * s, acc[o], y[o]);
        }
    }

    /** {@code y[o] = fma(beta[o], xs, y[o])}, indexed from 0. */
    private static void addScaled(float[] y, float[] beta, float xs, int n) {
        for (int o = 0; o < n; o++) {
            y[o] = Math.fma(beta[o], xs, y[o]);
        }
    }
}
