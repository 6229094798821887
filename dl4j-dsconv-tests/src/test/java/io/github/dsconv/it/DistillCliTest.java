package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dsconv.cli.DsconvCli;
import io.github.dsconv.io.ModelFiles;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code ./dsconv distill} end to end on the committed ResNet: a W2A8 student adapted on a few hundred unlabelled
 * training images (no held-out split, so early stopping cannot keep the original) keeps {@code q} bit-identical,
 * changes its scales, and writes the JSON shape; bad input
 * fails with one line and no output file.
 */
class DistillCliTest {

    static final Path TEACHER = Paths.get("..", "models", "fmnist-resnet.zip");

    private static int run(StringWriter err, String... args) {
        CommandLine cl = DsconvCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void distillsAW2StudentAndWritesTheContractJson(@TempDir Path dir) throws Exception {
        Path student = dir.resolve("w2.zip");
        StringWriter err = new StringWriter();
        assertEquals(0, run(err, "quantize", "--in", TEACHER.toString(), "--out", student.toString(),
                "--weight-bits", "2", "--cds"), err.toString());
        Path out = dir.resolve("distilled.zip");
        Path json = dir.resolve("d.json");
        assertEquals(0, run(err, "distill", "--teacher", TEACHER.toString(), "--student", student.toString(),
                "--data", "fashion-mnist", "--epochs", "1", "--limit", "400", "--test-limit", "300", "--held-out", "0",
                "--out", out.toString(), "--json", json.toString()), err.toString());
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        assertEquals(1, j.get("epochs").asInt());
        // --held-out 0: nothing was checked, and the run says so (JSON and stderr).
        assertEquals("none", j.get("heldOutCheck").asText());
        assertTrue(err.toString().contains("dsconv: warning: --held-out 0: no held-out check was made"), err.toString());
        assertTrue(j.get("images").asInt() > 0 && j.get("images").asInt() <= 400, j.toString());
        assertTrue(j.get("seconds").asDouble() > 0);
        for (String phase : new String[] {"before", "after"}) {
            double top1 = j.get(phase).get("top1").asDouble();
            double agreement = j.get(phase).get("agreement").asDouble();
            assertTrue(top1 > 0.1 && top1 <= 1 && agreement > 0.1 && agreement <= 1, j.toString());
        }
        ComputationGraph before = (ComputationGraph) ModelFiles.load(student);
        ComputationGraph after = (ComputationGraph) ModelFiles.load(out);
        String conv = "s2b1a_conv";
        assertEquals(before.getLayer(conv).getParam("q"), after.getLayer(conv).getParam("q"), "q moved");
        assertNotEquals(before.getLayer(conv).getParam("alpha"), after.getLayer(conv).getParam("alpha"));
    }

    @Test
    void aRunThatImprovesNothingKeepsTheStudentAsGivenAndWarns(@TempDir Path dir) throws Exception {
        Path student = dir.resolve("w4.zip");
        StringWriter err = new StringWriter();
        assertEquals(0, run(err, "quantize", "--in", TEACHER.toString(), "--out", student.toString()), err.toString());
        Path out = dir.resolve("distilled.zip");
        Path json = dir.resolve("d.json");
        StringWriter err2 = new StringWriter();
        // A learning rate too small to change any prediction: no epoch beats the start on the held-out images.
        assertEquals(0, run(err2, "distill", "--teacher", TEACHER.toString(), "--student", student.toString(),
                "--epochs", "1", "--limit", "300", "--test-limit", "200", "--held-out", "0.3", "--lr", "1e-12",
                "--out", out.toString(), "--json", json.toString()), err2.toString());
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        assertEquals(0, j.get("bestEpoch").asInt(), j.toString());
        assertEquals("kept-as-given", j.get("heldOutCheck").asText());
        assertTrue(j.get("warnings").get(0).asText().contains("the student is written unchanged"), j.toString());
        assertTrue(err2.toString().contains("dsconv: warning: no epoch improved"), err2.toString());
        assertEquals(ModelFiles.load(student).params(), ModelFiles.load(out).params());
    }

    @Test
    void badTrainGroupIsAOneLineErrorWithNoOutput(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("x.zip");
        StringWriter err = new StringWriter();
        int code = run(err, "distill", "--teacher", TEACHER.toString(), "--student", TEACHER.toString(),
                "--train", "alpha,nonsense", "--limit", "100", "--out", out.toString());
        assertNotEquals(0, code);
        String msg = err.toString().trim();
        assertTrue(msg.startsWith("dsconv: error:") && msg.contains("nonsense") && !msg.contains("\n"), msg);
        assertTrue(Files.notExists(out));
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "stray files");
        }
    }
}
