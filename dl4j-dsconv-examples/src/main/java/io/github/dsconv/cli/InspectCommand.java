package io.github.dsconv.cli;

import io.github.dsconv.examples.InspectModel;
import io.github.dsconv.io.ModelFiles;
import org.deeplearning4j.nn.api.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code dsconv inspect}: lists a model's layers, or dumps one layer's arrays as .npy. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "List a model's layers; with --layer and --npy, write that layer's arrays as .npy files.")
final class InspectCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", required = true, description = "Model file.")
    Path model;

    @Option(names = "--layer", description = "Layer name whose arrays to write (with --npy).")
    String layer;

    @Option(names = "--npy", description = "Folder to write the layer's arrays into as .npy files.")
    Path npy;

    @Option(names = "--json", description = "Write the layer list as JSON to this file.")
    Path json;

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        if (npy != null && layer == null) {
            throw new IllegalArgumentException("--npy needs --layer (which layer's arrays to write)");
        }
        OptionChecks.modelInput(files, "--model", model);
        files.outputFolder("--npy", npy).output("--json", json);
    }

    @Override
    public Integer call() throws Exception {
        if ((layer == null) != (npy == null)) {
            throw new IllegalArgumentException("--layer and --npy go together");
        }
        Model m = ModelFiles.load(model);
        InspectModel.Listing listing = InspectModel.list(m);
        if (layer != null) {
            List<Path> written = InspectModel.writeNpy(m, layer, npy);
            for (Path p : written) {
                System.out.println("wrote " + p);
            }
        } else {
            System.out.print(listing.table());
        }
        JsonOutput.write(json, listing);
        return 0;
    }
}
