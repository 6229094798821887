package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the {@code <model>.provenance.json} file written beside models this project makes. */
public final class Provenance {

    /** Library version recorded in every artifact. */
    public static final String LIBRARY = io.github.dsconv.pack.PackedModelFormat.LIBRARY;

    private Provenance() {
    }

    /** The provenance file of a model file. */
    public static Path fileOf(Path model) {
        return model.resolveSibling(model.getFileName() + ".provenance.json");
    }

    /** The provenance JSON of a model, or null when it has none or it is unreadable. */
    public static JsonNode read(Path model) {
        Path p = fileOf(model);
        if (!Files.isRegularFile(p)) {
            return null;
        }
        try {
            return new ObjectMapper().readTree(p.toFile());
        } catch (IOException e) {
            return null;
        }
    }

    /** The architecture recorded for a model, else its file name without extension. */
    public static String archOf(Path model) {
        JsonNode n = read(model);
        if (n != null && n.hasNonNull("arch")) {
            return n.get("arch").asText();
        }
        String f = model.getFileName().toString();
        int dot = f.indexOf('.');
        return dot > 0 ? f.substring(0, dot) : f;
    }
}
