package io.github.dsconv.search;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Penalties and constraints of the decision. */
class DecisionRuleTest {

    @Test
    void paperPenaltyCountsBits() {
        // (sum(bits) - 4L) / 1000 = (2 + 4 + 8 - 12) / 1000.
        assertEquals(0.002, DecisionRule.paper().penalty(new int[] {2, 4, 8}, new long[] {1, 50, 7}), 1e-15);
    }

    @Test
    void bytesPenaltyEqualsThePaperForEqualLayers() {
        long[] equal = {64, 64, 64};
        int[] bits = {3, 5, 8};
        assertEquals(DecisionRule.paper().penalty(bits, equal), DecisionRule.defaults().penalty(bits, equal), 1e-15);
    }

    @Test
    void bytesPenaltyChargesLargeLayersMore() {
        // Layers of 100 and 300 weights: W4 = 400 * 4 / 8 = 200 bytes, average layer 200 weights.
        // One bit more on the large layer: +300/8 = 37.5 bytes -> 4L (37.5 / 200) = 8 * 0.1875 = 1.5 average bits.
        long[] w = {100, 300};
        assertEquals(0.0015, DecisionRule.defaults().penalty(new int[] {4, 5}, w), 1e-15);
        // One bit more on the small one: 12.5 bytes -> 0.5 average bits.
        assertEquals(0.0005, DecisionRule.defaults().penalty(new int[] {5, 4}, w), 1e-15);
        assertEquals(0, DecisionRule.defaults().penalty(new int[] {4, 4}, w), 1e-15);
    }

    @Test
    void constraints() {
        DecisionRule r = DecisionRule.defaults().withMaxBytes(100).withMaxDrop(0.9, 0.02);
        assertTrue(r.feasible(0.88, 100));
        assertFalse(r.feasible(0.8799, 100));
        assertFalse(r.feasible(0.95, 100.5));
        assertThrows(IllegalArgumentException.class, () -> r.withBitPenalty(-1));
        assertThrows(IllegalArgumentException.class, () -> r.withMaxBytes(0));
        assertThrows(IllegalArgumentException.class, () -> r.withMaxDrop(0.9, -0.1));
    }
}
