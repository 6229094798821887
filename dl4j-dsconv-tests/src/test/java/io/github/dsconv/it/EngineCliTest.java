package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.engine.NativeKernels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Set;

import static io.github.dsconv.it.CliTest.assertFailed;
import static io.github.dsconv.it.CliTest.cli;
import static io.github.dsconv.it.CliTest.fileNames;
import static io.github.dsconv.it.CliTest.ok;
import static io.github.dsconv.it.CliTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The integer engine from the command line: {@code evaluate --engine}, {@code demo --engine} and {@code bench}
 * (issue 5's JSON contract) on the committed small ResNet, and their bad-input errors.
 */
class EngineCliTest {

    static final Path FP32 = Paths.get("..", "models", "fmnist-resnet.zip");
    /** The nine fields of issue 5's bench JSON. */
    static final List<String> BENCH_CONTRACT = List.of("model", "batch", "fp32ImagesPerSec", "integerImagesPerSec",
            "speedup", "fp32ConvWeightBytes", "integerConvWeightBytes", "maxRelErr", "engine");

    @TempDir
    static Path shared;
    static Path w4;

    @TempDir
    Path tmp;

    @BeforeAll
    static void quantize() throws IOException {
        w4 = shared.resolve("resnet-w4.zip");
        // Every convolution, the 1-channel stem too (the default would keep it FP32), so that the engine's
        // direct route for a stem is exercised.
        ok("quantize", "--in", FP32, "--out", w4, "--weight-bits", 4, "--act-bits", 8, "--block", 32,
                "--min-compression", 0);
    }

    /** True when the native fused kernel runs here (the default engine route then). */
    static boolean nativeKernel() {
        return NativeKernels.selected() != null;
    }

    /** The kernel a default engine reports on this machine. */
    static String defaultKernel() {
        return nativeKernel() ? "native-fused:" + NativeKernels.selected().label() : "onednn-gemm";
    }

    /**
     * The integer engine reproduces the float simulation's logits exactly: agreement 1, SQNR infinite (null). With
     * the native kernel (double sums) every layer is on integers, the 1-channel first convolution too; on the GEMM
     * route (float-pair sums) that one runs as a direct double convolution. Without --engine, evaluate runs the
     * integer engine where the native kernel runs (auto), else the float simulation.
     */
    @Test
    void evaluateIntegerMatchesTheFloatSimulation() throws IOException {
        Path json = tmp.resolve("e.json");
        ok("evaluate", "--model", w4, "--reference", w4, "--engine", "integer", "--limit", 200, "--json", json);
        JsonNode e = readJson(json);
        assertEquals("integer", e.get("engine").asText());
        assertEquals("onednn", e.get("backend").asText());
        assertEquals(defaultKernel(), e.get("kernel").asText());
        assertEquals(nativeKernel() ? 11 : 10, e.get("integerLayers").asInt());
        assertEquals(nativeKernel() ? 0 : 1, e.get("floatLayers").size(), "the 1-channel stem on the GEMM route");
        assertEquals(nativeKernel() ? "double" : "compensated", e.get("accumulation").asText());
        assertEquals(200, e.get("images").asInt());
        assertEquals(1.0, e.get("agreement").asDouble(), 0.0);
        assertTrue(e.get("logitsSqnrDb").isNull(), () -> "identical logits expected, SQNR " + e.get("logitsSqnrDb"));
        // The model ran as one whole-graph plan with no node left to DL4J (the reference runs as DL4J's).
        assertEquals(0, e.get("graphFallbacks").size(), e::toString);

        Path fl = tmp.resolve("f.json");
        ok("evaluate", "--model", w4, "--limit", 200, "--engine", "float", "--json", fl);
        JsonNode f = readJson(fl);
        assertEquals("float", f.get("engine").asText());
        assertTrue(f.get("backend").isNull());
        assertTrue(f.get("kernel").isNull());
        assertEquals(e.get("top1").asDouble(), f.get("top1").asDouble(), 0.0);

        Path auto = tmp.resolve("a.json");
        ok("evaluate", "--model", w4, "--limit", 200, "--json", auto);
        JsonNode a = readJson(auto);
        assertEquals(nativeKernel() ? "integer" : "float", a.get("engine").asText());
        assertEquals(e.get("top1").asDouble(), a.get("top1").asDouble(), 0.0);
    }

    @Test
    void demoOnTheIntegerEngine() throws IOException {
        Path json = tmp.resolve("d.json");
        ok("demo", "--model", FP32, "--bits", 4, "--methods", "dsconv", "--limit", 100, "--plot-dir",
                tmp.resolve("plots"), "--engine", "integer", "--json", json);
        JsonNode d = readJson(json);
        assertEquals("integer", d.get("engine").asText());
        assertEquals(defaultKernel(), d.get("backend").asText());
        JsonNode r = d.get("models").get(0).get("results").get(0);
        assertEquals(4, r.get("weightBits").asInt());
        assertTrue(r.get("top1").asDouble() > 0.85, r::toString);
    }

    /**
     * bench on a model file: one object per batch size with the contract's fields, per-layer times (the first
     * convolution, on 1 channel, is not on integers), logits equal to the float simulation's.
     */
    @Test
    void benchWritesTheContractJson() throws IOException {
        Path json = tmp.resolve("b.json");
        ok("bench", "--model", FP32, "--batch", "1,4", "--warmup", 1, "--json", json);
        JsonNode list = readJson(json);
        assertTrue(list.isArray(), "a list of results");
        assertEquals(2, list.size());
        for (int i = 0; i < 2; i++) {
            JsonNode b = list.get(i);
            for (String f : BENCH_CONTRACT) {
                assertTrue(b.has(f), () -> "missing '" + f + "': " + b);
            }
            assertEquals(FP32.toString(), b.get("model").asText());
            assertEquals(i == 0 ? 1 : 4, b.get("batch").asInt());
            assertEquals("onednn", b.get("engine").asText());
            double fp = b.get("fp32ImagesPerSec").asDouble();
            double in = b.get("integerImagesPerSec").asDouble();
            assertTrue(fp > 0 && in > 0, b::toString);
            assertEquals(in / fp, b.get("speedup").asDouble(), 1e-9 * in / fp);
            assertEquals(1_516_672, b.get("fp32ConvWeightBytes").asLong());
            long ib = b.get("integerConvWeightBytes").asLong();
            assertTrue(ib > 0 && ib < 0.3 * 1_516_672, () -> "integer conv bytes " + ib);
            assertEquals(0.0, b.get("maxRelErr").asDouble(), 0.0, "integer logits equal the float simulation's");
            assertEquals(nativeKernel() ? "double" : "compensated", b.get("accumulation").asText());
            assertEquals(defaultKernel(), b.get("kernel").asText());
            assertTrue(b.get("cpuModel").asText().length() > 0, b::toString);
            assertTrue(b.get("cpuFeatures").isArray(), b::toString);
            assertTrue(b.get("engineNonConvShare").isNumber() && b.get("engineNonConvShare").asDouble() < 1,
                    b::toString);
            // The whole-graph plan in the same run: the same outputs, its own speed and time split.
            assertEquals(0.0, b.get("graphMaxRelErr").asDouble(), 0.0, b::toString);
            assertTrue(b.get("graphImagesPerSec").asDouble() > 0, b::toString);
            assertEquals(b.get("graphImagesPerSec").asDouble() / fp, b.get("graphSpeedup").asDouble(), 1e-6);
            double share = b.get("graphNonConvShare").asDouble();
            assertTrue(share > 0 && share < 1, b::toString);
            assertTrue(b.get("graphFallbacks").isArray(), b::toString);
            assertEquals(10, b.get("iterations").asInt());
            assertEquals(11, b.get("layers").size());
            assertEquals(nativeKernel() ? 0 : 1, b.get("floatLayers").size(), "the stem on the GEMM route");
            assertEquals(b.get("floatLayers"), b.get("doubleLayers"));
            // 11 conv -> BN pairs, 5 of them followed by a plain ReLU layer (the others by an add)
            assertEquals(16, b.get("fusedBatchNorms").size(), b::toString);
            assertEquals("stem_bn", b.get("fusedBatchNorms").get(0).asText());
            assertEquals("stem_relu", b.get("fusedBatchNorms").get(1).asText());
            assertEquals(11, b.get("foldedBatchNorms").asInt());
            double folded = b.get("fp32FoldedImagesPerSec").asDouble();
            assertTrue(folded > 0, b::toString);
            assertEquals(in / folded, b.get("speedupVsFolded").asDouble(), 1e-9 * in / folded);
            double foldedErr = b.get("foldedMaxRelErr").asDouble();
            assertTrue(foldedErr > 0 && foldedErr < 1e-4, () -> "folding changes logits by rounding only: " + foldedErr);
            for (JsonNode l : b.get("layers")) {
                assertTrue(l.get("fp32Ms").asDouble() > 0 && l.get("integerMs").asDouble() > 0, l::toString);
                boolean stem = !nativeKernel() && l.get("name").asText().equals(b.get("floatLayers").get(0).asText());
                assertEquals(!stem, l.get("integer").asBoolean(), l::toString);
            }
        }
        assertEquals(Set.of("b.json"), fileNames(tmp));
    }

    @Test
    void benchOnTheJavaFallback() throws IOException {
        Path json = tmp.resolve("j.json");
        ok("bench", "--model", w4, "--batch", 1, "--warmup", 0, "--backend", "java", "--no-per-layer", "--json",
                json);
        JsonNode b = readJson(json).get(0);
        assertEquals("java", b.get("engine").asText());
        assertEquals("java-gemm", b.get("kernel").asText(), "an explicit --backend keeps the native kernel off");
        assertEquals("float-simulation", b.get("fp32Baseline").asText(), "a DSConv file is compared with itself");
        assertEquals(0.0, b.get("maxRelErr").asDouble(), 0.0);
        assertEquals(0, b.get("layers").size());
        assertTrue(b.get("engineNonConvShare").isNull(), "no per-layer times, no share");
        assertEquals(0, b.get("foldedBatchNorms").asInt(), "no FP32 network to fold");
        assertTrue(b.get("fp32FoldedImagesPerSec").isNull(), b::toString);
    }

    @Test
    void unknownEngineIsAOneLineError() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("evaluate", "--model", w4, "--engine", "int4", "--json", dir.resolve("e.json")), dir,
                "int4", "float, integer or auto");
        assertFailed(cli("demo", "--model", FP32, "--engine", "fast", "--json", dir.resolve("d.json")), dir, "fast");
        assertFailed(cli("bench", "--model", FP32, "--backend", "cuda", "--json", dir.resolve("b.json")), dir,
                "cuda");
    }

    @Test
    void badBenchOptionsAreOneLineErrors() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("bench", "--model", FP32, "--batch", 0, "--json", dir.resolve("b.json")), dir, "--batch");
        assertFailed(cli("bench", "--model", FP32, "--batch", "1,-2", "--json", dir.resolve("b.json")), dir,
                "--batch");
        assertFailed(cli("bench", "--model", FP32, "--iterations", 5, "--json", dir.resolve("b.json")), dir,
                "--iterations", "10");
        assertFailed(cli("bench", "--model", "resnet51", "--json", dir.resolve("b.json")), dir, "resnet51",
                "resnet50");
    }
}
