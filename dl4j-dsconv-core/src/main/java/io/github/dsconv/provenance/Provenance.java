package io.github.dsconv.provenance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.dsconv.files.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

/**
 * How a model file was made: the {@code <model>.provenance.json} file written beside every model this project
 * makes, and the fields the packed format's manifest records ({@code pack.PackedManifest.Provenance}).
 *
 * <p>A record is a JSON object whose fields are kept in the order they are added. Every record carries
 * {@value #LIBRARY_FIELD} ({@link #LIBRARY}) and {@value #CREATED_FIELD} (an ISO-8601 instant), added by
 * {@link #stamp()}; most carry {@value #SOURCE_FIELD}, the file the model was made from. The other fields depend on
 * the command (a conversion's {@code summary}, a training's {@code seed} and {@code top1}, ...). Scripts read these
 * files by field name, so names are never changed. Readers ({@link #read}, {@link #archOf}) tolerate a missing or
 * unreadable file: provenance is informative, never required.
 */
public final class Provenance {

    /** Library name and version recorded in every artifact, from {@link Version#library()}. */
    public static final String LIBRARY = Version.library();

    /** Field: library name and version. */
    public static final String LIBRARY_FIELD = "library";
    /** Field: creation time, ISO-8601 instant. */
    public static final String CREATED_FIELD = "created";
    /** Field: the file the model was made from. */
    public static final String SOURCE_FIELD = "source";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final ObjectNode fields = JsonNodeFactory.instance.objectNode();

    private Provenance() {
    }

    /** An empty record. */
    public static Provenance record() {
        return new Provenance();
    }

    /** The current time as {@value #CREATED_FIELD} records it (ISO-8601 instant). */
    public static String now() {
        return Instant.now().toString();
    }

    /** Adds {@value #SOURCE_FIELD}. */
    public Provenance source(String source) {
        fields.put(SOURCE_FIELD, source);
        return this;
    }

    /** Adds {@value #LIBRARY_FIELD} and {@value #CREATED_FIELD} (now), in that order, where the caller wants them. */
    public Provenance stamp() {
        fields.put(LIBRARY_FIELD, LIBRARY);
        fields.put(CREATED_FIELD, now());
        return this;
    }

    /** Adds a text field. */
    public Provenance put(String field, String value) {
        fields.put(field, value);
        return this;
    }

    /** Adds an integer field. */
    public Provenance put(String field, long value) {
        fields.put(field, value);
        return this;
    }

    /** Adds a number field. */
    public Provenance put(String field, double value) {
        fields.put(field, value);
        return this;
    }

    /**
     * Adds a JSON field. Callers convert their records with their own mapper first (the examples' one writes a
     * non-finite double as {@code null}), so this class needs no knowledge of their types.
     */
    public Provenance set(String field, JsonNode value) {
        fields.set(field, value);
        return this;
    }

    /** The record as JSON (a copy). */
    public ObjectNode toJson() {
        return fields.deepCopy();
    }

    /** The record as indented JSON text with a trailing newline, as it is written. */
    public String text() throws IOException {
        return JSON.writeValueAsString(fields) + "\n";
    }

    /**
     * Writes this record as the provenance file of {@code model}, atomically (and within the run's output set,
     * which must declare {@link #fileOf} the model when one is open).
     */
    public void writeFor(Path model) throws IOException {
        AtomicFiles.writeString(fileOf(model), text());
    }

    /** The provenance file of a model file: {@code <model>.provenance.json} beside it. */
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
