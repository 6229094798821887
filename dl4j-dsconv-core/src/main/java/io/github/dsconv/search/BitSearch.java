package io.github.dsconv.search;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The search loop over bit configurations: proposes a task and a curve parameter, calls the {@link Evaluator},
 * appends the result to the {@link History}, until the budget is spent; then {@link #decide} picks a configuration.
 *
 * <p>{@link Strategy#MULTI_TASK} is the method of "Finding Non-Uniform Quantization Schemes using Multi-Task
 * Gaussian Processes" (Gennari do Nascimento, Costain and Prisacariu, ECCV 2020): step 0 evaluates a random grid
 * point on the target task; at step {@code s >= 1} a {@link MultiTaskGp} is fitted to all evaluations, and
 * <ul>
 *   <li>if {@code s} is a multiple of {@link SearchConfig#ucbEvery()} (or there is no other task), the target task
 *   is evaluated at the candidate maximising GP-UCB with {@code beta = Acquisition.ucbBeta(|D|, s, delta)},
 *   {@code |D|} the number of candidates scored;</li>
 *   <li>otherwise the pair (candidate, non-target task) maximising
 *   {@link Acquisition#informationGain information gain about the target} divided by the task cost is evaluated
 *   (the best pair over all tasks: the reference code returned the last task's point by mistake).</li>
 * </ul>
 * A candidate whose bit configuration was already evaluated on the task in question is skipped (ours: the GP works
 * on {@code theta}, and many {@code theta} give the same bits), unless every candidate was.
 *
 * <p>Baselines on the same interface: {@link Strategy#SINGLE_TASK} (a GP on the target task only, every step GP-UCB)
 * and {@link Strategy#RANDOM} (uniform grid points on the target task).
 *
 * <p>Determinism: the randomness of step {@code s} (candidate subset, GP restarts, random points) is drawn from a
 * generator seeded by {@code (seed, s)}, and the GP is re-fitted from the history at each step, so the history is
 * the whole state: {@link #resume} of a truncated history reproduces the uninterrupted run exactly.
 */
public final class BitSearch {

    /** Which search. */
    public enum Strategy {
        /** Multi-task GP: information gain on cheap tasks, GP-UCB on the target (the paper). */
        MULTI_TASK,
        /** Single-task GP on the target task, GP-UCB every step (baseline). */
        SINGLE_TASK,
        /** Uniformly random grid points on the target task (baseline). */
        RANDOM
    }

    /** Why a point was proposed. */
    public enum Kind { RANDOM_START, RANDOM, INFORMATION_GAIN, UCB, VERIFY }

    /**
     * The next evaluation to make.
     *
     * @param step        its index
     * @param task        task to evaluate
     * @param theta       curve parameters
     * @param bits        their bit configuration
     * @param kind        why
     * @param acquisition the acquisition value (information gain per cost, or UCB); {@code NaN} for random points
     */
    public record Proposal(int step, int task, double[] theta, int[] bits, Kind kind, double acquisition) {
        public Proposal {
            theta = theta.clone();
            bits = bits.clone();
        }

        @Override
        public double[] theta() {
            return theta.clone();
        }

        @Override
        public int[] bits() {
            return bits.clone();
        }
    }

    private static final int PURPOSE_CANDIDATES = 1;
    private static final int PURPOSE_FIT = 2;
    private static final int PURPOSE_RANDOM = 3;

    private final SearchConfig config;
    private final Strategy strategy;
    private final BitCurve curve;
    private final long gridSize;

    private BitSearch(SearchConfig config, Strategy strategy) {
        this.config = config;
        this.strategy = strategy;
        this.curve = config.curve().curve();
        long g = 1;
        for (int j = 0; j < curve.dimension(); j++) {
            g = Math.multiplyExact(g, config.gridPoints());
        }
        this.gridSize = g;
    }

    /** A search of the given strategy. */
    public static BitSearch of(SearchConfig config, Strategy strategy) {
        return new BitSearch(config, strategy);
    }

    /** The multi-task GP search of the paper. */
    public static BitSearch multiTask(SearchConfig config) {
        return of(config, Strategy.MULTI_TASK);
    }

    /** Baseline: single-task GP-UCB on the target task. */
    public static BitSearch singleTask(SearchConfig config) {
        return of(config, Strategy.SINGLE_TASK);
    }

    /** Baseline: random search on the target task. */
    public static BitSearch random(SearchConfig config) {
        return of(config, Strategy.RANDOM);
    }

    /** The configuration. */
    public SearchConfig config() {
        return config;
    }

    /** The strategy. */
    public Strategy strategy() {
        return strategy;
    }

    /** Runs a search from scratch until the budget is spent. */
    public History run(Evaluator evaluator) {
        return resume(History.empty(), evaluator, s -> { });
    }

    /** Continues a search from {@code history} until the budget is spent. */
    public History resume(History history, Evaluator evaluator) {
        return resume(history, evaluator, s -> { });
    }

    /**
     * Continues a search from {@code history} until the budget is spent, calling {@code onStep} after each
     * evaluation (e.g. to save the history).
     *
     * @throws IllegalArgumentException if the history does not fit this search (see {@link #check})
     * @throws IllegalStateException    if the evaluator returns a non-finite value
     */
    public History resume(History history, Evaluator evaluator, Consumer<Step> onStep) {
        check(history);
        History h = history;
        while (h.size() < config.budget()) {
            Proposal p = propose(h);
            double value = evaluator.evaluate(p.task(), p.bits());
            if (!Double.isFinite(value)) {
                throw new IllegalStateException("evaluator returned " + value + " for task " + p.task() + ", bits "
                        + Arrays.toString(p.bits()));
            }
            Step step = new Step(p.step(), p.task(), p.theta(), p.bits(), value);
            h = h.plus(step);
            onStep.accept(step);
        }
        return h;
    }

    /**
     * Checks that a history can belong to this search: at most {@code budget} steps, task indices in range (only the
     * target task for the baselines), {@code theta} on the candidate grid's cube and bits matching the curve.
     */
    public void check(History history) {
        if (history.size() > config.budget()) {
            throw new IllegalArgumentException("history has " + history.size() + " steps, budget is "
                    + config.budget());
        }
        for (Step s : history.steps()) {
            if (s.task() >= config.tasks().size()) {
                throw new IllegalArgumentException("step " + s.step() + ": task " + s.task() + " out of range [0, "
                        + config.tasks().size() + ")");
            }
            if (strategy != Strategy.MULTI_TASK && s.task() != config.targetTask()) {
                throw new IllegalArgumentException("step " + s.step() + " is on task " + s.task() + "; a "
                        + strategy + " search evaluates only the target task " + config.targetTask());
            }
            curve.checkTheta(s.theta());
            if (!Arrays.equals(s.bits(), curve.bits(s.theta(), config.layers()))) {
                throw new IllegalArgumentException("step " + s.step() + ": bits " + Arrays.toString(s.bits())
                        + " are not what the " + config.curve().label() + " curve gives over " + config.layers()
                        + " layers");
            }
        }
    }

    /** The next evaluation after {@code history}. */
    public Proposal propose(History history) {
        int step = history.size();
        if (step >= config.budget()) {
            throw new IllegalStateException("budget of " + config.budget() + " evaluations is spent");
        }
        int target = config.targetTask();
        if (step == 0 || strategy == Strategy.RANDOM) {
            double[] theta = gridPoint(rng(step, PURPOSE_RANDOM).nextLong(gridSize));
            return new Proposal(step, target, theta, curve.bits(theta, config.layers()),
                    step == 0 ? Kind.RANDOM_START : Kind.RANDOM, Double.NaN);
        }
        if (step >= config.budget() - config.verifySteps()) {
            Proposal v = verifyProposal(history);
            if (v != null) {
                return v;
            }
        }
        Model model = fitModel(history, step);
        double[][] candidates = candidates(step);
        List<Integer> lowTasks = new ArrayList<>();
        if (strategy == Strategy.MULTI_TASK) {
            for (int t = 0; t < config.tasks().size(); t++) {
                if (t != target) {
                    lowTasks.add(t);
                }
            }
        }
        Map<Integer, Set<BitsKey>> seen = new HashMap<>();
        for (Step s : history.steps()) {
            seen.computeIfAbsent(s.task(), k -> new HashSet<>()).add(new BitsKey(s.bits()));
        }
        int[][] bits = new int[candidates.length][];
        for (int c = 0; c < candidates.length; c++) {
            bits[c] = curve.bits(candidates[c], config.layers());
        }
        if (lowTasks.isEmpty() || step % config.ucbEvery() == 0) {
            return ucbProposal(step, model, candidates, bits, seen.getOrDefault(target, Set.of()));
        }
        return informationGainProposal(step, model, candidates, bits, lowTasks, seen);
    }

    /**
     * The best configuration {@link #decide} ranks (GP prediction) that was not measured on the target yet, to be
     * measured there; null if all ranked ones were.
     */
    private Proposal verifyProposal(History history) {
        Set<BitsKey> measured = new HashSet<>();
        for (Step s : history.steps()) {
            if (s.task() == config.targetTask()) {
                measured.add(new BitsKey(s.bits()));
            }
        }
        for (Decision.Choice c : decide(history).ranked()) {
            if (!measured.contains(new BitsKey(c.bits()))) {
                return new Proposal(history.size(), config.targetTask(), c.theta(), c.bits(), Kind.VERIFY, c.score());
            }
        }
        return null;
    }

    /**
     * Picks among the configurations measured on the target task, by their measured value (the mean of their
     * target evaluations) minus the rule's penalty: the recommendation of the best observation, which does not
     * trust a GP prediction no evaluation confirmed (the argmax of predictions over thousands of configurations is
     * biased upwards). With {@link SearchConfig#verifySteps()} the GP's best predictions are among them.
     */
    public Decision decideMeasured(History history) {
        check(history);
        int target = config.targetTask();
        Map<BitsKey, double[]> observed = new LinkedHashMap<>();
        Map<BitsKey, double[]> thetas = new HashMap<>();
        for (Step s : history.steps()) {
            if (s.task() == target) {
                BitsKey key = new BitsKey(s.bits());
                double[] acc = observed.computeIfAbsent(key, k -> new double[2]);
                acc[0] += s.value();
                acc[1]++;
                thetas.putIfAbsent(key, s.theta());
            }
        }
        if (observed.isEmpty()) {
            throw new IllegalArgumentException("history has no evaluation of the target task");
        }
        long[] weights = config.layerWeights();
        DecisionRule rule = config.rule();
        List<Decision.Choice> feasible = new ArrayList<>();
        for (Map.Entry<BitsKey, double[]> e : observed.entrySet()) {
            int[] b = e.getKey().bits;
            double value = e.getValue()[0] / e.getValue()[1];
            double bytes = SearchConfig.bytes(b, weights);
            if (rule.feasible(value, bytes)) {
                feasible.add(new Decision.Choice(b, thetas.get(e.getKey()), value, value, (int) e.getValue()[1],
                        bytes, value - rule.penalty(b, weights)));
            }
        }
        feasible.sort(Comparator.comparingDouble((Decision.Choice c) -> -roundScore(c.score()))
                .thenComparingDouble(Decision.Choice::bytes)
                .thenComparing(Decision.Choice::bits, Arrays::compare));
        return new Decision(feasible.subList(0, Math.min(Decision.TOP, feasible.size())), observed.size(),
                feasible.size());
    }

    private Proposal ucbProposal(int step, Model model, double[][] candidates, int[][] bits, Set<BitsKey> seen) {
        double beta = Acquisition.ucbBeta(candidates.length, step, config.delta());
        int task = model.taskIndex(config.targetTask());
        for (boolean skipSeen : new boolean[] {true, false}) {
            int best = -1;
            double bestValue = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < candidates.length; c++) {
                if (skipSeen && seen.contains(new BitsKey(bits[c]))) {
                    continue;
                }
                MultiTaskGp.Posterior p = model.gp.posterior(new double[][] {candidates[c]}, new int[] {task});
                // UCB of the score the decision ranks by (value minus the bytes penalty), not of the value alone as
                // in the paper: otherwise the target evaluations go to the high-bit configurations that predict the
                // best accuracy and that the decision then rejects for their size (measured: docs/method.md).
                double u = Acquisition.ucb(p.mean()[0] - config.rule().penalty(bits[c], config.layerWeights()),
                        p.covariance()[0][0], beta);
                if (u > bestValue) {
                    bestValue = u;
                    best = c;
                }
            }
            if (best >= 0) {
                return new Proposal(step, config.targetTask(), candidates[best], bits[best], Kind.UCB, bestValue);
            }
        }
        throw new IllegalStateException("no candidate to score");
    }

    private Proposal informationGainProposal(int step, Model model, double[][] candidates, int[][] bits,
                                             List<Integer> lowTasks, Map<Integer, Set<BitsKey>> seen) {
        int target = config.targetTask();
        double noise = model.gp.noiseVariance();
        for (boolean skipSeen : new boolean[] {true, false}) {
            int bestC = -1;
            int bestTask = -1;
            double bestValue = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < candidates.length; c++) {
                BitsKey key = new BitsKey(bits[c]);
                MultiTaskGp.Posterior p = null;
                for (int l : lowTasks) {
                    if (skipSeen && seen.getOrDefault(l, Set.of()).contains(key)) {
                        continue;
                    }
                    if (p == null) {
                        p = model.gp.tasksAt(candidates[c]);
                    }
                    double[][] s = p.covariance();
                    double ig = Acquisition.informationGain(s[l][l], s[l][target], s[target][target], noise)
                            / config.tasks().get(l).cost();
                    if (ig > bestValue) {
                        bestValue = ig;
                        bestC = c;
                        bestTask = l;
                    }
                }
            }
            if (bestC >= 0) {
                return new Proposal(step, bestTask, candidates[bestC], bits[bestC], Kind.INFORMATION_GAIN,
                        bestValue);
            }
        }
        throw new IllegalStateException("no candidate to score");
    }

    /**
     * Picks a configuration with the configuration's {@link DecisionRule}: every point of the full candidate grid
     * is predicted on the target task (for the GP strategies) and grouped by its bits.
     */
    public Decision decide(History history) {
        return decide(history, config.rule());
    }

    /** Picks a configuration with another rule. */
    public Decision decide(History history, DecisionRule rule) {
        check(history);
        int target = config.targetTask();
        Map<BitsKey, double[]> observed = new HashMap<>();
        for (Step s : history.steps()) {
            if (s.task() == target) {
                double[] acc = observed.computeIfAbsent(new BitsKey(s.bits()), k -> new double[2]);
                acc[0] += s.value();
                acc[1]++;
            }
        }
        if (observed.isEmpty()) {
            throw new IllegalArgumentException("history has no evaluation of the target task");
        }
        // Per configuration: sum of predictions, count, and a representative theta.
        Map<BitsKey, Object[]> predicted = new LinkedHashMap<>();
        if (strategy == Strategy.RANDOM) {
            for (Step s : history.steps()) {
                BitsKey key = new BitsKey(s.bits());
                double[] acc = observed.get(key);
                predicted.putIfAbsent(key, new Object[] {new double[] {acc[0] / acc[1], 1}, s.theta()});
            }
        } else {
            Model model = fitModel(history, history.size());
            int task = model.taskIndex(target);
            for (long i = 0; i < gridSize; i++) {
                double[] theta = gridPoint(i);
                double mean = model.gp.mean(theta, task);
                BitsKey key = new BitsKey(curve.bits(theta, config.layers()));
                Object[] entry = predicted.computeIfAbsent(key, k -> new Object[] {new double[2], theta});
                double[] acc = (double[]) entry[0];
                acc[0] += mean;
                acc[1]++;
            }
        }
        long[] weights = config.layerWeights();
        List<Decision.Choice> feasible = new ArrayList<>();
        for (Map.Entry<BitsKey, Object[]> e : predicted.entrySet()) {
            int[] b = e.getKey().bits;
            double[] acc = (double[]) e.getValue()[0];
            double value = acc[0] / acc[1];
            double bytes = SearchConfig.bytes(b, weights);
            if (!rule.feasible(value, bytes)) {
                continue;
            }
            double[] obs = observed.get(e.getKey());
            feasible.add(new Decision.Choice(b, (double[]) e.getValue()[1], value,
                    obs == null ? Double.NaN : obs[0] / obs[1], obs == null ? 0 : (int) obs[1], bytes,
                    value - rule.penalty(b, weights)));
        }
        feasible.sort(Comparator.comparingDouble((Decision.Choice c) -> -roundScore(c.score()))
                .thenComparingDouble(Decision.Choice::bytes)
                .thenComparing(Decision.Choice::bits, Arrays::compare));
        return new Decision(feasible.subList(0, Math.min(Decision.TOP, feasible.size())), predicted.size(),
                feasible.size());
    }

    /** Scores equal up to rounding count as ties, which then go to fewer bytes. */
    private static double roundScore(double s) {
        return Math.rint(s * 1e12) / 1e12;
    }

    // ---------------------------------------------------------------- helpers

    /** A fitted GP and how history tasks map to its tasks. */
    private record Model(MultiTaskGp gp, boolean single) {
        int taskIndex(int task) {
            return single ? 0 : task;
        }
    }

    private Model fitModel(History history, int seedStep) {
        boolean single = strategy != Strategy.MULTI_TASK;
        int target = config.targetTask();
        List<Step> used = history.steps().stream().filter(s -> !single || s.task() == target).toList();
        double[][] x = new double[used.size()][];
        int[] t = new int[used.size()];
        double[] y = new double[used.size()];
        for (int a = 0; a < used.size(); a++) {
            x[a] = used.get(a).theta();
            t[a] = single ? 0 : used.get(a).task();
            y[a] = used.get(a).value();
        }
        long fitSeed = rng(seedStep, PURPOSE_FIT).nextLong();
        MultiTaskGp gp = MultiTaskGp.fit(x, t, y, single ? 1 : config.tasks().size(), config.fit(), fitSeed);
        return new Model(gp, single);
    }

    private double[][] candidates(int step) {
        if (gridSize <= config.maxCandidates()) {
            double[][] all = new double[(int) gridSize][];
            for (int i = 0; i < all.length; i++) {
                all[i] = gridPoint(i);
            }
            return all;
        }
        SplittableRandom r = rng(step, PURPOSE_CANDIDATES);
        double[][] sub = new double[config.maxCandidates()][];
        for (int i = 0; i < sub.length; i++) {
            sub[i] = gridPoint(r.nextLong(gridSize));
        }
        return sub;
    }

    /** Grid point {@code index} in base {@code gridPoints}, first coordinate fastest. */
    double[] gridPoint(long index) {
        int g = config.gridPoints();
        double[] theta = new double[curve.dimension()];
        long rest = index;
        for (int j = 0; j < theta.length; j++) {
            theta[j] = (double) (rest % g) / (g - 1);
            rest /= g;
        }
        return theta;
    }

    private SplittableRandom rng(int step, int purpose) {
        long h = config.seed() * 0x9E3779B97F4A7C15L + step * 0xC2B2AE3D27D4EB4FL + purpose * 0x165667B19E3779F9L;
        h = (h ^ (h >>> 33)) * 0xFF51AFD7ED558CCDL;
        h = (h ^ (h >>> 33)) * 0xC4CEB9FE1A85EC53L;
        return new SplittableRandom(h ^ (h >>> 33));
    }

    /** Bits as a hash key. */
    private record BitsKey(int[] bits) {
        @Override
        public boolean equals(Object o) {
            return o instanceof BitsKey k && Arrays.equals(k.bits, bits);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bits);
        }
    }
}
