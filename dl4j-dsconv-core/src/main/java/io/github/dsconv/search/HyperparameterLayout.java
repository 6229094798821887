package io.github.dsconv.search;

import java.util.SplittableRandom;

/**
 * Unconstrained coordinates {@code z = [means, logit l_1..l_d, logit s, logit sigma^2, W (row-major), log v]},
 * the bounded values being {@code lo + (hi - lo) sigmoid(z)}; {@code means} is one value per task, or a single one
 * shared by all tasks.
 */
final class HyperparameterLayout {
    final int d;
    final int t;
    final int rank;
    /** Mean coordinates: {@code t} with a mean per task, else 1. */
    final int m;

    HyperparameterLayout(int d, int t, int rank, boolean taskMeans) {
        this.d = d;
        this.t = t;
        this.rank = rank;
        this.m = taskMeans ? t : 1;
    }

    int size() {
        return m + d + 2 + t * rank + t;
    }

    MultiTaskGp.Hyperparameters decode(double[] z) {
        double[] means = new double[t];
        for (int i = 0; i < t; i++) {
            means[i] = z[m == 1 ? 0 : i];
        }
        double[] ls = new double[d];
        for (int j = 0; j < d; j++) {
            ls[j] = bounded(z[m + j], MultiTaskGp.LENGTHSCALE_MIN, MultiTaskGp.LENGTHSCALE_MAX);
        }
        double s = bounded(z[m + d], MultiTaskGp.OUTPUTSCALE_MIN, MultiTaskGp.OUTPUTSCALE_MAX);
        double noise = bounded(z[m + 1 + d], MultiTaskGp.NOISE_MIN, MultiTaskGp.NOISE_MAX);
        double[][] w = new double[t][rank];
        int o = m + 2 + d;
        for (int i = 0; i < t; i++) {
            for (int q = 0; q < rank; q++) {
                w[i][q] = z[o++];
            }
        }
        double[] v = new double[t];
        for (int i = 0; i < t; i++) {
            v[i] = Math.exp(z[o++]);
        }
        return new MultiTaskGp.Hyperparameters(means, ls, s, noise, w, v);
    }

    /**
     * The centre start: means 0 (the data are standardised), bounded values at the middle of their bounds, {@code W} entries {@code 1/sqrt(rank)} on
     * a wrapped diagonal and {@code 0.5/sqrt(rank)} elsewhere, {@code v = 0.1}. A random start: sigmoid
     * coordinates uniform in {@code (-2, 2)}, {@code W ~ N(0, 0.7^2)}, {@code log v} uniform in {@code (-4, 0)}.
     */
    double[] start(SplittableRandom rng, boolean centre) {
        double[] z = new double[size()];
        int o = m;
        for (int j = 0; j < d + 2; j++) {
            z[o++] = centre ? 0 : rng.nextDouble(-2, 2);
        }
        for (int i = 0; i < t; i++) {
            for (int q = 0; q < rank; q++) {
                // A zero W is a saddle of the likelihood (dB/dW = 0), so every start breaks the symmetry.
                z[o++] = centre ? (q == i % rank ? 1.0 : 0.5) / Math.sqrt(rank) : rng.nextGaussian() * 0.7;
            }
        }
        for (int i = 0; i < t; i++) {
            z[o++] = centre ? Math.log(0.1) : rng.nextDouble(-4, 0);
        }
        return z;
    }

    /** {@code gMean[i]}: the gradient with respect to task {@code i}'s mean (summed when one mean is shared). */
    void chain(double[] z, MultiTaskGp.Hyperparameters h, double[] gMean, double[] gLength, double gScale,
               double gNoise, double[][] gB, double[] grad) {
        if (m == 1) {
            double sum = 0;
            for (double g : gMean) {
                sum += g;
            }
            grad[0] = sum;
        } else {
            System.arraycopy(gMean, 0, grad, 0, t);
        }
        for (int j = 0; j < d; j++) {
            grad[m + j] = gLength[j] * boundedSlope(z[m + j], MultiTaskGp.LENGTHSCALE_MIN, MultiTaskGp.LENGTHSCALE_MAX);
        }
        grad[m + d] = gScale * boundedSlope(z[m + d], MultiTaskGp.OUTPUTSCALE_MIN, MultiTaskGp.OUTPUTSCALE_MAX);
        grad[m + 1 + d] = gNoise * boundedSlope(z[m + 1 + d], MultiTaskGp.NOISE_MIN, MultiTaskGp.NOISE_MAX);
        int o = m + 2 + d;
        double[][] w = h.w();
        double[] v = h.v();
        // dL/dW = (G + G^T) W, since dB_ij/dW_pq = delta_ip W_jq + delta_jp W_iq.
        for (int p = 0; p < t; p++) {
            for (int q = 0; q < rank; q++) {
                double g = 0;
                for (int j = 0; j < t; j++) {
                    g += (gB[p][j] + gB[j][p]) * w[j][q];
                }
                grad[o++] = g;
            }
        }
        for (int p = 0; p < t; p++) {
            grad[o++] = gB[p][p] * v[p];
        }
    }


    static double bounded(double z, double lo, double hi) {
        return lo + (hi - lo) / (1 + Math.exp(-z));
    }

    static double boundedSlope(double z, double lo, double hi) {
        double sg = 1 / (1 + Math.exp(-z));
        return (hi - lo) * sg * (1 - sg);
    }
}
