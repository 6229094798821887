package io.github.dsconv.quant;

import java.util.stream.IntStream;

/**
 * AdaRound for one convolution kernel on a fixed grid: learns whether each weight rounds down or up, instead of
 * rounding to the nearest grid point (Nagel, Amjad, van Baalen, Louizos and Blankevoort, "Up or Down? Adaptive
 * Rounding for Post-Training Quantization", ICML 2020).
 *
 * <p>The grid is a given {@link QuantizedKernel}'s: every weight {@code w} has a scale {@code a} and shift
 * {@code b} (DSConv: its block's KDS {@code alpha} and {@code beta}; the per-channel baseline: its channel's scale,
 * {@code b = 0}) and integers clamped to an {@link IntegerRange}. AdaRound keeps the grid and learns {@code V}:
 * <pre>
 *   q~ = clamp(floor((w - b) / a) + h(V), lo, hi),   w~ = a q~ + b                       (paper eq. 22)
 *   h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1),   zeta = 1.1, gamma = -0.1      (eq. 23)
 *   minimise  E ||W x - W~ x~||^2 / nOut  +  lambda sum (1 - |2 h(V) - 1|^beta)           (eq. 21, 24)
 * </pre>
 * with {@code beta} annealed linearly from 20 to 2 after a warm-up (the first 20% of iterations have no
 * regulariser), Adam on {@code V}, {@code V} initialised so that {@code h(V)} equals the fractional part (the
 * soft kernel starts at the float kernel), and the final hard rounding {@code h >= 1/2}.
 *
 * <p>Where this differs from the paper (docs/method.md, "AdaRound"):
 * <ul>
 *   <li>The reconstruction term is the exact expectation over every image and output position, written with the
 *   input's second moments: {@code E||W x - W~ x~||^2 = sum_o w_o^T E[x x^T] w_o - 2 w_o^T E[x x~^T] w~_o +
 *   w~_o^T E[x~ x~^T] w~_o} (im2col patches {@code x}). The paper samples mini-batches of the same loss. Here each
 *   iteration is a full-batch gradient, which is deterministic (no seed needed) and costs {@code nOut K^2}
 *   multiply-adds ({@code K = nIn kH kW}) however many images were seen.</li>
 *   <li>The loss is on the layer's linear output (before BN and ReLU), the paper's eq. 21; its eq. 25 (the
 *   activation inside the norm) cannot be written with second moments.</li>
 *   <li>{@code x~ = x} (the FP32 network's inputs, {@code E[x x~^T] = E[x~ x~^T] = H}) is the default; the
 *   asymmetric variant (section 4.3: {@code x~} the quantized network's inputs) takes the cross moment too.</li>
 * </ul>
 *
 * <p>Defaults ({@link Options#defaults()}): 2,000 iterations (the paper: 10,000 on a GPU; on these CPUs 2,000
 * full-batch steps reach the same objective within a few percent, docs/results.md), {@code lambda = 0.01}, Adam
 * with learning rate {@code 0.01} (the paper's 0.001 is for 10,000 steps), warm-up 0.2.
 */
public final class AdaRoundSolver {

    /** Stretch of the rectified sigmoid. */
    public static final double ZETA = 1.1;
    /** Shift of the rectified sigmoid. */
    public static final double GAMMA = -0.1;

    private static final double ADAM_BETA1 = 0.9;
    private static final double ADAM_BETA2 = 0.999;
    private static final double ADAM_EPS = 1e-8;

    /**
     * The optimisation's settings.
     *
     * @param iterations     Adam steps, {@code >= 1}; default 2000
     * @param lambda         weight of the rounding regulariser, {@code >= 0}; default 0.01
     * @param betaStart      regulariser exponent after the warm-up, default 20
     * @param betaEnd        regulariser exponent at the end, default 2
     * @param warmup         fraction of iterations without the regulariser, in {@code [0, 1)}; default 0.2
     * @param learningRate   Adam's step size, {@code > 0}; default 0.01
     */
    public record Options(int iterations, double lambda, double betaStart, double betaEnd, double warmup,
                          double learningRate) {

        /** Default iterations. */
        public static final int DEFAULT_ITERATIONS = 2000;

        public Options {
            if (iterations < 1) {
                throw new IllegalArgumentException("AdaRound iterations must be >= 1, got " + iterations);
            }
            if (!(lambda >= 0) || !Double.isFinite(lambda)) {
                throw new IllegalArgumentException("lambda must be finite and >= 0, got " + lambda);
            }
            if (!(betaStart >= betaEnd) || !(betaEnd > 0) || !Double.isFinite(betaStart)) {
                throw new IllegalArgumentException("beta must anneal from a finite start down to an end > 0, got "
                        + betaStart + " -> " + betaEnd);
            }
            if (!(warmup >= 0 && warmup < 1)) {
                throw new IllegalArgumentException("warmup must be in [0, 1), got " + warmup);
            }
            if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
                throw new IllegalArgumentException("learning rate must be finite and > 0, got " + learningRate);
            }
        }

        /** The defaults above. */
        public static Options defaults() {
            return new Options(DEFAULT_ITERATIONS, 0.01, 20, 2, 0.2, 0.01);
        }

        /** These options with another iteration count. */
        public Options withIterations(int n) {
            return new Options(n, lambda, betaStart, betaEnd, warmup, learningRate);
        }

        /**
         * The regulariser's exponent at iteration {@code t} (0-based), or {@code NaN} during the warm-up, when the
         * regulariser is off: {@code betaEnd + (betaStart - betaEnd) (1 - (t - w) / (T - w))}, {@code w} the
         * warm-up iterations.
         */
        public double beta(int t) {
            double w = warmup * iterations;
            if (t < w) {
                return Double.NaN;
            }
            double rel = (t - w) / Math.max(1e-12, iterations - w);
            return betaEnd + (betaStart - betaEnd) * Math.max(0, 1 - rel);
        }
    }

    /**
     * The outcome of one kernel.
     *
     * @param kernel           the kernel with AdaRound's integers (the grid's scales unchanged)
     * @param nearestError     {@code E||W x - W~ x~||^2} (summed over output channels) of round-to-nearest on the grid
     * @param adaRoundError    the same for AdaRound's integers
     * @param flipped          weights whose integer differs from round-to-nearest's
     * @param undecided        weights whose final {@code h} was strictly between 0.05 and 0.95 (the regulariser did
     *                         not settle them)
     */
    public record Result(QuantizedKernel kernel, double nearestError, double adaRoundError, long flipped,
                         long undecided) {
    }

    private final Options options;

    /** A solver with these options. */
    public AdaRoundSolver(Options options) {
        this.options = java.util.Objects.requireNonNull(options, "options");
    }

    /** The rectified sigmoid {@code h(V)}. */
    public static double h(double v) {
        return Math.max(0, Math.min(1, sigmoid(v) * (ZETA - GAMMA) + GAMMA));
    }

    /** {@code dh/dV}: zero where {@code h} is clipped. */
    public static double dh(double v) {
        double s = sigmoid(v);
        double raw = s * (ZETA - GAMMA) + GAMMA;
        return raw <= 0 || raw >= 1 ? 0 : (ZETA - GAMMA) * s * (1 - s);
    }

    /** The regulariser of one weight, {@code 1 - |2h - 1|^beta}. */
    public static double regularizer(double h, double beta) {
        return 1 - Math.pow(Math.abs(2 * h - 1), beta);
    }

    /** {@code d/dh} of {@link #regularizer}. */
    public static double dRegularizer(double h, double beta) {
        double u = 2 * h - 1;
        return u == 0 ? 0 : -2 * beta * Math.pow(Math.abs(u), beta - 1) * Math.signum(u);
    }

    private static double sigmoid(double v) {
        return 1 / (1 + Math.exp(-v));
    }

    /** {@code V} with {@code h(V) = rest}, for a fractional part in {@code [0, 1)}. */
    static double initialV(double rest) {
        double p = (rest - GAMMA) / (ZETA - GAMMA);
        return Math.log(p / (1 - p));
    }

    /**
     * AdaRound on the FP32 network's inputs: {@code x~ = x}, {@code H = E[x x^T]}.
     *
     * @param w       float kernel, c order {@code [nOut, nIn, kH, kW]}
     * @param grid    the grid: scales and shifts of this kernel (its integers are not used)
     * @param range   the integers allowed
     * @param hessian {@code E[x x^T]}, {@code [K][K]} row-major in {@link HessianRoundingSolver#column} order
     */
    public Result round(float[] w, QuantizedKernel grid, IntegerRange range, double[] hessian) {
        return round(w, grid, range, hessian, hessian);
    }

    /**
     * AdaRound on the quantized network's inputs {@code x~} (the paper's asymmetric reconstruction).
     *
     * @param inputMoment {@code E[x~ x~^T]}
     * @param crossMoment {@code E[x x~^T]} (row: FP32 input column, column: quantized input column)
     * @see #round(float[], QuantizedKernel, IntegerRange, double[])
     */
    public Result round(float[] w, QuantizedKernel grid, IntegerRange range, double[] inputMoment,
                        double[] crossMoment) {
        KernelShape shape = grid.shape();
        KernelQuantizer.requireFinite(w, shape, "kernel");
        int k = HessianRoundingSolver.columns(shape);
        requireMoment(inputMoment, k, "input moment");
        requireMoment(crossMoment, k, "cross moment");
        int nOut = shape.nOut();
        int nIn = shape.nIn();
        int sp = shape.spatial();
        int nb = grid.layout().nBlocks();

        // Per weight in column order: its scale, shift, floor and the target t_o = C^T w_o of the gradient.
        double[][] a = new double[nOut][k];
        double[][] b = new double[nOut][k];
        double[][] floor = new double[nOut][k];
        double[][] v = new double[nOut][k];
        double[][] wRows = new double[nOut][k];
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                int blk = grid.layout().blockOf(c);
                for (int s = 0; s < sp; s++) {
                    int wi = (o * nIn + c) * sp + s;
                    int ai = (o * nb + blk) * sp + s;
                    int j = s * nIn + c;
                    double scale = grid.alpha()[ai];
                    double shift = grid.beta() == null ? 0 : grid.beta()[ai];
                    a[o][j] = scale;
                    b[o][j] = shift;
                    wRows[o][j] = w[wi];
                    if (scale == 0) {
                        floor[o][j] = 0;
                        v[o][j] = Double.NEGATIVE_INFINITY; // h = 0: a zero scale has one grid point
                    } else {
                        double r = (w[wi] - shift) / scale;
                        double f = Math.floor(r);
                        floor[o][j] = f;
                        v[o][j] = initialV(r - f);
                    }
                }
            }
        }
        double[][] target = new double[nOut][];
        IntStream.range(0, nOut).parallel().forEach(o -> target[o] = transposedTimes(crossMoment, wRows[o], k));

        double[][] m1 = new double[nOut][k];
        double[][] m2 = new double[nOut][k];
        double scaleGrad = 2.0 / nOut;
        double[] soft = new double[nOut * k];
        double[] product = new double[nOut * k];
        // h(V) and dh/dV of this iteration, from one sigmoid a weight (the hot loop: 2,000 iterations a layer).
        double[] hs = new double[nOut * k];
        double[] dhs = new double[nOut * k];
        for (int t = 0; t < options.iterations(); t++) {
            double beta = options.beta(t);
            int step = t + 1;
            double c1 = 1 - Math.pow(ADAM_BETA1, step);
            double c2 = 1 - Math.pow(ADAM_BETA2, step);
            for (int o = 0; o < nOut; o++) {
                for (int j = 0; j < k; j++) {
                    double sg = sigmoid(v[o][j]);
                    double raw = sg * (ZETA - GAMMA) + GAMMA;
                    // As h(v) and dh(v), sharing the sigmoid.
                    hs[o * k + j] = Math.max(0, Math.min(1, raw));
                    dhs[o * k + j] = raw <= 0 || raw >= 1 ? 0 : (ZETA - GAMMA) * sg * (1 - sg);
                    soft[o * k + j] = a[o][j] * range.clamp(floor[o][j] + hs[o * k + j]) + b[o][j];
                }
            }
            multiply(soft, inputMoment, nOut, k, product);
            IntStream.range(0, nOut).parallel().forEach(o -> {
                double[] ao = a[o];
                double[] vo = v[o];
                int g = o * k;
                for (int j = 0; j < k; j++) {
                    if (ao[j] == 0) {
                        continue;
                    }
                    double hv = hs[g + j];
                    double dhv = dhs[g + j];
                    double raw = floor[o][j] + hv;
                    double dq = raw <= range.lo() || raw >= range.hi() ? 0 : 1; // clamp: no gradient outside
                    double grad = scaleGrad * (product[g + j] - target[o][j]) * ao[j] * dq * dhv;
                    if (!Double.isNaN(beta)) {
                        grad += options.lambda() * dRegularizer(hv, beta) * dhv;
                    }
                    m1[o][j] = ADAM_BETA1 * m1[o][j] + (1 - ADAM_BETA1) * grad;
                    m2[o][j] = ADAM_BETA2 * m2[o][j] + (1 - ADAM_BETA2) * grad * grad;
                    vo[j] -= options.learningRate() * (m1[o][j] / c1) / (Math.sqrt(m2[o][j] / c2) + ADAM_EPS);
                }
            });
        }

        byte[] q = new byte[w.length];
        byte[] nearest = new byte[w.length];
        long flipped = 0;
        long undecided = 0;
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                for (int s = 0; s < sp; s++) {
                    int wi = (o * nIn + c) * sp + s;
                    int j = s * nIn + c;
                    double hv = h(v[o][j]);
                    q[wi] = (byte) range.clamp(floor[o][j] + (hv >= 0.5 ? 1 : 0));
                    nearest[wi] = a[o][j] == 0 ? 0
                            : (byte) range.clamp(Math.rint((wRows[o][j] - b[o][j]) / a[o][j]));
                    flipped += q[wi] != nearest[wi] ? 1 : 0;
                    undecided += a[o][j] != 0 && hv > 0.05 && hv < 0.95 ? 1 : 0;
                }
            }
        }
        QuantizedKernel out = new QuantizedKernel(shape, grid.bits(), grid.blockSize(), q, grid.alpha().clone(),
                grid.beta() == null ? null : grid.beta().clone(), grid.storedScales());
        QuantizedKernel near = new QuantizedKernel(shape, grid.bits(), grid.blockSize(), nearest,
                grid.alpha().clone(), grid.beta() == null ? null : grid.beta().clone(), grid.storedScales());
        return new Result(out, reconstructionError(w, near, inputMoment, crossMoment, shape),
                reconstructionError(w, out, inputMoment, crossMoment, shape), flipped, undecided);
    }

    /**
     * {@code sum_o E(w_o^T x - w~_o^T x~)^2} up to the constant {@code sum_o w_o^T E[x x^T] w_o}, which is the
     * same for every {@code W~}: {@code sum_o (w~_o^T H~ w~_o - 2 w_o^T C w~_o)}. With {@code C = H~ = H} the
     * constant is added back, so that the value is {@link HessianRoundingSolver#outputError}.
     */
    public static double reconstructionError(float[] w, QuantizedKernel kernel, double[] inputMoment, double[] cross,
                                      KernelShape shape) {
        float[] wq = kernel.reconstruct();
        if (inputMoment == cross) {
            return HessianRoundingSolver.outputError(w, wq, shape, inputMoment);
        }
        int k = HessianRoundingSolver.columns(shape);
        int nIn = shape.nIn();
        int sp = shape.spatial();
        double total = 0;
        for (int o = 0; o < shape.nOut(); o++) {
            double[] wo = new double[k];
            double[] qo = new double[k];
            for (int c = 0; c < nIn; c++) {
                for (int s = 0; s < sp; s++) {
                    int i = (o * nIn + c) * sp + s;
                    wo[s * nIn + c] = w[i];
                    qo[s * nIn + c] = wq[i];
                }
            }
            // The moment is symmetric, so M q = M^T q (rows scaled by q read memory in order).
            double[] hq = transposedTimes(inputMoment, qo, k);
            double[] ct = transposedTimes(cross, wo, k);
            for (int j = 0; j < k; j++) {
                total += qo[j] * hq[j] - 2 * qo[j] * ct[j];
            }
        }
        return total;
    }

    /** Columns per task of {@link #multiply}: a task's slice of the output rows stays in the L2 cache. */
    private static final int COLUMN_CHUNK = 128;

    /**
     * {@code out = S M} for {@code S [rows, k]} and {@code M [k, k]}, row-major: the gradient's whole cost.
     * Row {@code i} of {@code M} is read once per iteration and applied to every row of {@code S} (the loop order
     * that keeps {@code M}, a few megabytes, streaming and the output in cache); column chunks run in parallel.
     * A Java loop rather than ND4J's GEMM: the matrices are small and the call overhead and thread hand-off of
     * ND4J cost more than the product here (measured on 8 x 432 x 432; docs/method.md).
     */
    static void multiply(double[] s, double[] m, int rows, int k, double[] out) {
        int chunks = (k + COLUMN_CHUNK - 1) / COLUMN_CHUNK;
        IntStream.range(0, chunks).parallel().forEach(ch -> {
            int j0 = ch * COLUMN_CHUNK;
            int j1 = Math.min(k, j0 + COLUMN_CHUNK);
            for (int o = 0; o < rows; o++) {
                java.util.Arrays.fill(out, o * k + j0, o * k + j1, 0);
            }
            for (int i = 0; i < k; i++) {
                int mi = i * k;
                for (int o = 0; o < rows; o++) {
                    double si = s[o * k + i];
                    if (si == 0) {
                        continue;
                    }
                    int oo = o * k;
                    for (int j = j0; j < j1; j++) {
                        out[oo + j] += si * m[mi + j];
                    }
                }
            }
        });
    }

    /** {@code M^T x}: the sum of the rows of {@code M} scaled by {@code x}. */
    private static double[] transposedTimes(double[] m, double[] x, int k) {
        double[] y = new double[k];
        for (int i = 0; i < k; i++) {
            double xi = x[i];
            if (xi == 0) {
                continue;
            }
            int row = i * k;
            for (int j = 0; j < k; j++) {
                y[j] += xi * m[row + j];
            }
        }
        return y;
    }

    private static void requireMoment(double[] m, int k, String what) {
        if (m == null || m.length != (long) k * k) {
            throw new IllegalArgumentException(what + " must have " + k + "x" + k + " values, got "
                    + (m == null ? "null" : m.length));
        }
        for (int i = 0; i < m.length; i++) {
            if (!Double.isFinite(m[i])) {
                throw new IllegalArgumentException(what + " has a non-finite value (" + m[i] + ") at [" + i / k
                        + "," + i % k + "]");
            }
        }
    }
}
