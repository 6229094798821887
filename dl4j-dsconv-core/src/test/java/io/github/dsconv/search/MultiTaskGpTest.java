package io.github.dsconv.search;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ICM Gaussian process: hand-computed posteriors, the kernel, the likelihood gradient and the fit. */
class MultiTaskGpTest {

    /** One task, mean 0, lengthscale 1, outputscale 1, B = 0 * 0 + 1 = 1, noise 0.1. */
    private static MultiTaskGp.Hyperparameters unitSingleTask() {
        return new MultiTaskGp.Hyperparameters(0, new double[] {1}, 1, 0.1, new double[][] {{0}}, new double[] {1});
    }

    @Test
    void twoPointPosteriorByHand() {
        // Data x = (0, 1), y = (1, 0). k(0,1) = exp(-1/2) = e = 0.6065307.
        // K = [[1.1, e], [e, 1.1]], det = 1.21 - e^2 = 0.8421206, K^-1 y = (1.1, -e) / det = (1.306226, -0.720242).
        // At x* = 0: k* = (1, e); mean = 1.306226 - e * 0.720242 = 0.869377;
        //   K^-1 k* = (1.1 - e^2, 0.1 e) / det = (0.869377, 0.072024); var = 1 - (0.869377 + e * 0.072024) = 0.086938.
        // At x* = 1/2: k* = (exp(-1/8), exp(-1/8)) = (0.882497, 0.882497);
        //   mean = 0.882497 * (1.306226 - 0.720242) = 0.517129; var = 1 - 2 * 0.882497^2 / (1.1 + e) = 0.087270.
        MultiTaskGp gp = MultiTaskGp.condition(new double[][] {{0}, {1}}, new int[] {0, 0}, new double[] {1, 0},
                unitSingleTask());
        MultiTaskGp.Posterior p = gp.posterior(new double[][] {{0}, {0.5}}, new int[] {0, 0});
        assertEquals(0.8693773725783195, p.mean()[0], 1e-12);
        assertEquals(0.08693773725783205, p.covariance()[0][0], 1e-12);
        assertEquals(0.5171292397015598, p.mean()[1], 1e-12);
        assertEquals(0.08727009545489328, p.covariance()[1][1], 1e-12);
        assertEquals(p.covariance()[0][1], p.covariance()[1][0], 0);
        assertEquals(p.mean()[1], gp.mean(new double[] {0.5}, 0), 1e-15);
        assertEquals(0.1, gp.noiseVariance(), 0);
    }

    @Test
    void icmKernelAndCoregionalisationByHand() {
        // W = [[1], [0.5]], v = (0.1, 0.2): B = [[1 + 0.1, 0.5], [0.5, 0.25 + 0.2]] = [[1.1, 0.5], [0.5, 0.45]].
        MultiTaskGp.Hyperparameters h = new MultiTaskGp.Hyperparameters(0, new double[] {0.5}, 2, 0.1,
                new double[][] {{1}, {0.5}}, new double[] {0.1, 0.2});
        double[][] b = h.coregionalisation();
        assertArrayEquals(new double[] {1.1, 0.5}, b[0], 1e-15);
        assertArrayEquals(new double[] {0.5, 0.45}, b[1], 1e-15);
        // x = 0.2 and 0.7 are one lengthscale apart: RBF = exp(-1/2) = 0.6065307.
        double e = Math.exp(-0.5);
        assertEquals(2 * e * 0.5, h.kernel(new double[] {0.2}, 0, new double[] {0.7}, 1), 1e-15);
        assertEquals(2 * 1.1, h.kernel(new double[] {0.2}, 0, new double[] {0.2}, 0), 1e-15);
        assertEquals(2 * 0.45, h.kernel(new double[] {0.7}, 1, new double[] {0.7}, 1), 1e-15);
        // Far from all data the joint posterior over tasks is the prior s * B.
        MultiTaskGp gp = MultiTaskGp.condition(new double[][] {{0.2}, {0.7}}, new int[] {0, 1},
                new double[] {1, 2}, h);
        MultiTaskGp.Posterior far = gp.tasksAt(new double[] {100});
        assertArrayEquals(new double[] {2.2, 1.0}, far.covariance()[0], 1e-12);
        assertArrayEquals(new double[] {1.0, 0.9}, far.covariance()[1], 1e-12);
        // Near the data tasksAt agrees with the general posterior.
        MultiTaskGp.Posterior at = gp.tasksAt(new double[] {0.4});
        MultiTaskGp.Posterior both = gp.posterior(new double[][] {{0.4}, {0.4}}, new int[] {0, 1});
        for (int i = 0; i < 2; i++) {
            assertEquals(both.mean()[i], at.mean()[i], 1e-12);
            assertArrayEquals(both.covariance()[i], at.covariance()[i], 1e-12);
        }
    }

    @Test
    void perTaskMeansByHand() {
        // Means (2, 0), W = [[1], [0.5]], v = (0, 0.75): B = [[1, 0.5], [0.5, 1]]; s = 1, noise 0.1.
        // One observation y = 1 of task 1 at x = 0. Task 0 at x = 0: 2 + 0.5 * (1 - 0) / (1 + 0.1) = 2.454545...;
        // task 1 at x = 0: 0 + 1 * 1 / 1.1 = 0.909090...; far from the data each task reverts to its own mean.
        MultiTaskGp.Hyperparameters h = new MultiTaskGp.Hyperparameters(new double[] {2, 0}, new double[] {0.5}, 1,
                0.1, new double[][] {{1}, {0.5}}, new double[] {0, 0.75});
        assertEquals(2, h.mean(0), 0);
        MultiTaskGp gp = MultiTaskGp.condition(new double[][] {{0}}, new int[] {1}, new double[] {1}, h);
        assertEquals(2 + 0.5 / 1.1, gp.mean(new double[] {0}, 0), 1e-12);
        assertEquals(1 / 1.1, gp.mean(new double[] {0}, 1), 1e-12);
        MultiTaskGp.Posterior far = gp.tasksAt(new double[] {50});
        assertArrayEquals(new double[] {2, 0}, far.mean(), 1e-12);
        // The shared-mean constructor is the reference model: every task has the same mean.
        MultiTaskGp.Hyperparameters shared = new MultiTaskGp.Hyperparameters(0.3, new double[] {0.5}, 1, 0.1,
                new double[][] {{1}, {0.5}}, new double[] {0, 0.75});
        assertArrayEquals(new double[] {0.3, 0.3}, shared.means(), 0);
        assertThrows(IllegalArgumentException.class, () -> new MultiTaskGp.Hyperparameters(new double[] {1},
                new double[] {0.5}, 1, 0.1, new double[][] {{1}, {0.5}}, new double[] {0, 0.75}));
    }

    @Test
    void perTaskMeansPredictTheTargetFromABiasedCheapCopy() {
        // The target f(x) = 0.9 + 0.08 sin(3x) is seen only at x <= 0.2; a cheap task g = f - 0.6 (a biased copy,
        // like plain conversion against the calibrated recipe) is seen on all of [0, 1]. At x = 0.9 the target's
        // prediction must carry g's shape and f's level: the mean per task learns the offset.
        int nc = 11;
        int nt = 3;
        double[][] x = new double[nc + nt][1];
        int[] t = new int[nc + nt];
        double[] y = new double[nc + nt];
        for (int a = 0; a < nc; a++) {
            x[a][0] = a / 10.0;
            y[a] = 0.9 + 0.08 * Math.sin(3 * x[a][0]) - 0.6;
        }
        for (int a = 0; a < nt; a++) {
            x[nc + a][0] = a / 10.0;
            t[nc + a] = 1;
            y[nc + a] = 0.9 + 0.08 * Math.sin(3 * x[nc + a][0]);
        }
        double truth = 0.9 + 0.08 * Math.sin(2.7);
        MultiTaskGp perTask = MultiTaskGp.fit(x, t, y, 2, MultiTaskGp.FitOptions.defaults(), 3);
        MultiTaskGp shared = MultiTaskGp.fit(x, t, y, 2, MultiTaskGp.FitOptions.defaults().withTaskMeans(false), 3);
        double errPerTask = Math.abs(perTask.mean(new double[] {0.9}, 1) - truth);
        double errShared = Math.abs(shared.mean(new double[] {0.9}, 1) - truth);
        System.out.printf("biased copy: target at 0.9 off by %.4f (mean per task), %.4f (shared mean)%n", errPerTask,
                errShared);
        assertTrue(errPerTask < 0.05, "mean per task: off by " + errPerTask);
        assertTrue(errPerTask < errShared, "per task " + errPerTask + " vs shared " + errShared);
    }

    @Test
    void likelihoodGradientMatchesFiniteDifferencesWithASharedMean() {
        gradientCheck(false);
    }

    @Test
    void likelihoodGradientMatchesFiniteDifferences() {
        gradientCheck(true);
    }

    private static void gradientCheck(boolean taskMeans) {
        SplittableRandom r = new SplittableRandom(7);
        int n = 7;
        double[][] x = new double[n][2];
        int[] t = new int[n];
        double[] y = new double[n];
        for (int a = 0; a < n; a++) {
            x[a][0] = r.nextDouble();
            x[a][1] = r.nextDouble();
            t[a] = a % 3;
            y[a] = Math.sin(3 * x[a][0]) + x[a][1] + 0.3 * t[a];
        }
        HyperparameterLayout layout = new HyperparameterLayout(2, 3, 2, taskMeans);
        double[] z = new double[layout.size()];
        for (int i = 0; i < z.length; i++) {
            z[i] = r.nextDouble(-1, 1);
        }
        double[] grad = new double[z.length];
        MultiTaskGp.logMarginalLikelihood(x, t, y, layout, z, grad);
        double[] scratch = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            double hStep = 1e-5;
            double[] zp = z.clone();
            double[] zm = z.clone();
            zp[i] += hStep;
            zm[i] -= hStep;
            double fd = (MultiTaskGp.logMarginalLikelihood(x, t, y, layout, zp, scratch)
                    - MultiTaskGp.logMarginalLikelihood(x, t, y, layout, zm, scratch)) / (2 * hStep);
            assertEquals(fd, grad[i], 1e-6 * Math.max(1, Math.abs(fd)), "coordinate " + i);
        }
    }

    @Test
    void fitRecoversTheLengthscaleOfItsData() {
        // y = sin(2 pi x / 0.8) changes on a scale of about 0.8 / (2 pi) = 0.13, so the fitted RBF lengthscale should
        // be near it (accepted: 0.1..0.3); a straight line has no such scale and drives l to the upper bound 0.5.
        int n = 25;
        double[][] x = new double[n][1];
        double[] wavy = new double[n];
        double[] line = new double[n];
        for (int a = 0; a < n; a++) {
            x[a][0] = a / (n - 1.0);
            wavy[a] = Math.sin(2 * Math.PI * x[a][0] / 0.8);
            line[a] = x[a][0];
        }
        int[] t = new int[n];
        MultiTaskGp wavyGp = MultiTaskGp.fit(x, t, wavy, 1, MultiTaskGp.FitOptions.defaults(), 1);
        MultiTaskGp lineGp = MultiTaskGp.fit(x, t, line, 1, MultiTaskGp.FitOptions.defaults(), 1);
        double lWavy = wavyGp.hyperparameters().lengthscales()[0];
        double lLine = lineGp.hyperparameters().lengthscales()[0];
        assertTrue(lWavy > 0.1 && lWavy < 0.3, "wavy lengthscale " + lWavy);
        assertTrue(lLine > 0.45, "line lengthscale " + lLine);
        // Interpolates its data within the noise floor (noise variance >= 0.05 in standardised units).
        assertEquals(wavy[12], wavyGp.mean(x[12], 0), 0.15);
    }

    @Test
    void fitIsDeterministicForASeed() {
        double[][] x = {{0.1, 0.2}, {0.5, 0.9}, {0.8, 0.3}, {0.4, 0.4}};
        int[] t = {0, 1, 0, 1};
        double[] y = {0.3, 0.5, 0.1, 0.7};
        MultiTaskGp a = MultiTaskGp.fit(x, t, y, 2, MultiTaskGp.FitOptions.defaults(), 5);
        MultiTaskGp b = MultiTaskGp.fit(x, t, y, 2, MultiTaskGp.FitOptions.defaults(), 5);
        assertEquals(a.logMarginalLikelihood(), b.logMarginalLikelihood(), 0);
        assertArrayEquals(a.tasksAt(new double[] {0.3, 0.3}).mean(), b.tasksAt(new double[] {0.3, 0.3}).mean(), 0);
        MultiTaskGp.Hyperparameters h = a.hyperparameters();
        assertTrue(h.outputscale() > 1 && h.outputscale() < 2);
        assertTrue(h.noise() > 0.05 && h.noise() < 0.3);
    }

    @Test
    void badDataIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> MultiTaskGp.condition(new double[][] {{0}, {1}},
                new int[] {0}, new double[] {1, 0}, unitSingleTask()));
        assertThrows(IllegalArgumentException.class, () -> MultiTaskGp.condition(new double[][] {{0}},
                new int[] {1}, new double[] {1}, unitSingleTask()));
        assertThrows(IllegalArgumentException.class, () -> MultiTaskGp.fit(new double[][] {{0}},
                new int[] {0}, new double[] {Double.NaN}, 1, MultiTaskGp.FitOptions.defaults(), 0));
        MultiTaskGp gp = MultiTaskGp.condition(new double[][] {{0}}, new int[] {0}, new double[] {1},
                unitSingleTask());
        assertThrows(IllegalArgumentException.class, () -> gp.mean(new double[] {0, 0}, 0));
    }
}
