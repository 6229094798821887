package io.github.dsconv.engine;

import java.util.Locale;

/**
 * How the integer engine sums the scaled block products {@code alpha * 2^(e+1-m) * int32} of a layer.
 */
public enum Accumulation {
    /**
     * In float, with a fused multiply-add per term: vectorised 8 wide on AVX2; agrees with the float simulation only
     * to FP32 summation order. Not the default: a last-bit difference can become a whole mantissa step at the next
     * layer's BFP rounding (measured on the committed ResNet over 1,000 images: max relative logit error 3.9e-3 at
     * W4, above the 1e-4, though the same top-1 on all of them).
     */
    FLOAT("float"),
    /**
     * In double, rounded once to float: every term is exact in double, so the result is the FP32 rounding of the
     * same (nearly) exact sum the float simulation rounds, bit-identical in practice; slower (the JDK 17 JIT does
     * not vectorise the int-to-double conversion).
     */
    DOUBLE("double"),
    /**
     * In pairs of floats (hi + lo, "double-float"): each term's product and each addition are split into their float
     * result and its exact rounding error (fused multiply-add and Knuth's two-sum), the errors summed in {@code lo}.
     * All float operations, so the JIT vectorises them 8 wide; the pair carries about 44-48 bits, so its rounding
     * to float after CDS and bias (in double) agrees with the double path except for a sum within about 2^-44 of a
     * float rounding boundary. The default.
     */
    COMPENSATED("compensated");

    /** System property choosing the default ({@code compensated}, {@code double} or {@code float}). */
    public static final String PROPERTY = "dsconv.engine.accumulate";

    private final String label;

    Accumulation(String label) {
        this.label = label;
    }

    /** The name used in system properties and JSON. */
    public String label() {
        return label;
    }

    /** {@value #PROPERTY} if set, else {@link #COMPENSATED}. */
    public static Accumulation defaultAccumulation() {
        String v = System.getProperty(PROPERTY);
        return v == null || v.isBlank() ? COMPENSATED : parse(v.trim());
    }

    /**
     * Parses {@code float}, {@code double} or {@code compensated} (case-insensitive).
     *
     * @throws IllegalArgumentException for any other name
     */
    public static Accumulation parse(String name) {
        for (Accumulation a : values()) {
            if (a.label.equals(name.toLowerCase(Locale.ROOT))) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown accumulation '" + name
                + "' (expected compensated, double or float)");
    }
}
