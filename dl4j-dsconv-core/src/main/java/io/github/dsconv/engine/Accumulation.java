package io.github.dsconv.engine;

import java.util.Locale;

/**
 * How the integer engine sums the scaled block products {@code alpha * 2^(e+1-m) * int32} of a layer.
 */
public enum Accumulation {
    /**
     * In float, with a fused multiply-add per term: vectorised 8 wide on AVX2 and half the memory of double; agrees
     * with the float simulation to FP32 summation order (measured and bounded in the tests, not bit for bit).
     */
    FLOAT("float"),
    /**
     * In double, rounded once to float: every term is exact in double, so the result is the FP32 rounding of the
     * same (nearly) exact sum the float simulation rounds, bit-identical in practice; slower (the JDK 17 JIT does
     * not vectorise the int-to-double conversion).
     */
    DOUBLE("double");

    /** System property choosing the default ({@code float} or {@code double}); unset means {@link #FLOAT}. */
    public static final String PROPERTY = "dsconv.engine.accumulate";

    private final String label;

    Accumulation(String label) {
        this.label = label;
    }

    /** The name used in system properties and JSON. */
    public String label() {
        return label;
    }

    /** {@value #PROPERTY} if set, else {@link #FLOAT}. */
    public static Accumulation defaultAccumulation() {
        String v = System.getProperty(PROPERTY);
        return v == null || v.isBlank() ? FLOAT : parse(v.trim());
    }

    /**
     * Parses {@code float} or {@code double} (case-insensitive).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static Accumulation parse(String name) {
        for (Accumulation a : values()) {
            if (a.label.equals(name.toLowerCase(Locale.ROOT))) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown accumulation '" + name + "' (expected float or double)");
    }
}
