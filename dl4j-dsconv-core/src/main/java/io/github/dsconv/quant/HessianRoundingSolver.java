package io.github.dsconv.quant;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.CholeskyDecomposition;
import org.apache.commons.math3.linear.NonPositiveDefiniteMatrixException;
import org.apache.commons.math3.linear.RealMatrix;

/**
 * The per-layer solver of Hessian-aware rounding: given one DSConv kernel and its layer's input Hessian, chooses
 * the VQK integers {@code q} that minimise the layer's output error on real inputs rather than the kernel's own L2
 * error. It works on plain arrays; the network-level calibration step that measures each layer's Hessian and runs
 * this solver on every layer is {@link io.github.dsconv.calibrate.HessianRounding}.
 *
 * <p>Objective (AdaRound, Nagel et al., ICML 2020, eq. 3-4): for a layer with im2col input patches {@code x} and
 * the second moment {@code H = E[x x^T]}, the expected squared output error of a quantized kernel {@code W'} is
 * {@code sum_o (w_o - w'_o)^T H (w_o - w'_o)}. AdaRound optimises a soft rounding by gradient descent; this class
 * minimises the same quadratic greedily and in closed form, as the Optimal Brain Quantizer / GPTQ do (Frantar and
 * Alistarh, NeurIPS 2022; Frantar et al., ICLR 2023): the kernel's columns (input channel and tap) are quantized
 * one at a time, and each rounding error is spread over the columns not yet quantized, in proportion to the
 * inverse Hessian, so that they compensate it. Neither paper is DSConv's; this is an addition of this project
 * (see docs/method.md, "Hessian-aware rounding").
 *
 * <p>DSConv's blocks are GPTQ's "groups": the columns are ordered {@code (ky, kx, c)}, so each block of {@code B}
 * input channels at one tap is a run of consecutive columns. When the sweep reaches a block, the block's scale is
 * fitted exactly as {@link VqkQuantizer} does (VQK closed form, optional KDS shift and clipping search), on the
 * block's weights <em>as updated by the compensation so far</em>, and rounded to the layer's storage precision;
 * then each of its columns is rounded to the nearest point of that block's grid {@code alpha q + beta} (clamped
 * to the bit range) and its error propagated. With a diagonal {@code H} nothing propagates, and each weight is
 * rounded to the nearest grid point of its block's VQK scale.
 *
 * <p>Defaults: dampening {@value #DEFAULT_DAMPING} times the mean diagonal of {@code H} added to the diagonal (GPTQ's
 * choice; it keeps the Cholesky factorisation stable when inputs are nearly collinear). A column whose input is
 * always zero ({@code H[j][j] = 0}) cannot affect the output: its weight is quantized as it stands, and its
 * diagonal set to 1 so that the factorisation exists (also GPTQ's choice).
 */
public final class HessianRoundingSolver {

    /** Fraction of the mean diagonal of {@code H} added to its diagonal. */
    public static final double DEFAULT_DAMPING = 0.01;

    private final boolean kdsBias;
    private final boolean clippingSearch;
    private final double damping;

    /**
     * @param kdsBias        fit a KDS shift {@code beta} per block as well as {@code alpha}
     * @param clippingSearch search the clipping ratio of each block's scale ({@link VqkQuantizer})
     * @param damping        fraction of the mean diagonal added to the diagonal of {@code H}, in {@code [0, 1]}
     * @throws IllegalArgumentException if {@code damping} is out of range
     */
    public HessianRoundingSolver(boolean kdsBias, boolean clippingSearch, double damping) {
        if (!(damping >= 0 && damping <= 1)) {
            throw new IllegalArgumentException("damping must be in [0, 1], got " + damping);
        }
        this.kdsBias = kdsBias;
        this.clippingSearch = clippingSearch;
        this.damping = damping;
    }

    /** Rounder with the {@link #DEFAULT_DAMPING default dampening}. */
    public HessianRoundingSolver(boolean kdsBias, boolean clippingSearch) {
        this(kdsBias, clippingSearch, DEFAULT_DAMPING);
    }

    /** Number of im2col columns of a kernel: {@code nIn * kH * kW}, the order of {@code H}. */
    public static int columns(KernelShape shape) {
        return Math.multiplyExact(shape.nIn(), shape.spatial());
    }

    /** The column of input channel {@code c} at tap {@code (ky, kx)}: {@code (ky * kW + kx) * nIn + c}. */
    public static int column(KernelShape shape, int c, int ky, int kx) {
        return (ky * shape.kW() + kx) * shape.nIn() + c;
    }

    /**
     * Quantizes a kernel against its input's second moment.
     *
     * @param w         kernel values, c order {@code [nOut, nIn, kH, kW]}; must be finite
     * @param shape     kernel shape
     * @param bits      weight bits, 2..8
     * @param blockSize input channels per block
     * @param hessian   {@code H = E[x x^T]}, row-major {@code [K][K]} with {@code K = nIn * kH * kW} in
     *                  {@link #column column order}; symmetric, positive semi-definite, finite
     * @param precision storage precision of the scales (the grid is rounded to it before rounding to the grid)
     * @return the quantized kernel, scales already at {@code precision}
     * @throws IllegalArgumentException on a bit width out of range, a non-finite weight, or a Hessian of the wrong
     *                                  size, with a non-finite value, a negative diagonal, or not positive definite
     *                                  even after dampening
     */
    public QuantizedKernel quantize(float[] w, KernelShape shape, int bits, int blockSize, double[] hessian,
                                    ScalePrecision precision) {
        KernelQuantizer.requireBits(bits);
        KernelQuantizer.requireFinite(w, shape, "kernel");
        int k = columns(shape);
        requireHessian(hessian, k);
        int nOut = shape.nOut();
        int nIn = shape.nIn();
        int sp = shape.spatial();
        BlockLayout layout = new BlockLayout(nIn, blockSize);
        int nb = layout.nBlocks();

        // Rows of W in column order, in double: the compensation updates them as the sweep goes.
        double[][] rows = columnRows(w, shape);
        double[][] u = upperCholeskyOfInverse(hessian, k);

        byte[] q = new byte[w.length];
        float[] alpha = new float[nOut * nb * sp];
        float[] beta = kdsBias ? new float[alpha.length] : null;
        int lo = -(1 << (bits - 1));
        int hi = (1 << (bits - 1)) - 1;
        int blockMax = Math.min(blockSize, nIn); // a block beyond nIn channels is all of them
        float[] blockW = new float[blockMax];
        byte[] qb = new byte[blockMax];
        double[] fit = new double[3];
        float[] ga = new float[nOut];
        float[] gb = new float[nOut];
        double[] err = new double[nOut];
        for (int s = 0; s < sp; s++) {
            for (int blk = 0; blk < nb; blk++) {
                int c0 = layout.start(blk);
                int len = layout.end(blk) - c0;
                int j0 = s * nIn + c0;
                for (int o = 0; o < nOut; o++) {
                    for (int i = 0; i < len; i++) {
                        blockW[i] = (float) rows[o][j0 + i];
                    }
                    fitBlock(blockW, len, bits, qb, fit);
                    float[] scales = {(float) fit[0], (float) fit[1]};
                    precision.roundInPlace(scales);
                    ga[o] = scales[0];
                    gb[o] = kdsBias ? scales[1] : 0f;
                    int ai = (o * nb + blk) * sp + s;
                    alpha[ai] = ga[o];
                    if (beta != null) {
                        beta[ai] = gb[o];
                    }
                }
                for (int j = j0; j < j0 + len; j++) {
                    int c = j - s * nIn;
                    double[] uj = u[j];
                    for (int o = 0; o < nOut; o++) {
                        double v = rows[o][j];
                        int qi = ga[o] == 0f ? 0
                                : (int) Math.max(lo, Math.min(hi, Math.rint((v - gb[o]) / ga[o])));
                        q[(o * nIn + c) * sp + s] = (byte) qi;
                        float effective = ga[o] * qi + gb[o]; // as the layer computes it, in float
                        err[o] = (v - effective) / uj[j];
                    }
                    propagate(rows, err, uj, j);
                }
            }
        }
        long stored = (long) alpha.length * (kdsBias ? 2 : 1);
        return new QuantizedKernel(shape, bits, blockSize, q, alpha, beta, stored);
    }

    /**
     * Hessian-aware rounding on a fixed grid: the same column sweep with error compensation as
     * {@link #quantize}, but every weight is rounded to the grid of {@code grid}'s scales and shifts, which stay as
     * they are (GPTQ with per-channel scales fixed before the sweep, as GPTQ does without groups). This is the
     * rounding the per-channel baseline gets, so that it competes with the same optimisation as DSConv.
     *
     * @param w       kernel values, c order {@code [nOut, nIn, kH, kW]}; must be finite
     * @param grid    scales and shifts per weight (its integers are not used)
     * @param range   the integers allowed
     * @param hessian {@code H = E[x x^T]} as for {@link #quantize}
     * @return a kernel with {@code grid}'s scales and the compensated integers
     */
    public QuantizedKernel quantizeOnGrid(float[] w, QuantizedKernel grid, IntegerRange range, double[] hessian) {
        KernelShape shape = grid.shape();
        KernelQuantizer.requireFinite(w, shape, "kernel");
        int k = columns(shape);
        requireHessian(hessian, k);
        int nOut = shape.nOut();
        int nIn = shape.nIn();
        int sp = shape.spatial();
        BlockLayout layout = grid.layout();
        int nb = layout.nBlocks();
        double[][] rows = columnRows(w, shape);
        double[][] u = upperCholeskyOfInverse(hessian, k);
        byte[] q = new byte[w.length];
        double[] err = new double[nOut];
        for (int j = 0; j < k; j++) {
            int s = j / nIn;
            int c = j % nIn;
            int blk = layout.blockOf(c);
            double[] uj = u[j];
            for (int o = 0; o < nOut; o++) {
                int ai = (o * nb + blk) * sp + s;
                float ga = grid.alpha()[ai];
                float gb = grid.beta() == null ? 0f : grid.beta()[ai];
                double v = rows[o][j];
                int qi = ga == 0f ? 0 : (int) range.clamp(Math.rint((v - gb) / ga));
                q[(o * nIn + c) * sp + s] = (byte) qi;
                err[o] = (v - (ga * qi + gb)) / uj[j];
            }
            propagate(rows, err, uj, j);
        }
        return new QuantizedKernel(shape, grid.bits(), grid.blockSize(), q, grid.alpha().clone(),
                grid.beta() == null ? null : grid.beta().clone(), grid.storedScales());
    }

    /** The rows of a c-order kernel {@code [nOut, nIn, kH, kW]} in {@link #column} order, in double. */
    private static double[][] columnRows(float[] w, KernelShape shape) {
        int nIn = shape.nIn();
        int sp = shape.spatial();
        double[][] rows = new double[shape.nOut()][columns(shape)];
        for (int o = 0; o < rows.length; o++) {
            for (int c = 0; c < nIn; c++) {
                for (int s = 0; s < sp; s++) {
                    rows[o][s * nIn + c] = w[(o * nIn + c) * sp + s];
                }
            }
        }
        return rows;
    }

    /** Spreads each row's scaled rounding error of column {@code j} over the columns after it (OBQ's update). */
    private static void propagate(double[][] rows, double[] err, double[] uj, int j) {
        int k = uj.length;
        for (int o = 0; o < rows.length; o++) {
            double e = err[o];
            if (e == 0) {
                continue;
            }
            double[] r = rows[o];
            for (int t = j + 1; t < k; t++) {
                r[t] -= e * uj[t];
            }
        }
    }

    /** The VQK fit of one block (as {@link VqkQuantizer}): alpha, beta and error into {@code fit}. */
    private void fitBlock(float[] wb, int len, int bits, byte[] qb, double[] fit) {
        float a = VqkQuantizer.signedMaxAbs(wb, len);
        if (a == 0f) {
            fit[0] = 0;
            fit[1] = 0;
            fit[2] = 0;
            return;
        }
        double bestErr = Double.POSITIVE_INFINITY;
        double bestAlpha = 0;
        double bestBeta = 0;
        int steps = clippingSearch ? VqkQuantizer.CLIP_GRID : 1;
        for (int i = 0; i < steps; i++) {
            float r = clippingSearch ? (float) (1.0 - 0.5 * i / (VqkQuantizer.CLIP_GRID - 1)) : 1f;
            VqkQuantizer.quantizeBlock(wb, len, bits, r * a, qb);
            VqkQuantizer.fitScales(wb, qb, len, kdsBias, fit);
            if (fit[2] < bestErr) {
                bestErr = fit[2];
                bestAlpha = fit[0];
                bestBeta = fit[1];
            }
        }
        fit[0] = bestAlpha;
        fit[1] = bestBeta;
        fit[2] = bestErr;
    }

    /**
     * {@code U} upper triangular with {@code U^T U = (H + lambda I)^-1} (GPTQ's form of the inverse Hessian: row
     * {@code j} right of the diagonal, divided by {@code U[j][j]}, is how column {@code j}'s error spreads).
     */
    private double[][] upperCholeskyOfInverse(double[] hessian, int k) {
        double[][] h = new double[k][k];
        double meanDiag = 0;
        for (int i = 0; i < k; i++) {
            System.arraycopy(hessian, i * k, h[i], 0, k);
            meanDiag += hessian[i * k + i];
        }
        meanDiag /= k;
        if (meanDiag == 0) {
            meanDiag = 1; // the layer never sees a non-zero input: any grid point is as good as another
        }
        for (int i = 0; i < k; i++) {
            if (h[i][i] == 0) {
                h[i][i] = 1; // a dead input: no correlation with anything, so this only makes H invertible
            }
            h[i][i] += damping * meanDiag;
        }
        try {
            RealMatrix inverse = new CholeskyDecomposition(new Array2DRowRealMatrix(h, false), 1e-9, 1e-14)
                    .getSolver().getInverse();
            // Symmetrise: the solver's inverse is symmetric only up to rounding, and the factorisation checks it.
            double[][] inv = inverse.getData();
            for (int i = 0; i < k; i++) {
                for (int j = i + 1; j < k; j++) {
                    double m = 0.5 * (inv[i][j] + inv[j][i]);
                    inv[i][j] = m;
                    inv[j][i] = m;
                }
            }
            return new CholeskyDecomposition(new Array2DRowRealMatrix(inv, false), 1e-9, 1e-300).getLT().getData();
        } catch (NonPositiveDefiniteMatrixException e) {
            throw new IllegalArgumentException("Hessian is not positive definite after dampening " + damping
                    + " (raise the dampening)", e);
        }
    }

    private static void requireHessian(double[] h, int k) {
        if (h == null || h.length != (long) k * k) {
            throw new IllegalArgumentException("Hessian must have " + k + "x" + k + " values, got "
                    + (h == null ? "null" : h.length));
        }
        for (int i = 0; i < h.length; i++) {
            if (!Double.isFinite(h[i])) {
                throw new IllegalArgumentException("Hessian has a non-finite value (" + h[i] + ") at [" + i / k
                        + "," + i % k + "]");
            }
        }
        for (int i = 0; i < k; i++) {
            if (h[i * k + i] < 0) {
                throw new IllegalArgumentException("Hessian has a negative diagonal value (" + h[i * k + i]
                        + ") at [" + i + "," + i + "]");
            }
        }
    }

    /**
     * The expected squared output error {@code sum_o (w_o - w'_o)^T H (w_o - w'_o)} of kernel {@code wq} against
     * {@code w} (both c order {@code [nOut, nIn, kH, kW]}), {@code H} in {@link #column column order}: the quantity
     * this class minimises, for reports and tests.
     */
    public static double outputError(float[] w, float[] wq, KernelShape shape, double[] hessian) {
        int k = columns(shape);
        requireHessian(hessian, k);
        int nIn = shape.nIn();
        int sp = shape.spatial();
        double total = 0;
        double[] d = new double[k];
        for (int o = 0; o < shape.nOut(); o++) {
            for (int c = 0; c < nIn; c++) {
                for (int s = 0; s < sp; s++) {
                    int i = (o * nIn + c) * sp + s;
                    d[s * nIn + c] = (double) w[i] - wq[i];
                }
            }
            for (int i = 0; i < k; i++) {
                if (d[i] == 0) {
                    continue;
                }
                double row = 0;
                for (int j = 0; j < k; j++) {
                    row += hessian[i * k + j] * d[j];
                }
                total += d[i] * row;
            }
        }
        return total;
    }
}
