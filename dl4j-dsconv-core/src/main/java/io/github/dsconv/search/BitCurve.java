package io.github.dsconv.search;

/**
 * A low-dimensional curve over layer depth that assigns a bit width to every quantized layer.
 *
 * <p>Following "Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes" (Gennari do
 * Nascimento, Costain and Prisacariu, ECCV 2020), a parameter vector {@code theta in [0,1]^d} defines a function
 * {@code f_theta} on {@code [0,1]}; layer {@code k} of {@code L} sits at {@code t_k = k / (L-1)} (a single layer at
 * {@code t = 0}), its level is {@code y_k = clamp(f_theta(t_k), 0, 1)} and its bit width {@link #bitsOf(double)}.
 *
 * <p>The bit map differs from the paper's {@code 1 + floor(6y)} (1..7 bits): DSConv layers have no 1-bit form, so
 * this project maps the level to 2..8 bits with seven equal-width levels, {@code bits = 2 + min(6, floor(7y))}.
 * Uniform W4 is then the level band {@code [2/7, 3/7)}.
 */
public interface BitCurve {

    /** Smallest bit width a layer can get. */
    int MIN_BITS = 2;
    /** Largest bit width a layer can get. */
    int MAX_BITS = 8;

    /** Number of parameters {@code d}. */
    int dimension();

    /**
     * The unclamped curve {@code f_theta(t)}.
     *
     * @param theta parameters, length {@link #dimension()}, each in {@code [0,1]}
     * @param t     depth in {@code [0,1]}
     */
    double value(double[] theta, double t);

    /** The clamped levels {@code y_k = clamp(f_theta(t_k), 0, 1)} of {@code layers} layers. */
    default double[] levels(double[] theta, int layers) {
        checkTheta(theta);
        if (layers < 1) {
            throw new IllegalArgumentException("layers must be >= 1, got " + layers);
        }
        double[] y = new double[layers];
        for (int k = 0; k < layers; k++) {
            double t = layers == 1 ? 0.0 : (double) k / (layers - 1);
            y[k] = Math.min(1.0, Math.max(0.0, value(theta, t)));
        }
        return y;
    }

    /** The bit width of each of {@code layers} layers, 2..8. */
    default int[] bits(double[] theta, int layers) {
        double[] y = levels(theta, layers);
        int[] b = new int[layers];
        for (int k = 0; k < layers; k++) {
            b[k] = bitsOf(y[k]);
        }
        return b;
    }

    /**
     * Bit width of a level {@code y in [0,1]}: {@code 2 + min(6, floor(7y))}. A relative slack of {@code 1e-9} is
     * added before the floor so that a level that is a multiple of 1/7 up to rounding (e.g. a linear ramp over
     * eight layers) lands in the band it denotes.
     */
    static int bitsOf(double y) {
        if (!(y >= 0 && y <= 1)) {
            throw new IllegalArgumentException("level must be in [0, 1], got " + y);
        }
        return MIN_BITS + Math.min(MAX_BITS - MIN_BITS, (int) Math.floor(7 * y + 1e-9));
    }

    /** Checks that {@code theta} has length {@link #dimension()} and lies in {@code [0,1]^d}. */
    default void checkTheta(double[] theta) {
        if (theta == null || theta.length != dimension()) {
            throw new IllegalArgumentException("theta must have length " + dimension() + ", got "
                    + (theta == null ? "null" : theta.length));
        }
        for (double v : theta) {
            if (!(v >= 0 && v <= 1)) {
                throw new IllegalArgumentException("theta must lie in [0,1]^" + dimension() + ", got " + v);
            }
        }
    }
}
