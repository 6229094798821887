package io.github.dsconv.distill;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.dsconv.files.AtomicFiles;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.util.ModelSerializer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Per-epoch checkpoints of a distillation run in one folder: {@code epoch-NNNN.zip} (the training network with
 * its updater state, a ModelSerializer zip) and {@value #STATE_FILE}, which commits it.
 *
 * <p>Each checkpoint writes the model zip atomically first, then the state file atomically; the state file names
 * the zip of the latest epoch and that of the best epoch. A run killed at any moment therefore leaves a state file
 * that names complete zips. Zips no longer named are deleted afterwards.
 */
final class Checkpoints {

    /** The state file's name. */
    static final String STATE_FILE = "distill-state.json";
    /** Version of the state file format. */
    static final int FORMAT_VERSION = 1;

    private static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /**
     * The committed state of a run after some epochs.
     *
     * @param formatVersion           {@value #FORMAT_VERSION}
     * @param fingerprint             settings and data that must match on resume
     * @param epochsCompleted         epochs done
     * @param bestEpoch               epoch with the best held-out agreement so far (0 = the initial student)
     * @param bestAgreement           its agreement, or null without a held-out split
     * @param agreementBefore         held-out agreement of the initial student, or null
     * @param epochsWithoutImprovement epochs since the best one
     * @param stopped                 whether early stopping ended the run
     * @param latestFile              zip of the latest epoch (with updater state)
     * @param bestFile                zip of the best epoch, or null when it is the initial student
     * @param history                 every completed epoch
     */
    record State(int formatVersion, Map<String, String> fingerprint, int epochsCompleted, int bestEpoch,
                 Double bestAgreement, Double agreementBefore, int epochsWithoutImprovement, boolean stopped,
                 String latestFile, String bestFile, List<EpochStats> history) {
    }

    private final Path dir;

    Checkpoints(Path dir) {
        this.dir = Objects.requireNonNull(dir, "dir");
    }

    Path dir() {
        return dir;
    }

    /** The committed state, or null when the folder holds none. */
    State read() throws IOException {
        Path f = dir.resolve(STATE_FILE);
        if (!Files.isRegularFile(f)) {
            return null;
        }
        State s;
        try {
            s = MAPPER.readValue(f.toFile(), State.class);
        } catch (IOException e) {
            throw new IOException(f + ": unreadable distillation checkpoint state (" + e.getMessage().lines()
                    .findFirst().orElse("") + ")", e);
        }
        if (s.formatVersion() != FORMAT_VERSION) {
            throw new IOException(f + ": unknown checkpoint formatVersion " + s.formatVersion() + " (this version "
                    + "reads " + FORMAT_VERSION + ")");
        }
        return s;
    }

    /** Fails unless a resumed run uses the same settings and data as the checkpoint. */
    void requireSameRun(State s, Map<String, String> fingerprint) throws IOException {
        for (Map.Entry<String, String> e : new TreeMap<>(fingerprint).entrySet()) {
            String saved = s.fingerprint().get(e.getKey());
            if (!e.getValue().equals(saved)) {
                throw new IOException("checkpoint in " + dir + " was made with " + e.getKey() + "=" + saved
                        + ", this run has " + e.getKey() + "=" + e.getValue() + "; resume with the same settings and "
                        + "data, or use another checkpoint folder");
            }
        }
    }

    /** Writes the network of an epoch, then commits the state naming it, then deletes unnamed zips. */
    void save(Model net, State s) throws IOException {
        Files.createDirectories(dir);
        ModelFiles.save(net, dir.resolve(s.latestFile()), true);
        AtomicFiles.writeString(dir.resolve(STATE_FILE), MAPPER.writeValueAsString(s) + "\n");
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String name = p.getFileName().toString();
                if (name.startsWith("epoch-") && name.endsWith(".zip") && !name.equals(s.latestFile())
                        && !name.equals(s.bestFile())) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** The zip name of an epoch. */
    static String fileOf(int epoch) {
        return String.format(Locale.ROOT, "epoch-%04d.zip", epoch);
    }

    /** Restores a checkpointed training network, with its updater state when asked. */
    Model restore(String file, String kind, boolean withUpdater) throws IOException {
        Path p = dir.resolve(file);
        if (!Files.isRegularFile(p)) {
            throw new IOException("checkpoint model " + p + " named by " + dir.resolve(STATE_FILE) + " is missing");
        }
        try {
            // DL4J restores each kind with its own call (updater state included, which the packed format lacks).
            return Network.GRAPH.equals(kind) ? ModelSerializer.restoreComputationGraph(p.toFile(), withUpdater)
                    : ModelSerializer.restoreMultiLayerNetwork(p.toFile(), withUpdater);
        } catch (IOException | RuntimeException e) {
            throw new IOException(p + ": unreadable checkpoint model (" + e.getMessage() + ")", e);
        }
    }

    static boolean isGraph(Model m) {
        return Network.of(m).isGraph();
    }
}
