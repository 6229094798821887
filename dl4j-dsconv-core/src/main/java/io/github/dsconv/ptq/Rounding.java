package io.github.dsconv.ptq;

import java.util.Arrays;

/** How a recipe chooses the integers of each kernel on its grid, by the name the command line uses. */
public enum Rounding {
    /** To the nearest grid point, as converted (the DSConv paper's VQK; round-to-nearest for the baselines). */
    NEAREST("nearest"),
    /**
     * Hessian-aware rounding ({@link io.github.dsconv.calibrate.HessianRounding}): AdaRound's objective minimised
     * greedily in closed form (GPTQ's solver); DSConv re-fits its block scales during the sweep.
     */
    HESSIAN("hessian"),
    /** AdaRound ({@link io.github.dsconv.calibrate.AdaRound}, Nagel et al., ICML 2020) on the converted grid. */
    ADAROUND("adaround");

    private final String label;

    Rounding(String label) {
        this.label = label;
    }

    /** The command-line name. */
    public String label() {
        return label;
    }

    /**
     * The rounding a command-line name stands for.
     *
     * @throws IllegalArgumentException naming the value and the accepted names
     */
    public static Rounding parse(String name) {
        for (Rounding r : values()) {
            if (r.label.equals(name)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown rounding '" + name + "' (expected one of "
                + String.join(", ", Arrays.stream(values()).map(Rounding::label).toList()) + ")");
    }

    @Override
    public String toString() {
        return label;
    }
}
