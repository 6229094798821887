package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.dsconv.files.AtomicFiles;
import io.github.dsconv.search.Evaluator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Every evaluation of a run, appended to a JSON-lines file as it happens; on resume, the file's values answer
 * repeated requests without recomputing. Evaluations are deterministic, so a resumed run follows exactly the
 * path of the interrupted one.
 */
final class SearchLog {
    /** One JSON object a line, whatever the shared mapper's indentation. */
    private static final com.fasterxml.jackson.databind.ObjectWriter LINE = Json.MAPPER.writer()
            .without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
    private final Path file;
    private final Map<String, Double> values = new HashMap<>();
    private final List<String> lines = new ArrayList<>();

    private SearchLog(Path file) {
        this.file = file;
    }

    static SearchLog open(Path file, boolean resume, Map<String, String> fingerprint) throws IOException {
        SearchLog log = new SearchLog(file);
        String head = LINE.writeValueAsString(fingerprint);
        if (resume && Files.exists(file)) {
            List<String> saved = Files.readAllLines(file);
            if (saved.isEmpty() || !saved.get(0).equals(head)) {
                throw new IOException(file + ": the checkpoint is of another search (model, images or layers "
                        + "differ); remove it or drop --resume");
            }
            for (String l : saved.subList(1, saved.size())) {
                JsonNode n;
                try {
                    n = Json.MAPPER.readTree(l);
                } catch (IOException e) {
                    break; // a line cut by a kill: everything before it is good
                }
                log.values.put(n.get("key").asText(), n.get("value").asDouble());
                log.lines.add(l);
            }
        }
        log.lines.add(0, head);
        log.save();
        return log;
    }

    static String key(int task, int[] bits) {
        return task + ":" + key(bits);
    }

    static String key(int[] bits) {
        StringBuilder b = new StringBuilder();
        for (int x : bits) {
            b.append(x);
        }
        return b.toString();
    }

    static int[] parseBits(String key) {
        return key.chars().map(ch -> ch - '0').toArray();
    }

    /** Values of one task by bits key. */
    Map<String, Double> values(int task) {
        Map<String, Double> m = new LinkedHashMap<>();
        String prefix = task + ":";
        values.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                m.put(k.substring(prefix.length()), v);
            }
        });
        return m;
    }

    Evaluator around(Evaluator inner, IntConsumer progress) {
        return (task, bits) -> {
            String k = key(task, bits);
            Double v = values.get(k);
            if (v == null) {
                v = inner.evaluate(task, bits);
                values.put(k, v);
                ObjectNode n = Json.MAPPER.createObjectNode();
                n.put("key", k);
                n.put("value", v);
                try {
                    lines.add(LINE.writeValueAsString(n));
                    save();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            if (progress != null) {
                progress.accept(1);
            }
            return v;
        };
    }

    private void save() throws IOException {
        AtomicFiles.writeString(file, String.join("\n", lines) + "\n");
    }
}
