package io.github.dsconv.search;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Information gain and GP-UCB. */
class AcquisitionTest {

    private static double entropy(double variance) {
        return 0.5 * Math.log(2 * Math.PI * Math.E * variance);
    }

    @Test
    void informationGainIsAnEntropyDifference() {
        // Low task l with latent variance 0.8, target M with 0.5, covariance 0.3, noise 0.1.
        // IG = H[y_l] - H[y_l | f_M] = H[y_l] + H[f_M] - H[y_l, f_M], with
        // Cov(y_l, f_M) = [[0.9, 0.3], [0.3, 0.5]], det = 0.45 - 0.09 = 0.36.
        double joint = 0.5 * Math.log(Math.pow(2 * Math.PI * Math.E, 2) * 0.36);
        double expected = entropy(0.9) + entropy(0.5) - joint;
        assertEquals(expected, Acquisition.informationGain(0.8, 0.3, 0.5, 0.1), 1e-12);
        // Closed form: 1/2 log(0.9 / (0.9 - 0.09 / 0.5)) = 1/2 log(0.9 / 0.72) = 1/2 log 1.25.
        assertEquals(0.5 * Math.log(1.25), Acquisition.informationGain(0.8, 0.3, 0.5, 0.1), 1e-12);
    }

    @Test
    void informationGainEdgeCases() {
        assertEquals(0, Acquisition.informationGain(0.8, 0, 0.5, 0.1), 0);      // independent tasks
        assertEquals(0, Acquisition.informationGain(0.8, 0.3, 0, 0.1), 0);      // target already known
        // Perfectly correlated and noise-free: bounded by the 1e-12 floor, not infinite.
        double ig = Acquisition.informationGain(1, 1, 1, 0);
        assertEquals(0.5 * Math.log(1e12), ig, 1e-6);
    }

    @Test
    void ucbBetaValues() {
        // 2 log(900 * 1 * pi^2 / 0.6) = 2 log(14804.4) = 19.2054 (|D| = 30^2, t = 1, delta = 0.1).
        assertEquals(19.205360317578204, Acquisition.ucbBeta(900, 1, 0.1), 1e-12);
        // t = 3 multiplies the argument by 9: + 2 log 9.
        assertEquals(19.205360317578204 + 2 * Math.log(9), Acquisition.ucbBeta(900, 3, 0.1), 1e-12);
        assertEquals(2 * Math.log(Math.PI * Math.PI / 0.6), Acquisition.ucbBeta(1, 1, 0.1), 1e-12);
        assertEquals(1 + 3 * 2, Acquisition.ucb(1, 4, 9), 1e-15);
        assertThrows(IllegalArgumentException.class, () -> Acquisition.ucbBeta(0, 1, 0.1));
        assertThrows(IllegalArgumentException.class, () -> Acquisition.ucbBeta(10, 0, 0.1));
        assertThrows(IllegalArgumentException.class, () -> Acquisition.ucbBeta(10, 1, 1));
    }
}
