package io.github.dsconv.search;

/**
 * Chebyshev series of the first kind up to degree 3 (d = 4), the "Chebyshev-4" curve of "Finding Non-Uniform
 * Quantization Schemes using Multi-Task Gaussian Processes" (ECCV 2020).
 *
 * <p>The paper does not state how {@code theta} maps to the series, so this project fixes it: coefficients
 * {@code c_k = 2 theta_k - 1 in [-1,1]}, depth {@code u = 2t - 1 in [-1,1]},
 * {@code g(u) = c_0 T_0(u) + c_1 T_1(u) + c_2 T_2(u) + c_3 T_3(u)} with {@code T_0 = 1}, {@code T_1 = u},
 * {@code T_2 = 2u^2 - 1}, {@code T_3 = 4u^3 - 3u}, and {@code f(t) = (g(u) + 1) / 2}, clamped to {@code [0,1]} by
 * {@link BitCurve#levels}. With {@code theta_1..3 = 1/2} the curve is the constant {@code theta_0}.
 */
public final class ChebyshevCurve implements BitCurve {

    @Override
    public int dimension() {
        return 4;
    }

    @Override
    public double value(double[] theta, double t) {
        double u = 2 * t - 1;
        double t2 = 2 * u * u - 1;
        double t3 = 4 * u * u * u - 3 * u;
        double g = (2 * theta[0] - 1) + (2 * theta[1] - 1) * u + (2 * theta[2] - 1) * t2 + (2 * theta[3] - 1) * t3;
        return (g + 1) / 2;
    }
}
