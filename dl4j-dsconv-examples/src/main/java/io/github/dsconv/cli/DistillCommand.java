package io.github.dsconv.cli;

import io.github.dsconv.distill.DistillConfig;
import io.github.dsconv.distill.DistillListener;
import io.github.dsconv.distill.EpochStats;
import io.github.dsconv.distill.TrainableGroup;
import io.github.dsconv.examples.DistillModel;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code dsconv distill}: adapts a DSConv model to its FP32 original by knowledge distillation (Hinton et al.
 * 2015) on unlabelled images; DSConv is Nascimento et al., ICCV 2019.
 */
@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Adapt a DSConv model to its FP32 original by distillation on unlabelled images "
                + "(loss T^2 KL(softmax(z_t/T) || softmax(z_s/T)), Adam; q stays fixed). Checkpoints every epoch; "
                + "top-1 and teacher agreement are reported on the Fashion-MNIST test set.")
final class DistillCommand implements Callable<Integer>, DeclaresFiles {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec commandSpec;

    @Option(names = "--teacher", required = true, description = "FP32 model file (the teacher).")
    Path teacher;

    @Option(names = "--student", required = true, description = "DSConv model file converted from the teacher.")
    Path student;

    @Option(names = "--data", defaultValue = DistillModel.FASHION_MNIST,
            description = "fashion-mnist (its training images) or an image folder; labels are never used "
                    + "(default ${DEFAULT-VALUE}).")
    String data;

    @Option(names = "--epochs", defaultValue = "1", description = "Epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--limit", defaultValue = "0", description = "Use at most N unlabelled images (0 = all).")
    int limit;

    @Option(names = "--temperature", defaultValue = "4", description = "Softmax temperature T (default ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--train", defaultValue = "alpha,beta,cds,bias,bn",
            description = "Groups to train, some of alpha,beta,cds,bias,bn (default ${DEFAULT-VALUE}).")
    String train;

    @Option(names = "--lr", defaultValue = "1e-3", description = "Adam learning rate (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--batch", defaultValue = "64", description = "Minibatch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the held-out split and shuffles "
            + "(default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--held-out", defaultValue = "0.1", description = "Fraction of the images held out for early "
            + "stopping on teacher agreement, 0 = off (default ${DEFAULT-VALUE}).")
    double heldOut;

    @Option(names = "--patience", defaultValue = "1", description = "Epochs without improvement before stopping "
            + "(default ${DEFAULT-VALUE}).")
    int patience;

    @Option(names = "--feature-layers", description = "Graph vertices whose activations the student should also "
            + "match (MSE), comma-separated; ComputationGraph models only.")
    String featureLayers;

    @Option(names = "--feature-weight", defaultValue = "1", description = "Weight of each feature term "
            + "(default ${DEFAULT-VALUE}).")
    double featureWeight;

    @Option(names = "--test-data", paramLabel = "fashion-mnist|DIR", description = "Labelled images the teacher"
            + " and student are scored on (default: fashion-mnist's test split when --data is fashion-mnist; required "
            + "otherwise).")
    String testData;

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--test-limit", defaultValue = "0", description = "Report on the first N test images (0 = all).")
    int testLimit;

    @Option(names = "--checkpoint", description = "Checkpoint folder (default <out>.checkpoint).")
    Path checkpoint;

    @Option(names = "--resume", description = "Continue the run in the checkpoint folder (a fresh start when empty).")
    boolean resume;

    @Option(names = "--out", required = true, description = "Adapted model file to write.")
    Path out;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    @Override
    public void validate() {
        OptionChecks.range("--epochs", epochs, 1, 100_000);
        OptionChecks.range("--limit", limit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--test-limit", testLimit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--batch", batch, 1, 100_000);
        OptionChecks.range("--patience", patience, 1, 100_000);
        OptionChecks.range("--temperature", temperature, 1e-6, 1e6);
        OptionChecks.range("--lr", lr, 1e-12, 10);
        OptionChecks.range("--held-out", heldOut, 0, 0.5);
        OptionChecks.range("--feature-weight", featureWeight, 0, 1e6);
        TrainableGroup.parse(train);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelOutput(files, "--out", out);
        OptionChecks.modelInput(files, "--teacher", teacher);
        OptionChecks.modelInput(files, "--student", student);
        files.output("--json", json)
                .workFolder(checkpoint == null ? "the checkpoint folder" : "--checkpoint", checkpoint != null
                        ? checkpoint : out.resolveSibling(out.getFileName() + ".checkpoint"));
        OptionChecks.dataFolder(files, "--data", data);
        OptionChecks.dataFolder(files, "--test-data", testData);
    }

    @Override
    public Integer call() throws Exception {
        List<String> features = featureLayers == null ? List.of()
                : Arrays.stream(featureLayers.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        DistillConfig config = new DistillConfig(temperature, epochs, batch, lr, TrainableGroup.parse(train), seed,
                heldOut, patience, features, featureWeight);
        io.github.dsconv.data.ImageSource source = io.github.dsconv.data.ImageSources.open(data,
                io.github.dsconv.data.FashionMnist.Split.TRAIN, preprocessing.preprocessing());
        String testName = testData != null ? testData
                : DistillModel.FASHION_MNIST.equals(data) ? DistillModel.FASHION_MNIST : null;
        io.github.dsconv.data.ImageSource test = testName == null ? null : io.github.dsconv.data.ImageSources.open(
                testName, io.github.dsconv.data.FashionMnist.Split.TEST, preprocessing.preprocessing());
        io.github.dsconv.data.InputSpec spec = preprocessing.imageSize == null ? null
                : DataOptions.specOf(io.github.dsconv.io.ModelFiles.load(teacher), preprocessing);
        DistillModel.Options o = new DistillModel.Options(teacher, student, source, limit, spec, config, test,
                testLimit, checkpoint, resume, out);
        Bar bar = new Bar(epochs);
        DistillModel.Result r;
        try {
            r = DistillModel.run(o, bar);
        } finally {
            bar.close();
        }
        System.out.printf(Locale.ROOT, "top-1 %.4f -> %.4f, agreement with the teacher %.4f -> %.4f on %d test images;"
                        + " %d epoch(s) (kept %d) on %d unlabelled images in %.0f s -> %s%n", r.before().top1(),
                r.after().top1(), r.before().agreement(), r.after().agreement(), r.testImages(), r.epochs(),
                r.bestEpoch(), r.images(), r.seconds(), r.out());
        java.io.PrintWriter err = commandSpec.commandLine().getErr();
        for (String w : r.warnings()) {
            err.println("dsconv: warning: " + w);
        }
        err.flush();
        JsonOutput.write(json, r);
        return 0;
    }

    /** A progress bar over the training images of the remaining epochs, with loss and teacher agreement. */
    private static final class Bar implements DistillListener {
        private final int epochs;
        private ProgressBar pb;

        Bar(int epochs) {
            this.epochs = epochs;
        }

        @Override
        public void onStart(int trainImages, int heldOutImages, int firstEpoch, int lastEpoch) {
            if (firstEpoch > 1) {
                System.err.printf(Locale.ROOT, "dsconv: resuming after epoch %d%n", firstEpoch - 1);
            }
            pb = Progress.bar("distill", (long) trainImages * Math.max(0, lastEpoch - firstEpoch + 1));
        }

        @Override
        public void onBatch(int epoch, int images, double loss, double meanLoss, double agreement) {
            pb.stepBy(images);
            pb.setExtraMessage(String.format(Locale.ROOT, "epoch %d/%d loss %.4f agree %.3f", epoch, epochs,
                    meanLoss, agreement));
        }

        @Override
        public void onEpochEnd(EpochStats s) {
            if (s.heldOutAgreement() != null) {
                pb.setExtraMessage(String.format(Locale.ROOT, "epoch %d/%d loss %.4f held-out agree %.4f", s.epoch(),
                        epochs, s.meanLoss(), s.heldOutAgreement()));
            }
        }

        void close() {
            if (pb != null) {
                pb.close();
            }
        }
    }
}
