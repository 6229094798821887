package io.github.dsconv.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dsconv.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Path;

/** Writes a command's machine-readable result (records or maps) as pretty JSON, atomically. */
final class JsonOutput {

    static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private JsonOutput() {
    }

    static void write(Path path, Object value) throws IOException {
        if (path == null) {
            return;
        }
        AtomicFiles.writeString(path, MAPPER.writeValueAsString(value) + "\n");
    }

    static String toString(Object value) throws IOException {
        return MAPPER.writeValueAsString(value);
    }
}
