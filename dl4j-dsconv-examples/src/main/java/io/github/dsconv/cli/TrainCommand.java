package io.github.dsconv.cli;

import io.github.dsconv.examples.TrainSmallModel;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv train}: trains a small architecture on Fashion-MNIST. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a small CNN (28x28x1, with batch norm) on Fashion-MNIST and save it with provenance.")
final class TrainCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--arch", required = true, description = "resnet, vgg, googlenet or densenet")
    String arch;

    @Option(names = "--epochs", defaultValue = "3", description = "Training epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--batch", defaultValue = "64", description = "Minibatch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--train-limit", defaultValue = "0", description = "Use only the first N training images (0 = all).")
    int trainLimit;

    @Option(names = "--test-limit", defaultValue = "0", description = "Evaluate on the first N test images (0 = all).")
    int testLimit;

    @Option(names = "--out", required = true, description = "Model file to write.")
    Path out;

    @Option(names = "--init", description = "Continue training this saved model of the same arch "
            + "(learning rate 5e-4, then 1e-4 for the last 30%%; the provenance nests the file's own provenance).")
    Path init;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    @Override
    public void validate() {
        OptionChecks.range("--epochs", epochs, 0, 100_000);
        OptionChecks.range("--batch", batch, 1, 100_000);
        OptionChecks.range("--train-limit", trainLimit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--test-limit", testLimit, 0, Integer.MAX_VALUE);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelOutput(files, "--out", out);
        OptionChecks.modelInput(files, "--init", init);
        files.output("--json", json);
    }

    @Override
    public Integer call() throws Exception {
        TrainSmallModel.Options o = new TrainSmallModel.Options(arch, epochs, seed, batch, trainLimit, testLimit, out, init);
        long perEpoch = trainLimit > 0 ? Math.min(trainLimit, 60000) : 60000;
        TrainSmallModel.Result r;
        try (ProgressBar pb = Progress.bar("train " + arch, perEpoch * epochs)) {
            r = TrainSmallModel.run(o, pb::stepBy, e -> pb.setExtraMessage("epoch " + e + "/" + epochs));
        }
        System.out.printf(Locale.ROOT, "%s: top-1 %.4f on %d test images after %d epochs (%.0f s) -> %s%n",
                arch, r.top1(), r.testImages(), r.epochs(), r.seconds(), r.model());
        JsonOutput.write(json, r);
        return 0;
    }
}
