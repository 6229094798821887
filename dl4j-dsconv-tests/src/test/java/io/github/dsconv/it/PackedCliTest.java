package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.pack.PackedManifest;
import io.github.dsconv.pack.PackedModelFormat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Map;

import static io.github.dsconv.it.CliTest.assertFailed;
import static io.github.dsconv.it.CliTest.cli;
import static io.github.dsconv.it.CliTest.inspectRows;
import static io.github.dsconv.it.CliTest.ok;
import static io.github.dsconv.it.CliTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packed format through the command line: {@code quantize --out X.dsconv.zip} on the committed ResNet, every
 * reading command on the packed file, and clear failures on damaged files.
 */
class PackedCliTest {

    static final Path MODEL = Paths.get("..", "models", "fmnist-resnet.zip");
    static final int LIMIT = 2000;

    @TempDir
    static Path shared;

    static Path zip;
    static Path packed16;
    static Path packed32;
    static JsonNode packedJson;

    @BeforeAll
    static void quantize() throws IOException {
        zip = shared.resolve("w4.zip");
        packed16 = shared.resolve("w4.dsconv.zip");
        packed32 = shared.resolve("w4-fp32.dsconv.zip");
        Path json = shared.resolve("w4.dsconv.json");
        ok("quantize", "--min-compression", 0, "--in", MODEL, "--out", zip, "--weight-bits", 4);
        ok("quantize", "--min-compression", 0, "--in", MODEL, "--out", packed16, "--weight-bits", 4, "--json", json);
        ok("quantize", "--min-compression", 0, "--in", MODEL, "--out", packed32, "--weight-bits", 4,
                "--params-precision", "fp32");
        packedJson = readJson(json);
    }

    @Test
    void quantizeWritesThePackedFormatByTheSuffixAndReportsItsSizes() throws IOException {
        assertTrue(PackedModelFormat.isPacked(packed16));
        assertTrue(PackedModelFormat.isPacked(packed32));
        assertTrue(!PackedModelFormat.isPacked(zip));
        JsonNode p = packedJson.get("packed");
        assertEquals(Files.size(packed16), p.get("fileBytes").asLong());
        assertEquals("FP16", p.get("paramsPrecision").asText());
        // conv kernels inside = the converter's stored bytes (q at 4 bits, fp16/fp32 scales)
        assertEquals(packedJson.get("dsconvWeightBytes").asLong(), p.get("convWeightBytes").asLong());
        assertEquals(packedJson.get("fp32WeightBytes").asLong(), p.get("fp32ConvWeightBytes").asLong());
        System.out.printf("committed ResNet: FP32 zip %d bytes; W4: ModelSerializer zip %d, packed fp16 %d, packed"
                + " fp32 %d%n", Files.size(MODEL), Files.size(zip), Files.size(packed16), Files.size(packed32));
        // ModelSerializer's deflate already squeezes q (small integers as floats) well; packed still wins
        assertTrue(Files.size(packed16) < Files.size(zip), "packed should be smaller than the DSConv zip");
        assertTrue(Files.size(packed16) * 5 < Files.size(MODEL), "packed W4 should be over 5x smaller than FP32");
        assertTrue(Files.size(packed16) < Files.size(packed32));

        PackedManifest m = PackedModelFormat.readManifest(packed16);
        assertEquals("fmnist-resnet.zip", m.provenance().source());
        assertEquals(11, m.provenance().weightBits().size());
        assertEquals(4, m.plan().get("weightBits").asInt());
        assertEquals("ComputationGraph", m.modelKind());
    }

    @Test
    void evaluateReadsPackedFilesWithTheSameTop1AsTheZip() throws IOException {
        Path zj = shared.resolve("eval-zip.json");
        Path j32 = shared.resolve("eval-32.json");
        Path j16 = shared.resolve("eval-16.json");
        ok("evaluate", "--model", zip, "--limit", LIMIT, "--json", zj);
        ok("evaluate", "--model", packed32, "--reference", zip, "--limit", LIMIT, "--json", j32);
        ok("evaluate", "--model", packed16, "--reference", zip, "--limit", LIMIT, "--json", j16);
        JsonNode z = readJson(zj);
        JsonNode p32 = readJson(j32);
        JsonNode p16 = readJson(j16);
        System.out.printf("top-1 on %d: zip %.4f, packed fp32 %.4f, packed fp16 %.4f (agreement %.4f, SQNR %s dB)%n",
                LIMIT, z.get("top1").asDouble(), p32.get("top1").asDouble(), p16.get("top1").asDouble(),
                p16.get("agreement").asDouble(), p16.get("logitsSqnrDb"));
        assertEquals(LIMIT, p32.get("images").asInt());
        // fp32 params: bit-identical logits, so the same top-1 and full agreement
        assertEquals(z.get("top1").asDouble(), p32.get("top1").asDouble(), 0.0);
        assertEquals(1.0, p32.get("agreement").asDouble(), 0.0);
        // fp16 params: the same top-1 within 0.1 pp and >= 99.5% top-1 agreement
        assertEquals(z.get("top1").asDouble(), p16.get("top1").asDouble(), 0.001 + 1e-9);
        assertTrue(p16.get("agreement").asDouble() >= 0.995, "agreement " + p16.get("agreement"));
    }

    @Test
    void inspectListsThePackedModelLikeTheZip() throws IOException {
        Map<String, JsonNode> a = inspectRows(zip, shared.resolve("i-zip.json"));
        Map<String, JsonNode> b = inspectRows(packed32, shared.resolve("i-packed.json"));
        assertEquals(a, b);
    }

    @Test
    void damagedPackedFilesFailWithOneLineNamingTheFile(@TempDir Path tmp) throws IOException {
        byte[] good = Files.readAllBytes(packed16);
        Path flipped = tmp.resolve("flipped.dsconv.zip");
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x5A; // inside the parameter entries
        Files.write(flipped, bad);
        Path truncated = tmp.resolve("truncated.dsconv.zip");
        Files.write(truncated, Arrays.copyOf(good, good.length - 100));
        Path out = Files.createDirectories(tmp.resolve("out"));

        assertFailed(cli("evaluate", "--model", flipped, "--limit", 10), out, flipped.toString(), "corrupt");
        assertFailed(cli("evaluate", "--model", truncated, "--limit", 10), out, truncated.toString(), "truncated");
        assertFailed(cli("quantize", "--in", truncated, "--out", out.resolve("x.dsconv.zip")), out,
                truncated.toString());
        assertFailed(cli("inspect", "--model", flipped), out, flipped.toString());
    }

    @Test
    void paramsPrecisionNeedsAPackedOutputAndAKnownValue(@TempDir Path tmp) throws IOException {
        Path out = Files.createDirectories(tmp.resolve("out"));
        assertFailed(cli("quantize", "--in", MODEL, "--out", out.resolve("x.zip"), "--params-precision", "fp32"), out,
                "--params-precision", ".dsconv.zip");
        assertFailed(cli("quantize", "--in", MODEL, "--out", out.resolve("x.dsconv.zip"), "--params-precision",
                "int8"), out, "int8", "fp16 or fp32");
    }
}
