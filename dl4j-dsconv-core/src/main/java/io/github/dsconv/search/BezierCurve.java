package io.github.dsconv.search;

/**
 * Bezier curve of degree {@code n = d - 1} whose control values are {@code theta}:
 * {@code f(t) = sum_k C(n,k) t^k (1-t)^(n-k) theta_k}. As a convex combination of values in {@code [0,1]} it never
 * needs the clamp. Degree 1 ({@code theta = (start, end)}, a linear ramp) is the default curve of
 * "Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes" (ECCV 2020).
 */
public final class BezierCurve implements BitCurve {

    private final int degree;

    /** @param degree 1 (linear, d=2), 2 (quadratic, d=3) or 3 (cubic, d=4) */
    public BezierCurve(int degree) {
        if (degree < 1 || degree > 3) {
            throw new IllegalArgumentException("Bezier degree must be 1, 2 or 3, got " + degree);
        }
        this.degree = degree;
    }

    /** The degree {@code n}. */
    public int degree() {
        return degree;
    }

    @Override
    public int dimension() {
        return degree + 1;
    }

    @Override
    public double value(double[] theta, double t) {
        double f = 0;
        double binomial = 1;
        for (int k = 0; k <= degree; k++) {
            f += binomial * Math.pow(t, k) * Math.pow(1 - t, degree - k) * theta[k];
            binomial = binomial * (degree - k) / (k + 1);
        }
        return f;
    }
}
