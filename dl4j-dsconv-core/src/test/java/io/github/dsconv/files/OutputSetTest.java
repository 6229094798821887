package io.github.dsconv.files;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Output checks before work, and all-or-nothing writes ({@link OutputSet}, {@link AtomicFiles}). */
class OutputSetTest {

    @TempDir
    Path dir;

    private Path file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    private static String refused(OutputSet.Builder b) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::open);
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void anOutputThatIsAnInputIsRefusedHoweverItIsSpelled() throws IOException {
        Path in = file("m.zip", "model");
        Files.createDirectory(dir.resolve("sub"));
        Path link = Files.createSymbolicLink(dir.resolve("link.zip"), in);
        Path hard = Files.createLink(dir.resolve("hard.zip"), in);
        for (Path out : List.of(in, dir.resolve("sub/../m.zip"), dir.resolve("./m.zip"), link, hard)) {
            String m = refused(OutputSet.builder().input("--in", in).output("--out", out));
            assertTrue(m.startsWith("--out ") && m.contains("same file as --in"), m);
        }
        assertEquals("model", Files.readString(in));
    }

    @Test
    void twoOutputsOnOneFileAreRefused() throws IOException {
        Files.createDirectory(dir.resolve("x"));
        String m = refused(OutputSet.builder().output("--out", dir.resolve("o.zip"))
                .output("--json", dir.resolve("x/../o.zip")));
        assertTrue(m.contains("--json") && m.contains("same file as --out"), m);
    }

    @Test
    void foldersAndMissingFoldersAreRefused() throws IOException {
        Files.createDirectory(dir.resolve("d"));
        assertTrue(refused(OutputSet.builder().output("--out", dir.resolve("d"))).contains("is an existing folder"));
        assertTrue(refused(OutputSet.builder().output("--out", dir.resolve("missing/o.zip")))
                .contains("does not exist"));
        // Path drops the trailing separator: the text the user typed decides.
        String m = refused(OutputSet.builder().spelling(l -> "some/dir/").output("--out", dir.resolve("some/dir")));
        assertTrue(m.contains("names a folder"), m);
        assertTrue(refused(OutputSet.builder().input("--in", dir.resolve("d"))).contains("is a folder, not a file"));
        assertTrue(refused(OutputSet.builder().input("--in", dir.resolve("nope.zip"))).contains("does not exist"));
        Path f = file("f", "x");
        assertTrue(refused(OutputSet.builder().outputFolder("--plot-dir", f)).contains("not a folder"));
        assertTrue(refused(OutputSet.builder().inputFolder("--data", f)).contains("is a file, not a folder"));
        assertEquals(List.of("d", "f"), names());
    }

    @Test
    void aFileMayGoIntoTheOutputFolderTheRunCreates() throws IOException {
        Path plots = dir.resolve("demo-out");
        try (OutputSet set = OutputSet.builder().output("--json", plots.resolve("demo.json"))
                .outputFolder("--plot-dir", plots).open()) {
            AtomicFiles.writeString(plots.resolve("demo.json"), "{}");
            set.commit();
        }
        assertEquals("{}", Files.readString(plots.resolve("demo.json")));
        assertTrue(refused(OutputSet.builder().output("--json", dir.resolve("elsewhere/demo.json"))
                .outputFolder("--plot-dir", dir.resolve("other"))).contains("does not exist"));
    }

    @Test
    void nothingAppearsOrChangesUntilCommit() throws IOException {
        Path model = file("o.zip", "old model");
        Path json = dir.resolve("o.json");
        try (OutputSet set = OutputSet.builder().output("--out", model).output("--json", json).open()) {
            AtomicFiles.writeString(model, "new model");
            AtomicFiles.writeString(json, "{}");
            assertEquals("old model", Files.readString(model));
            assertFalse(Files.exists(json));
            assertEquals(List.of(model.toAbsolutePath(), json.toAbsolutePath()), set.stagedTargets());
            set.commit();
        }
        assertEquals("new model", Files.readString(model));
        assertEquals("{}", Files.readString(json));
        assertEquals(List.of("o.json", "o.zip"), names()); // no temporary file or backup left
    }

    @Test
    void closingWithoutCommitLeavesEverythingAsItWas() throws IOException {
        Path model = file("o.zip", "old model");
        Path plots = dir.resolve("plots");
        try (OutputSet set = OutputSet.builder().output("--out", model).output("--json", dir.resolve("o.json"))
                .outputFolder("--plot-dir", plots).open()) {
            AtomicFiles.writeString(model, "new model");
            AtomicFiles.writeString(plots.resolve("a.png"), "png");
            // the run fails here
        }
        assertEquals("old model", Files.readString(model));
        assertEquals(List.of("o.zip"), names()); // the plot folder it created is gone too
    }

    @Test
    void aFailedCommitPutsBackWhatItAlreadyMoved() throws IOException {
        Path model = file("o.zip", "old model");
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path json = sub.resolve("o.json");
        try (OutputSet set = OutputSet.builder().output("--out", model).output("--json", json).open()) {
            AtomicFiles.writeString(model, "new model");
            AtomicFiles.writeString(json, "{}");
            // The JSON's staged file vanishes (as on a full or failing disk): the second move fails.
            try (Stream<Path> s = Files.list(sub)) {
                for (Path p : s.toList()) {
                    Files.delete(p);
                }
            }
            assertThrows(IOException.class, set::commit);
        }
        assertEquals("old model", Files.readString(model));
        assertFalse(Files.exists(json));
        assertEquals(List.of("o.zip", "sub"), names());
    }

    @Test
    void writingAnUndeclaredFileWhileOpenIsAProgrammingError() throws IOException {
        try (OutputSet set = OutputSet.builder().output("--out", dir.resolve("o.zip")).open()) {
            assertThrows(IllegalStateException.class, () -> AtomicFiles.writeString(dir.resolve("other"), "x"));
        }
        AtomicFiles.writeString(dir.resolve("other"), "x"); // closed: written at once
        assertEquals("x", Files.readString(dir.resolve("other")));
    }

    @Test
    void workFoldersAreWrittenAtOnce() throws IOException {
        Path ck = dir.resolve("ck");
        try (OutputSet set = OutputSet.builder().output("--out", dir.resolve("o.zip")).workFolder("--checkpoint", ck)
                .open()) {
            Files.createDirectories(ck);
            AtomicFiles.writeString(ck.resolve("state.json"), "{}");
            assertTrue(Files.exists(ck.resolve("state.json")));
        }
        assertTrue(Files.exists(ck.resolve("state.json")));
    }

    @Test
    void staleTemporaryFilesOfDeadProcessesAreRemovedLiveOnesKept() throws Exception {
        Path target = dir.resolve("o.zip");
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        long dead = p.pid();
        long live = ProcessHandle.current().parent().map(ProcessHandle::pid).orElseThrow();
        Path stale = file(".o.zip." + dead + "-abc" + AtomicFiles.TMP_SUFFIX, "partial");
        Path busy = file(".o.zip." + live + "-abc" + AtomicFiles.TMP_SUFFIX, "partial");
        Path foreign = file(".o.zip.notapid" + AtomicFiles.TMP_SUFFIX, "?");
        Path otherTarget = file(".o.zip.json." + dead + "-abc" + AtomicFiles.TMP_SUFFIX, "partial");
        OutputSet.builder().output("--out", target).open().close();
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(busy) && Files.exists(foreign) && Files.exists(otherTarget));
    }
}
