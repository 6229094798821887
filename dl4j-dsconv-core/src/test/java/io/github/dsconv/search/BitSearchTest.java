package io.github.dsconv.search;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The search loop on a synthetic two-fidelity problem: efficiency, determinism, resume and bad input. */
class BitSearchTest {

    /** Two L-BFGS starts of at most 100 iterations keep each test well under 5 s. */
    private static SearchConfig.Builder config() {
        return SearchConfig.builder(SyntheticProblem.LAYERS, SyntheticProblem.TASKS)
                .fit(new MultiTaskGp.FitOptions(4, 2, 100))
                .rule(DecisionRule.defaults().withBitPenalty(0));
    }

    /** Target-task evaluations until the best target value seen reaches {@code goal}; evaluations + 1 if never. */
    private static int targetEvaluationsToReach(History h, int target, double goal) {
        int count = 0;
        for (Step s : h.steps()) {
            if (s.task() == target) {
                count++;
                if (s.value() >= goal - 1e-12) {
                    return count;
                }
            }
        }
        return count + 1;
    }

    @Test
    void multiTaskReachesTheOptimumWithFewerTargetEvaluationsThanSingleTask() {
        // Multi-task: 30 evaluations, of which 6 on the target (steps 0, 5, ..., 25); its answer is the decision.
        // Single-task: how many target evaluations until the best one it has seen is as good as that answer (17 if
        // not within its 16). Measured: multi-task 6 against 9.2 on average over these seeds (single-task 10, 11, 1, 11,
        // 10, 12), every answer within 0.002 of the optimum; both share the random start of a seed, which for seed 3
        // is already as good as the multi-task answer. One L-BFGS start per fit keeps the test at ~2 s of CPU.
        int seeds = 6;
        MultiTaskGp.FitOptions oneStart = new MultiTaskGp.FitOptions(4, 1, 100);
        double multiTarget = 0;
        double singleTarget = 0;
        double multiGap = 0;
        for (int seed = 1; seed <= seeds; seed++) {
            BitSearch multi = BitSearch.multiTask(config().budget(30).seed(seed).fit(oneStart).build());
            BitSearch single = BitSearch.singleTask(config().budget(16).seed(seed).fit(oneStart).build());
            double optimum = SyntheticProblem.bestTarget(multi);
            History hm = multi.run(new SyntheticProblem());
            double found = SyntheticProblem.target(multi.decide(hm).best().orElseThrow().bits());
            History hs = single.run(new SyntheticProblem());
            multiTarget += hm.count(1);
            singleTarget += targetEvaluationsToReach(hs, 1, found);
            multiGap += optimum - found;
        }
        multiTarget /= seeds;
        singleTarget /= seeds;
        multiGap /= seeds;
        // Target values span about 0.65..1 over the grid; the answer is within 0.005 of the optimum on average.
        assertTrue(multiGap <= 0.005, "multi-task answer is " + multiGap + " below the optimum on average");
        assertTrue(multiTarget < singleTarget, "target evaluations: multi-task " + multiTarget + ", single-task "
                + singleTarget);
    }

    @Test
    void sameSeedSameRunAndResumeEqualsUninterrupted() {
        BitSearch search = BitSearch.multiTask(config().budget(12).seed(9).build());
        History full = search.run(new SyntheticProblem());
        assertEquals(12, full.size());
        assertEquals(full, search.run(new SyntheticProblem()));
        // Interrupted after 7 steps (e.g. the process died), resumed from the saved history.
        List<Step> seen = new ArrayList<>();
        History resumed = search.resume(full.truncate(7), new SyntheticProblem(), seen::add);
        assertEquals(full, resumed);
        assertEquals(full.steps().subList(7, 12), seen);
        // The budget only says where to stop: a larger one follows the same path, and extends a finished search.
        BitSearch longer = BitSearch.multiTask(search.config().withBudget(14));
        History extended = longer.resume(full, new SyntheticProblem());
        assertEquals(14, extended.size());
        assertEquals(extended, longer.run(new SyntheticProblem()));
        History other = BitSearch.multiTask(config().budget(12).seed(10).build()).run(new SyntheticProblem());
        assertNotEquals(full, other);
    }

    @Test
    void stepsFollowThePaperSchedule() {
        History h = BitSearch.multiTask(config().budget(11).seed(3).build()).run(new SyntheticProblem());
        for (Step s : h.steps()) {
            int expected = s.step() % 5 == 0 ? 1 : 0;  // random start and every 5th step on the target
            assertEquals(expected, s.task(), "step " + s.step());
        }
        BitSearch single = BitSearch.singleTask(config().budget(4).seed(3).build());
        assertTrue(single.run(new SyntheticProblem()).steps().stream().allMatch(s -> s.task() == 1));
        BitSearch random = BitSearch.random(config().budget(6).seed(3).build());
        History hr = random.run(new SyntheticProblem());
        assertTrue(hr.steps().stream().allMatch(s -> s.task() == 1));
        assertEquals(hr, random.run(new SyntheticProblem()));
        // Random search decides among what it observed.
        Decision d = random.decide(hr);
        double bestSeen = hr.steps().stream().mapToDouble(Step::value).max().orElseThrow();
        assertEquals(bestSeen, d.best().orElseThrow().value(), 0);
        assertEquals(1, d.best().orElseThrow().evaluations(), 0);
    }

    @Test
    void decisionHonoursMemoryAndDropConstraints() {
        SearchConfig c = config().budget(6).seed(4).layerWeights(100, 100, 100, 100, 100, 100, 100, 1000).build();
        BitSearch random = BitSearch.random(c);
        History h = random.run(new SyntheticProblem());
        // Uniform W4 needs (7 * 100 + 1000) * 4 / 8 = 850 bytes.
        DecisionRule limit = DecisionRule.defaults().withMaxBytes(850);
        for (Decision.Choice ch : random.decide(h, limit).ranked()) {
            assertTrue(ch.bytes() <= 850);
            assertEquals(c.bytes(ch.bits()), ch.bytes(), 0);
        }
        DecisionRule drop = DecisionRule.defaults().withMaxDrop(1.0, 0.05);
        for (Decision.Choice ch : random.decide(h, drop).ranked()) {
            assertTrue(ch.value() >= 0.95);
        }
        DecisionRule impossible = DecisionRule.defaults().withMaxDrop(10, 0);
        assertTrue(random.decide(h, impossible).best().isEmpty());
    }

    /**
     * Verification: the last steps of the budget measure, on the target, the GP's best predictions not measured
     * yet, and {@code decideMeasured} chooses among measured configurations by their measured score. The steps
     * before are those of the run without verification (the per-step seeding makes the prefix identical).
     */
    @Test
    void verificationStepsMeasureTheBestPredictionsAndTheAnswerIsMeasured() {
        BitSearch plain = BitSearch.multiTask(config().budget(9).seed(5).build());
        BitSearch verified = BitSearch.multiTask(config().budget(12).seed(5).verifySteps(3).build());
        SyntheticProblem problem = new SyntheticProblem();
        History h = verified.run(problem);
        assertEquals(plain.run(problem).steps(), h.truncate(9).steps());
        int target = verified.config().targetTask();
        for (int s = 9; s < 12; s++) {
            Step step = h.steps().get(s);
            assertEquals(target, step.task());
            for (int e = 0; e < s; e++) {
                Step earlier = h.steps().get(e);
                assertTrue(earlier.task() != target || !Arrays.equals(earlier.bits(), step.bits()),
                        "step " + s + " measures a configuration measured at step " + e);
            }
        }
        // The first verification step is the GP's top prediction after 9 steps.
        assertArrayEquals(verified.decide(h.truncate(9)).best().orElseThrow().bits(), h.steps().get(9).bits());
        Decision d = verified.decideMeasured(h);
        Decision.Choice best = d.best().orElseThrow();
        assertTrue(best.evaluations() >= 1);
        double bestMeasured = Double.NEGATIVE_INFINITY;
        for (Step s : h.steps()) {
            if (s.task() == target) {
                bestMeasured = Math.max(bestMeasured, s.value()
                        - verified.config().rule().penalty(s.bits(), verified.config().layerWeights()));
            }
        }
        assertEquals(bestMeasured, best.score(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> config().budget(5).verifySteps(5).build());
    }

    @Test
    void badInputIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> config().budget(0).build());
        assertThrows(IllegalArgumentException.class, () -> config().curve(CurveKind.parse("bezier4")).build());
        // Uniform W2 of 8 equal layers is 8 * 1 * 2 / 8 = 2 bytes.
        IllegalArgumentException w2 = assertThrows(IllegalArgumentException.class,
                () -> config().rule(DecisionRule.defaults().withMaxBytes(1.5)).build());
        assertTrue(w2.getMessage().contains("W2"), w2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> config().layerWeights(1, 2, 3).build());
        assertThrows(IllegalArgumentException.class, () -> config().targetTask(2).build());
        assertThrows(IllegalArgumentException.class, () -> SearchConfig.builder(8, List.of()).build());
        assertThrows(IllegalArgumentException.class, () -> new Task("free", 0));
        assertThrows(IllegalArgumentException.class, () -> DecisionRule.defaults().withMaxDrop(Double.NaN, 0.01));

        BitSearch search = BitSearch.multiTask(config().budget(3).build());
        // A history from another curve (theta of the wrong length) or with bits the curve does not give.
        History wrongTheta = History.of(List.of(new Step(0, 1, new double[] {0, 0, 0}, new int[8], 0.5)));
        assertThrows(IllegalArgumentException.class, () -> search.resume(wrongTheta, new SyntheticProblem()));
        History wrongBits = History.of(List.of(new Step(0, 1, new double[] {0, 0},
                new int[] {2, 2, 2, 2, 2, 2, 2, 3}, 0.5)));
        assertThrows(IllegalArgumentException.class, () -> search.resume(wrongBits, new SyntheticProblem()));
        History wrongLayers = History.of(List.of(new Step(0, 1, new double[] {0, 0}, new int[] {2, 2}, 0.5)));
        assertThrows(IllegalArgumentException.class, () -> search.resume(wrongLayers, new SyntheticProblem()));
        assertThrows(IllegalArgumentException.class,
                () -> History.of(List.of(new Step(1, 1, new double[] {0, 0}, new int[8], 0.5))));
        History onCheapTask = History.of(List.of(new Step(0, 0, new double[] {0, 0},
                new int[] {2, 2, 2, 2, 2, 2, 2, 2}, 0.5)));
        assertThrows(IllegalArgumentException.class,
                () -> BitSearch.singleTask(search.config()).resume(onCheapTask, new SyntheticProblem()));
        assertThrows(IllegalStateException.class, () -> search.run((task, bits) -> Double.NaN));
    }
}
