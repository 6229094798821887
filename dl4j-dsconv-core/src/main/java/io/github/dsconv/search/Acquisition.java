package io.github.dsconv.search;

/**
 * The acquisition functions of "Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes"
 * (Gennari do Nascimento, Costain and Prisacariu, ECCV 2020): information gain of a low-fidelity evaluation about
 * the target task, and GP-UCB (Srinivas et al., ICML 2010) for target-task evaluations.
 */
public final class Acquisition {

    /** Default {@code delta} of GP-UCB. */
    public static final double DEFAULT_DELTA = 0.1;

    private Acquisition() {
    }

    /**
     * Information that a noisy evaluation {@code y_l = f_l(x) + eps} of a low-fidelity task gives about the
     * noise-free target {@code f_M(x)} at the same input, with Gaussian entropies:
     * {@code IG = H[y_l|D] - H[y_l|f_M,D] = 1/2 log(V / (V - S_lM^2 / S_MM))}, {@code V = S_ll + noise}.
     *
     * <p>The paper writes the entropies of {@code f_l}; this project uses the variance of the observation
     * {@code y_l} (the latent variance plus the noise) because that is what an evaluation reveals, and because the
     * noise-free ratio diverges when the two tasks become perfectly correlated. With {@code noise = 0} it is the
     * paper's expression.
     *
     * @param varLow  posterior variance {@code S_ll} of the latent low-fidelity function at {@code x}
     * @param cov     posterior covariance {@code S_lM} of the latent low-fidelity and target functions at {@code x}
     * @param varTarget posterior variance {@code S_MM} of the latent target function at {@code x}
     * @param noise   observation noise variance
     * @return the information gain in nats, {@code >= 0}; 0 if {@code varTarget <= 0}
     */
    public static double informationGain(double varLow, double cov, double varTarget, double noise) {
        double v = Math.max(0, varLow) + noise;
        if (!(varTarget > 0) || !(v > 0)) {
            return 0;
        }
        double conditional = v - cov * cov / varTarget;
        // Rounding can push the conditional variance to or below zero when the tasks are almost identical.
        conditional = Math.max(conditional, 1e-12 * v);
        return Math.max(0, 0.5 * Math.log(v / conditional));
    }

    /**
     * GP-UCB exploration weight {@code beta_t = 2 log(|D| t^2 pi^2 / (6 delta))}.
     *
     * @param domainSize number of candidates {@code |D|}, {@code >= 1}
     * @param t          iteration, {@code >= 1}
     * @param delta      confidence parameter in {@code (0, 1)}; default {@value #DEFAULT_DELTA}
     */
    public static double ucbBeta(long domainSize, int t, double delta) {
        if (domainSize < 1 || t < 1 || !(delta > 0 && delta < 1)) {
            throw new IllegalArgumentException("need |D| >= 1, t >= 1 and delta in (0,1), got " + domainSize + ", "
                    + t + ", " + delta);
        }
        return 2 * Math.log(domainSize * (double) t * t * Math.PI * Math.PI / (6 * delta));
    }

    /** Upper confidence bound {@code mean + sqrt(beta) * sqrt(variance)}. */
    public static double ucb(double mean, double variance, double beta) {
        return mean + Math.sqrt(beta * Math.max(0, variance));
    }
}
