package io.github.dsconv.convert;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.dsconv.provenance.Recordable;
import io.github.dsconv.quant.BlockFloatingPoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.IntPredicate;

/**
 * What to convert and how: default {@link LayerSpec}, per-layer overrides or skips by layer name, and the
 * method switches.
 *
 * <p>The file form (JSON, {@code formatVersion} 1), read by {@link #read} and {@link #parse}, written by
 * {@link #toJson}:
 * <pre>
 * {"formatVersion": 1, "weightBits": 4, "actBits": 8, "blockSize": 32, "skipFirst": false,
 *  "quantizeNetworkInput": true, "kdsBias": false, "cds": false, "clippingSearch": false,
 *  "unsignedActivations": false, "minCompression": 3,
 *  "layers": {"stem_conv": {"skip": true}, "s3b1a_conv": {"weightBits": 6, "blockSize": 16}}}
 * </pre>
 * Every field is optional; an absent field takes the default of {@link #standard()}.
 * <table>
 * <caption>Plan fields</caption>
 * <tr><th>field</th><th>JSON type</th><th>range</th><th>default</th></tr>
 * <tr><td>formatVersion</td><td>integer</td><td>1</td><td>1</td></tr>
 * <tr><td>weightBits</td><td>integer</td><td>2 to 8</td><td>4</td></tr>
 * <tr><td>actBits</td><td>integer</td><td>0 (float input) or 2 to 16</td><td>8</td></tr>
 * <tr><td>blockSize</td><td>integer</td><td>1 to {@value LayerSpec#MAX_BLOCK_SIZE}; a block at least as large as
 *     a layer's input channel count is one block of all of them</td><td>32</td></tr>
 * <tr><td>skipFirst, kdsBias, cds, clippingSearch, unsignedActivations</td><td>boolean</td><td>true, false</td>
 *     <td>false</td></tr>
 * <tr><td>quantizeNetworkInput</td><td>boolean</td><td>true, false</td><td>true</td></tr>
 * <tr><td>minCompression</td><td>number (integer or decimal)</td><td>finite, &gt;= 0</td>
 *     <td>{@value #DEFAULT_MIN_COMPRESSION}</td></tr>
 * <tr><td>layers</td><td>object: layer name -&gt; entry</td><td>names of the network's convolutions</td>
 *     <td>{}</td></tr>
 * </table>
 * A layer entry is an object with the optional fields {@code weightBits}, {@code actBits}, {@code blockSize} (as
 * above; absent: the plan's value) and {@code skip} (boolean, default false; a skipped layer has no other
 * field).
 *
 * <p>Parsing is strict; each rule below is an error naming the field (and the layer, for layer entries) and the
 * offending value, never a silently coerced or defaulted value:
 * <ul>
 * <li>a value of another JSON type: {@code "yes"} or {@code 1} for a boolean, {@code 4.0}, {@code 1e2} or
 *     {@code "4"} for an integer, {@code "3"} for a number, {@code null} for anything (leave a field out to get
 *     its default);</li>
 * <li>an integer out of its range, including one that does not fit an {@code int} ({@code 4294967298} does not
 *     wrap to 2);</li>
 * <li>a key given twice, at the top level, in a layer entry, or a layer named twice;</li>
 * <li>an unknown field, and text after the plan object;</li>
 * <li>a formatVersion other than the integer 1.</li>
 * </ul>
 * Checks that need the network are made when the plan meets it ({@link #validateFor}, called by
 * {@link DSConvConverter}): every name in {@code layers} must be a {@code ConvolutionLayer} of the network, and
 * with {@code skipFirst} an entry for the first convolution must be {@code {"skip": true}}.
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
                             boolean unsignedActivations, double minCompression) implements Recordable {

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
        minCompression += 0.0; // -0.0 -> 0.0
        layers = Map.copyOf(layers == null ? Map.of() : layers);
        for (Map.Entry<String, LayerOverride> e : layers.entrySet()) {
            try {
                e.getValue().apply(defaults);
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("plan entry for layer " + quote(e.getKey()) + ": "
                        + ex.getMessage());
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

    /** A copy with these per-layer entries instead of this plan's. */
    public ConversionPlan withLayers(Map<String, LayerOverride> entries) {
        return new ConversionPlan(defaults, entries, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsignedActivations, minCompression);
    }

    /** A copy with {@code minCompression} set. */
    public ConversionPlan withMinCompression(double ratio) {
        return new ConversionPlan(defaults, layers, skipFirst, quantizeNetworkInput, kdsBias, cds, clippingSearch,
                unsignedActivations, ratio);
    }

    /**
     * Checks this plan against the network it is applied to: every layer it names must be a convertible convolution
     * (exactly {@code ConvolutionLayer}), and with {@link #skipFirst} an entry for the first convolution must skip
     * it (settings for it would be silently ignored or, worse, win over skipFirst).
     *
     * @param convolutions     the network's convertible convolutions, in topological order
     * @param firstConvolution the network's first convolution if it is convertible, else null
     * @param otherLayers      every other layer, vertex and input of the network by name -&gt; what it is (a class
     *                         name such as {@code BatchNormalization}, or "network input"), for the messages
     * @throws IllegalArgumentException naming the layer, and listing (some of) the network's convolutions
     */
    public void validateFor(List<String> convolutions, String firstConvolution, Map<String, String> otherLayers) {
        Set<String> convs = new HashSet<>(convolutions);
        for (String name : new TreeSet<>(layers.keySet())) {
            if (convs.contains(name)) {
                continue;
            }
            String kind = otherLayers.get(name);
            throw new IllegalArgumentException("plan: layer " + quote(name) + (kind == null
                    ? " is not in this network" : " is " + article(kind) + " " + kind + ", not a ConvolutionLayer")
                    + "; plan entries name convolutions to convert (" + list(convolutions) + ")");
        }
        if (skipFirst && firstConvolution != null) {
            LayerOverride o = layers.get(firstConvolution);
            if (o != null && !o.skip()) {
                throw new IllegalArgumentException("plan: layer " + quote(firstConvolution) + " has settings but "
                        + "skipFirst (--skip-first) leaves the first convolution in FP32; give it {\"skip\": true}"
                        + " or drop skipFirst");
            }
        }
    }

    /** {@link #validateFor(List, String, Map)} without descriptions of the network's other layers. */
    public void validateFor(List<String> convolutions, String firstConvolution) {
        validateFor(convolutions, firstConvolution, Map.of());
    }

    /** The names of some convolutions, for a message. */
    private static String list(List<String> convolutions) {
        if (convolutions.isEmpty()) {
            return "this network has no ConvolutionLayer";
        }
        int shown = Math.min(convolutions.size(), 12);
        StringBuilder b = new StringBuilder(convolutions.size() == 1 ? "its convolution: " : "its convolutions: ");
        for (int i = 0; i < shown; i++) {
            b.append(i == 0 ? "" : ", ").append(quote(convolutions.get(i)));
        }
        if (shown < convolutions.size()) {
            b.append(", ... (").append(convolutions.size()).append(" in all)");
        }
        return b.toString();
    }

    private static String article(String noun) {
        return !noun.isEmpty() && "AEIOUaeiou".indexOf(noun.charAt(0)) >= 0 ? "an" : "a";
    }

    /** Reads a plan file (strictly, see the class comment); errors name the file, the field and the value. */
    public static ConversionPlan read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("plan file not found: " + file);
        }
        byte[] bytes = Files.readAllBytes(file);
        try {
            return fromJson(tree(() -> STRICT.readTree(bytes)));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Parses the text of a plan (strictly, see the class comment).
     *
     * @throws IllegalArgumentException with a one-line message when the text is not valid JSON, has a duplicate
     *                                  key, or is not a valid plan
     */
    public static ConversionPlan parse(String json) {
        Objects.requireNonNull(json, "json");
        return fromJson(tree(() -> STRICT.readTree(json)));
    }

    /** Parses the JSON form (see the class comment). A tree cannot hold duplicate keys: see {@link #parse}. */
    public static ConversionPlan fromJson(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("a plan must be a JSON object, got "
                    + (root == null || root.isMissingNode() ? "nothing" : show(root)));
        }
        checkFields(root, FIELDS, "plan");
        JsonNode version = root.get("formatVersion");
        if (version != null) {
            if (!version.isIntegralNumber()) {
                throw new IllegalArgumentException("'formatVersion' must be the integer " + FORMAT_VERSION + ", got "
                        + show(version));
            }
            if (!version.canConvertToInt() || version.intValue() != FORMAT_VERSION) {
                throw new IllegalArgumentException("unknown plan formatVersion " + show(version)
                        + " (this version reads " + FORMAT_VERSION + ")");
            }
        }
        LayerSpec d = LayerSpec.DEFAULT;
        Integer bits = weightBits(root, "");
        Integer act = actBits(root, "");
        Integer block = blockSize(root, "");
        LayerSpec spec = new LayerSpec(bits == null ? d.weightBits() : bits, act == null ? d.actBits() : act,
                block == null ? d.blockSize() : block);
        Map<String, LayerOverride> layers = new LinkedHashMap<>();
        JsonNode ln = root.get("layers");
        if (ln != null) {
            if (!ln.isObject()) {
                throw new IllegalArgumentException("'layers' must be an object of layer name -> settings, got "
                        + show(ln));
            }
            Iterator<Map.Entry<String, JsonNode>> it = ln.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                String where = "layer " + quote(e.getKey()) + ": ";
                JsonNode v = e.getValue();
                if (!v.isObject()) {
                    throw new IllegalArgumentException(where + "settings must be an object, got " + show(v));
                }
                checkFields(v, LAYER_FIELDS, "layer " + quote(e.getKey()));
                boolean skip = bool(v, "skip", false, where);
                Integer w = weightBits(v, where);
                Integer a = actBits(v, where);
                Integer b = blockSize(v, where);
                if (skip && (w != null || a != null || b != null)) {
                    throw new IllegalArgumentException(where + "'skip' is true, so "
                            + (w != null ? "'weightBits'" : a != null ? "'actBits'" : "'blockSize'")
                            + " would have no effect; remove one or the other");
                }
                layers.put(e.getKey(), new LayerOverride(skip, w, a, b));
            }
        }
        return new ConversionPlan(spec, layers, bool(root, "skipFirst", false, ""),
                bool(root, "quantizeNetworkInput", true, ""), bool(root, "kdsBias", false, ""),
                bool(root, "cds", false, ""), bool(root, "clippingSearch", false, ""),
                bool(root, "unsignedActivations", false, ""), minCompression(root));
    }

    /** The JSON form of this plan (the plan file's form; a packed manifest records it too). */
    @Override
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

    /**
     * The plan file reader: duplicate keys and text after the plan are errors, and decimals are kept exact
     * ({@code 1e400} stays 1E+400 in a message rather than becoming Infinity, {@code 4.0} stays 4.0).
     */
    private static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
            .build();

    private interface Reader {
        JsonNode read() throws IOException;
    }

    /** The tree of a plan's text; syntax errors and duplicate keys become one-line IllegalArgumentExceptions. */
    private static JsonNode tree(Reader reader) {
        try {
            return reader.read();
        } catch (StreamReadException e) {
            String dup = duplicate(e);
            throw new IllegalArgumentException(dup != null ? dup : "not valid JSON (" + firstLine(e) + ")", e);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("not valid JSON (" + firstLine(e) + ")", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the plan (" + firstLine(e) + ")", e);
        }
    }

    private static String firstLine(Exception e) {
        String m = e instanceof JacksonException j ? j.getOriginalMessage() : e.getMessage();
        String line = m == null ? "" : m.lines().findFirst().orElse("").strip()
                .replaceAll("\\[Source: REDACTED \\([^)]*\\); ", "[");
        return line.isEmpty() ? e.getClass().getSimpleName() : escape(line, 200);
    }

    /** The message for a duplicate key found by the strict parser, naming the key and where it is; else null. */
    private static String duplicate(StreamReadException e) {
        String m = e.getOriginalMessage();
        JsonParser p = e.getProcessor();
        if (m == null || !m.startsWith("Duplicate field") || p == null) {
            return null;
        }
        JsonStreamContext ctx = p.getParsingContext();
        String key = quote(ctx.getCurrentName());
        JsonStreamContext parent = ctx.getParent();
        JsonStreamContext grand = parent == null ? null : parent.getParent();
        if (parent == null || parent.inRoot()) {
            return "duplicate key " + key;
        }
        if (grand != null && grand.inRoot() && "layers".equals(parent.getCurrentName())) {
            return "'layers': duplicate layer " + key;
        }
        if (grand != null && grand.getParent() != null && grand.getParent().inRoot()
                && "layers".equals(grand.getCurrentName())) {
            return "layer " + quote(parent.getCurrentName()) + ": duplicate key " + key;
        }
        return "duplicate key " + key + " at " + escape(ctx.pathAsPointer().toString(), 200);
    }

    private static void checkFields(JsonNode node, Set<String> allowed, String where) {
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String f = names.next();
            if (!allowed.contains(f)) {
                throw new IllegalArgumentException(where + ": unknown field " + quote(f) + " (allowed: "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    private static Integer weightBits(JsonNode n, String where) {
        return intField(n, "weightBits", where, v -> v >= LayerSpec.MIN_WEIGHT_BITS && v <= LayerSpec.MAX_WEIGHT_BITS,
                "an integer in [" + LayerSpec.MIN_WEIGHT_BITS + ", " + LayerSpec.MAX_WEIGHT_BITS + "]");
    }

    private static Integer actBits(JsonNode n, String where) {
        return intField(n, "actBits", where,
                v -> v == 0 || (v >= BlockFloatingPoint.MIN_BITS && v <= BlockFloatingPoint.MAX_BITS),
                "0 (float input) or an integer in [" + BlockFloatingPoint.MIN_BITS + ", "
                        + BlockFloatingPoint.MAX_BITS + "]");
    }

    private static Integer blockSize(JsonNode n, String where) {
        return intField(n, "blockSize", where, v -> v >= 1 && v <= LayerSpec.MAX_BLOCK_SIZE,
                "an integer in [1, " + LayerSpec.MAX_BLOCK_SIZE + "]");
    }

    /** An optional integer field: absent is null; anything but an in-range integer literal is an error. */
    private static Integer intField(JsonNode n, String name, String where, IntPredicate ok, String expected) {
        JsonNode v = n.get(name);
        if (v == null) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || !ok.test(v.intValue())) {
            throw new IllegalArgumentException(where + "'" + name + "' must be " + expected + ", got " + show(v));
        }
        return v.intValue();
    }

    private static boolean bool(JsonNode n, String name, boolean dflt, String where) {
        JsonNode v = n.get(name);
        if (v == null) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(where + "'" + name + "' must be true or false, got " + show(v));
        }
        return v.booleanValue();
    }

    private static double minCompression(JsonNode root) {
        JsonNode v = root.get("minCompression");
        if (v == null) {
            return DEFAULT_MIN_COMPRESSION;
        }
        if (!v.isNumber() || !Double.isFinite(v.doubleValue()) || v.doubleValue() < 0) {
            throw new IllegalArgumentException("'minCompression' must be a finite number >= 0, got " + show(v));
        }
        return v.doubleValue();
    }

    /** A JSON value for a message: its JSON text (strings quoted and escaped), numbers as written, shortened. */
    private static String show(JsonNode v) {
        return escape(v.isNumber() ? v.asText() : v.toString(), 80);
    }

    /** A name for a message, in single quotes, with control characters escaped so the message stays one line. */
    static String quote(String name) {
        return "'" + escape(name == null ? "null" : name, 120) + "'";
    }

    private static String escape(String s, int max) {
        StringBuilder b = new StringBuilder();
        s.codePoints().limit(max).forEach(c -> {
            if (Character.isISOControl(c) || Character.getType(c) == Character.LINE_SEPARATOR
                    || Character.getType(c) == Character.PARAGRAPH_SEPARATOR) {
                b.append(String.format("\\u%04x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        if (s.codePointCount(0, s.length()) > max) {
            b.append("...");
        }
        return b.toString();
    }
}
