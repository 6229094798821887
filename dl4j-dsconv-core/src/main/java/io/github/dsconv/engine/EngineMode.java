package io.github.dsconv.engine;

import java.util.Locale;

/** How a network's DSConv layers run at inference: the float simulation or the integer engine. */
public enum EngineMode {
    /** {@code conv(x_bfp, W_eff)} in FP32 through libnd4j (spec sections 1-2); the default. */
    FLOAT("float"),
    /** Integer block products (spec section 3), see {@link IntegerEngine}. */
    INTEGER("integer"),
    /**
     * {@link #INTEGER} where the {@link NativeKernels native fused kernel} runs (it is bit-identical to the float
     * simulation and faster), else {@link #FLOAT}; see {@link #resolve()}.
     */
    AUTO("auto");

    private final String label;

    EngineMode(String label) {
        this.label = label;
    }

    /** The command-line name ({@code float} or {@code integer}). */
    public String label() {
        return label;
    }

    /** This mode with {@link #AUTO} decided for this machine: integer when the native kernel is selected. */
    public EngineMode resolve() {
        if (this != AUTO) {
            return this;
        }
        return NativeKernels.selected() != null ? INTEGER : FLOAT;
    }

    /**
     * Parses {@code float}, {@code integer} or {@code auto} (case-insensitive).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static EngineMode parse(String name) {
        for (EngineMode m : values()) {
            if (m.label.equals(name.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown engine '" + name + "' (expected float, integer or auto)");
    }
}
