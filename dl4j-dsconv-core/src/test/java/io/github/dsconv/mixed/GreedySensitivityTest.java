package io.github.dsconv.mixed;

import io.github.dsconv.search.DecisionRule;
import io.github.dsconv.search.SearchConfig;
import io.github.dsconv.search.Task;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The greedy sensitivity baseline on a synthetic problem whose sensitivities are known. */
class GreedySensitivityTest {

    /** Layer k loses s[k] * 4^(3-b) at b bits: layer 0 is very sensitive, layer 2 not at all. */
    private static final double[] S = {0.2, 0.01, 0.0};

    private static double value(int[] bits) {
        double v = 1;
        for (int k = 0; k < bits.length; k++) {
            v -= S[k] * Math.pow(4, 3 - bits[k]);
        }
        return v;
    }

    @Test
    void probesEachLayerThenLowersTheInsensitiveOnesFirstWithinTheBudget() {
        List<int[]> seen = new ArrayList<>();
        SearchConfig config = SearchConfig.builder(3, List.of(new Task("target", 1))).layerWeights(100, 100, 100)
                .budget(10).rule(DecisionRule.defaults().withMaxBytes(SearchConfig.bytes(5, new long[] {100, 100,
                    100}))).build();
        List<GreedySensitivity.Evaluated> out = GreedySensitivity.run((task, bits) -> {
            seen.add(bits.clone());
            return value(bits);
        }, config, null);
        assertEquals(10, out.size());
        assertArrayEquals(new int[] {8, 8, 8}, seen.get(0));
        // One probe a layer at 3 bits (largest layer first; equal sizes keep the order).
        assertArrayEquals(new int[] {3, 8, 8}, seen.get(1));
        assertArrayEquals(new int[] {8, 3, 8}, seen.get(2));
        assertArrayEquals(new int[] {8, 8, 3}, seen.get(3));
        // Every evaluated configuration after the probes meets the byte limit, and the insensitive layer went
        // all the way down before the sensitive one moved.
        for (GreedySensitivity.Evaluated e : out.subList(4, out.size())) {
            assertTrue(e.bytes() <= SearchConfig.bytes(5, new long[] {100, 100, 100}), e.toString());
            assertTrue(e.feasible());
        }
        int[] first = out.get(4).bits();
        assertEquals(2, first[2]);
        assertTrue(first[0] >= first[1], java.util.Arrays.toString(first));
        GreedySensitivity.Evaluated best = GreedySensitivity.best(out).orElseThrow();
        assertTrue(best.feasible());
        assertEquals(value(best.bits()), best.value(), 0);
    }
}
