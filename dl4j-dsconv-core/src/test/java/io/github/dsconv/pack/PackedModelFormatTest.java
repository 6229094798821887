package io.github.dsconv.pack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.quant.Half;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PackedModelFormatTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final PackedModelFormat.Options FP32 =
            PackedModelFormat.Options.defaults().withParamsPrecision(ScalePrecision.FP32);

    @TempDir
    Path tmp;

    private static MultiLayerNetwork mln(int bits) {
        return new DSConvConverter(ConversionPlan.uniform(new LayerSpec(bits, 8, 32)))
                .convert(TinyNets.mln(11, CNN2DFormat.NCHW)).network();
    }

    private static ComputationGraph graph(int bits) {
        return new DSConvConverter(ConversionPlan.uniform(new LayerSpec(bits, 8, 32)))
                .convert(TinyNets.residualGraph(12, CNN2DFormat.NCHW)).network();
    }

    private static INDArray mlnInput() {
        return TinyNets.random(21, DataType.FLOAT, 4, 3, 9, 9);
    }

    private static INDArray graphInput() {
        return TinyNets.random(22, DataType.FLOAT, 4, 3, 8, 8);
    }

    private static float[] out(Model m, INDArray x) {
        return Logits.of(m, x).castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    private static float[] flat(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    /** Bitwise equality (so that -0.0 != 0.0 and NaN == NaN would show). */
    private static void assertBitIdentical(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + ": differs at " + i + ": " + expected[i] + " vs " + actual[i]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // round trips

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 8})
    void multiLayerNetworkRoundTripsBitIdenticallyWithFp32Params(int bits) throws IOException {
        MultiLayerNetwork net = mln(bits);
        Path f = tmp.resolve("m.dsconv.zip");
        PackedModelFormat.Written w = PackedModelFormat.write(net, f, FP32);
        assertEquals(Files.size(f), w.fileBytes());
        Model back = PackedModelFormat.read(f);
        assertInstanceOf(MultiLayerNetwork.class, back);
        assertBitIdentical(flat(net.params()), flat(back.params()), "params");
        assertBitIdentical(out(net, mlnInput()), out(back, mlnInput()), "outputs");
        assertEquals(net.getLayerWiseConfigurations(), ((MultiLayerNetwork) back).getLayerWiseConfigurations());
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 8})
    void graphRoundTripsBitIdenticallyWithFp32Params(int bits) throws IOException {
        ComputationGraph net = graph(bits);
        Path f = tmp.resolve("g.dsconv.zip");
        PackedModelFormat.write(net, f, FP32);
        Model back = ModelFiles.load(f);
        assertInstanceOf(ComputationGraph.class, back);
        assertBitIdentical(flat(net.params()), flat(back.params()), "params");
        assertBitIdentical(out(net, graphInput()), out(back, graphInput()), "outputs");
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4, 5, 8})
    void fp16ParamsLoadAsTheNetworkWithItsParamsRoundedTheSameWay(int bits) throws IOException {
        for (Model net : List.<Model>of(mln(bits), graph(bits))) {
            INDArray x = net instanceof MultiLayerNetwork ? mlnInput() : graphInput();
            Path f = tmp.resolve("h.dsconv.zip");
            PackedModelFormat.write(net, f, PackedModelFormat.Options.defaults());
            Model back = PackedModelFormat.read(f);
            INDArray stored = PackedModelFormat.storedParams(net, ScalePrecision.FP16);
            assertBitIdentical(flat(stored), flat(back.params()), "params");
            Model rounded = net instanceof MultiLayerNetwork m ? m.clone() : ((ComputationGraph) net).clone();
            rounded.setParams(stored);
            assertBitIdentical(out(rounded, x), out(back, x), "outputs");
            // every stored value is the fp16 rounding of the original or the original itself
            float[] a = flat(net.params());
            float[] b = flat(stored);
            int changed = 0;
            for (int i = 0; i < a.length; i++) {
                float h = Half.toFloat(Half.fromFloat(a[i]));
                assertTrue(b[i] == a[i] || b[i] == h, "value " + i);
                changed += b[i] != a[i] ? 1 : 0;
            }
            assertTrue(changed > 0, "fp16 storage should round some BN/dense/bias values");
        }
    }

    @Test
    void kdsBiasAndCdsRoundTripAndScalesKeepTheLayerPrecision() throws IOException {
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(3, 8, 16)).withMethod(true, true, false);
        ComputationGraph net = new DSConvConverter(plan).convert(TinyNets.residualGraph(13, CNN2DFormat.NCHW))
                .network();
        // as after distillation: scales trained in fp32 are no longer fp16 values
        net.getLayer("b1a").getParam("alpha").muli(1.0001f);
        net.getLayer("b1a").getParam("gamma").addi(0.123456789f);
        net.getLayer("stem").getParam("alpha").muli(1.0001f); // first conv: FP32 scales, kept exactly
        Path f = tmp.resolve("cds.dsconv.zip");
        PackedModelFormat.write(net, f, FP32.withPlan(plan));
        ComputationGraph back = (ComputationGraph) PackedModelFormat.read(f);
        for (String p : List.of("q", "alpha", "beta", "gamma", "delta", "b")) {
            float[] a = flat(net.getLayer("b1a").getParam(p));
            float[] b = flat(back.getLayer("b1a").getParam(p));
            for (int i = 0; i < a.length; i++) {
                boolean scale = !p.equals("q") && !p.equals("b");
                float expected = scale ? Half.toFloat(Half.fromFloat(a[i])) : a[i];
                assertEquals(expected, b[i], 0f, "b1a " + p + "[" + i + "]");
            }
        }
        assertBitIdentical(flat(net.getLayer("stem").getParam("alpha")), flat(back.getLayer("stem").getParam("alpha")),
                "stem alpha");
        PackedManifest m = PackedModelFormat.readManifest(f);
        Map<String, String> enc = m.segments().stream()
                .collect(Collectors.toMap(s -> s.layer() + "/" + s.param(), PackedManifest.Segment::encoding));
        assertEquals("int3", enc.get("b1a/q"));
        assertEquals("fp16", enc.get("b1a/alpha"));
        assertEquals("fp16", enc.get("b1a/beta"));
        assertEquals("fp16", enc.get("b1a/gamma"));
        assertEquals("fp16", enc.get("b1a/delta"));
        assertEquals("fp32", enc.get("b1a/b")); // FP32 params option
        assertEquals("fp32", enc.get("stem/alpha"));
        assertEquals("fp32", enc.get("stem_bn/mean"));
        assertEquals(plan.toJson(), m.plan());
    }

    // ---------------------------------------------------------------------------------------------------------
    // what is stored

    @Test
    void manifestRecordsEncodingsProvenanceAndSizes() throws IOException {
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 32));
        Converted<MultiLayerNetwork> c = new DSConvConverter(plan).convert(TinyNets.mln(14, CNN2DFormat.NCHW));
        Path f = tmp.resolve("p.dsconv.zip");
        PackedModelFormat.Written w = PackedModelFormat.write(c.network(), f,
                PackedModelFormat.Options.defaults().withPlan(plan).withSource("tiny.zip"));
        PackedManifest m = w.manifest();
        assertEquals(m, PackedModelFormat.readManifest(f));
        assertEquals(1, m.formatVersion());
        assertEquals("MultiLayerNetwork", m.modelKind());
        assertEquals("FP16", m.paramsPrecision());
        assertEquals(c.network().numParams(), m.numParams());
        assertEquals(PackedModelFormat.LIBRARY, m.provenance().library());
        assertEquals("tiny.zip", m.provenance().source());
        assertEquals(List.of("c1", "c2"), List.copyOf(m.provenance().weightBits().keySet()));
        assertEquals(Set.of(4), Set.copyOf(m.provenance().weightBits().values()));
        assertEquals(plan.toJson(), m.plan());
        Map<String, String> enc = m.segments().stream()
                .collect(Collectors.toMap(s -> s.layer() + "/" + s.param(), PackedManifest.Segment::encoding));
        assertEquals(Map.of("c1/q", "int4", "c1/alpha", "fp32", "c2/q", "int4", "c2/alpha", "fp16", "c2/b", "fp16",
                "bn1/gamma", "fp16", "bn1/beta", "fp16", "bn1/mean", "fp16", "bn1/log10stdev", "fp16"),
                Map.copyOf(enc.entrySet().stream().filter(e -> !e.getKey().startsWith("out/"))
                        .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue))));
        assertEquals("fp16", enc.get("out/W"));
        assertEquals("fp16", enc.get("out/b"));
        // segments tile the flat vector in order
        long off = 0;
        for (PackedManifest.Segment s : m.segments()) {
            assertEquals(off, s.offset(), s.layer() + "/" + s.param());
            off += s.length();
        }
        assertEquals(m.numParams(), off);
        // conv bytes: c1 = 40x3x3x3 q at 4 bits + 40x1x3x3 fp32 alphas (first conv); c2 = 36x40x3x3 q at 4 bits
        // + 36x2x3x3 fp16 alphas (blocks of 32 and 8 channels); the same as the converter's report
        long c1 = 40 * 3 * 9;
        long c2 = 36 * 40 * 9;
        long expected = c1 / 2 + 4 * 40 * 9 + c2 / 2 + 2 * 36 * 2 * 9;
        assertEquals(expected, w.convWeightBytes());
        assertEquals(c.report().convertedWeightBytes(), w.convWeightBytes());
        assertEquals(4 * (c1 + c2), w.fp32ConvWeightBytes());
        long other = 2 * (36 + 4 * 40 + 36 * 5 + 5);
        assertEquals(other, w.otherParamBytes());
    }

    @Test
    void unconvertedConvolutionsStayFp32AndOverflowingFp16FallsBackToFp32() throws IOException {
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 32)).withSkipFirst(true);
        MultiLayerNetwork net = new DSConvConverter(plan).convert(TinyNets.mln(15, CNN2DFormat.NCHW)).network();
        assertFalse(net.getLayer(0).conf().getLayer() instanceof DSConvLayer);
        net.getLayer(5).getParam("W").putScalar(3, 1.0e6f); // beyond fp16's 65504
        Path f = tmp.resolve("skip.dsconv.zip");
        PackedModelFormat.write(net, f, PackedModelFormat.Options.defaults());
        PackedManifest m = PackedModelFormat.readManifest(f);
        Map<String, String> enc = m.segments().stream()
                .collect(Collectors.toMap(s -> s.layer() + "/" + s.param(), PackedManifest.Segment::encoding));
        assertEquals("fp32", enc.get("c1/W"));
        assertEquals("fp32", enc.get("out/W"));
        assertEquals("fp16", enc.get("out/b"));
        assertEquals("fp16", enc.get("bn1/mean"));
        Model back = PackedModelFormat.read(f);
        assertBitIdentical(flat(net.getLayer(0).getParam("W")), flat(((MultiLayerNetwork) back).getLayer(0)
                .getParam("W")), "unconverted kernel");
        assertEquals(1.0e6f, ((MultiLayerNetwork) back).getLayer(5).getParam("W").getFloat(3), 0f);
        assertBitIdentical(flat(PackedModelFormat.storedParams(net, ScalePrecision.FP16)), flat(back.params()),
                "params");
    }

    @Test
    void modelFilesSavesPackedByNameAndLoadsItByContent() throws IOException {
        MultiLayerNetwork net = mln(4);
        Path dir = Files.createDirectories(tmp.resolve("out"));
        Path packed = dir.resolve("net.dsconv.zip");
        ModelFiles.save(net, packed, true);
        assertTrue(PackedModelFormat.isPacked(packed));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("net.dsconv.zip"), s.map(p -> p.getFileName().toString()).toList());
        }
        Path renamed = Files.copy(packed, tmp.resolve("whatever.bin"));
        Model back = ModelFiles.load(renamed);
        assertBitIdentical(flat(PackedModelFormat.storedParams(net, ScalePrecision.FP16)), flat(back.params()),
                "params");
        Path plain = tmp.resolve("plain.zip");
        ModelFiles.save(net, plain, false);
        assertFalse(PackedModelFormat.isPacked(plain));
        assertBitIdentical(flat(net.params()), flat(ModelFiles.load(plain).params()), "ModelSerializer zip");
        assertTrue(Files.size(packed) < Files.size(plain), Files.size(packed) + " vs " + Files.size(plain));
    }

    // ---------------------------------------------------------------------------------------------------------
    // bad input

    @Test
    void writeRejectsBadNetworksAndLeavesNoFile() throws IOException {
        MultiLayerNetwork net = mln(4);
        net.getLayer(0).getParam("q").putScalar(0, 0.5f);
        Path dir = Files.createDirectories(tmp.resolve("w"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PackedModelFormat.write(net, dir.resolve("x.dsconv.zip"), FP32));
        assertTrue(e.getMessage().contains("c1") && e.getMessage().contains("4-bit"), e.getMessage());
        net.getLayer(0).getParam("q").putScalar(0, 8f); // outside [-8, 7]
        assertThrows(IllegalArgumentException.class, () -> PackedModelFormat.write(net, dir.resolve("x.dsconv.zip"),
                FP32));
        MultiLayerNetwork dbl = mln(4);
        dbl = dbl.convertDataType(DataType.DOUBLE);
        MultiLayerNetwork d = dbl;
        e = assertThrows(IllegalArgumentException.class, () -> PackedModelFormat.write(d, dir.resolve("x.dsconv.zip"),
                FP32));
        assertTrue(e.getMessage().contains("DOUBLE"), e.getMessage());
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(), s.toList(), "no output or temporary file after a failed write");
        }
    }

    @Test
    void rejectsUnknownVersionsMissingFilesAndEditedManifests() throws IOException {
        Path f = tmp.resolve("v.dsconv.zip");
        PackedModelFormat.write(mln(4), f, FP32);

        Path v2 = rewrite(f, tmp.resolve("v2.dsconv.zip"), m -> {
            ((ObjectNode) m).put("formatVersion", 2);
            return m;
        });
        IOException e = assertThrows(IOException.class, () -> ModelFiles.load(v2));
        assertOneLine(e, v2, "unsupported packed format version 2");

        // an edited manifest with a valid checksum still has to describe the network
        Path edited = rewrite(f, tmp.resolve("e.dsconv.zip"), m -> {
            ((ObjectNode) m.get("segments").get(0)).put("encoding", "int8");
            return m;
        });
        e = assertThrows(IOException.class, () -> PackedModelFormat.read(edited));
        assertOneLine(e, edited, "does not match");

        Path missing = tmp.resolve("nope.dsconv.zip");
        e = assertThrows(IOException.class, () -> ModelFiles.load(missing));
        assertOneLine(e, missing, "not found");

        Path text = Files.writeString(tmp.resolve("t.dsconv.zip"), "hello");
        e = assertThrows(IOException.class, () -> PackedModelFormat.read(text));
        assertOneLine(e, text, "not a readable zip");

        Path plain = tmp.resolve("plain.zip");
        ModelSerializer.writeModel(mln(4), plain.toFile(), false);
        e = assertThrows(IOException.class, () -> PackedModelFormat.read(plain));
        assertOneLine(e, plain, "not a packed DSConv model");
    }

    /**
     * Seeded fuzzing: 100 random truncations and 100 random byte flips of a packed graph. Each must fail with a
     * one-line message naming the file, or (a flip in a byte that does not matter, such as a timestamp) load a
     * network whose outputs are bit-identical. No case may load as a different model.
     */
    @Test
    void truncatedAndFlippedFilesNeverLoadAsADifferentModel() throws IOException {
        ComputationGraph net = graph(3);
        Path f = tmp.resolve("fuzz.dsconv.zip");
        PackedModelFormat.write(net, f, FP32);
        byte[] good = Files.readAllBytes(f);
        INDArray x = graphInput();
        float[] expected = out(net, x);
        Random r = new Random(20241122L);
        int failed = 0;
        int identical = 0;
        for (int i = 0; i < 200; i++) {
            byte[] bad;
            String what;
            if (i < 100) {
                int len = r.nextInt(good.length);
                bad = java.util.Arrays.copyOf(good, len);
                what = "truncated to " + len;
            } else {
                bad = good.clone();
                int pos = r.nextInt(bad.length);
                int mask = 1 + r.nextInt(255);
                bad[pos] ^= (byte) mask;
                what = "byte " + pos + " ^ " + mask;
            }
            Path p = tmp.resolve("case" + i + ".dsconv.zip");
            Files.write(p, bad);
            Model back;
            try {
                back = ModelFiles.load(p);
            } catch (IOException e) {
                assertOneLine(e, p, "");
                failed++;
                continue;
            }
            assertTrue(i >= 100, "a truncated file loaded: " + what);
            assertBitIdentical(expected, out(back, x), what);
            identical++;
        }
        System.out.printf("fuzz: %d rejected, %d loaded bit-identical (file %d bytes)%n", failed, identical,
                good.length);
        assertTrue(failed >= 150, "most damaged files should be rejected: " + failed);
    }

    @Test
    void aDamagedLeadingHeaderIsStillRecognisedAsPacked() throws IOException {
        MultiLayerNetwork net = mln(4);
        Path f = tmp.resolve("lead.dsconv.zip");
        PackedModelFormat.write(net, f, FP32);
        byte[] b = Files.readAllBytes(f);
        b[30] ^= 0x20; // first letter of the local header's entry name: "dsconv.format" -> "Dsconv.format"
        Path damaged = Files.write(tmp.resolve("lead.bin"), b);
        assertFalse(PackedModelFormat.isPacked(damaged));
        // ModelFiles falls back to the zip's central directory, finds the manifest and reads the packed file
        assertBitIdentical(flat(net.params()), flat(ModelFiles.load(damaged).params()), "params");
        b[0] ^= 0x01; // a broken local header signature: the marker can no longer be read
        Path worse = Files.write(tmp.resolve("lead2.bin"), b);
        IOException e = assertThrows(IOException.class, () -> ModelFiles.load(worse));
        assertOneLine(e, worse, "");
    }

    private static void assertOneLine(IOException e, Path file, String fragment) {
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.contains(file.toString()), "names the file: " + m);
        assertTrue(m.contains(fragment), "says '" + fragment + "': " + m);
    }

    /** Copies a packed file, editing its manifest and writing a matching manifest checksum. */
    private static Path rewrite(Path src, Path dst, UnaryOperator<JsonNode> edit) throws IOException {
        try (ZipFile in = new ZipFile(src.toFile()); OutputStream os = Files.newOutputStream(dst);
             ZipOutputStream out = new ZipOutputStream(os)) {
            List<ZipEntry> entries = new ArrayList<>();
            Enumeration<? extends ZipEntry> en = in.entries();
            while (en.hasMoreElements()) {
                entries.add(en.nextElement());
            }
            byte[] manifest = null;
            for (ZipEntry e : entries) {
                byte[] b;
                try (InputStream is = in.getInputStream(e)) {
                    b = is.readAllBytes();
                }
                if (e.getName().equals(PackedModelFormat.MANIFEST_ENTRY)) {
                    manifest = JSON.writeValueAsBytes(edit.apply(JSON.readTree(b)));
                    b = manifest;
                } else if (e.getName().equals(PackedModelFormat.MANIFEST_SHA_ENTRY)) {
                    b = (PackedModelFormat.sha256(manifest) + "\n").getBytes(StandardCharsets.US_ASCII);
                }
                ZipEntry n = new ZipEntry(e.getName());
                if (e.getMethod() == ZipEntry.STORED) {
                    n.setMethod(ZipEntry.STORED);
                    n.setSize(e.getSize());
                    n.setCompressedSize(e.getSize());
                    n.setCrc(e.getCrc());
                }
                out.putNextEntry(n);
                out.write(b);
                out.closeEntry();
            }
        }
        return dst;
    }
}
