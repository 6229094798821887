package io.github.dsconv.search;


import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Exact multi-task Gaussian process with an intrinsic coregionalisation kernel, the surrogate of "Finding
 * Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes" (Gennari do Nascimento, Costain and
 * Prisacariu, ECCV 2020).
 *
 * <p>Model: a constant mean {@code m_i} per task (by default; the reference code has one constant {@code m} shared
 * by all tasks, {@link FitOptions#taskMeans()} false); kernel {@code k((x,i),(x',j)) = s * exp(-1/2 sum_k (x_k - x'_k)^2 / l_k^2) *
 * B[i][j]} with {@code B = W W^T + diag(v)}, {@code W} of shape {@code tasks x rank}; Gaussian noise of variance
 * {@code sigma^2} on every observation. {@link #fit} standardises the targets (zero mean, unit variance over all
 * tasks together; a single observation or constant targets are only centred) and maximises the log marginal
 * likelihood plus the log prior over the hyperparameters, where the priors are the reference code's uniform ones:
 * lengthscales in {@code (0.05, 0.5)}, outputscale in {@code (1, 2)}, noise variance in {@code (0.05, 0.3)} (in
 * standardised units); {@code W} and the means are unconstrained and {@code v > 0}, all without prior. Uniform priors
 * are constant inside their bounds, so the objective is the likelihood itself, optimised over unconstrained
 * coordinates: bounded values through a scaled sigmoid, {@code v} through {@code exp}. The optimiser is L-BFGS with
 * the analytic gradient {@code dL/dp = 1/2 tr((alpha alpha^T - K^-1) dK/dp)}, started from the centre of the bounds
 * and from {@link FitOptions#restarts()} - 1 random points drawn from the given seed, so a fit is deterministic.
 * When the Cholesky factorisation (Commons Math) fails, it is retried with a jitter of {@code 1e-9} times the mean
 * diagonal added to the diagonal, growing tenfold per failure (six tries).
 *
 * <p>Why a mean per task (a deviation from the reference, docs/method.md section 7): our cheap fidelities are biased
 * copies of the target (plain conversion scores an agreement of 0.2-0.6 where the calibrated target scores 0.9), and
 * with one shared mean the GP can express such an offset only through the coregionalised latent function, which
 * reverts to the shared mean away from the data. The target's prediction in an unexplored region is then pulled
 * towards the average of all tasks, well below every target value seen, and GP-UCB never goes there (measured: the
 * small GoogLeNet, seed 1, spent every target evaluation in the low-bit corner and chose a plan behind random search).
 * A mean per task is what multi-task GP libraries use by default (GPyTorch's {@code MultitaskMean}) and costs
 * {@code tasks - 1} more hyperparameters.
 *
 * <p>Predictions are of the noise-free latent function, in the units of the data.
 */
public final class MultiTaskGp {

    /** Lengthscale bounds (uniform prior of the reference code). */
    public static final double LENGTHSCALE_MIN = 0.05, LENGTHSCALE_MAX = 0.5;
    /** Outputscale bounds (uniform prior of the reference code). */
    public static final double OUTPUTSCALE_MIN = 1, OUTPUTSCALE_MAX = 2;
    /** Noise variance bounds (uniform prior of the reference code). */
    public static final double NOISE_MIN = 0.05, NOISE_MAX = 0.3;

    /**
     * Kernel and likelihood parameters.
     *
     * @param means        constant mean of each task (all equal for a shared mean)
     * @param lengthscales one RBF lengthscale per input dimension, positive
     * @param outputscale  kernel scale {@code s}, positive
     * @param noise        observation noise variance, positive
     * @param w            coregionalisation factor, {@code tasks x rank}
     * @param v            per-task diagonal of {@code B}, non-negative
     */
    public record Hyperparameters(double[] means, double[] lengthscales, double outputscale, double noise,
                                  double[][] w, double[] v) {
        public Hyperparameters {
            means = means.clone();
            lengthscales = lengthscales.clone();
            v = v.clone();
            w = Arrays.stream(w).map(double[]::clone).toArray(double[][]::new);
            for (double l : lengthscales) {
                if (!(l > 0)) {
                    throw new IllegalArgumentException("lengthscales must be positive, got " + l);
                }
            }
            if (!(outputscale > 0) || !(noise > 0) || Arrays.stream(means).anyMatch(m -> !Double.isFinite(m))) {
                throw new IllegalArgumentException("outputscale and noise must be positive, means finite");
            }
            if (means.length != v.length) {
                throw new IllegalArgumentException("need one mean per task (" + v.length + "), got " + means.length);
            }
            if (w.length != v.length || w.length == 0) {
                throw new IllegalArgumentException("w must have one row per task (" + v.length + "), got "
                        + w.length);
            }
            for (int i = 0; i < v.length; i++) {
                if (!(v[i] >= 0) || w[i].length != w[0].length) {
                    throw new IllegalArgumentException("v must be >= 0 and w rectangular");
                }
            }
        }

        /** One constant mean {@code mean} shared by every task (the reference code's model). */
        public Hyperparameters(double mean, double[] lengthscales, double outputscale, double noise, double[][] w,
                               double[] v) {
            this(filled(v.length, mean), lengthscales, outputscale, noise, w, v);
        }

        private static double[] filled(int n, double value) {
            double[] a = new double[n];
            Arrays.fill(a, value);
            return a;
        }

        /** The constant mean of {@code task}. */
        public double mean(int task) {
            return means[task];
        }

        @Override
        public double[] means() {
            return means.clone();
        }

        @Override
        public double[] lengthscales() {
            return lengthscales.clone();
        }

        @Override
        public double[][] w() {
            return Arrays.stream(w).map(double[]::clone).toArray(double[][]::new);
        }

        @Override
        public double[] v() {
            return v.clone();
        }

        /** Number of tasks. */
        public int tasks() {
            return v.length;
        }

        /** The task covariance {@code B = W W^T + diag(v)}. */
        public double[][] coregionalisation() {
            int t = v.length;
            double[][] b = new double[t][t];
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < t; j++) {
                    b[i][j] = Lbfgs.dot(w[i], w[j]) + (i == j ? v[i] : 0);
                }
            }
            return b;
        }

        /** The prior covariance {@code k((x1,t1),(x2,t2))} (without noise). */
        public double kernel(double[] x1, int t1, double[] x2, int t2) {
            return outputscale * rbf(x1, x2, lengthscales) * coregionalisation()[t1][t2];
        }
    }

    /** Joint posterior of the latent function at some points. */
    public record Posterior(double[] mean, double[][] covariance) {
    }

    /**
     * How to fit the hyperparameters.
     *
     * @param rank          rank of {@code W}, capped at the number of tasks; default 4
     * @param restarts      L-BFGS starts (the first at the centre of the bounds); default 3
     * @param maxIterations L-BFGS iterations per start; default 200
     * @param taskMeans     a constant mean per task (default) rather than one shared by all tasks (the reference)
     */
    public record FitOptions(int rank, int restarts, int maxIterations, boolean taskMeans) {
        public FitOptions {
            if (rank < 1 || restarts < 1 || maxIterations < 1) {
                throw new IllegalArgumentException("rank, restarts and maxIterations must be >= 1");
            }
        }

        /** With a mean per task. */
        public FitOptions(int rank, int restarts, int maxIterations) {
            this(rank, restarts, maxIterations, true);
        }

        /** Rank 4, 3 starts, 200 iterations, a mean per task. */
        public static FitOptions defaults() {
            return new FitOptions(4, 3, 200, true);
        }

        /** These options with one mean shared by all tasks ({@code false}) or a mean per task. */
        public FitOptions withTaskMeans(boolean perTask) {
            return new FitOptions(rank, restarts, maxIterations, perTask);
        }
    }

    private final double[][] x;
    private final int[] tasks;
    private final Hyperparameters h;
    private final double[][] b;
    private final double[] ls;
    private final double shift;
    private final double scale;
    private final double[][] chol;
    private final double[] alpha;
    private final double lml;

    private MultiTaskGp(double[][] x, int[] tasks, double[] ys, Hyperparameters h, double shift, double scale) {
        this.x = x;
        this.tasks = tasks;
        this.h = h;
        this.b = h.coregionalisation();
        this.ls = h.lengthscales();
        this.shift = shift;
        this.scale = scale;
        int n = x.length;
        double[][] k = covariance(x, tasks, h, b, ls);
        this.chol = Cholesky.factor(k);
        if (chol == null) {
            throw new IllegalStateException("kernel matrix is not positive definite even with jitter");
        }
        double[] r = new double[n];
        for (int a = 0; a < n; a++) {
            r[a] = ys[a] - h.mean(tasks[a]);
        }
        this.alpha = Cholesky.backSolve(chol, Cholesky.forwardSolve(chol, r));
        double logDet = 0;
        for (int a = 0; a < n; a++) {
            logDet += Math.log(chol[a][a]);
        }
        this.lml = -0.5 * Lbfgs.dot(r, alpha) - logDet - 0.5 * n * Math.log(2 * Math.PI);
    }

    /**
     * The GP conditioned on data with given hyperparameters, in the units of {@code y} (no standardisation).
     *
     * @param x        inputs, {@code n x d}
     * @param tasks    task index of each input, in {@code [0, h.tasks())}
     * @param y        observations
     * @param h        hyperparameters
     */
    public static MultiTaskGp condition(double[][] x, int[] tasks, double[] y, Hyperparameters h) {
        checkData(x, tasks, y, h.tasks());
        if (x[0].length != h.lengthscales().length) {
            throw new IllegalArgumentException("inputs have " + x[0].length + " dimensions, lengthscales "
                    + h.lengthscales().length);
        }
        return new MultiTaskGp(copy(x), tasks.clone(), y.clone(), h, 0, 1);
    }

    /**
     * Standardises {@code y}, fits the hyperparameters by maximum marginal likelihood under the reference priors
     * and conditions on the data.
     *
     * @param numTasks number of tasks (tasks without data are allowed)
     * @param seed     seed of the random restarts
     */
    public static MultiTaskGp fit(double[][] x, int[] tasks, double[] y, int numTasks, FitOptions options,
                                  long seed) {
        checkData(x, tasks, y, numTasks);
        int n = y.length;
        double mu = 0;
        for (double v : y) {
            mu += v;
        }
        mu /= n;
        double var = 0;
        for (double v : y) {
            var += (v - mu) * (v - mu);
        }
        double sd = Math.sqrt(var / n);
        if (!(sd > 1e-12)) {
            sd = 1;
        }
        double[] ys = new double[n];
        for (int a = 0; a < n; a++) {
            ys[a] = (y[a] - mu) / sd;
        }
        double[][] xs = copy(x);
        int[] ts = tasks.clone();
        int d = xs[0].length;
        int rank = Math.min(options.rank(), numTasks);
        HyperparameterLayout layout = new HyperparameterLayout(d, numTasks, rank, options.taskMeans());
        SplittableRandom rng = new SplittableRandom(seed);
        double[] best = null;
        double bestValue = Double.POSITIVE_INFINITY;
        for (int start = 0; start < options.restarts(); start++) {
            double[] z0 = layout.start(rng, start == 0);
            Lbfgs.Result r = Lbfgs.minimize((z, g) -> {
                double v = logMarginalLikelihood(xs, ts, ys, layout, z, g);
                for (int i = 0; i < g.length; i++) {
                    g[i] = -g[i];
                }
                return -v;
            }, z0, options.maxIterations(), 1e-4);
            if (r.value() < bestValue) {
                bestValue = r.value();
                best = r.x();
            }
        }
        if (best == null) {
            throw new IllegalStateException("GP hyperparameter fit failed from every start");
        }
        return new MultiTaskGp(xs, ts, ys, layout.decode(best), mu, sd);
    }

    /** The hyperparameters, in standardised units after {@link #fit}. */
    public Hyperparameters hyperparameters() {
        return h;
    }

    /** Log marginal likelihood of the (standardised, after {@link #fit}) data. */
    public double logMarginalLikelihood() {
        return lml;
    }

    /** Observation noise variance in the units of the data. */
    public double noiseVariance() {
        return h.noise() * scale * scale;
    }

    /** Number of tasks. */
    public int tasks() {
        return h.tasks();
    }

    /** Joint posterior of the latent function at {@code (xs[p], taskOf[p])}. */
    public Posterior posterior(double[][] xs, int[] taskOf) {
        int m = xs.length;
        if (taskOf.length != m) {
            throw new IllegalArgumentException("xs and tasks differ in length");
        }
        double[][] v = new double[m][];
        double[] mean = new double[m];
        for (int p = 0; p < m; p++) {
            checkPoint(xs[p], taskOf[p]);
            double[] ks = crossCovariance(xs[p], taskOf[p], rbfRow(xs[p]));
            mean[p] = shift + scale * (h.mean(taskOf[p]) + Lbfgs.dot(ks, alpha));
            v[p] = Cholesky.forwardSolve(chol, ks);
        }
        double[][] cov = new double[m][m];
        for (int p = 0; p < m; p++) {
            for (int q = 0; q <= p; q++) {
                double prior = h.outputscale() * rbf(xs[p], xs[q], ls) * b[taskOf[p]][taskOf[q]];
                cov[p][q] = cov[q][p] = scale * scale * (prior - Lbfgs.dot(v[p], v[q]));
            }
        }
        return new Posterior(mean, cov);
    }

    /** Joint posterior of all tasks at one input {@code x}: means and the {@code tasks x tasks} covariance. */
    public Posterior tasksAt(double[] x) {
        checkPoint(x, 0);
        int t = tasks();
        double[] r = rbfRow(x);
        double[][] v = new double[t][];
        double[] mean = new double[t];
        for (int i = 0; i < t; i++) {
            double[] ks = crossCovariance(x, i, r);
            mean[i] = shift + scale * (h.mean(i) + Lbfgs.dot(ks, alpha));
            v[i] = Cholesky.forwardSolve(chol, ks);
        }
        double[][] cov = new double[t][t];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j <= i; j++) {
                cov[i][j] = cov[j][i] = scale * scale * (h.outputscale() * b[i][j] - Lbfgs.dot(v[i], v[j]));
            }
        }
        return new Posterior(mean, cov);
    }

    /** Posterior mean of one task at one input. */
    public double mean(double[] xp, int task) {
        checkPoint(xp, task);
        double sum = 0;
        for (int a = 0; a < x.length; a++) {
            sum += rbf(xp, x[a], ls) * b[task][tasks[a]] * alpha[a];
        }
        return shift + scale * (h.mean(task) + h.outputscale() * sum);
    }

    /** Posterior mean of one task at many inputs (cheaper than {@link #posterior}: no covariance). */
    public double[] means(double[][] xs, int task) {
        double[] out = new double[xs.length];
        for (int p = 0; p < xs.length; p++) {
            checkPoint(xs[p], task);
            out[p] = shift + scale * (h.mean(task) + Lbfgs.dot(crossCovariance(xs[p], task, rbfRow(xs[p])), alpha));
        }
        return out;
    }

    private double[] rbfRow(double[] xp) {
        double[] r = new double[x.length];
        for (int a = 0; a < x.length; a++) {
            r[a] = rbf(xp, x[a], ls);
        }
        return r;
    }

    private double[] crossCovariance(double[] xp, int task, double[] rbfRow) {
        double[] k = new double[x.length];
        for (int a = 0; a < x.length; a++) {
            k[a] = h.outputscale() * rbfRow[a] * b[task][tasks[a]];
        }
        return k;
    }

    private void checkPoint(double[] xp, int task) {
        if (xp.length != x[0].length) {
            throw new IllegalArgumentException("point has " + xp.length + " dimensions, expected " + x[0].length);
        }
        if (task < 0 || task >= tasks()) {
            throw new IllegalArgumentException("task " + task + " out of range [0, " + tasks() + ")");
        }
    }

    // ---------------------------------------------------------------- likelihood and its gradient

    /**
     * Log marginal likelihood at unconstrained coordinates {@code z} (see {@link HyperparameterLayout}), writing
     * {@code dL/dz} into {@code grad}; {@code NaN} if the kernel matrix cannot be factorised.
     */
    static double logMarginalLikelihood(double[][] x, int[] tasks, double[] y, HyperparameterLayout layout, double[] z,
                                        double[] grad) {
        Hyperparameters h;
        try {
            h = layout.decode(z);
        } catch (IllegalArgumentException e) {
            Arrays.fill(grad, 0);
            return Double.NaN;
        }
        double[][] b = h.coregionalisation();
        int n = y.length;
        int d = layout.d;
        double[] ls = h.lengthscales();
        double[][] rbf = new double[n][n];
        for (int a = 0; a < n; a++) {
            for (int c = 0; c <= a; c++) {
                rbf[a][c] = rbf[c][a] = rbf(x[a], x[c], ls);
            }
        }
        double[][] k = covariance(x, tasks, h, b, ls);
        double[][] l = Cholesky.factor(k);
        if (l == null) {
            Arrays.fill(grad, 0);
            return Double.NaN;
        }
        double[] r = new double[n];
        for (int a = 0; a < n; a++) {
            r[a] = y[a] - h.mean(tasks[a]);
        }
        double[] alpha = Cholesky.backSolve(l, Cholesky.forwardSolve(l, r));
        double logDet = 0;
        for (int a = 0; a < n; a++) {
            logDet += Math.log(l[a][a]);
        }
        double value = -0.5 * Lbfgs.dot(r, alpha) - logDet - 0.5 * n * Math.log(2 * Math.PI);

        double[][] kinv = Cholesky.inverse(l);
        double s = h.outputscale();
        double[] gMean = new double[layout.t];
        double gScale = 0;
        double gNoise = 0;
        double[] gLength = new double[d];
        double[][] gB = new double[layout.t][layout.t];
        for (int a = 0; a < n; a++) {
            gMean[tasks[a]] += alpha[a];
            for (int c = 0; c < n; c++) {
                double m = 0.5 * (alpha[a] * alpha[c] - kinv[a][c]);
                double kr = rbf[a][c];
                double bac = b[tasks[a]][tasks[c]];
                gScale += m * kr * bac;
                gB[tasks[a]][tasks[c]] += m * s * kr;
                double common = m * s * kr * bac;
                for (int j = 0; j < d; j++) {
                    double diff = x[a][j] - x[c][j];
                    gLength[j] += common * diff * diff / (ls[j] * ls[j] * ls[j]);
                }
            }
            gNoise += 0.5 * (alpha[a] * alpha[a] - kinv[a][a]);
        }
        layout.chain(z, h, gMean, gLength, gScale, gNoise, gB, grad);
        return value;
    }

    // ---------------------------------------------------------------- linear algebra

    static double rbf(double[] a, double[] c, double[] lengthscales) {
        double q = 0;
        for (int j = 0; j < a.length; j++) {
            double u = (a[j] - c[j]) / lengthscales[j];
            q += u * u;
        }
        return Math.exp(-0.5 * q);
    }

    private static double[][] covariance(double[][] x, int[] tasks, Hyperparameters h, double[][] b,
                                         double[] ls) {
        int n = x.length;
        double[][] k = new double[n][n];
        for (int a = 0; a < n; a++) {
            for (int c = 0; c <= a; c++) {
                k[a][c] = k[c][a] = h.outputscale() * rbf(x[a], x[c], ls) * b[tasks[a]][tasks[c]];
            }
            k[a][a] += h.noise();
        }
        return k;
    }

    private static void checkData(double[][] x, int[] tasks, double[] y, int numTasks) {
        if (x == null || y == null || tasks == null || x.length == 0) {
            throw new IllegalArgumentException("need at least one observation");
        }
        if (x.length != y.length || tasks.length != y.length) {
            throw new IllegalArgumentException("x, tasks and y differ in length: " + x.length + ", "
                    + tasks.length + ", " + y.length);
        }
        if (numTasks < 1) {
            throw new IllegalArgumentException("numTasks must be >= 1, got " + numTasks);
        }
        for (int a = 0; a < y.length; a++) {
            if (x[a].length != x[0].length) {
                throw new IllegalArgumentException("inputs differ in dimension");
            }
            if (tasks[a] < 0 || tasks[a] >= numTasks) {
                throw new IllegalArgumentException("task " + tasks[a] + " out of range [0, " + numTasks + ")");
            }
            if (!Double.isFinite(y[a])) {
                throw new IllegalArgumentException("observation " + a + " is not finite: " + y[a]);
            }
        }
    }

    private static double[][] copy(double[][] x) {
        return Arrays.stream(x).map(double[]::clone).toArray(double[][]::new);
    }
}
