package io.github.dsconv.cli;

import io.github.dsconv.examples.ImportKerasModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv import-keras}: imports a Keras HDF5 model (DL4J's KerasModelImport) as a DL4J model file. */
@Command(name = "import-keras", mixinStandardHelpOptions = true,
        description = "Import a Keras 2 model saved with model.save(\"m.h5\") into a DL4J model file: Sequential "
                + "as MultiLayerNetwork, Functional as ComputationGraph; channels_last convolutions stay NHWC.")
final class ImportKerasCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--h5", required = true, description = "Keras HDF5 file (architecture and weights).")
    Path h5;

    @Option(names = "--out", required = true, description = "DL4J model file to write (ModelSerializer zip).")
    Path out;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelOutput(files, "--out", out);
        files.input("--h5", h5).output("--json", json);
    }

    @Override
    public Integer call() throws Exception {
        ImportKerasModel.Result r = ImportKerasModel.run(new ImportKerasModel.Options(h5, out));
        System.out.printf(Locale.ROOT, "%s (Keras %s) -> %s: %d layers, %d convolutions (%s), %d parameters%n",
                r.h5(), r.kerasClass(), r.kind(), r.layers(), r.convLayers() + r.otherConvLayers(), r.dataFormat(),
                r.params());
        System.out.println("wrote " + r.out());
        JsonOutput.write(json, r);
        return 0;
    }
}
