package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.github.dsconv.it.CliTest.cli;
import static io.github.dsconv.it.CliTest.ok;
import static io.github.dsconv.it.CliTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code dsconv sensitivity} on the committed Fashion-MNIST ResNet, and its one-line errors. */
class SensitivityCliTest {

    static final Path MODEL = Paths.get("..", "models", "fmnist-resnet.zip");

    @TempDir
    Path tmp;

    @Test
    void ranksEveryConvolutionOfTheCommittedResnet() throws IOException {
        Path json = tmp.resolve("s.json");
        Path png = tmp.resolve("s.png");
        ok("sensitivity", "--model", MODEL, "--limit", 200, "--weight-bits", 4, "--act-bits", 8, "--json", json,
                "--plot", png);
        JsonNode r = readJson(json);
        assertEquals(1, r.get("formatVersion").asInt());
        assertEquals(200, r.get("images").asInt());
        assertTrue(r.get("labelled").asBoolean());
        assertTrue(r.get("fp32Top1").asDouble() > 0.8, () -> "FP32 top-1 " + r.get("fp32Top1"));
        assertEquals("plain", r.get("recipe").asText());
        JsonNode layers = r.get("layers");
        assertEquals(11, layers.size());
        List<String> ranking = new ArrayList<>();
        r.get("ranking").forEach(n -> ranking.add(n.asText()));
        double previous = Double.MAX_VALUE;
        for (int i = 0; i < layers.size(); i++) {
            JsonNode l = layers.get(i);
            assertEquals(i + 1, l.get("rank").asInt());
            assertEquals(ranking.get(i), l.get("layer").asText());
            double w = l.get("weights").get("agreementLossPp").asDouble();
            JsonNode a = l.get("activations");
            double loss = Math.max(w, a.isNull() ? 0 : a.get("agreementLossPp").asDouble());
            assertTrue(loss <= previous + 1e-9, () -> "not ranked by agreement loss: " + layers);
            previous = loss;
            assertTrue(l.get("weights").has("top1"));
        }
        JsonNode net = r.get("network");
        for (String row : List.of("weights", "activations", "both")) {
            double agreement = net.get(row).get("agreement").asDouble();
            assertTrue(agreement > 0.5 && agreement <= 1, () -> row + " " + net.get(row));
        }
        assertTrue(ImageIO.read(png.toFile()).getWidth() >= 800);
    }

    @Test
    void unlabelledFolderGivesAgreementOnly() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("unlabelled"));
        Random rnd = new Random(3);
        for (int i = 0; i < 12; i++) {
            BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < 28; y++) {
                for (int x = 0; x < 28; x++) {
                    img.getRaster().setSample(x, y, 0, rnd.nextInt(256));
                }
            }
            ImageIO.write(img, "png", dir.resolve(i + ".png").toFile());
        }
        Path json = tmp.resolve("u.json");
        ok("sensitivity", "--model", MODEL, "--data", dir, "--json", json);
        JsonNode r = readJson(json);
        assertFalse(r.get("labelled").asBoolean());
        assertTrue(r.get("fp32Top1").isNull());
        assertTrue(r.get("layers").get(0).get("weights").get("top1").isNull());
        assertEquals(12, r.get("images").asInt());
    }

    @Test
    void badInputsFailWithOneLineBeforeAnyWork() {
        Path json = tmp.resolve("bad.json");
        for (Object[] args : List.of(
                new Object[] {"--weight-bits", 9},
                new Object[] {"--act-bits", 0},
                new Object[] {"--act-bits", 17},
                new Object[] {"--block", 0},
                new Object[] {"--limit", -1},
                new Object[] {"--plot", tmp.resolve("s.jpg")},
                new Object[] {"--json", MODEL},
                new Object[] {"--json", tmp.resolve("same.png"), "--plot", tmp.resolve("same.png")},
                new Object[] {"--data", tmp.resolve("no-such-folder")})) {
            List<Object> argv = new ArrayList<>(List.of("sensitivity", "--model", MODEL));
            if (!List.of(args).contains("--json")) {
                argv.addAll(List.of("--json", json));
            }
            argv.addAll(List.of(args));
            CliTest.Run r = cli(argv.toArray());
            assertEquals(1, r.code(), () -> argv + ": " + r.err());
            assertEquals(1, r.errLines().size(), () -> argv + ": " + r.err());
            assertTrue(r.errLines().get(0).startsWith("dsconv: error: "), () -> argv + ": " + r.err());
            assertFalse(Files.exists(json), () -> argv + " wrote " + json);
        }
        CliTest.Run missing = cli("sensitivity", "--model", tmp.resolve("missing.zip"), "--json", json);
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("--model") && missing.err().contains("does not exist"), missing.err());
    }
}
