package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dsconv.cli.DsconvCli;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.zoo.small.SmallModels;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End-to-end tests of the {@code dsconv} command line, run in-process through {@link DsconvCli#commandLine()}
 * against model files in temporary folders and the installed Fashion-MNIST test split.
 */
class CliTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The eleven convolutions of {@link SmallModels#resnet}, in topological order. */
    private static final List<String> RESNET_CONVS = List.of("stem_conv", "s1b1a_conv", "s1b1b_conv", "s2b1a_conv",
            "s2b1b_conv", "s2b1proj_conv", "s2b2a_conv", "s2b2b_conv", "s3b1a_conv", "s3b1b_conv", "s3b1proj_conv");

    /** The five convolutions of {@link SmallModels#vgg} with their (nIn, nOut). */
    private static final Map<String, long[]> VGG_CONVS = new LinkedHashMap<>();

    static {
        VGG_CONVS.put("conv1", new long[] {1, 32});
        VGG_CONVS.put("conv2", new long[] {32, 32});
        VGG_CONVS.put("conv3", new long[] {32, 64});
        VGG_CONVS.put("conv4", new long[] {64, 64});
        VGG_CONVS.put("conv5", new long[] {64, 128});
    }

    @TempDir
    static Path shared;

    /** Untrained FP32 models; named after their architecture so that the demo reports arch "resnet". */
    static Path resnet;
    static Path vgg;

    /** The W4A8 B32 conversion of {@link #resnet} (made once, on first use) and its report. */
    private static Path quantizedResnet;
    private static Path quantizedResnetJson;

    @TempDir
    Path tmp;

    @BeforeAll
    static void saveModels() throws IOException {
        Path dir = Files.createDirectories(shared.resolve("fp32"));
        resnet = dir.resolve("resnet.zip");
        vgg = dir.resolve("vgg.zip");
        ModelFiles.save(SmallModels.resnet(1, 1), resnet, false);
        ModelFiles.save(SmallModels.vgg(1, 1), vgg, false);
    }

    // ---------------------------------------------------------------------------------------------------------
    // helpers

    /** Exit code and everything the command line wrote to its error stream. */
    record Run(int code, String err) {

        /** The error output's non-empty lines. */
        List<String> errLines() {
            return err.lines().filter(l -> !l.isBlank()).toList();
        }
    }

    static Run cli(Object... args) {
        String[] argv = Stream.of(args).map(String::valueOf).toArray(String[]::new);
        StringWriter err = new StringWriter();
        CommandLine cl = DsconvCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        cl.setOut(new PrintWriter(new StringWriter(), true));
        int code = cl.execute(argv);
        return new Run(code, err.toString());
    }

    static Run ok(Object... args) {
        Run r = cli(args);
        assertEquals(0, r.code(), () -> "exit code of " + List.of(args) + ", stderr: " + r.err());
        return r;
    }

    static JsonNode readJson(Path file) throws IOException {
        assertTrue(Files.isRegularFile(file), () -> file + " was not written");
        return JSON.readTree(file.toFile());
    }

    /** Names of the files in a folder (not recursive). */
    static Set<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
        }
    }

    static synchronized Path quantizedResnet() throws IOException {
        if (quantizedResnet == null) {
            Path dir = Files.createDirectories(shared.resolve("q-resnet"));
            Path out = dir.resolve("q.zip");
            Path json = dir.resolve("q.json");
            ok("quantize", "--min-compression", 0,
                    "--in", resnet, "--out", out, "--weight-bits", 4, "--act-bits", 8, "--block", 32,
                    "--json", json);
            quantizedResnet = out;
            quantizedResnetJson = json;
        }
        return quantizedResnet;
    }

    /** Layer configurations by name (topological order for graphs). */
    static Map<String, Layer> layerConfs(Model m) {
        Map<String, Layer> out = new LinkedHashMap<>();
        if (m instanceof MultiLayerNetwork mln) {
            for (NeuralNetConfiguration c : mln.getLayerWiseConfigurations().getConfs()) {
                out.put(c.getLayer().getLayerName(), c.getLayer());
            }
        } else {
            ComputationGraph cg = (ComputationGraph) m;
            for (String name : cg.getConfiguration().getTopologicalOrderStr()) {
                GraphVertex v = cg.getConfiguration().getVertices().get(name);
                if (v instanceof LayerVertex lv) {
                    out.put(name, lv.getLayerConf().getLayer());
                }
            }
        }
        return out;
    }

    /** inspect's layer rows by name. */
    static Map<String, JsonNode> inspectRows(Path model, Path json) throws IOException {
        ok("inspect", "--model", model, "--json", json);
        JsonNode root = readJson(json);
        assertTrue(root.get("layers").isArray(), "layers must be an array");
        Map<String, JsonNode> rows = new LinkedHashMap<>();
        for (JsonNode l : root.get("layers")) {
            for (String f : List.of("name", "type", "nIn", "nOut")) {
                assertTrue(l.has(f), () -> "inspect row without '" + f + "': " + l);
            }
            rows.put(l.get("name").asText(), l);
        }
        return rows;
    }

    static double sqnrDb(float[] ref, float[] approx) {
        double s = 0;
        double n = 0;
        for (int i = 0; i < ref.length; i++) {
            s += (double) ref[i] * ref[i];
            double d = (double) ref[i] - approx[i];
            n += d * d;
        }
        return 10 * Math.log10(s / n);
    }

    static float[] floats(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    /**
     * Asserts a failed run: the expected exit code, one {@code dsconv: error:} line naming every fragment, and an
     * output folder left empty (no output file, no temporary file).
     */
    static void assertFailed(Run r, Path outDir, String... fragments) throws IOException {
        assertEquals(1, r.code(), () -> "exit code; stderr: " + r.err());
        List<String> lines = r.errLines();
        assertFalse(lines.isEmpty(), "no error message on stderr");
        if (System.getenv("DSCONV_DEBUG") == null) {
            assertEquals(1, lines.size(), () -> "expected a one-line error, got:\n" + r.err());
        }
        String line = lines.get(0);
        System.out.println("stderr: " + line);
        assertTrue(line.startsWith("dsconv: error: "), () -> "unexpected message: " + line);
        for (String f : fragments) {
            assertTrue(line.contains(f), () -> "message should name '" + f + "': " + line);
        }
        assertEquals(Set.of(), fileNames(outDir), "files left in the output folder after a failure");
    }

    // ---------------------------------------------------------------------------------------------------------
    // 1. quantize

    @Test
    void quantizeResnetConvertsEveryConvolutionAndWritesReportAndProvenance() throws IOException {
        Path out = quantizedResnet();
        JsonNode q = readJson(quantizedResnetJson);

        assertEquals(11, q.get("convLayers").asInt());
        assertEquals(11, q.get("replaced").asInt());
        assertEquals("dsconv", q.get("method").asText());
        long fp32 = q.get("fp32WeightBytes").asLong();
        long ds = q.get("dsconvWeightBytes").asLong();
        assertTrue(ds > 0 && ds < fp32, () -> "dsconv bytes " + ds + " vs fp32 " + fp32);
        assertTrue(ds < fp32 / 4, () -> "W4 with FP16 block scales should be well over 4x smaller: " + ds + " vs "
                + fp32);
        assertEquals(0, q.get("skipped").size());

        JsonNode layers = q.get("layers");
        assertEquals(11, layers.size());
        List<String> names = new ArrayList<>();
        long sumFp32 = 0;
        long sumDs = 0;
        for (JsonNode l : layers) {
            String name = l.get("name").asText();
            names.add(name);
            assertEquals(4, l.get("weightBits").asInt(), name);
            assertEquals(8, l.get("actBits").asInt(), name);
            assertEquals(32, l.get("blockSize").asInt(), name);
            assertEquals(4, l.get("shape").size(), name);
            long numel = 1;
            for (JsonNode d : l.get("shape")) {
                numel *= d.asLong();
            }
            assertEquals(4 * numel, l.get("fp32Bytes").asLong(), name);
            if (name.equals("stem_conv")) {
                // one input channel: every block holds a single weight, which alpha (kept in FP32 for the first
                // layer) represents exactly; the infinite SQNR is written as null (checked against the .npy
                // arrays in inspectWritesNpyArraysOfDsconvAndFp32Layers)
                assertTrue(l.get("sqnrDb").isNull(), () -> "stem SQNR " + l);
            } else {
                assertTrue(l.get("sqnrDb").isNumber() && l.get("sqnrDb").asDouble() > 5, () -> name + " SQNR " + l);
            }
            assertEquals(name.equals("stem_conv") ? "FP32" : "FP16", l.get("scalePrecision").asText(), name);
            sumFp32 += l.get("fp32Bytes").asLong();
            sumDs += l.get("dsconvBytes").asLong();
        }
        assertEquals(new TreeSet<>(RESNET_CONVS), new TreeSet<>(names));
        assertEquals(fp32, sumFp32, "fp32WeightBytes is the sum of the rows");
        assertEquals(ds, sumDs, "dsconvWeightBytes is the sum of the rows");
        JsonNode stem = layers.get(names.indexOf("stem_conv"));
        assertEquals(List.of(32L, 1L, 3L, 3L), longs(stem.get("shape")));

        // the written model loads, and every convolution is now a DSConv layer with the requested settings
        Model m = ModelFiles.load(out);
        assertInstanceOf(ComputationGraph.class, m);
        Map<String, Layer> confs = layerConfs(m);
        for (String conv : RESNET_CONVS) {
            DSConvLayer d = assertInstanceOf(DSConvLayer.class, confs.get(conv), conv);
            assertEquals(4, d.getWeightBits(), conv);
            assertEquals(8, d.getActBits(), conv);
            assertEquals(32, d.getBlockSize(), conv);
        }
        assertTrue(confs.values().stream().noneMatch(l -> l.getClass() == ConvolutionLayer.class));

        // provenance beside the model, and nothing else but the outputs in the folder
        JsonNode prov = readJson(out.resolveSibling("q.zip.provenance.json"));
        assertEquals(resnet.toString(), prov.get("source").asText());
        assertEquals(11, prov.get("summary").get("replaced").asInt());
        assertEquals(Set.of("q.zip", "q.zip.provenance.json", "q.json"), fileNames(out.getParent()));
    }

    @Test
    void quantizeVggConvertsItsFiveConvolutions() throws IOException {
        Path out = tmp.resolve("q.zip");
        Path json = tmp.resolve("q.json");
        ok("quantize", "--min-compression", 0,
                "--in", vgg, "--out", out, "--weight-bits", 4, "--act-bits", 8, "--block", 32,
                "--json", json);
        JsonNode q = readJson(json);
        assertEquals(5, q.get("convLayers").asInt());
        assertEquals(5, q.get("replaced").asInt());
        assertTrue(q.get("dsconvWeightBytes").asLong() < q.get("fp32WeightBytes").asLong());
        assertEquals(5, q.get("layers").size());
        List<String> names = new ArrayList<>();
        for (JsonNode l : q.get("layers")) {
            names.add(l.get("name").asText());
            long[] io = VGG_CONVS.get(l.get("name").asText());
            assertNotNull(io, () -> "unexpected layer row " + l);
            assertEquals(List.of(io[1], io[0], 3L, 3L), longs(l.get("shape")));
        }
        assertEquals(List.copyOf(VGG_CONVS.keySet()), names);

        Model m = ModelFiles.load(out);
        assertInstanceOf(MultiLayerNetwork.class, m);
        Map<String, Layer> confs = layerConfs(m);
        for (String conv : VGG_CONVS.keySet()) {
            assertInstanceOf(DSConvLayer.class, confs.get(conv), conv);
        }
        assertTrue(confs.values().stream().noneMatch(l -> l.getClass() == ConvolutionLayer.class));
        assertTrue(Files.isRegularFile(tmp.resolve("q.zip.provenance.json")));
        assertEquals(Set.of("q.zip", "q.zip.provenance.json", "q.json"), fileNames(tmp));
    }

    /**
     * {@code --hessian-round N}: every DSConv layer gets a row with the output SQNR of its VQK kernel and of the
     * Hessian-aware one on the calibration images, a kernel is replaced exactly when that is higher, and the W3
     * model's test accuracy is no worse than plain VQK's (on 200 images; measured 0.88 -> 0.91). Bad values and
     * a non-DSConv method fail on one line with no output.
     */
    @Test
    void quantizeWithHessianRoundingReportsEveryLayer() throws IOException {
        Path out = tmp.resolve("hr.zip");
        Path json = tmp.resolve("hr.json");
        ok("quantize", "--min-compression", 0,
                "--in", vgg, "--out", out, "--weight-bits", 3, "--hessian-round", 64, "--json", json);
        JsonNode q = readJson(json);
        List<String> names = new ArrayList<>();
        int replaced = 0;
        for (JsonNode l : q.get("hessianRounding")) {
            names.add(l.get("layer").asText());
            boolean better = l.get("outputSqnrDbAfter").asDouble() > l.get("outputSqnrDbBefore").asDouble();
            assertEquals(better, l.get("replaced").asBoolean(), l::toString);
            replaced += better ? 1 : 0;
        }
        assertEquals(List.copyOf(VGG_CONVS.keySet()), names);
        assertTrue(replaced >= 4, q.get("hessianRounding")::toString);
        Path plain = tmp.resolve("plain.zip");
        ok("quantize", "--min-compression", 0, "--in", vgg, "--out", plain, "--weight-bits", 3);
        ok("evaluate", "--model", out, "--limit", 200, "--json", tmp.resolve("hr-eval.json"));
        ok("evaluate", "--model", plain, "--limit", 200, "--json", tmp.resolve("plain-eval.json"));
        double hr = readJson(tmp.resolve("hr-eval.json")).get("top1").asDouble();
        double vqk = readJson(tmp.resolve("plain-eval.json")).get("top1").asDouble();
        assertTrue(hr >= vqk, "Hessian-aware " + hr + " vs VQK " + vqk);

        Path dir = Files.createDirectories(tmp.resolve("bad"));
        for (Object[] args : List.of(new Object[] {"--hessian-round", -1},
                new Object[] {"--hessian-round", 8, "--rounding", "nearest"})) {
            List<Object> all = new ArrayList<>(List.of("quantize", "--in", vgg, "--out", dir.resolve("q.zip"),
                    "--json", dir.resolve("q.json")));
            all.addAll(List.of(args));
            Run r = cli(all.toArray());
            assertTrue(r.code() != 0, r::err);
            assertEquals(1, r.errLines().size(), r::err);
            assertTrue(r.errLines().get(0).contains("--hessian-round"), r::err);
        }
        assertEquals(Set.of(), fileNames(dir));
    }

    static List<Long> longs(JsonNode array) {
        List<Long> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asLong()));
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------
    // 2. evaluate

    @Test
    void evaluateQuantizedAgainstFp32Reference() throws IOException {
        Path q = quantizedResnet();
        Path json = tmp.resolve("e.json");
        ok("evaluate", "--model", q, "--reference", resnet, "--limit", 200, "--json", json);
        JsonNode e = readJson(json);
        assertEquals(200, e.get("images").asInt());
        double top1 = e.get("top1").asDouble();
        assertTrue(e.get("top1").isNumber() && top1 >= 0 && top1 <= 1, () -> "top1 " + top1);
        assertTrue(e.get("agreement").isNumber(), () -> "agreement " + e.get("agreement"));
        double agreement = e.get("agreement").asDouble();
        assertTrue(agreement >= 0 && agreement <= 1, () -> "agreement " + agreement);
        // top-1 is a multiple of 1/200
        assertEquals(Math.rint(top1 * 200), top1 * 200, 1e-9);
        JsonNode sqnr = e.get("logitsSqnrDb");
        assertTrue(sqnr.isNumber() && Double.isFinite(sqnr.asDouble()), () -> "logitsSqnrDb " + sqnr);
        assertEquals(Set.of("e.json"), fileNames(tmp));
    }

    @Test
    void evaluateFp32AgainstItselfAgreesFullyWithInfiniteSqnrWrittenAsNull() throws IOException {
        Path json = tmp.resolve("self.json");
        ok("evaluate", "--model", resnet, "--reference", resnet, "--limit", 200, "--json", json);
        JsonNode e = readJson(json);
        assertEquals(200, e.get("images").asInt());
        assertEquals(1.0, e.get("agreement").asDouble(), 0.0);
        // identical logits: the SQNR is +infinity, which the JSON writer writes as null (JSON has no infinity)
        assertTrue(e.has("logitsSqnrDb"), "logitsSqnrDb must be present");
        assertTrue(e.get("logitsSqnrDb").isNull(), () -> "expected null for infinite SQNR, got "
                + e.get("logitsSqnrDb"));

        // without a reference, agreement and SQNR are null and top-1 is the same as above
        Path alone = tmp.resolve("alone.json");
        ok("evaluate", "--model", resnet, "--limit", 200, "--json", alone);
        JsonNode a = readJson(alone);
        assertEquals(200, a.get("images").asInt());
        assertEquals(e.get("top1").asDouble(), a.get("top1").asDouble(), 0.0);
        assertTrue(a.has("agreement") && a.get("agreement").isNull(), () -> "agreement " + a);
        assertTrue(a.has("logitsSqnrDb") && a.get("logitsSqnrDb").isNull(), () -> "logitsSqnrDb " + a);
    }

    // ---------------------------------------------------------------------------------------------------------
    // 3. inspect

    @Test
    void inspectListsLayerTypesAndSizes() throws IOException {
        Map<String, JsonNode> fp = inspectRows(resnet, tmp.resolve("fp32.json"));
        Map<String, JsonNode> q = inspectRows(quantizedResnet(), tmp.resolve("q.json"));
        assertEquals(fp.keySet(), q.keySet(), "conversion keeps every layer");
        for (String conv : RESNET_CONVS) {
            assertEquals("ConvolutionLayer", fp.get(conv).get("type").asText(), conv);
            assertEquals("DSConvLayer", q.get(conv).get("type").asText(), conv);
            assertEquals(fp.get(conv).get("nIn").asLong(), q.get(conv).get("nIn").asLong(), conv);
            assertEquals(fp.get(conv).get("nOut").asLong(), q.get(conv).get("nOut").asLong(), conv);
            assertEquals(4, q.get(conv).get("weightBits").asInt(), conv);
            assertEquals(32, q.get(conv).get("blockSize").asInt(), conv);
        }
        for (String name : fp.keySet()) {
            if (!RESNET_CONVS.contains(name)) {
                assertEquals(fp.get(name).get("type").asText(), q.get(name).get("type").asText(), name);
            }
        }
        assertEquals(1, q.get("stem_conv").get("nIn").asLong());
        assertEquals(32, q.get("stem_conv").get("nOut").asLong());
        assertEquals(32, q.get("s1b1a_conv").get("nIn").asLong());
        assertEquals(128, q.get("s3b1proj_conv").get("nOut").asLong());
        assertEquals("BatchNormalization", fp.get("stem_bn").get("type").asText());

        Map<String, JsonNode> v = inspectRows(vgg, tmp.resolve("vgg.json"));
        for (Map.Entry<String, long[]> c : VGG_CONVS.entrySet()) {
            JsonNode row = v.get(c.getKey());
            assertNotNull(row, () -> "vgg layer " + c.getKey() + " missing from " + v.keySet());
            assertEquals("ConvolutionLayer", row.get("type").asText());
            assertEquals(c.getValue()[0], row.get("nIn").asLong(), c.getKey());
            assertEquals(c.getValue()[1], row.get("nOut").asLong(), c.getKey());
        }
    }

    @Test
    void inspectWritesNpyArraysOfDsconvAndFp32Layers() throws IOException {
        Path qDir = tmp.resolve("npy-q");
        ok("inspect", "--model", quantizedResnet(), "--layer", "s1b1a_conv", "--npy", qDir);
        // no bias (the resnet convolutions have none), no beta (no KDS bias), no gamma/delta (no CDS)
        assertEquals(Set.of("q.npy", "alpha.npy"), fileNames(qDir));
        INDArray qa = Nd4j.createFromNpyFile(qDir.resolve("q.npy").toFile());
        INDArray alpha = Nd4j.createFromNpyFile(qDir.resolve("alpha.npy").toFile());
        assertArrayEquals(new long[] {32, 32, 3, 3}, qa.shape());
        assertArrayEquals(new long[] {32, 1, 3, 3}, alpha.shape());
        float[] qv = floats(qa);
        float[] av = floats(alpha);
        Set<Float> distinct = new TreeSet<>();
        for (float x : qv) {
            assertEquals(Math.rint(x), x, 0.0, "q must be integral");
            assertTrue(x >= -8 && x <= 7, () -> "4-bit q out of [-8, 7]: " + x);
            distinct.add(x);
        }
        assertTrue(distinct.size() > 4, () -> "q uses only " + distinct);
        for (float a : av) {
            assertTrue(Float.isFinite(a), "alpha must be finite");
        }

        Path fDir = tmp.resolve("npy-fp32");
        ok("inspect", "--model", resnet, "--layer", "s1b1a_conv", "--npy", fDir);
        assertEquals(Set.of("weight.npy"), fileNames(fDir));
        INDArray w = Nd4j.createFromNpyFile(fDir.resolve("weight.npy").toFile());
        assertArrayEquals(new long[] {32, 32, 3, 3}, w.shape());

        // the arrays are the ones the converter made: alpha * q reconstructs the FP32 kernel with the SQNR that
        // quantize reported for this layer (one block of 32 input channels: alpha broadcasts over nIn)
        float[] wv = floats(w);
        float[] rec = new float[wv.length];
        for (int o = 0; o < 32; o++) {
            for (int c = 0; c < 32; c++) {
                for (int s = 0; s < 9; s++) {
                    int i = (o * 32 + c) * 9 + s;
                    rec[i] = av[o * 9 + s] * qv[i];
                }
            }
        }
        double reported = Double.NaN;
        for (JsonNode l : readJson(quantizedResnetJson).get("layers")) {
            if (l.get("name").asText().equals("s1b1a_conv")) {
                reported = l.get("sqnrDb").asDouble();
            }
        }
        assertEquals(reported, sqnrDb(wv, rec), 0.01, "SQNR of alpha*q from the .npy files");

        // the stem (one input channel, so one weight a block, FP32 scales) is reconstructed exactly
        Path sq = tmp.resolve("npy-stem-q");
        Path sf = tmp.resolve("npy-stem-fp32");
        ok("inspect", "--model", quantizedResnet(), "--layer", "stem_conv", "--npy", sq);
        ok("inspect", "--model", resnet, "--layer", "stem_conv", "--npy", sf);
        INDArray stemQ = Nd4j.createFromNpyFile(sq.resolve("q.npy").toFile());
        INDArray stemAlpha = Nd4j.createFromNpyFile(sq.resolve("alpha.npy").toFile());
        INDArray stemW = Nd4j.createFromNpyFile(sf.resolve("weight.npy").toFile());
        assertArrayEquals(new long[] {32, 1, 3, 3}, stemQ.shape());
        assertArrayEquals(new long[] {32, 1, 3, 3}, stemAlpha.shape());
        float[] sqv = floats(stemQ);
        float[] sav = floats(stemAlpha);
        float[] swv = floats(stemW);
        for (int i = 0; i < swv.length; i++) {
            assertEquals(swv[i], sav[i] * sqv[i], Math.ulp(swv[i]) * 2, "stem weight " + i);
        }

        // an FP32 layer of the MultiLayerNetwork (vgg), addressed by its configured name
        Path vDir = tmp.resolve("npy-vgg");
        ok("inspect", "--model", vgg, "--layer", "conv3", "--npy", vDir);
        assertEquals(Set.of("weight.npy"), fileNames(vDir));
        assertArrayEquals(new long[] {64, 32, 3, 3}, Nd4j.createFromNpyFile(vDir.resolve("weight.npy").toFile())
                .shape());
    }

    // ---------------------------------------------------------------------------------------------------------
    // 4. plans and --skip-first

    @Test
    void planSkipsOneLayerAndSetsAnotherToSixBits() throws IOException {
        Path plan = tmp.resolve("plan.json");
        Files.writeString(plan, """
                {"formatVersion": 1, "weightBits": 4, "actBits": 8, "blockSize": 32, "minCompression": 0,
                 "layers": {"s2b1proj_conv": {"skip": true}, "s3b1a_conv": {"weightBits": 6}}}
                """);
        Path out = Files.createDirectories(tmp.resolve("out")).resolve("p.zip");
        Path json = tmp.resolve("out").resolve("p.json");
        ok("quantize", "--in", resnet, "--out", out, "--plan", plan, "--json", json);
        JsonNode rep = readJson(json);
        assertEquals(11, rep.get("convLayers").asInt());
        assertEquals(10, rep.get("replaced").asInt());
        assertEquals(1, rep.get("skipped").size());
        assertEquals("s2b1proj_conv", rep.get("skipped").get(0).get("name").asText());
        assertTrue(rep.get("plan").get("layers").has("s3b1a_conv"), () -> "plan echoed: " + rep.get("plan"));

        Map<String, JsonNode> rows = inspectRows(out, tmp.resolve("i.json"));
        assertEquals("ConvolutionLayer", rows.get("s2b1proj_conv").get("type").asText());
        assertFalse(rows.get("s2b1proj_conv").has("weightBits"));
        assertEquals("DSConvLayer", rows.get("s3b1a_conv").get("type").asText());
        assertEquals(6, rows.get("s3b1a_conv").get("weightBits").asInt());
        assertEquals(32, rows.get("s3b1a_conv").get("blockSize").asInt());
        for (String conv : RESNET_CONVS) {
            if (!conv.equals("s2b1proj_conv") && !conv.equals("s3b1a_conv")) {
                assertEquals("DSConvLayer", rows.get(conv).get("type").asText(), conv);
                assertEquals(4, rows.get(conv).get("weightBits").asInt(), conv);
            }
        }

        // explicit options win over the plan's defaults, the per-layer override still applies
        Path out2 = Files.createDirectories(tmp.resolve("out2")).resolve("p.zip");
        ok("quantize", "--in", resnet, "--out", out2, "--plan", plan, "--weight-bits", 3, "--block", 16);
        Map<String, JsonNode> rows2 = inspectRows(out2, tmp.resolve("i2.json"));
        assertEquals(3, rows2.get("s1b1a_conv").get("weightBits").asInt());
        assertEquals(16, rows2.get("s1b1a_conv").get("blockSize").asInt());
        assertEquals(6, rows2.get("s3b1a_conv").get("weightBits").asInt());
        assertEquals("ConvolutionLayer", rows2.get("s2b1proj_conv").get("type").asText());
    }

    /**
     * The library's default (minCompression 3) keeps a convolution that DSConv would barely shrink in FP32: the
     * one-channel stem (a scale per weight would make it larger than FP32). Every other convolution is converted.
     */
    @Test
    void byDefaultAOneChannelStemStaysFp32() throws IOException {
        Path out = tmp.resolve("d.zip");
        Path json = tmp.resolve("d.json");
        ok("quantize", "--in", resnet, "--out", out, "--json", json);
        JsonNode rep = readJson(json);
        assertEquals(11, rep.get("convLayers").asInt());
        assertEquals(10, rep.get("replaced").asInt());
        assertEquals("stem_conv", rep.get("skipped").get(0).get("name").asText());
        assertTrue(rep.get("skipped").get(0).get("reason").asText().contains("minCompression"),
                rep.get("skipped").get(0).toString());
        assertEquals(3.0, rep.get("plan").get("minCompression").asDouble());
        Map<String, JsonNode> rows = inspectRows(out, tmp.resolve("i.json"));
        for (String conv : RESNET_CONVS.subList(1, RESNET_CONVS.size())) {
            assertEquals("DSConvLayer", rows.get(conv).get("type").asText(), conv);
        }
    }

    @Test
    void skipFirstLeavesTheStemInFp32() throws IOException {
        Path out = tmp.resolve("sf.zip");
        Path json = tmp.resolve("sf.json");
        ok("quantize", "--in", resnet, "--out", out, "--skip-first", "--json", json);
        JsonNode rep = readJson(json);
        assertEquals(11, rep.get("convLayers").asInt());
        assertEquals(10, rep.get("replaced").asInt());
        assertEquals("stem_conv", rep.get("skipped").get(0).get("name").asText());
        Map<String, JsonNode> rows = inspectRows(out, tmp.resolve("i.json"));
        assertEquals("ConvolutionLayer", rows.get("stem_conv").get("type").asText());
        for (String conv : RESNET_CONVS.subList(1, RESNET_CONVS.size())) {
            assertEquals("DSConvLayer", rows.get(conv).get("type").asText(), conv);
        }
        // the first converted layer after the stem is no longer the network's first convolution: FP16 scales
        for (JsonNode l : rep.get("layers")) {
            assertEquals("FP16", l.get("scalePrecision").asText(), l.get("name").asText());
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // 5. bad input

    /** A fresh, empty output folder for one failure case. */
    Path outDir(String name) throws IOException {
        return Files.createDirectories(tmp.resolve("out-" + name));
    }

    Path inputs() throws IOException {
        return Files.createDirectories(tmp.resolve("inputs"));
    }

    @Test
    void quantizeMissingInputFile() throws IOException {
        Path dir = outDir("missing");
        Path missing = inputs().resolve("no-such-model.zip");
        Run r = cli("quantize", "--in", missing, "--out", dir.resolve("q.zip"), "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "no-such-model.zip");
    }

    @Test
    void quantizeCorruptZip() throws IOException {
        Path dir = outDir("corrupt");
        Path bad = inputs().resolve("random-bytes.zip");
        byte[] bytes = new byte[4096];
        new Random(7).nextBytes(bytes);
        Files.write(bad, bytes);
        Run r = cli("quantize", "--in", bad, "--out", dir.resolve("q.zip"), "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "random-bytes.zip");
    }

    @Test
    void quantizeTruncatedModelZip() throws IOException {
        Path dir = outDir("truncated");
        Path bad = inputs().resolve("truncated.zip");
        byte[] all = Files.readAllBytes(resnet);
        Files.write(bad, java.util.Arrays.copyOf(all, all.length / 2));
        Run r = cli("quantize", "--in", bad, "--out", dir.resolve("q.zip"), "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "truncated.zip");
    }

    @Test
    void quantizeWeightBitsOutOfRange() throws IOException {
        for (int bits : new int[] {1, 9}) {
            Path dir = outDir("bits" + bits);
            Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--weight-bits", bits,
                    "--json", dir.resolve("q.json"));
            assertFailed(r, dir, "--weight-bits", "got " + bits);
        }
    }

    @Test
    void quantizeBlockZero() throws IOException {
        Path dir = outDir("block0");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--block", 0,
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "block", "got 0");
    }

    /** A block beyond LayerSpec.MAX_BLOCK_SIZE used to overflow the block count and end in a null data buffer. */
    @Test
    void quantizeBlockBeyondTheMaximum() throws IOException {
        Path dir = outDir("block-max");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--block", Integer.MAX_VALUE,
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "--block", "65536", "got 2147483647");
    }

    /** A plan value of the wrong JSON type used to be coerced ("yes" -> false) with exit status 0. */
    @Test
    void quantizePlanWithAStringForABoolean() throws IOException {
        Path dir = outDir("plan-bool");
        Path plan = inputs().resolve("plan-bool.json");
        Files.writeString(plan, "{\"formatVersion\": 1, \"layers\": {\"s3b1a_conv\": {\"skip\": \"yes\"}}}");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--plan", plan,
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "plan-bool.json", "s3b1a_conv", "'skip'", "\"yes\"");
    }

    /** --skip-first used to lose silently to a plan entry converting the first convolution. */
    @Test
    void quantizeSkipFirstAgainstAPlanEntryForTheStem() throws IOException {
        Path dir = outDir("skip-first-plan");
        Path plan = inputs().resolve("plan-stem.json");
        Files.writeString(plan, "{\"formatVersion\": 1, \"layers\": {\"stem_conv\": {\"weightBits\": 8}}}");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--plan", plan, "--skip-first",
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "stem_conv", "skipFirst");
    }

    @Test
    void quantizePlanNamingUnknownLayer() throws IOException {
        Path dir = outDir("plan-layer");
        Path plan = inputs().resolve("plan.json");
        Files.writeString(plan, "{\"formatVersion\": 1, \"layers\": {\"no_such_conv\": {\"weightBits\": 6}}}");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--plan", plan,
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "no_such_conv");
    }

    @Test
    void quantizePlanWithUnknownFormatVersion() throws IOException {
        Path dir = outDir("plan-version");
        Path plan = inputs().resolve("plan-v99.json");
        Files.writeString(plan, "{\"formatVersion\": 99, \"weightBits\": 4}");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--plan", plan,
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "plan-v99.json", "formatVersion", "99");
    }

    @Test
    void trainUnknownArch() throws IOException {
        Path dir = outDir("arch");
        Run r = cli("train", "--arch", "nope", "--out", dir.resolve("m.zip"), "--json", dir.resolve("t.json"));
        assertFailed(r, dir, "nope");
    }

    @Test
    void evaluateNegativeLimit() throws IOException {
        Path dir = outDir("limit");
        Run r = cli("evaluate", "--model", resnet, "--limit", -1, "--json", dir.resolve("e.json"));
        assertFailed(r, dir, "--limit", "-1");
    }

    @Test
    void inspectUnknownLayerListsTheLayers() throws IOException {
        Path dir = outDir("layer");
        Run r = cli("inspect", "--model", resnet, "--layer", "nope", "--npy", dir.resolve("npy"),
                "--json", dir.resolve("i.json"));
        assertFailed(r, dir, "'nope'", "stem_conv", "s3b1proj_conv");
    }

    @Test
    void quantizeUnknownMethod() throws IOException {
        Path dir = outDir("method");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--method", "rtn-nope",
                "--json", dir.resolve("q.json"));
        assertFailed(r, dir, "rtn-nope", "dsconv");
    }

    @Test
    void inspectLayerWithoutNpyAndLayerWithoutParameters() throws IOException {
        Path dir = outDir("inspect-usage");
        Run r = cli("inspect", "--model", resnet, "--layer", "stem_conv", "--json", dir.resolve("i.json"));
        assertFailed(r, dir, "--layer", "--npy");
        Run p = cli("inspect", "--model", resnet, "--layer", "pool", "--npy", dir.resolve("npy"),
                "--json", dir.resolve("i.json"));
        assertFailed(p, dir, "'pool'", "no parameters");
    }

    @Test
    void unknownOptionIsAUsageError() throws IOException {
        Path dir = outDir("usage");
        Run r = cli("quantize", "--in", resnet, "--out", dir.resolve("q.zip"), "--no-such-option");
        System.out.println("usage error stderr:\n" + r.err());
        assertEquals(2, r.code(), () -> "stderr: " + r.err());
        assertFalse(r.errLines().isEmpty());
        assertTrue(r.errLines().get(0).contains("--no-such-option"), () -> "first line: " + r.errLines().get(0));
        assertEquals(Set.of(), fileNames(dir));
    }

    // ---------------------------------------------------------------------------------------------------------
    // 6. demo

    @Test
    void demoWritesContractJsonAndPlot() throws IOException {
        Path plots = tmp.resolve("plots");
        Path json = tmp.resolve("d.json");
        ok("demo", "--model", resnet, "--bits", 4, "--limit", 100, "--plot-dir", plots, "--json", json);
        JsonNode d = readJson(json);
        assertEquals("fashion-mnist", d.get("dataset").asText());
        assertEquals(100, d.get("testImages").asInt());
        assertEquals(1, d.get("models").size());
        JsonNode m = d.get("models").get(0);
        assertEquals("resnet", m.get("arch").asText());
        assertEquals(resnet.toString(), m.get("fp32Model").asText());
        double fp32Top1 = m.get("fp32Top1").asDouble();
        assertTrue(m.get("fp32Top1").isNumber() && fp32Top1 >= 0 && fp32Top1 <= 1, () -> "fp32Top1 " + fp32Top1);
        assertTrue(m.get("fp32WeightBytes").asLong() > 0);

        Map<String, JsonNode> byMethod = new HashMap<>();
        for (JsonNode r : m.get("results")) {
            byMethod.put(r.get("method").asText(), r);
        }
        assertEquals(Set.of("dsconv", "rtn-per-channel"), byMethod.keySet());
        assertEquals(2, m.get("results").size());
        for (JsonNode r : byMethod.values()) {
            assertEquals(4, r.get("weightBits").asInt(), r::toString);
            assertEquals(8, r.get("actBits").asInt(), r::toString);
            double t = r.get("top1").asDouble();
            assertTrue(r.get("top1").isNumber() && t >= 0 && t <= 1, r::toString);
            long b = r.get("weightBytes").asLong();
            assertTrue(b > 0 && b < m.get("fp32WeightBytes").asLong(), r::toString);
        }
        assertEquals(32, byMethod.get("dsconv").get("blockSize").asInt());
        assertFalse(byMethod.get("rtn-per-channel").has("blockSize"), () -> "rtn has no block size: "
                + byMethod.get("rtn-per-channel"));

        // the FP32 kernel bytes agree with what quantize reports for the same model
        JsonNode q = readJson(quantizedResnetJsonOrMake());
        assertEquals(q.get("fp32WeightBytes").asLong(), m.get("fp32WeightBytes").asLong());
        assertEquals(q.get("dsconvWeightBytes").asLong(), byMethod.get("dsconv").get("weightBytes").asLong());

        Set<String> files = fileNames(plots);
        assertEquals(Set.of("demo-resnet.png"), files, "one plot and no temporary files");
        byte[] png = Files.readAllBytes(plots.resolve("demo-resnet.png"));
        byte[] magic = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
        assertTrue(png.length > magic.length);
        assertArrayEquals(magic, java.util.Arrays.copyOf(png, magic.length), "PNG signature");
        BufferedImage img = ImageIO.read(plots.resolve("demo-resnet.png").toFile());
        assertNotNull(img, "ImageIO cannot read the plot");
        assertTrue(img.getWidth() > 0 && img.getHeight() > 0);
    }

    @Test
    void tableCoversEveryFamilyAndMethodWithBytes() throws IOException {
        Path plots = tmp.resolve("plots");
        Path json = tmp.resolve("t.json");
        Path md = tmp.resolve("t.md");
        ok("table", "--model", resnet + "," + vgg, "--limit", 20, "--batch", 20, "--plot-dir", plots, "--json", json,
                "--markdown", md);
        JsonNode d = readJson(json);
        assertEquals(20, d.get("testImages").asInt());
        assertEquals(List.of("resnet", "vgg"), StreamSupport.stream(d.get("models").spliterator(), false)
                .map(m -> m.get("arch").asText()).toList());
        for (JsonNode m : d.get("models")) {
            List<String> rows = new ArrayList<>();
            Map<String, Long> bytes = new HashMap<>();
            for (JsonNode r : m.get("results")) {
                String method = r.get("method").asText();
                String key = method + " W" + r.get("weightBits").asInt()
                        + (r.has("blockSize") ? " B" + r.get("blockSize").asInt() : "");
                rows.add(key);
                bytes.put(key, r.get("weightBytes").asLong());
                assertEquals(method.startsWith("dsconv"), r.has("blockSize"), r::toString);
            }
            assertEquals(List.of("dsconv W8 B32", "dsconv W6 B32", "dsconv W5 B32", "dsconv W4 B32",
                    "dsconv W3 B32", "dsconv W2 B32", "dsconv W4 B16", "dsconv W4 B64", "dsconv W4 B128",
                    "dsconv W3 B16", "dsconv W3 B64", "dsconv W3 B128", "dsconv-bc W4 B32", "dsconv-bc W3 B32",
                    "dsconv-bc W2 B32", "dsconv-kds-bias W8 B32",
                    "dsconv-kds-bias W6 B32", "dsconv-kds-bias W5 B32", "dsconv-kds-bias W4 B32",
                    "dsconv-kds-bias W3 B32", "dsconv-kds-bias W2 B32", "dsconv-kds-clip-bc W4 B32",
                    "dsconv-kds-clip-bc W3 B32", "dsconv-kds-clip-bc W2 B32", "dsconv-hr-bc W4 B32",
                    "dsconv-hr-bc W3 B32", "dsconv-hr-bc W2 B32", "rtn-per-tensor W8", "rtn-per-tensor W6",
                    "rtn-per-tensor W5", "rtn-per-tensor W4", "rtn-per-tensor W3", "rtn-per-tensor W2",
                    "rtn-per-channel W8", "rtn-per-channel W6", "rtn-per-channel W5", "rtn-per-channel W4",
                    "rtn-per-channel W3", "rtn-per-channel W2"), rows);
            // smaller blocks carry more scales; per-tensor has the fewest of all
            assertTrue(bytes.get("dsconv W4 B16") > bytes.get("dsconv W4 B32"));
            assertTrue(bytes.get("dsconv W4 B32") > bytes.get("dsconv W4 B64"));
            // equal when no convolution has more than 64 input channels (the small VGG)
            assertTrue(bytes.get("dsconv W4 B64") >= bytes.get("dsconv W4 B128"));
            assertTrue(bytes.get("rtn-per-channel W4") > bytes.get("rtn-per-tensor W4"));
            assertTrue(bytes.get("dsconv W3 B32") < bytes.get("dsconv W4 B32"));
            // beta: one more fp16 (fp32 in the first conv) per block of 32 weights
            assertTrue(bytes.get("dsconv-kds-bias W4 B32") > bytes.get("dsconv W4 B32"));
            assertEquals(bytes.get("dsconv-kds-bias W4 B32"), bytes.get("dsconv-kds-clip-bc W4 B32"),
                    "the clipping search and bias correction add no bytes to the KDS shift");
            // bias correction moves BN statistics, not the kernel; the Hessian-aware rounding changes q, not its size
            assertEquals(bytes.get("dsconv W4 B32"), bytes.get("dsconv-bc W4 B32"));
            assertEquals(bytes.get("dsconv W3 B32"), bytes.get("dsconv-hr-bc W3 B32"));
        }
        assertEquals(Set.of("table-resnet.png", "table-vgg.png"), fileNames(plots));
        assertNotNull(ImageIO.read(plots.resolve("table-vgg.png").toFile()));
        List<String> mdLines = Files.readAllLines(md);
        assertEquals(2 + 1 + 39, mdLines.size(), "header, rule, FP32 and one row per conversion");
        assertTrue(mdLines.get(0).contains("resnet") && mdLines.get(0).contains("vgg"), mdLines.get(0));

        // Redrawn from the JSON alone: the same plots and Markdown, nothing evaluated.
        Path redrawn = tmp.resolve("redrawn");
        Path md2 = tmp.resolve("t2.md");
        ok("table", "--from-json", json, "--plot-dir", redrawn, "--markdown", md2);
        assertEquals(Set.of("table-resnet.png", "table-vgg.png"), fileNames(redrawn));
        assertNotNull(ImageIO.read(redrawn.resolve("table-resnet.png").toFile()));
        assertEquals(Files.readAllLines(md), Files.readAllLines(md2));
        Path notJson = Files.writeString(tmp.resolve("not.json"), "{\"models\": 3");
        for (Path badJson : List.of(notJson, tmp.resolve("missing.json"))) {
            Run r = cli("table", "--from-json", badJson, "--plot-dir", tmp.resolve("none"));
            assertTrue(r.code() != 0, r::err);
            assertEquals(1, r.errLines().size(), r::err);
            assertTrue(r.errLines().get(0).contains(badJson.getFileName().toString()), r::err);
        }
        assertFalse(Files.exists(tmp.resolve("none")));

        Path only = tmp.resolve("only.json");
        ok("table", "--model", resnet, "--limit", 10, "--batch", 10, "--methods", "dsconv-kds-bias", "--plot-dir",
                plots, "--json", only);
        List<String> methods = StreamSupport.stream(readJson(only).get("models").get(0).get("results").spliterator(),
                false).map(r -> r.get("method").asText()).distinct().toList();
        assertEquals(List.of("dsconv-kds-bias"), methods);
        Run bad = cli("table", "--model", resnet, "--limit", 10, "--methods", "kmeans", "--json", tmp.resolve("y.json"));
        assertEquals(1, bad.errLines().size(), bad::err);
        assertTrue(bad.code() != 0 && bad.errLines().get(0).contains("kmeans"), bad::err);
        assertFalse(Files.exists(tmp.resolve("y.json")));

        Path missing = tmp.resolve("nope.zip");
        Run r = cli("table", "--model", missing, "--limit", 10, "--json", tmp.resolve("x.json"));
        assertEquals(1, r.code());
        assertEquals(1, r.errLines().size(), r::err);
        assertTrue(r.errLines().get(0).contains("nope.zip"), r::err);
        assertFalse(Files.exists(tmp.resolve("x.json")));
    }

    static Path quantizedResnetJsonOrMake() throws IOException {
        quantizedResnet();
        return quantizedResnetJson;
    }

    // ---------------------------------------------------------------------------------------------------------
    // 7. train

    @Test
    void trainTinyVgg() throws IOException {
        Path out = tmp.resolve("m.zip");
        Path json = tmp.resolve("t.json");
        ok("train", "--arch", "vgg", "--epochs", 1, "--train-limit", 256, "--test-limit", 100, "--batch", 64,
                "--out", out, "--json", json);
        assertEquals(Set.of("m.zip", "m.zip.provenance.json", "t.json"), fileNames(tmp));
        JsonNode t = readJson(json);
        double top1 = t.get("top1").asDouble();
        assertTrue(t.get("top1").isNumber() && top1 >= 0 && top1 <= 1, () -> "top1 " + top1);
        assertEquals("vgg", t.get("arch").asText());
        assertEquals(256, t.get("trainImages").asInt());
        assertEquals(100, t.get("testImages").asInt());
        assertEquals(1, t.get("epochs").asInt());

        JsonNode prov = readJson(tmp.resolve("m.zip.provenance.json"));
        assertEquals("vgg", prov.get("arch").asText());
        assertEquals(1, prov.get("epochs").asInt());
        assertEquals(top1, prov.get("top1").asDouble(), 0.0);

        Model m = ModelFiles.load(out);
        assertInstanceOf(MultiLayerNetwork.class, m);
        assertAll(VGG_CONVS.keySet().stream().map(name -> () -> assertEquals(ConvolutionLayer.class,
                layerConfs(m).get(name).getClass(), name)));
        // the trained model's weights differ from a fresh one with the same seed
        INDArray fresh = SmallModels.vgg(42, 1).params();
        assertFalse(fresh.equalsWithEps(m.params(), 1e-6), "training changed nothing");

        // --init continues from the saved model: new weights, provenance nests the first run's
        Path more = tmp.resolve("m2.zip");
        ok("train", "--arch", "vgg", "--epochs", 1, "--train-limit", 128, "--test-limit", 100, "--batch", 64,
                "--init", out, "--out", more);
        JsonNode prov2 = readJson(tmp.resolve("m2.zip.provenance.json"));
        assertTrue(prov2.get("command").asText().contains("--init " + out), prov2::toString);
        assertEquals(top1, prov2.get("initFrom").get("top1").asDouble(), 0.0);
        INDArray continued = ModelFiles.load(more).params();
        assertFalse(continued.equalsWithEps(m.params(), 1e-6), "continued training changed nothing");
        // a model of another arch is refused, naming the file
        Run wrong = cli("train", "--arch", "resnet", "--epochs", 1, "--train-limit", 64, "--init", out, "--out",
                tmp.resolve("w.zip"));
        assertEquals(1, wrong.errLines().size(), wrong::err);
        assertTrue(wrong.code() != 0 && wrong.errLines().get(0).contains("m.zip"), wrong::err);
        assertFalse(Files.exists(tmp.resolve("w.zip")));
    }
}
