package io.github.dsconv.search;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * Limited-memory BFGS minimiser with a backtracking (Armijo) line search, for the GP hyperparameters. Commons Math
 * 3 has no quasi-Newton method, and its conjugate-gradient optimiser searches lines without derivatives; with an
 * analytic gradient L-BFGS needs far fewer likelihood evaluations. Non-finite objective values are treated as
 * "step too long".
 */
final class Lbfgs {

    /** An objective returning {@code f(x)} and writing its gradient into {@code grad}. */
    interface Objective {
        double valueAndGradient(double[] x, double[] grad);
    }

    /** The minimiser found and its value. */
    record Result(double[] x, double value, int iterations) {
    }

    private static final int MEMORY = 7;
    private static final double ARMIJO = 1e-4;
    /** Stop when an iteration improves the objective by less than this fraction (of max(1, |f|)). */
    private static final double RELATIVE_TOLERANCE = 1e-7;

    private Lbfgs() {
    }

    static Result minimize(Objective objective, double[] x0, int maxIterations, double gradientTolerance) {
        int n = x0.length;
        double[] x = x0.clone();
        double[] g = new double[n];
        double f = objective.valueAndGradient(x, g);
        if (!Double.isFinite(f)) {
            return new Result(x, f, 0);
        }
        Deque<double[][]> pairs = new ArrayDeque<>();
        double[] xNew = new double[n];
        double[] gNew = new double[n];
        int it = 0;
        for (; it < maxIterations; it++) {
            if (normInf(g) < gradientTolerance) {
                break;
            }
            double[] d = direction(g, pairs);
            double slope = dot(d, g);
            if (!(slope < 0)) {
                pairs.clear();
                d = negate(g);
                slope = dot(d, g);
            }
            double step = pairs.isEmpty() ? Math.min(1.0, 1.0 / Math.max(1e-12, norm2(g))) : 1.0;
            double fNew = Double.NaN;
            boolean accepted = false;
            for (int ls = 0; ls < 40; ls++) {
                for (int i = 0; i < n; i++) {
                    xNew[i] = x[i] + step * d[i];
                }
                fNew = objective.valueAndGradient(xNew, gNew);
                if (Double.isFinite(fNew) && fNew <= f + ARMIJO * step * slope) {
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if (!accepted) {
                break;
            }
            double[] s = new double[n];
            double[] y = new double[n];
            for (int i = 0; i < n; i++) {
                s[i] = xNew[i] - x[i];
                y[i] = gNew[i] - g[i];
            }
            if (dot(s, y) > 1e-12) {
                pairs.addLast(new double[][] {s, y});
                if (pairs.size() > MEMORY) {
                    pairs.removeFirst();
                }
            }
            double change = f - fNew;
            System.arraycopy(xNew, 0, x, 0, n);
            System.arraycopy(gNew, 0, g, 0, n);
            f = fNew;
            if (change <= RELATIVE_TOLERANCE * Math.max(1.0, Math.abs(f))) {
                break;
            }
        }
        return new Result(x, f, it);
    }

    private static double[] direction(double[] g, Deque<double[][]> pairs) {
        double[] q = g.clone();
        double[] alpha = new double[pairs.size()];
        double[][][] list = pairs.toArray(new double[0][][]);
        for (int k = list.length - 1; k >= 0; k--) {
            double rho = 1.0 / dot(list[k][1], list[k][0]);
            alpha[k] = rho * dot(list[k][0], q);
            axpy(-alpha[k], list[k][1], q);
        }
        if (list.length > 0) {
            double[] s = list[list.length - 1][0];
            double[] y = list[list.length - 1][1];
            double gamma = dot(s, y) / dot(y, y);
            for (int i = 0; i < q.length; i++) {
                q[i] *= gamma;
            }
        }
        for (int k = 0; k < list.length; k++) {
            double rho = 1.0 / dot(list[k][1], list[k][0]);
            double beta = rho * dot(list[k][1], q);
            axpy(alpha[k] - beta, list[k][0], q);
        }
        return negate(q);
    }

    private static double[] negate(double[] v) {
        double[] r = Arrays.copyOf(v, v.length);
        for (int i = 0; i < r.length; i++) {
            r[i] = -r[i];
        }
        return r;
    }

    private static void axpy(double a, double[] x, double[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] += a * x[i];
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double norm2(double[] a) {
        return Math.sqrt(dot(a, a));
    }

    private static double normInf(double[] a) {
        double m = 0;
        for (double v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
