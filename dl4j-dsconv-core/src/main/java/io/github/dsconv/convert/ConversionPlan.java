package io.github.dsconv.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What to convert and how: default {@link LayerSpec}, per-layer overrides or skips by layer name, and the
 * method switches.
 *
 * <p>The file form (JSON, {@code formatVersion} 1):
 * <pre>
 * {"formatVersion": 1, "weightBits": 4, "actBits": 8, "blockSize": 32, "skipFirst": false,
 *  "quantizeNetworkInput": true, "kdsBias": false, "cds": false, "clippingSearch": false,
 *  "unsignedActivations": false, "minCompression": 0,
 *  "layers": {"stem_conv": {"skip": true}, "s3b1a_conv": {"weightBits": 6, "blockSize": 16}}}
 * </pre>
 * Every field is optional; defaults are those of {@link #standard()}.
 *
 * @param defaults             settings of layers without an override. Defaults to W4A8, B=32.
 * @param layers               per-layer overrides by layer (vertex) name
 * @param skipFirst            leave the network's first convolution in FP32. Defaults to false.
 * @param quantizeNetworkInput quantize the raw network input feeding the first convolution to BFP. Defaults to
 *                             true (the first layer's scales are stored in FP32 either way)
 * @param kdsBias              fit the per-block KDS shift beta. Defaults to false (the reference).
 * @param cds                  add CDS per-output-channel scale and shift (identity at conversion). Defaults to
 *                             false.
 * @param clippingSearch       search the clipping ratio per block (ours; helps at 2-3 bits). Defaults to false.
 * @param unsignedActivations  BFP blocks whose values are all non-negative (ReLU outputs, raw pixels) are unsigned,
 *                             one more mantissa bit (ours). Defaults to false.
 * @param minCompression       leave in FP32 every convolution whose DSConv form (q plus scales) would be less than
 *                             this many times smaller than its FP32 kernel, e.g. an RGB stem (3 input channels: a
 *                             scale per 3 weights). Layers named in {@code layers} are converted as they say.
 *                             0 = convert all. Defaults to {@value #DEFAULT_MIN_COMPRESSION} in {@link #standard()} and
 *                             plan files, 0 in {@link #uniform}.
 */
public record ConversionPlan(LayerSpec defaults, Map<String, LayerOverride> layers, boolean skipFirst,
                             boolean quantizeNetworkInput, boolean kdsBias, boolean cds, boolean clippingSearch,
                             boolean unsignedActivations, double minCompression) {

    /** The file format version this code reads and writes. */
    public static final int FORMAT_VERSION = 1;

    private static final Set<String> FIELDS = Set.of("formatVersion", "weightBits", "actBits", "blockSize",
            "skipFirst", "quantizeNetworkInput", "kdsBias", "cds", "clippingSearch", "unsignedActivations",
            "minCompression", "layers");
    private static final Set<String> LAYER_FIELDS = Set.of("skip", "weightBits", "actBits", "blockSize");

    public ConversionPlan {
        Objects.requireNonNull(defaults, "defaults");
        if (!(minCompression >= 0) || Double.isInfinite(minCompression)) {
            throw new IllegalArgumentException("minCompression must be a finite number >= 0, got " + minCompression);
        }
        layers = Map.copyOf(layers == null ? Map.of() : layers);
        for (Map.Entry<String, LayerOverride> e : layers.entrySet()) {
            try {
                e.getValue().apply(defaults);
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("plan entry for layer '" + e.getKey() + "': " + ex.getMessage());
            }
        }
    }

    /** The plan without the later switches (signed BFP activations). */
    public ConversionPlan(LayerSpec defaults, Map<String, LayerOverride> layers, boolean skipFirst,
                          boolean quantizeNetworkInput, boolean kdsBias, boolean cds, boolean clippingSearch) {
        this(defaults, layers, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch, false, 0);
    }

    /** The library's default {@link #minCompression}: a convolution that DSConv would shrink less than 3x stays FP32. */
    public static final double DEFAULT_MIN_COMPRESSION = 3;

    /**
     * The library's defaults: W4A8, B=32, reference DSConv (no KDS bias, no CDS, no clipping search), and every
     * convolution converted except those DSConv would shrink less than {@value #DEFAULT_MIN_COMPRESSION}x (in
     * practice a stem on 1-3 input channels, whose DSConv form carries a scale per 1-3 weights: measured on the MLPerf
     * Tiny ResNet-8, quantizing its RGB stem alone costs 3 pp at W4; see docs/notes-resnet8.md).
     */
    public static ConversionPlan standard() {
        return uniform(LayerSpec.DEFAULT).withMinCompression(DEFAULT_MIN_COMPRESSION);
    }

    /** The same settings for every convolution, every convolution converted ({@code minCompression} 0). */
    public static ConversionPlan uniform(LayerSpec spec) {
        return new ConversionPlan(spec, Map.of(), false, true, false, false, false, false, 0);
    }

    /** The settings for a layer, or {@code null} when the plan skips it. */
    public LayerSpec specFor(String layerName, boolean firstConv) {
        LayerOverride o = layers.get(layerName);
        if (o != null) {
            return o.skip() ? null : o.apply(defaults);
        }
        if (firstConv && skipFirst) {
            return null;
        }
        return defaults;
    }

    /** A copy with other defaults. */
    public ConversionPlan withDefaults(LayerSpec spec) {
        return new ConversionPlan(spec, layers, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsignedActivations, minCompression);
    }

    /** A copy with {@code skipFirst} set. */
    public ConversionPlan withSkipFirst(boolean skip) {
        return new ConversionPlan(defaults, layers, skip, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsignedActivations, minCompression);
    }

    /** A copy with the method switches set. */
    public ConversionPlan withMethod(boolean kdsBias, boolean cds, boolean clippingSearch) {
        return new ConversionPlan(defaults, layers, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsignedActivations, minCompression);
    }

    /** A copy with {@code unsignedActivations} set. */
    public ConversionPlan withUnsignedActivations(boolean unsigned) {
        return new ConversionPlan(defaults, layers, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsigned, minCompression);
    }

    /** A copy with {@code minCompression} set. */
    public ConversionPlan withMinCompression(double ratio) {
        return new ConversionPlan(defaults, layers, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsignedActivations, ratio);
    }

    /** Reads a plan file; errors name the file and the offending field. */
    public static ConversionPlan read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("plan file not found: " + file);
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Parses the JSON form (see the class comment). */
    public static ConversionPlan fromJson(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a plan must be a JSON object");
        }
        checkFields(root, FIELDS, "plan");
        int version = root.path("formatVersion").asInt(FORMAT_VERSION);
        if (version != FORMAT_VERSION) {
            throw new IllegalArgumentException("unknown plan formatVersion " + version + " (this version reads "
                    + FORMAT_VERSION + ")");
        }
        LayerSpec d = LayerSpec.DEFAULT;
        LayerSpec spec = new LayerSpec(intField(root, "weightBits", d.weightBits()),
                intField(root, "actBits", d.actBits()), intField(root, "blockSize", d.blockSize()));
        Map<String, LayerOverride> layers = new LinkedHashMap<>();
        JsonNode ln = root.path("layers");
        if (!ln.isMissingNode()) {
            if (!ln.isObject()) {
                throw new IllegalArgumentException("'layers' must be an object of layer name -> settings");
            }
            Iterator<Map.Entry<String, JsonNode>> it = ln.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode v = e.getValue();
                if (!v.isObject()) {
                    throw new IllegalArgumentException("layer '" + e.getKey() + "': settings must be an object");
                }
                checkFields(v, LAYER_FIELDS, "layer '" + e.getKey() + "'");
                layers.put(e.getKey(), new LayerOverride(v.path("skip").asBoolean(false), optInt(v, "weightBits"),
                        optInt(v, "actBits"), optInt(v, "blockSize")));
            }
        }
        return new ConversionPlan(spec, layers, root.path("skipFirst").asBoolean(false),
                root.path("quantizeNetworkInput").asBoolean(true), root.path("kdsBias").asBoolean(false),
                root.path("cds").asBoolean(false), root.path("clippingSearch").asBoolean(false),
                root.path("unsignedActivations").asBoolean(false), root.path("minCompression").asDouble(DEFAULT_MIN_COMPRESSION));
    }

    /** The JSON form of this plan. */
    public ObjectNode toJson() {
        ObjectMapper m = new ObjectMapper();
        ObjectNode n = m.createObjectNode();
        n.put("formatVersion", FORMAT_VERSION);
        n.put("weightBits", defaults.weightBits());
        n.put("actBits", defaults.actBits());
        n.put("blockSize", defaults.blockSize());
        n.put("skipFirst", skipFirst);
        n.put("quantizeNetworkInput", quantizeNetworkInput);
        n.put("kdsBias", kdsBias);
        n.put("cds", cds);
        n.put("clippingSearch", clippingSearch);
        n.put("unsignedActivations", unsignedActivations);
        n.put("minCompression", minCompression);
        ObjectNode ls = n.putObject("layers");
        layers.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            ObjectNode o = ls.putObject(e.getKey());
            LayerOverride v = e.getValue();
            if (v.skip()) {
                o.put("skip", true);
            }
            if (v.weightBits() != null) {
                o.put("weightBits", v.weightBits());
            }
            if (v.actBits() != null) {
                o.put("actBits", v.actBits());
            }
            if (v.blockSize() != null) {
                o.put("blockSize", v.blockSize());
            }
        });
        return n;
    }

    private static void checkFields(JsonNode node, Set<String> allowed, String where) {
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String f = names.next();
            if (!allowed.contains(f)) {
                throw new IllegalArgumentException(where + ": unknown field '" + f + "' (allowed: "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    private static int intField(JsonNode n, String name, int dflt) {
        Integer v = optInt(n, name);
        return v == null ? dflt : v;
    }

    private static Integer optInt(JsonNode n, String name) {
        JsonNode v = n.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber()) {
            throw new IllegalArgumentException("'" + name + "' must be an integer, got " + v);
        }
        return v.asInt();
    }
}
