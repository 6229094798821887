package io.github.dsconv.search;

import java.util.Arrays;
import java.util.List;

/**
 * Everything a {@link BitSearch} needs besides the evaluator. Build with {@link #builder(int, List)}; the defaults
 * follow "Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes" (ECCV 2020) where it states
 * them.
 *
 * @param curve         the curve over depth; default {@link CurveKind#BEZIER1}
 * @param layers        number of quantized layers {@code L}
 * @param layerWeights  weight count of each layer, for bytes; default all 1 (every layer alike)
 * @param tasks         fidelities, cheapest first by convention
 * @param targetTask    index of the target task; default the last one
 * @param budget        number of evaluations including the random start; default 62 (the reference's 1 + 61)
 * @param seed          seed of all randomness; default {@value #DEFAULT_SEED}
 * @param gridPoints    candidate grid points per dimension of {@code theta}, {@code linspace(0,1,gridPoints)};
 *                      default 30
 * @param maxCandidates if the grid has more points, each step scores this many grid points drawn uniformly (with
 *                      replacement) from {@code (seed, step)}; default 5000 (the full 30^4 = 810 000 grid costs
 *                      seconds per step; see the package documentation)
 * @param ucbEvery      every {@code ucbEvery}-th step evaluates the target task by GP-UCB; default 5
 * @param delta         GP-UCB confidence parameter; default 0.1
 * @param fit           GP hyperparameter fitting; default {@link MultiTaskGp.FitOptions#defaults()}
 * @param rule          how {@link BitSearch#decide} ranks configurations; default {@link DecisionRule#defaults()}
 * @param verifySteps   the GP strategies spend the last {@code verifySteps} evaluations of the budget measuring, on
 *                      the target task, the best configurations the GP predicts that were not measured yet, so that
 *                      {@link BitSearch#decideMeasured} can choose by measurement; default 0 (the paper: the GP
 *                      prediction alone)
 */
public record SearchConfig(CurveKind curve, int layers, long[] layerWeights, List<Task> tasks, int targetTask,
                           int budget, long seed, int gridPoints, int maxCandidates, int ucbEvery, double delta,
                           MultiTaskGp.FitOptions fit, DecisionRule rule, int verifySteps) {

    /** Default seed. */
    public static final long DEFAULT_SEED = 42;

    public SearchConfig {
        if (curve == null || tasks == null || fit == null || rule == null) {
            throw new IllegalArgumentException("curve, tasks, fit and rule must not be null");
        }
        if (layers < 1) {
            throw new IllegalArgumentException("layers must be >= 1, got " + layers);
        }
        if (layerWeights == null || layerWeights.length != layers) {
            throw new IllegalArgumentException("layerWeights must have one entry per layer (" + layers + "), got "
                    + (layerWeights == null ? "null" : layerWeights.length));
        }
        layerWeights = layerWeights.clone();
        for (long w : layerWeights) {
            if (w < 1) {
                throw new IllegalArgumentException("layer weight counts must be >= 1, got " + w);
            }
        }
        tasks = List.copyOf(tasks);
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("need at least one task");
        }
        if (targetTask < 0 || targetTask >= tasks.size()) {
            throw new IllegalArgumentException("targetTask " + targetTask + " out of range [0, " + tasks.size() + ")");
        }
        if (budget < 1) {
            throw new IllegalArgumentException("budget must be >= 1 evaluation, got " + budget);
        }
        if (verifySteps < 0 || verifySteps >= budget) {
            throw new IllegalArgumentException("verifySteps must be in [0, budget), got " + verifySteps);
        }
        if (gridPoints < 2 || maxCandidates < 1 || ucbEvery < 1) {
            throw new IllegalArgumentException("need gridPoints >= 2, maxCandidates >= 1 and ucbEvery >= 1");
        }
        if (!(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("delta must be in (0,1), got " + delta);
        }
        double w2 = bytes(2, layerWeights);
        if (rule.maxBytes() < w2) {
            throw new IllegalArgumentException("maxBytes " + rule.maxBytes() + " is below uniform W2 (" + w2
                    + " bytes): no configuration fits");
        }
    }

    @Override
    public long[] layerWeights() {
        return layerWeights.clone();
    }

    /** Weight bytes of a configuration, {@code sum(weights_k * bits_k) / 8}. */
    public double bytes(int[] bits) {
        return bytes(bits, layerWeights);
    }

    /** Weight bytes of a configuration, {@code sum(weights_k * bits_k) / 8}. */
    public static double bytes(int[] bits, long[] layerWeights) {
        if (bits.length != layerWeights.length) {
            throw new IllegalArgumentException("bits has " + bits.length + " layers, weights " + layerWeights.length);
        }
        double sum = 0;
        for (int k = 0; k < bits.length; k++) {
            sum += (double) layerWeights[k] * bits[k];
        }
        return sum / 8;
    }

    /** Weight bytes of uniform {@code bits}. */
    public static double bytes(int bits, long[] layerWeights) {
        int[] b = new int[layerWeights.length];
        Arrays.fill(b, bits);
        return bytes(b, layerWeights);
    }

    /** A builder with the defaults above. */
    public static Builder builder(int layers, List<Task> tasks) {
        return new Builder(layers, tasks);
    }

    /** This configuration with another budget (e.g. to extend a finished search). */
    public SearchConfig withBudget(int newBudget) {
        return new SearchConfig(curve, layers, layerWeights, tasks, targetTask, newBudget, seed, gridPoints,
                maxCandidates, ucbEvery, delta, fit, rule, Math.min(verifySteps, newBudget - 1));
    }

    /** Builder of {@link SearchConfig}; {@link #build()} validates. */
    public static final class Builder {
        private final int layers;
        private final List<Task> tasks;
        private CurveKind curve = CurveKind.BEZIER1;
        private long[] layerWeights;
        private Integer targetTask;
        private int budget = 62;
        private long seed = DEFAULT_SEED;
        private int gridPoints = 30;
        private int maxCandidates = 5000;
        private int ucbEvery = 5;
        private double delta = Acquisition.DEFAULT_DELTA;
        private MultiTaskGp.FitOptions fit = MultiTaskGp.FitOptions.defaults();
        private DecisionRule rule = DecisionRule.defaults();
        private int verifySteps;

        private Builder(int layers, List<Task> tasks) {
            this.layers = layers;
            this.tasks = tasks;
        }

        /** The curve. Defaults to {@link CurveKind#BEZIER1}. */
        public Builder curve(CurveKind c) {
            this.curve = c;
            return this;
        }

        /** Weight count per layer. Defaults to 1 for every layer. */
        public Builder layerWeights(long... w) {
            this.layerWeights = w.clone();
            return this;
        }

        /** Target task index. Defaults to the last task. */
        public Builder targetTask(int t) {
            this.targetTask = t;
            return this;
        }

        /** Evaluations including the random start. Defaults to 62. */
        public Builder budget(int b) {
            this.budget = b;
            return this;
        }

        /** Seed. Defaults to {@value SearchConfig#DEFAULT_SEED}. */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** Grid points per dimension. Defaults to 30. */
        public Builder gridPoints(int g) {
            this.gridPoints = g;
            return this;
        }

        /** Candidates scored per step when the grid is larger. Defaults to 5000. */
        public Builder maxCandidates(int m) {
            this.maxCandidates = m;
            return this;
        }

        /** Period of target-task (GP-UCB) steps. Defaults to 5. */
        public Builder ucbEvery(int k) {
            this.ucbEvery = k;
            return this;
        }

        /** GP-UCB delta. Defaults to 0.1. */
        public Builder delta(double d) {
            this.delta = d;
            return this;
        }

        /** GP fitting options. Defaults to {@link MultiTaskGp.FitOptions#defaults()}. */
        public Builder fit(MultiTaskGp.FitOptions f) {
            this.fit = f;
            return this;
        }

        /** Decision rule. Defaults to {@link DecisionRule#defaults()}. */
        public Builder rule(DecisionRule r) {
            this.rule = r;
            return this;
        }

        /** Evaluations at the end of the budget that measure the GP's best predictions. Defaults to 0. */
        public Builder verifySteps(int n) {
            this.verifySteps = n;
            return this;
        }

        /** Validates and builds. */
        public SearchConfig build() {
            long[] w = layerWeights;
            if (w == null && layers >= 1) {
                w = new long[layers];
                Arrays.fill(w, 1);
            }
            int target = targetTask != null ? targetTask : (tasks == null ? 0 : tasks.size() - 1);
            return new SearchConfig(curve, layers, w, tasks, target, budget, seed, gridPoints, maxCandidates,
                    ucbEvery, delta, fit, rule, verifySteps);
        }
    }
}
