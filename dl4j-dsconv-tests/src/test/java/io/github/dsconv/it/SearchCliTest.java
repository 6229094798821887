package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dsconv.cli.DsconvCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code dsconv search} end to end on the committed small ResNet with a small budget: the JSON shape, a
 * plan that {@code quantize --plan} reads back into the same network (judged on the same test images), the packed
 * format and the integer engine with mixed bits, resume after a kill, and bad input.
 */
class SearchCliTest {

    static final Path FP32 = Paths.get("..", "models", "fmnist-resnet.zip");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String run(int expected, Object... args) {
        String[] argv = Stream.of(args).map(String::valueOf).toArray(String[]::new);
        StringWriter err = new StringWriter();
        CommandLine cl = DsconvCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(argv);
        assertEquals(expected, code, () -> List.of(args) + ": " + err);
        return err.toString();
    }

    private List<Object> search(Path plan, Path json, Object... more) {
        return search(6, plan, json, more);
    }

    private List<Object> search(int budget, Path plan, Path json, Object... more) {
        List<Object> a = new ArrayList<>(List.of("search", "--model", FP32, "--budget", budget,
                "--calibration-images", 32, "--scoring-images", 128, "--cheap-images", 32, "--limit", 300, "--out", plan, "--json", json));
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void searchWritesThePlanQuantizeReadsAndTheJsonContract() throws IOException {
        Path plan = dir.resolve("plan.json");
        Path json = dir.resolve("search.json");
        Path png = dir.resolve("pareto.png");
        run(0, search(plan, json, "--plot", png, "--baselines", "random,greedy-sensitivity").toArray());
        JsonNode j = JSON.readTree(json.toFile());
        for (String f : new String[] {"model", "layers", "evaluations", "seconds", "fidelities", "chosen", "uniform",
            "baselines", "history"}) {
            assertTrue(j.has(f), f);
        }
        assertEquals(8, j.get("layers").asInt()); // 10 converted convolutions, the 2 projections share a block's bits
        assertEquals(6, j.get("evaluations").asInt());
        assertEquals("per-task", j.get("gpMean").asText());
        assertEquals(3, j.get("fidelities").size());
        for (JsonNode f : j.get("fidelities")) {
            assertTrue(f.has("name") && f.get("cost").asDouble() > 0 && f.has("rankCorrelationWithTarget"),
                    f.toString());
        }
        JsonNode chosen = j.get("chosen");
        assertEquals(10, chosen.get("bits").size());
        assertEquals(chosen.get("bits").get("s2b1a_conv"), chosen.get("bits").get("s2b1proj_conv"));
        assertTrue(chosen.get("convWeightBytes").asLong() > 0 && chosen.has("score") && chosen.has("agreement"));
        assertEquals(7, j.get("uniform").size());
        assertEquals(2, j.get("baselines").size());
        assertEquals("random", j.get("baselines").get(0).get("method").asText());
        assertEquals(6, j.get("history").size());
        JsonNode h0 = j.get("history").get(0);
        assertTrue(h0.has("step") && h0.has("task") && h0.get("bits").size() == 10 && h0.has("value"));
        assertTrue(Files.size(png) > 1000);
        // The chosen configuration is measured on the target once, like the baselines' answers.
        double measured = chosen.get("scoringAgreement").asDouble();
        assertTrue(measured > 0.5 && measured <= 1, chosen.toString());
        // The bytes penalty is 0.001 per average-layer bit around W4, so at most 4 x 8 x 0.001 either way here.
        assertEquals(measured, chosen.get("measuredScore").asDouble(), 0.032, chosen.toString());
        for (JsonNode b : j.get("baselines")) {
            assertTrue(b.get("seconds").asDouble() > 0 && b.has("measuredScore"), b.toString());
        }
        // The held-out score: the test agreement minus the same penalty as the measured score on the scoring images.
        JsonNode tc = j.get("test").get("chosen");
        double penalty = measured - chosen.get("measuredScore").asDouble();
        assertEquals(tc.get("agreement").asDouble() - penalty, tc.get("heldOutScore").asDouble(), 1e-12, tc.toString());
        for (JsonNode b : j.get("baselines")) {
            JsonNode tb = j.get("test").get(b.get("method").asText());
            double pb = b.get("scoringAgreement").asDouble() - b.get("measuredScore").asDouble();
            assertEquals(tb.get("agreement").asDouble() - pb, tb.get("heldOutScore").asDouble(), 1e-12, tb.toString());
        }
        // Reaching random search's best: the counted evaluation is a target-task step of the history.
        JsonNode reach = j.get("reachRandomBest");
        assertEquals(j.get("baselines").get(0).get("score").asDouble(), reach.get("randomBestScore").asDouble());
        if (!reach.get("multiTaskEvaluations").isNull()) {
            int all = reach.get("multiTaskEvaluations").asInt();
            String target = j.get("history").get(0).get("task").asText(); // step 0 is on the target
            assertEquals(target, j.get("history").get(all - 1).get("task").asText());
            long onTarget = 0;
            for (int k = 0; k < all; k++) {
                onTarget += j.get("history").get(k).get("task").asText().equals(target) ? 1 : 0;
            }
            assertEquals(onTarget, reach.get("multiTaskTargetEvaluations").asLong());
        }

        // The plan reads back: quantize with the same calibration images gives the searched network exactly, so
        // evaluate on the same test images gives the search's own test top-1.
        Path q = dir.resolve("q.zip");
        Path qj = dir.resolve("q.json");
        run(0, "quantize", "--in", FP32, "--plan", plan, "--calibration-data", "fashion-mnist",
                "--calibration-images", 32, "--out", q, "--json", qj);
        JsonNode layers = JSON.readTree(qj.toFile()).get("layers");
        int checked = 0;
        for (JsonNode l : layers) {
            JsonNode want = chosen.get("bits").get(l.get("name").asText());
            if (want != null) {
                assertEquals(want.asInt(), l.get("weightBits").asInt(), l.toString());
                checked++;
            }
        }
        assertEquals(10, checked);
        Path e = dir.resolve("e.json");
        run(0, "evaluate", "--model", q, "--limit", 300, "--json", e);
        assertEquals(chosen.get("top1").asDouble(), JSON.readTree(e.toFile()).get("top1").asDouble(), 1e-12);

        // Mixed bits run everywhere: the packed format records them per layer, the integer engine runs them.
        Path packed = dir.resolve("q.dsconv.zip");
        run(0, "quantize", "--in", FP32, "--plan", plan, "--out", packed);
        Path ij = dir.resolve("i.json");
        run(0, "inspect", "--model", packed, "--json", ij);
        String inspected = Files.readString(ij);
        Iterator<String> names = chosen.get("bits").fieldNames();
        while (names.hasNext()) {
            assertTrue(inspected.contains(names.next()));
        }
        Path ej = dir.resolve("ei.json");
        run(0, "evaluate", "--model", packed, "--engine", "integer", "--limit", 300, "--json", ej);
        JsonNode ev = JSON.readTree(ej.toFile());
        assertTrue(ev.get("integerLayers").asInt() >= 8 && ev.get("top1").asDouble() > 0.8, ev.toString());
    }

    @Test
    void aResumedSearchEqualsTheUninterruptedOne() throws IOException {
        Path json = dir.resolve("a.json");
        run(0, search(dir.resolve("a-plan.json"), json, "--baselines", "none").toArray());
        // A kill after three evaluations: the log holds its header and three lines.
        Path log = dir.resolve("a-plan.json.search-log.json");
        List<String> lines = Files.readAllLines(log);
        Path cut = dir.resolve("cut.log");
        Files.write(cut, lines.subList(0, 4));
        Path json2 = dir.resolve("b.json");
        run(0, search(dir.resolve("b-plan.json"), json2, "--baselines", "none", "--checkpoint", cut, "--resume")
                .toArray());
        JsonNode a = JSON.readTree(json.toFile());
        JsonNode b = JSON.readTree(json2.toFile());
        assertEquals(a.get("history"), b.get("history"));
        assertEquals(a.get("chosen"), b.get("chosen"));
        assertEquals(Files.readString(dir.resolve("a-plan.json")), Files.readString(dir.resolve("b-plan.json")));
        // Without --resume an existing log is refused rather than overwritten.
        String err = run(1, search(dir.resolve("c-plan.json"), dir.resolve("c.json"), "--checkpoint", cut).toArray());
        assertTrue(err.contains("--resume"), err);
    }

    @Test
    void badInputIsOneLineBeforeAnyWork() throws IOException {
        Path plan = dir.resolve("p.json");
        Path json = dir.resolve("s.json");
        assertTrue(run(1, search(0, plan, json).toArray()).contains("--budget"));
        assertTrue(run(1, search(plan, json, "--curve", "spline").toArray()).contains("bezier1"));
        assertTrue(run(1, search(plan, json, "--gp-mean", "median").toArray()).contains("--gp-mean"));
        assertTrue(run(1, search(plan, json, "--max-bytes", 1000, "--max-drop", 1).toArray()).contains("exclude"));
        assertTrue(run(1, search(plan, json, "--max-bytes", 1000).toArray()).contains("below uniform W2"));
        Path images = Files.createDirectories(dir.resolve("imgs/a"));
        assertTrue(run(1, search(plan, json, "--data", images.getParent()).toArray()).contains("--calibration-data"));
        assertTrue(run(1, search(plan, json, "--baselines", "magic").toArray()).contains("magic"));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("imgs"), s.map(p -> p.getFileName().toString()).toList());
        }
    }
}
