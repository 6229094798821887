package io.github.dsconv.search;

import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.CholeskyDecomposition;
import org.apache.commons.math3.linear.NonPositiveDefiniteMatrixException;
import org.apache.commons.math3.linear.NonSymmetricMatrixException;

/** Cholesky factorisation with escalating jitter and the triangular solves of the GP (Commons Math factorises). */
final class Cholesky {

    private Cholesky() {
    }

    /** Lower Cholesky factor with escalating jitter, or {@code null}. */
    static double[][] factor(double[][] k) {
        int n = k.length;
        double meanDiag = 0;
        for (int a = 0; a < n; a++) {
            meanDiag += k[a][a];
        }
        meanDiag /= n;
        if (!Double.isFinite(meanDiag)) {
            return null;
        }
        double jitter = 0;
        for (int attempt = 0; attempt < 7; attempt++, jitter = jitter == 0 ? 1e-9 * meanDiag : jitter * 10) {
            Array2DRowRealMatrix m = new Array2DRowRealMatrix(k, true);
            for (int a = 0; a < n; a++) {
                m.addToEntry(a, a, jitter);
            }
            try {
                return new CholeskyDecomposition(m, 1e-10, 1e-14).getL().getData();
            } catch (NonPositiveDefiniteMatrixException | NonSymmetricMatrixException e) {
                // retry with more jitter
            }
        }
        return null;
    }

    static double[] forwardSolve(double[][] l, double[] rhs) {
        int n = rhs.length;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double s = rhs[i];
            double[] li = l[i];
            for (int j = 0; j < i; j++) {
                s -= li[j] * out[j];
            }
            out[i] = s / li[i];
        }
        return out;
    }

    static double[] backSolve(double[][] l, double[] rhs) {
        int n = rhs.length;
        double[] out = new double[n];
        for (int i = n - 1; i >= 0; i--) {
            double s = rhs[i];
            for (int j = i + 1; j < n; j++) {
                s -= l[j][i] * out[j];
            }
            out[i] = s / l[i][i];
        }
        return out;
    }

    static double[][] inverse(double[][] l) {
        int n = l.length;
        double[][] inv = new double[n][];
        for (int c = 0; c < n; c++) {
            double[] e = new double[n];
            e[c] = 1;
            inv[c] = backSolve(l, forwardSolve(l, e));
        }
        return inv;
    }
}
