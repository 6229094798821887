package io.github.dsconv.it;

import io.github.dsconv.cli.DsconvCli;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * No silent data loss: every refused command line leaves every file as it was and creates none, and says why in
 * one line; outputs are checked before any work. Each case is one the hostile-input sweep of issue 16 found
 * handled wrongly.
 */
class StrictOutputsCliTest {

    static final Path FP32 = Paths.get("..", "models", "fmnist-resnet.zip");

    @TempDir
    Path dir;

    private Path model;

    record Run(int code, String err, long millis) {
        String line() {
            List<String> lines = err.lines().filter(l -> !l.isBlank()).toList();
            assertEquals(1, lines.size(), () -> "expected one error line, got:\n" + err);
            assertTrue(lines.get(0).startsWith("dsconv: error: "), lines.get(0));
            return lines.get(0);
        }
    }

    private static Run run(Object... args) {
        String[] argv = Stream.of(args).map(String::valueOf).toArray(String[]::new);
        StringWriter err = new StringWriter();
        CommandLine cl = DsconvCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        cl.setOut(new PrintWriter(new StringWriter(), true));
        long t0 = System.nanoTime();
        int code = cl.execute(argv);
        return new Run(code, err.toString(), (System.nanoTime() - t0) / 1_000_000);
    }

    /** Runs a command that must be refused: non-zero exit, one line, and the folder exactly as before. */
    private String refused(Object... args) throws IOException {
        Map<String, String> before = snapshot();
        Run r = run(args);
        assertTrue(r.code() != 0, () -> List.of(args) + " was accepted");
        String line = r.line();
        assertEquals(before, snapshot(), () -> List.of(args) + " changed files: " + line);
        return line;
    }

    /** Every file under the test folder (recursively, hidden ones included) with its SHA-256. */
    private Map<String, String> snapshot() throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                String key = dir.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    m.put(key, "-> " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p)) {
                    m.put(key + "/", "");
                } else {
                    try {
                        m.put(key, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                                .digest(Files.readAllBytes(p))));
                    } catch (java.security.NoSuchAlgorithmException e) {
                        throw new AssertionError(e);
                    }
                }
            }
        }
        return m;
    }

    @BeforeAll
    static void committedModel() {
        assertTrue(Files.isRegularFile(FP32), FP32 + " is committed");
    }

    @org.junit.jupiter.api.BeforeEach
    void copyModel() throws IOException {
        model = Files.copy(FP32, dir.resolve("m.zip"));
    }

    @Test
    void anOutputOntoAnInputIsRefusedHoweverSpelled() throws IOException {
        Files.createDirectory(dir.resolve("sub"));
        Files.createSymbolicLink(dir.resolve("link.zip"), model);
        for (Path out : List.of(model, dir.resolve("sub/../m.zip"), dir.resolve("link.zip"))) {
            String line = refused("quantize", "--in", model, "--out", out);
            assertTrue(line.contains("--out") && line.contains("same file as --in"), line);
        }
        // A model's provenance file is read with it (its architecture): no output may replace it either.
        Files.writeString(dir.resolve("m.zip.provenance.json"), "{\"arch\": \"resnet\"}");
        String line = refused("quantize", "--in", model, "--out", dir.resolve("m.zip.provenance.json"));
        assertTrue(line.contains("same file as the provenance file of --in"), line);
        line = refused("quantize", "--in", model, "--out", "");
        assertTrue(line.contains("--out") && line.contains("empty"), line);
        line = refused("quantize", "--in", model, "--out", dir.resolve("o.zip"), "--plan", dir.resolve("o.zip"));
        assertTrue(line.contains("--plan") && line.contains("does not exist"), line);
    }

    @Test
    void distillOutOntoTheTeacherIsRefused() throws IOException {
        Path student = Files.copy(FP32, dir.resolve("s.zip"));
        String line = refused("distill", "--teacher", model, "--student", student, "--out", model);
        assertTrue(line.contains("--out") && line.contains("same file as --teacher"), line);
        line = refused("distill", "--teacher", model, "--student", student, "--out", dir.resolve("o.zip"),
                "--checkpoint", student);
        assertTrue(line.contains("--checkpoint"), line);
    }

    @Test
    void twoOutputsOnOneFileAreRefused() throws IOException {
        Path o = dir.resolve("o.zip");
        assertTrue(refused("quantize", "--in", model, "--out", o, "--json", o).contains("--json"));
        assertTrue(refused("quantize", "--in", model, "--out", o, "--json", dir.resolve("o.zip.provenance.json"))
                .contains("provenance"));
    }

    @Test
    void unusableDestinationsAreRefusedBeforeAnyWork() throws IOException {
        Files.createDirectory(dir.resolve("d"));
        Path o = dir.resolve("o.zip");
        String line = refused("quantize", "--in", model, "--out", dir.resolve("d"));
        assertTrue(line.contains("--out") && line.contains("existing folder") && !line.contains(".tmp"), line);
        line = refused("quantize", "--in", model, "--out", dir.resolve("d") + "/");
        assertTrue(line.contains("names a folder"), line);
        line = refused("quantize", "--in", model, "--out", dir.resolve("some/dir") + "/");
        assertTrue(line.contains("names a folder"), line);
        line = refused("quantize", "--in", model, "--out", o, "--json", dir.resolve("missing/r.json"));
        assertTrue(line.contains("--json") && line.contains("does not exist"), line);
        Files.createDirectory(dir.resolve("o.zip.provenance.json")); // where the provenance file would go
        line = refused("quantize", "--in", model, "--out", o);
        assertTrue(line.contains("provenance") && line.contains("existing folder"), line);
        Files.delete(dir.resolve("o.zip.provenance.json"));
        // The demo used to find these only after a whole run.
        Run r = run("demo", "--json", dir.resolve("missing/demo.json"), "--plot-dir", dir.resolve("plots"));
        assertTrue(r.code() != 0 && r.line().contains("--json") && r.millis() < 20_000, r.toString());
        assertFalse(Files.exists(dir.resolve("plots")), "plot folder created by a refused run");
        assertTrue(refused("demo", "--plot-dir", model).contains("--plot-dir"));
        assertTrue(refused("sensitivity", "--model", model, "--plot", dir.resolve("d")).contains("--plot"));
    }

    @Test
    void aFolderGivenAsAFileIsNamedAsSuch() throws IOException {
        Files.createDirectory(dir.resolve("d"));
        String line = refused("quantize", "--in", dir.resolve("d"), "--out", dir.resolve("o.zip"));
        assertTrue(line.contains("--in") && line.contains("is a folder, not a file"), line);
        line = refused("evaluate", "--model", dir.resolve("d"));
        assertTrue(line.contains("is a folder, not a file"), line);
        line = refused("evaluate", "--model", model, "--data", model);
        assertTrue(line.contains("--data") && line.contains("is a file, not a folder"), line);
    }

    @Test
    void parseErrorsAreOneLineWithAHintAndNoUsageDump() throws IOException {
        for (Object[] args : List.of(new Object[] {"quantize", "--in", model, "--bogus"},
                new Object[] {"quantize", "--in", model},
                new Object[] {"quantize", "--in", model, "--out", "o.zip", "--block", "4294967298"},
                new Object[] {"evaluate", "--model", model, "--limit", "ten"},
                new Object[] {"nosuchcommand"})) {
            Map<String, String> before = snapshot();
            Run r = run(args);
            assertEquals(2, r.code(), r.err());
            String line = r.line();
            assertTrue(line.contains("--help"), line);
            assertEquals(before, snapshot());
        }
    }

    @Test
    void outOfRangeValuesNameTheOption() throws IOException {
        Path o = dir.resolve("o.zip");
        assertTrue(refused("quantize", "--in", model, "--out", o, "--block", "2147483647").contains("--block"));
        assertTrue(refused("quantize", "--in", model, "--out", o, "--block", "0").contains("--block"));
        assertTrue(refused("quantize", "--in", model, "--out", o, "--weight-bits", "9").contains("--weight-bits"));
        assertTrue(refused("quantize", "--in", model, "--out", o, "--act-bits", "1").contains("--act-bits"));
        assertTrue(refused("quantize", "--in", model, "--out", o, "--calibration-images", "0")
                .contains("--calibration-images"));
        assertTrue(refused("demo", "--bits", "4,1").contains("--bits"));
        assertTrue(refused("evaluate", "--model", model, "--batch", "0").contains("--batch"));
        assertTrue(refused("distill", "--teacher", model, "--student", model, "--out", o, "--held-out", "0.9")
                .contains("--held-out"));
        assertTrue(refused("bench", "--model", model, "--batch", "8,-1").contains("--batch"));
    }

    @Test
    void aSuccessfulRunWritesItsOutputsTogetherAndRemovesStaleTemporaryFiles() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        Path stale = Files.writeString(dir.resolve(".o.zip." + p.pid() + "-x1.dsconv-tmp"), "killed mid-write");
        Path o = dir.resolve("o.zip");
        Run r = run("quantize", "--in", model, "--out", o, "--json", dir.resolve("o.json"));
        assertEquals(0, r.code(), r.err());
        assertFalse(Files.exists(stale), "stale temporary file kept");
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("m.zip", "o.json", "o.zip", "o.zip.provenance.json"),
                    s.map(x -> x.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void nonAsciiPathsSurviveTheLauncherUnderLangC() throws Exception {
        Path launcher = Paths.get("..", "dsconv").toAbsolutePath().normalize();
        Path jar = launcher.resolveSibling("dl4j-dsconv-examples/target/dl4j-dsconv-examples-0.1.0-SNAPSHOT-cli.jar");
        assumeTrue(Files.isRegularFile(jar), "the CLI jar is built by the package phase; run with mvn verify");
        Path folder = Files.createDirectory(dir.resolve("modèles-模型"));
        Path m = Files.copy(FP32, folder.resolve("réseau.zip"));
        ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "inspect", "--model", m.toString(),
                "--json", folder.resolve("é.json").toString()).redirectErrorStream(true);
        pb.environment().remove("LC_ALL");
        pb.environment().remove("LC_CTYPE");
        pb.environment().put("LANG", "C");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(Files.isRegularFile(folder.resolve("é.json")), out);
    }
}
