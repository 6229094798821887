package io.github.dsconv.search;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Curves over depth and the level-to-bits map {@code bits = 2 + min(6, floor(7y))}. */
class CurveTest {

    @Test
    void levelBandsAreSeventhsFromTwoToEightBits() {
        assertEquals(2, BitCurve.bitsOf(0));
        assertEquals(2, BitCurve.bitsOf(0.14));
        assertEquals(3, BitCurve.bitsOf(1.0 / 7));
        assertEquals(4, BitCurve.bitsOf(0.3));   // 7 * 0.3 = 2.1
        assertEquals(7, BitCurve.bitsOf(0.85));  // 7 * 0.85 = 5.95
        assertEquals(8, BitCurve.bitsOf(6.0 / 7));
        assertEquals(8, BitCurve.bitsOf(1));     // floor(7) = 7, capped at 6
        assertThrows(IllegalArgumentException.class, () -> BitCurve.bitsOf(1.5));
        assertThrows(IllegalArgumentException.class, () -> BitCurve.bitsOf(Double.NaN));
    }

    @Test
    void linearBezierCornersAndRamp() {
        BitCurve c = CurveKind.BEZIER1.curve();
        assertArrayEquals(new int[] {2, 2, 2, 2, 2}, c.bits(new double[] {0, 0}, 5));
        assertArrayEquals(new int[] {8, 8, 8, 8, 8}, c.bits(new double[] {1, 1}, 5));
        // y_k = k/7 over 8 layers: 7y = 0, 1, ..., 7 -> 2, 3, ..., 8, and the last is capped at 8.
        assertArrayEquals(new int[] {2, 3, 4, 5, 6, 7, 8, 8}, c.bits(new double[] {0, 1}, 8));
        assertArrayEquals(new int[] {8, 8, 7, 6, 5, 4, 3, 2}, c.bits(new double[] {1, 0}, 8));
        // A single layer sits at t = 0.
        assertArrayEquals(new int[] {4}, c.bits(new double[] {0.3, 1}, 1));
    }

    @Test
    void quadraticAndCubicBezier() {
        // f(1/2) = 1/4 * 0 + 1/2 * 1 + 1/4 * 0 = 0.5 -> 7 * 0.5 = 3.5 -> 5 bits.
        assertEquals(0.5, CurveKind.BEZIER2.curve().value(new double[] {0, 1, 0}, 0.5), 1e-15);
        assertArrayEquals(new int[] {2, 5, 2}, CurveKind.BEZIER2.curve().bits(new double[] {0, 1, 0}, 3));
        // Cubic at t = 1/2: (1/8)(0) + (3/8)(1) + (3/8)(1) + (1/8)(0) = 0.75.
        assertEquals(0.75, CurveKind.BEZIER3.curve().value(new double[] {0, 1, 1, 0}, 0.5), 1e-15);
    }

    @Test
    void chebyshevIsClampedAndConstantWithNeutralHigherTerms() {
        BitCurve c = CurveKind.CHEBYSHEV.curve();
        // theta = (y, 1/2, 1/2, 1/2): only c_0 = 2y - 1 is non-zero, f = y everywhere.
        assertArrayEquals(new int[] {4, 4, 4}, c.bits(new double[] {0.3, 0.5, 0.5, 0.5}, 3));
        // theta = 1: g(u) = 1 + u + (2u^2 - 1) + (4u^3 - 3u) = 4u^3 + 2u^2 - 2u.
        // u = -1: g = 0 -> f = 0.5 -> 5 bits; u = 0: same; u = 1: g = 4 -> f = 2.5, clamped to 1 -> 8 bits.
        assertEquals(2.5, c.value(new double[] {1, 1, 1, 1}, 1), 1e-15);
        assertArrayEquals(new int[] {5, 5, 8}, c.bits(new double[] {1, 1, 1, 1}, 3));
        // theta = 0 negates g: u = 1 gives f = -1.5, clamped to 0 -> 2 bits.
        assertArrayEquals(new int[] {5, 5, 2}, c.bits(new double[] {0, 0, 0, 0}, 3));
        double[] y = c.levels(new double[] {0, 0, 0, 0}, 3);
        assertEquals(0.0, y[2]);
    }

    @Test
    void parseAcceptsTheFourNamesOnly() {
        assertEquals(CurveKind.BEZIER1, CurveKind.parse("bezier1"));
        assertEquals(CurveKind.CHEBYSHEV, CurveKind.parse("Chebyshev"));
        assertEquals(4, CurveKind.parse("bezier3").dimension());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CurveKind.parse("spline"));
        assertTrue(e.getMessage().contains("bezier1|bezier2|bezier3|chebyshev"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CurveKind.parse(null));
    }

    @Test
    void wrongThetaIsRefused() {
        BitCurve c = CurveKind.BEZIER1.curve();
        assertThrows(IllegalArgumentException.class, () -> c.bits(new double[] {0, 0, 0}, 4));
        assertThrows(IllegalArgumentException.class, () -> c.bits(new double[] {0, 1.2}, 4));
        assertThrows(IllegalArgumentException.class, () -> c.bits(new double[] {0, 1}, 0));
    }
}
