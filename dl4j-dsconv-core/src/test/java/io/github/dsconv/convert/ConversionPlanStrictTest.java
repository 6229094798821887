package io.github.dsconv.convert;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Plan files are parsed strictly: every value must have its field's JSON type and range (no coercion of strings,
 * floats or wrapped longs), keys are unique, and plan entries must name convolutions of the network being converted.
 * Each case here was silently accepted before (issue 16, item 3).
 */
class ConversionPlanStrictTest {

    @TempDir
    Path dir;

    /** Reads {@code json} as a plan file and returns the error message (asserting one line naming the file). */
    private String rejected(String json) throws IOException {
        Path file = dir.resolve("plan.json");
        Files.writeString(file, json);
        IOException e = assertThrows(IOException.class, () -> ConversionPlan.read(file), json);
        String m = e.getMessage();
        assertTrue(m != null && !m.isBlank() && !m.contains("\n"), () -> "one-line message: " + m);
        assertTrue(m.startsWith(file.toString() + ": "), () -> "names the file: " + m);
        return m;
    }

    private static void assertNames(String message, String... fragments) {
        for (String f : fragments) {
            assertTrue(message.contains(f), () -> "message should name " + f + ": " + message);
        }
    }

    private ConversionPlan accepted(String json) throws IOException {
        Path file = dir.resolve("ok.json");
        Files.writeString(file, json);
        return ConversionPlan.read(file);
    }

    @ParameterizedTest
    @ValueSource(strings = {"skipFirst", "quantizeNetworkInput", "kdsBias", "cds", "clippingSearch",
            "unsignedActivations"})
    void aBooleanGivenAsAStringIsAnError(String field) throws IOException {
        assertNames(rejected("{\"" + field + "\": \"yes\"}"), "'" + field + "'", "\"yes\"");
        assertNames(rejected("{\"" + field + "\": 1}"), "'" + field + "'", "got 1");
        assertNames(rejected("{\"" + field + "\": null}"), "'" + field + "'", "null");
    }

    @Test
    void skipGivenAsAStringIsAnError() throws IOException {
        assertNames(rejected("{\"layers\": {\"b1a\": {\"skip\": \"yes\"}}}"), "layer 'b1a'", "'skip'", "\"yes\"");
        assertNames(rejected("{\"layers\": {\"b1a\": {\"skip\": 0}}}"), "layer 'b1a'", "'skip'", "got 0");
    }

    @Test
    void aLongDoesNotWrapToAnInt() throws IOException {
        assertNames(rejected("{\"weightBits\": 4294967298}"), "'weightBits'", "4294967298");
        assertNames(rejected("{\"layers\": {\"conv2\": {\"weightBits\": 4294967298}}}"), "layer 'conv2'",
                "'weightBits'", "4294967298");
        assertNames(rejected("{\"blockSize\": 4294967328}"), "'blockSize'", "4294967328");
        assertNames(rejected("{\"actBits\": 99999999999999999999999}"), "'actBits'", "99999999999999999999999");
        // formatVersion 2^32 + 1 wrapped to 1, the supported version
        assertNames(rejected("{\"formatVersion\": 4294967297}"), "formatVersion", "4294967297");
    }

    @ParameterizedTest
    @ValueSource(strings = {"weightBits", "actBits", "blockSize"})
    void anIntegerFieldTakesOnlyAnIntegerLiteral(String field) throws IOException {
        for (String bad : new String[] {"4.0", "1e2", "\"4\"", "true", "null", "[4]", "{}"}) {
            assertNames(rejected("{\"" + field + "\": " + bad + "}"), "'" + field + "'", "integer");
            assertNames(rejected("{\"layers\": {\"b1a\": {\"" + field + "\": " + bad + "}}}"), "layer 'b1a'",
                    "'" + field + "'", "integer");
        }
    }

    @Test
    void formatVersionMustBeTheInteger1() throws IOException {
        for (String bad : new String[] {"\"1\"", "1.0", "1e0", "true", "null"}) {
            assertNames(rejected("{\"formatVersion\": " + bad + "}"), "'formatVersion'");
        }
        assertEquals(ConversionPlan.standard(), accepted("{\"formatVersion\": 1}"));
    }

    @Test
    void minCompressionIsAFiniteNonNegativeNumber() throws IOException {
        assertEquals(3.0, accepted("{\"minCompression\": 3}").minCompression());
        assertEquals(3.0, accepted("{\"minCompression\": 3.0}").minCompression());
        assertEquals(100.0, accepted("{\"minCompression\": 1e2}").minCompression());
        assertEquals(0.0, accepted("{\"minCompression\": 0}").minCompression());
        for (String bad : new String[] {"\"3\"", "-1", "-0.5", "1e400", "true", "null", "[3]"}) {
            assertNames(rejected("{\"minCompression\": " + bad + "}"), "'minCompression'");
        }
        // NaN and Infinity are not JSON
        assertNames(rejected("{\"minCompression\": NaN}"), "not valid JSON");
        assertNames(rejected("{\"minCompression\": Infinity}"), "not valid JSON");
    }

    @Test
    void valuesOutOfRangeNameTheFieldAndValue() throws IOException {
        assertNames(rejected("{\"weightBits\": 9}"), "'weightBits'", "[2, 8]", "got 9");
        assertNames(rejected("{\"weightBits\": 1}"), "'weightBits'", "[2, 8]", "got 1");
        assertNames(rejected("{\"actBits\": 1}"), "'actBits'", "[2, 16]", "got 1");
        assertNames(rejected("{\"actBits\": 17}"), "'actBits'", "got 17");
        assertNames(rejected("{\"actBits\": -8}"), "'actBits'", "got -8");
        assertNames(rejected("{\"blockSize\": 0}"), "'blockSize'", "got 0");
        assertNames(rejected("{\"blockSize\": 2147483647}"), "'blockSize'", "65536", "got 2147483647");
        assertNames(rejected("{\"layers\": {\"b2a\": {\"blockSize\": 65537}}}"), "layer 'b2a'", "'blockSize'",
                "got 65537");
        assertNames(rejected("{\"layers\": {\"b2a\": {\"actBits\": 1}}}"), "layer 'b2a'", "'actBits'", "got 1");
        assertEquals(new LayerSpec(2, 0, 65536), accepted("{\"weightBits\": 2, \"actBits\": 0, \"blockSize\": 65536}")
                .defaults());
        assertEquals(new LayerSpec(8, 16, 1), accepted("{\"weightBits\": 8, \"actBits\": 16, \"blockSize\": 1}")
                .defaults());
    }

    @Test
    void aLayerSpecBlockBeyondTheMaximumIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new LayerSpec(4, 8, Integer.MAX_VALUE));
        assertNames(e.getMessage(), "block", "65536", "got 2147483647");
        assertThrows(IllegalArgumentException.class, () -> new LayerSpec(4, 8, 65537));
        assertEquals(65536, new LayerSpec(4, 8, 65536).blockSize());
    }

    @Test
    void duplicateKeysAreErrors() throws IOException {
        assertNames(rejected("{\"weightBits\": 4, \"weightBits\": 6}"), "duplicate", "'weightBits'");
        assertNames(rejected("{\"skipFirst\": true, \"skipFirst\": false}"), "duplicate", "'skipFirst'");
        assertNames(rejected("{\"layers\": {\"b1a\": {\"weightBits\": 4, \"weightBits\": 6}}}"), "duplicate",
                "'weightBits'", "'b1a'");
        assertNames(rejected("{\"layers\": {\"b1a\": {\"skip\": true}, \"b1a\": {\"weightBits\": 6}}}"),
                "duplicate", "'b1a'");
        assertNames(rejected("{\"layers\": {}, \"layers\": {\"b1a\": {\"skip\": true}}}"), "duplicate",
                "'layers'");
    }

    @Test
    void aSkippedLayerWithSettingsIsAnError() throws IOException {
        assertNames(rejected("{\"layers\": {\"b1a\": {\"skip\": true, \"weightBits\": 6}}}"), "layer 'b1a'",
                "'skip'", "'weightBits'");
        assertThrows(IllegalArgumentException.class, () -> new LayerOverride(true, 6, null, null));
    }

    @Test
    void trailingTextIsAnError() throws IOException {
        assertNames(rejected("{\"weightBits\": 4} {\"weightBits\": 6}"), "not valid JSON");
        assertNames(rejected("{\"weightBits\": 4} x"), "not valid JSON");
    }

    @Test
    void unknownFieldsStayErrors() throws IOException {
        assertNames(rejected("{\"weightbits\": 4}"), "unknown field 'weightbits'");
        assertNames(rejected("{\"layers\": {\"b1a\": {\"bits\": 4}}}"), "layer 'b1a'", "unknown field 'bits'");
    }

    @Test
    void aNameWithANewlineKeepsTheMessageOnOneLine() throws IOException {
        String m = rejected("{\"layers\": {\"a\\nb\": {\"weightBits\": 40}}}");
        assertNames(m, "'weightBits'", "got 40");
        m = rejected("{\"x\\ny\": 1}");
        assertNames(m, "unknown field");
    }

    // ---------------------------------------------------------------------------------------------------------
    // the plan meets the network: DSConvConverter validates names and skipFirst

    private static ConversionPlan plan(boolean skipFirst, Map<String, LayerOverride> layers) {
        return new ConversionPlan(LayerSpec.DEFAULT, layers, skipFirst, true, false, false, false, false, 0);
    }

    @Test
    void anUnknownLayerNameIsAnErrorListingTheConvolutions() {
        ComputationGraph net = TinyNets.residualGraph(11, CNN2DFormat.NCHW);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvConverter(plan(false, Map.of("conv9", new LayerOverride(false, 6, null, null))))
                        .convert(net));
        assertNames(e.getMessage(), "'conv9'", "stem", "b1a", "b2proj");
        // the targets (used by sensitivity and activation-only simulation) validate the same way
        e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvConverter(plan(false, Map.of("conv9", LayerOverride.skipped()))).targets(net));
        assertNames(e.getMessage(), "'conv9'", "b1a");
        // a vertex without parameters (the residual add) and the network input are not convolutions either
        e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvConverter(plan(false, Map.of("b1add", LayerOverride.skipped()))).convert(net));
        assertNames(e.getMessage(), "'b1add'", "ElementWiseVertex");
        e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvConverter(plan(false, Map.of("in", LayerOverride.skipped()))).convert(net));
        assertNames(e.getMessage(), "'in'");
        e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvConverter(plan(false, Map.of("gap", LayerOverride.skipped()))).convert(net));
        assertNames(e.getMessage(), "'gap'", "GlobalPoolingLayer");
    }

    @Test
    void skipFirstWithSettingsForTheFirstConvolutionIsAnError() {
        ComputationGraph net = TinyNets.residualGraph(12, CNN2DFormat.NCHW);
        for (LayerOverride o : new LayerOverride[] {new LayerOverride(false, 8, null, null),
                new LayerOverride(false, null, null, null)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new DSConvConverter(plan(true, Map.of("stem", o))).convert(net));
            assertNames(e.getMessage(), "'stem'", "skipFirst");
            assertThrows(IllegalArgumentException.class,
                    () -> new DSConvConverter(plan(true, Map.of("stem", o))).targets(net));
        }
        // "skip": true agrees with skipFirst; settings for other layers are fine
        Converted<ComputationGraph> r = new DSConvConverter(plan(true, Map.of("stem", LayerOverride.skipped(),
                "b1a", new LayerOverride(false, 6, null, null)))).convert(net);
        assertFalse(r.network().getLayer("stem").conf().getLayer() instanceof DSConvLayer);
        assertEquals(6, ((DSConvLayer) r.network().getLayer("b1a").conf().getLayer()).getWeightBits());
        // without skipFirst the entry converts the stem as it says
        r = new DSConvConverter(plan(false, Map.of("stem", new LayerOverride(false, 8, null, null)))).convert(net);
        assertInstanceOf(DSConvLayer.class, r.network().getLayer("stem").conf().getLayer());
    }
}
