package io.github.dsconv.engine;

import java.util.Locale;

/**
 * How {@link IntegerEngine} runs a network's DSConv layers.
 *
 * @param accumulation how the scaled block products are summed ({@link Accumulation#COMPENSATED} by default)
 * @param stem         how a layer whose input channels fit one block of at most 4 (an image stem) runs
 *                     ({@link Stem#DOUBLE} by default)
 * @param fuseBatchNorm whether a BatchNormalization right after an engine layer is applied in that layer's output
 *                     pass ({@link BatchNormFusion}; bit-identical to DL4J's; default true)
 * @param nativePath   the {@link NativeKernels native fused kernel}'s path for the block products, or null for the
 *                     oneDNN/Java GEMM route with a Java epilogue (default: {@link NativeKernels#selected()}, the
 *                     CPU's best path when the library loaded). The native kernel always sums in double, as
 *                     {@link Accumulation#DOUBLE} does, so {@code accumulation} applies only to the GEMM route.
 */
public record EngineOptions(Accumulation accumulation, Stem stem, boolean fuseBatchNorm,
                            NativeKernels.Path nativePath) {

    /** System property turning {@link #fuseBatchNorm()} off ({@code false}) or on ({@code true}, the default). */
    public static final String FUSE_BN_PROPERTY = "dsconv.engine.fuseBn";

    /** System property choosing {@link #stem()}: {@code double} (default), {@code fp32} or {@code integer}. */
    public static final String STEM_PROPERTY = "dsconv.engine.stem";

    /**
     * A layer on one block of at most 4 input channels (an image stem: 3 channels, 7x7). On integers each block
     * scale there covers at most 4 products, so the engine spent more time scaling int32 sums than multiplying
     * (ResNet50's stem ran slower than DL4J's FP32 convolution).
     */
    public enum Stem {
        /** Integer block products like every other layer. */
        INTEGER("integer"),
        /**
         * A direct convolution in double (plain Java, vectorised) of the BFP input with the float simulation's
         * effective kernel, rounded once to float: every product is exact in double, so it gives the float
         * simulation's results bit for bit in practice, as the integer route does. Not integer arithmetic: the
         * layer is listed in {@link EngineReport#floatLayers()}.
         */
        DOUBLE("double"),
        /**
         * An FP32 oneDNN convolution of the BFP input with the effective kernel: fastest, but its float sums differ
         * from the simulation's in the last bit for about half the outputs, and a later BFP rounding can turn such
         * a bit into a whole mantissa step (measured: 3e-2 max relative logit error on random-init ResNet50).
         * Listed in {@link EngineReport#floatLayers()} and {@link EngineReport#fp32Layers()}. Needs oneDNN.
         */
        FP32("fp32");

        private final String label;

        Stem(String label) {
            this.label = label;
        }

        /** The name used in system properties and JSON. */
        public String label() {
            return label;
        }

        /**
         * Parses {@code integer}, {@code double} or {@code fp32} (case-insensitive).
         *
         * @throws IllegalArgumentException for any other name
         */
        public static Stem parse(String name) {
            for (Stem s : values()) {
                if (s.label.equals(name.trim().toLowerCase(Locale.ROOT))) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown " + STEM_PROPERTY + " '" + name
                    + "' (expected double, fp32 or integer)");
        }
    }

    public EngineOptions {
        if (accumulation == null || stem == null) {
            throw new IllegalArgumentException("accumulation and stem are required");
        }
    }

    /** With batch normalization fused (the default) and the selected native kernel. */
    public EngineOptions(Accumulation accumulation, Stem stem) {
        this(accumulation, stem, true);
    }

    /** With the selected native kernel ({@link NativeKernels#selected()}). */
    public EngineOptions(Accumulation accumulation, Stem stem, boolean fuseBatchNorm) {
        this(accumulation, stem, fuseBatchNorm, NativeKernels.selected());
    }

    /** These options with {@link #fuseBatchNorm()} set to {@code fuse}. */
    public EngineOptions withFuseBatchNorm(boolean fuse) {
        return new EngineOptions(accumulation, stem, fuse, nativePath);
    }

    /** These options with the native kernel's path set to {@code path} (null: the GEMM route). */
    public EngineOptions withNativePath(NativeKernels.Path path) {
        return new EngineOptions(accumulation, stem, fuseBatchNorm, path);
    }

    /** The accumulation the integer layers actually use: double with the native kernel. */
    public Accumulation effectiveAccumulation() {
        return nativePath != null ? Accumulation.DOUBLE : accumulation;
    }

    /**
     * The defaults: the {@link NativeKernels#selected() native fused kernel} where it loaded, with the image stem on
     * integers too (the native kernel sums in double, so a stem needs no float route there; measured on ResNet50
     * batch 8: its stem 145 ms as a Java double convolution); otherwise {@link Accumulation#COMPENSATED} sums and a
     * {@link Stem#DOUBLE} stem. Batch normalization fused. Overridable by the system properties
     * {@value NativeKernels#PROPERTY}, {@value Accumulation#PROPERTY}, {@value #STEM_PROPERTY} and
     * {@value #FUSE_BN_PROPERTY}.
     *
     * @throws IllegalArgumentException if a property has another value
     */
    public static EngineOptions defaults() {
        String stem = System.getProperty(STEM_PROPERTY);
        NativeKernels.Path nativePath = NativeKernels.selected();
        Stem defaultStem = nativePath != null ? Stem.INTEGER : Stem.DOUBLE;
        return new EngineOptions(Accumulation.defaultAccumulation(),
                stem == null || stem.isBlank() ? defaultStem : Stem.parse(stem), fuseBatchNormProperty(), nativePath);
    }

    /**
     * The defaults of the GEMM route (oneDNN or Java block products with a Java epilogue; no native kernel), as
     * {@link #defaults()} gives them on a machine where the native kernel did not load:
     * {@link Accumulation#defaultAccumulation()}, a {@link Stem#DOUBLE} stem, batch normalization fused; the same
     * system properties (but {@value NativeKernels#PROPERTY}) override them. What {@code bench --backend} and the
     * per-layer benchmarks measure as "the GEMM route".
     *
     * @throws IllegalArgumentException if a property has another value
     */
    public static EngineOptions gemmRoute() {
        String stem = System.getProperty(STEM_PROPERTY);
        return new EngineOptions(Accumulation.defaultAccumulation(),
                stem == null || stem.isBlank() ? Stem.DOUBLE : Stem.parse(stem), fuseBatchNormProperty(), null);
    }

    private static boolean fuseBatchNormProperty() {
        String v = System.getProperty(FUSE_BN_PROPERTY);
        if (v == null || v.isBlank()) {
            return true;
        }
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException("unknown " + FUSE_BN_PROPERTY + " '" + v
                    + "' (expected true or false)");
        };
    }

    /**
     * Every supported layer on integer products, summed in double: the float simulation's results bit for bit in
     * practice (see {@link Accumulation#DOUBLE}); slower.
     */
    public static EngineOptions exact() {
        return new EngineOptions(Accumulation.DOUBLE, Stem.INTEGER);
    }
}
