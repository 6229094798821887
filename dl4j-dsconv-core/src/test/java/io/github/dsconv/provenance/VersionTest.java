package io.github.dsconv.provenance;

import io.github.dsconv.pack.PackedModelFormat;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VersionTest {

    /** The first {@code <tag>value</tag>} of a pom (for the version: the parent's, as core inherits it). */
    private static String pomValue(Path pom, String tag) throws IOException {
        Matcher m = Pattern.compile("<" + tag + ">([^<]+)</" + tag + ">").matcher(Files.readString(pom));
        assertTrue(m.find(), tag + " in " + pom);
        return m.group(1).trim();
    }

    @Test
    void versionsComeFromThePoms() throws IOException {
        // surefire runs in the module folder; the parent pom is beside it
        Path parent = Path.of("..", "pom.xml");
        String project = pomValue(Path.of("pom.xml"), "version");
        assertEquals(pomValue(parent, "version"), project);
        assertEquals(project, Version.project());
        assertEquals(pomValue(parent, "dl4j.version"), Version.deeplearning4j());
        assertFalse(Version.release().endsWith("-SNAPSHOT"), Version.release());
        assertTrue(project.startsWith(Version.release()), project + " vs " + Version.release());
    }

    @Test
    void theLibraryStringIsBuiltFromThemAndUsedEverywhere() {
        assertEquals("dl4j-dsconv " + Version.release() + " (deeplearning4j " + Version.deeplearning4j() + ")",
                Version.library());
        assertEquals(Version.library(), Provenance.LIBRARY);
        assertEquals(Version.library(), PackedModelFormat.LIBRARY);
    }

    @Test
    void recordsKeepFieldOrderAndStampLibraryAndCreated() throws IOException {
        Provenance p = Provenance.record().source("in.zip").stamp().put("n", 3).put("x", 0.5);
        java.util.List<String> names = new java.util.ArrayList<>();
        p.toJson().fieldNames().forEachRemaining(names::add);
        assertEquals(java.util.List.of("source", "library", "created", "n", "x"), names);
        assertEquals(Provenance.LIBRARY, p.toJson().get("library").asText());
        assertTrue(p.text().endsWith("}\n"));
        assertEquals(Path.of("d/m.zip.provenance.json"), Provenance.fileOf(Path.of("d/m.zip")));
    }
}
