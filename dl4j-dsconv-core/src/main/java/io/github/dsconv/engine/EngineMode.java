package io.github.dsconv.engine;

import java.util.Locale;

/** How a network's DSConv layers run at inference: the float simulation or the integer engine. */
public enum EngineMode {
    /** {@code conv(x_bfp, W_eff)} in FP32 through libnd4j (spec sections 1-2); the default. */
    FLOAT("float"),
    /** Integer block products (spec section 3), see {@link IntegerEngine}. */
    INTEGER("integer");

    private final String label;

    EngineMode(String label) {
        this.label = label;
    }

    /** The command-line name ({@code float} or {@code integer}). */
    public String label() {
        return label;
    }

    /**
     * Parses {@code float} or {@code integer} (case-insensitive).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static EngineMode parse(String name) {
        for (EngineMode m : values()) {
            if (m.label.equals(name.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown engine '" + name + "' (expected float or integer)");
    }
}
