package io.github.dsconv.mixed;

import io.github.dsconv.search.DecisionRule;
import io.github.dsconv.search.Evaluator;
import io.github.dsconv.search.SearchConfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The greedy sensitivity baseline, as AIMET's AMP and HAWQ allocate bits: measure how much each position alone
 * costs at low precision, then lower the least sensitive positions per byte saved first, all on the target
 * fidelity and within the same evaluation budget as the search.
 *
 * <ol>
 *   <li>one evaluation of uniform W8, then one per position with that position at 3 bits and the rest at 8: its
 *   sensitivity {@code s_i = max(0, v8 - v_i)} (positions beyond the budget get the mean sensitivity);</li>
 *   <li>a walk down from uniform W8, one bit at a time, always the move with the smallest predicted loss per byte
 *   saved; lowering position {@code i} from {@code b} to {@code b-1} is predicted to cost
 *   {@code s_i * 3 * 4^(3-b)} (quantization noise power grows about fourfold per bit);</li>
 *   <li>the remaining evaluations spread evenly along the walk, or, with a byte limit, spent on the first
 *   configurations of the walk that meet it;</li>
 *   <li>the answer: the best evaluated configuration by the search's {@link DecisionRule}.</li>
 * </ol>
 */
public final class GreedySensitivity {

    /** One evaluated configuration. */
    public record Evaluated(int[] bits, double value, double bytes, double score, boolean feasible) {
        public Evaluated {
            bits = bits.clone();
        }

        @Override
        public int[] bits() {
            return bits.clone();
        }
    }

    private GreedySensitivity() {
    }

    /**
     * Runs the baseline.
     *
     * @param evaluator the fidelities
     * @param config    the search's configuration (layers, weights, target task, budget, decision rule)
     * @param onEval    called after each evaluation (may be null)
     * @return every evaluated configuration, in order
     */
    public static List<Evaluated> run(Evaluator evaluator, SearchConfig config, Consumer<Evaluated> onEval) {
        int l = config.layers();
        long[] w = config.layerWeights();
        int budget = config.budget();
        int task = config.targetTask();
        DecisionRule rule = config.rule();
        List<Evaluated> out = new ArrayList<>();
        int[] top = new int[l];
        Arrays.fill(top, 8);
        double v8 = eval(evaluator, task, top, w, rule, out, onEval);
        double[] s = new double[l];
        Arrays.fill(s, Double.NaN);
        Integer[] bySize = new Integer[l];
        for (int i = 0; i < l; i++) {
            bySize[i] = i;
        }
        Arrays.sort(bySize, Comparator.comparingLong(i -> -w[i])); // largest first: most bytes at stake
        for (int k = 0; k < l && out.size() < budget - 1; k++) {
            int i = bySize[k];
            int[] probe = top.clone();
            probe[i] = 3;
            s[i] = Math.max(0, v8 - eval(evaluator, task, probe, w, rule, out, onEval));
        }
        double mean = Arrays.stream(s).filter(Double::isFinite).average().orElse(0);
        for (int i = 0; i < l; i++) {
            if (!Double.isFinite(s[i])) {
                s[i] = mean;
            }
        }
        List<int[]> walk = new ArrayList<>();
        int[] cur = top.clone();
        while (true) {
            int best = -1;
            double bestCost = Double.POSITIVE_INFINITY;
            for (int i = 0; i < l; i++) {
                if (cur[i] > 2) {
                    double cost = (s[i] * 3 * Math.pow(4, 3 - cur[i]) + 1e-12) / w[i];
                    if (cost < bestCost) {
                        bestCost = cost;
                        best = i;
                    }
                }
            }
            if (best < 0) {
                break;
            }
            cur[best]--;
            walk.add(cur.clone());
        }
        int left = budget - out.size();
        if (left > 0 && !walk.isEmpty()) {
            List<int[]> picks = new ArrayList<>();
            if (Double.isFinite(rule.maxBytes())) {
                int first = 0;
                while (first < walk.size() && SearchConfig.bytes(walk.get(first), w) > rule.maxBytes()) {
                    first++;
                }
                for (int k = first; k < walk.size() && picks.size() < left; k++) {
                    picks.add(walk.get(k));
                }
            } else {
                for (int k = 1; k <= left; k++) {
                    picks.add(walk.get(Math.min(walk.size() - 1, (int) Math.round((double) k * walk.size() / left)
                            - 1)));
                }
            }
            for (int[] b : picks) {
                eval(evaluator, task, b, w, rule, out, onEval);
            }
        }
        return out;
    }

    /** The best evaluated configuration by score among the feasible ones. */
    public static Optional<Evaluated> best(List<Evaluated> evaluated) {
        return evaluated.stream().filter(Evaluated::feasible).max(Comparator.comparingDouble(Evaluated::score)
                .thenComparing(Comparator.comparingDouble(Evaluated::bytes).reversed()));
    }

    private static double eval(Evaluator ev, int task, int[] bits, long[] w, DecisionRule rule, List<Evaluated> out,
                               Consumer<Evaluated> onEval) {
        double v = ev.evaluate(task, bits);
        double bytes = SearchConfig.bytes(bits, w);
        Evaluated e = new Evaluated(bits, v, bytes, v - rule.penalty(bits, w), rule.feasible(v, bytes));
        out.add(e);
        if (onEval != null) {
            onEval.accept(e);
        }
        return v;
    }
}
