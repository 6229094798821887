package io.github.dsconv.io;

import io.github.dsconv.files.AtomicFiles;
import io.github.dsconv.pack.PackedModelFormat;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Loads and saves DL4J models ({@link MultiLayerNetwork} or {@link ComputationGraph}) as ModelSerializer zips or
 * packed DSConv files ({@link PackedModelFormat}). Loading recognises a packed file by its content (its first zip
 * entry, or its manifest), whatever it is called, tells the two network kinds apart from the stored
 * configuration and turns every failure (missing file, not a zip, no configuration, corrupt coefficients) into an
 * {@link IOException} naming the file. A model that loads is then checked to have only finite parameters
 * ({@link ModelChecks#requireFinite}), so that no command works on a model with a NaN or an infinity in it. Saving
 * picks the packed format for names ending in {@code .dsconv.zip}
 * and writes a temporary file beside the target that is moved into place, so a failed save never leaves a
 * partial file.
 */
public final class ModelFiles {

    private ModelFiles() {
    }

    /**
     * Loads a model file, whichever kind it holds (ModelSerializer zip or packed DSConv file), and checks that
     * every parameter is finite.
     *
     * @throws IOException naming the file when it cannot be read or holds a NaN or infinite parameter
     */
    public static Model load(Path file) throws IOException {
        Model model = read(file);
        try {
            ModelChecks.requireFinite(model, file.toString());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
        return model;
    }

    private static Model read(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IOException(file + ": is a folder, not a model file");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("model file not found: " + file);
        }
        if (PackedModelFormat.isPacked(file)) {
            return PackedModelFormat.read(file);
        }
        String config;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            ZipEntry entry = zip.getEntry("configuration.json");
            if (entry == null && PackedModelFormat.looksPacked(zip)) {
                return PackedModelFormat.read(file); // a packed file whose first bytes are damaged: report why
            }
            if (entry == null) {
                throw new IOException(file + ": not a DL4J model (no configuration.json in the zip)");
            }
            if (zip.getEntry("coefficients.bin") == null) {
                throw new IOException(file + ": not a DL4J model (no coefficients.bin in the zip)");
            }
            try (InputStream in = zip.getInputStream(entry)) {
                config = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (java.util.zip.ZipException e) {
            throw new IOException(file + ": not a readable zip file (" + e.getMessage() + ")", e);
        }
        boolean graph = config.contains("\"vertices\"");
        try {
            return graph ? ModelSerializer.restoreComputationGraph(file.toFile(), false)
                    : ModelSerializer.restoreMultiLayerNetwork(file.toFile(), false);
        } catch (IOException | RuntimeException e) {
            throw new IOException(file + ": corrupt or unreadable model (" + firstLine(e) + ")", e);
        }
    }

    /**
     * Saves a model atomically (without updater state unless asked). A name ending in {@code .dsconv.zip} writes
     * the packed format with its defaults (fp16 params, see {@link PackedModelFormat}), which never stores the
     * updater state.
     */
    public static void save(Model model, Path file, boolean saveUpdater) throws IOException {
        if (PackedModelFormat.hasPackedSuffix(file)) {
            PackedModelFormat.write(model, file, PackedModelFormat.Options.defaults());
            return;
        }
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Files.createDirectories(dir);
        Path tmp = AtomicFiles.tempFor(target);
        try {
            ModelSerializer.writeModel(model, tmp.toFile(), saveUpdater);
            AtomicFiles.moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static String firstLine(Throwable e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
