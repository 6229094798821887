package io.github.dsconv.search;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The curves of the search space; {@link #BEZIER1} (linear, d=2) is the default. */
public enum CurveKind {
    /** Linear Bezier, {@code theta = (first layer level, last layer level)}, d = 2. */
    BEZIER1(new BezierCurve(1)),
    /** Quadratic Bezier, d = 3. */
    BEZIER2(new BezierCurve(2)),
    /** Cubic Bezier, d = 4. */
    BEZIER3(new BezierCurve(3)),
    /** Chebyshev series {@code T_0..T_3}, d = 4 (see {@link ChebyshevCurve} for the parametrisation). */
    CHEBYSHEV(new ChebyshevCurve());

    private final BitCurve curve;

    CurveKind(BitCurve curve) {
        this.curve = curve;
    }

    /** The curve. */
    public BitCurve curve() {
        return curve;
    }

    /** Number of parameters {@code d}. */
    public int dimension() {
        return curve.dimension();
    }

    /** Lower-case name as accepted by {@link #parse}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Parses {@code bezier1|bezier2|bezier3|chebyshev} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the choices if {@code name} is none of them
     */
    public static CurveKind parse(String name) {
        for (CurveKind k : values()) {
            if (k.label().equalsIgnoreCase(name == null ? "" : name.trim())) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown curve '" + name + "', expected one of "
                + Arrays.stream(values()).map(CurveKind::label).collect(Collectors.joining("|")));
    }
}
