package io.github.dsconv.cli;

import io.github.dsconv.examples.Json;
import io.github.dsconv.files.AtomicFiles;

import java.io.IOException;
import java.nio.file.Path;

/** Writes a command's machine-readable result (records or maps) as pretty JSON, atomically. */
final class JsonOutput {

    private JsonOutput() {
    }

    static void write(Path path, Object value) throws IOException {
        if (path == null) {
            return;
        }
        AtomicFiles.writeString(path, Json.write(value));
    }
}
