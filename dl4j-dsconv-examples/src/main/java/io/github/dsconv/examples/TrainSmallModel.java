package io.github.dsconv.examples;

import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.eval.Accuracy;
import io.github.dsconv.eval.Networks;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.zoo.small.SmallFamilies;
import io.github.dsconv.zoo.small.SmallModels;
import io.github.dsconv.nn.Network;
import io.github.dsconv.provenance.Provenance;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Trains one of the small architectures on Fashion-MNIST and saves it with a provenance file
 * ({@code <out>.provenance.json}: command, seed, epochs, accuracy, library version, date).
 */
public final class TrainSmallModel {

    /** Supported architectures. */
    public static final String[] ARCHS = {"resnet", "vgg", "googlenet", "densenet"};

    /**
     * Options.
     *
     * @param arch      {@code resnet}, {@code vgg}, {@code googlenet} or {@code densenet}
     * @param epochs    training epochs over the (limited) training set
     * @param seed      initialisation and shuffling seed
     * @param batchSize minibatch size
     * @param trainLimit at most this many training images ({@code <= 0}: all 60,000)
     * @param testLimit  at most this many test images ({@code <= 0}: all 10,000)
     * @param out       model file to write
     * @param init      a saved model of the same arch to continue training from (null: start from random init)
     */
    public record Options(String arch, int epochs, long seed, int batchSize, int trainLimit, int testLimit, Path out,
                          Path init) {
        /** Options that train from random initialisation. */
        public Options(String arch, int epochs, long seed, int batchSize, int trainLimit, int testLimit, Path out) {
            this(arch, epochs, seed, batchSize, trainLimit, testLimit, out, null);
        }

        public Options {
            if (!java.util.Arrays.asList(ARCHS).contains(arch)) {
                throw new IllegalArgumentException("unknown --arch '" + arch + "' (expected one of "
                        + String.join(", ", ARCHS) + ")");
            }
            if (epochs <= 0) {
                throw new IllegalArgumentException("--epochs must be positive, got " + epochs);
            }
            if (batchSize <= 0) {
                throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
            }
            if (trainLimit < 0 || testLimit < 0) {
                throw new IllegalArgumentException("--train-limit and --test-limit must be >= 0, got " + trainLimit
                        + " and " + testLimit);
            }
        }
    }

    /** What training produced. */
    public record Result(String arch, String model, int epochs, long seed, int trainImages, int testImages,
                         double top1, double seconds, long params) {
    }

    private TrainSmallModel() {
    }

    /** Builds an untrained model of an architecture. */
    public static Model build(String arch, long seed, int epochs) {
        return switch (arch) {
            case "resnet" -> SmallModels.resnet(seed, epochs);
            case "vgg" -> SmallModels.vgg(seed, epochs);
            case "googlenet" -> SmallFamilies.googlenet(seed, epochs);
            case "densenet" -> SmallFamilies.densenet(seed, epochs);
            default -> throw new IllegalArgumentException("unknown arch '" + arch + "'");
        };
    }

    /**
     * Trains, evaluates and saves.
     *
     * @param o          options
     * @param onBatch    called with the images of each trained batch (progress), may be null
     * @param onEpochEnd called after each epoch with the epoch number, may be null
     */
    public static Result run(Options o, IntConsumer onBatch, IntConsumer onEpochEnd) throws IOException {
        long t0 = System.nanoTime();
        DataSet train = FashionMnist.load(FashionMnist.Split.TRAIN, o.trainLimit());
        DataSet test = FashionMnist.load(FashionMnist.Split.TEST, o.testLimit());
        int iterationsPerEpoch = (train.numExamples() + o.batchSize() - 1) / o.batchSize();
        Model model;
        if (o.init() != null) {
            model = ModelFiles.load(o.init());
            ModelChecks.requireFp32(model, o.init().toString(), "train --init continues training an FP32 model");
            checkSameArch(o, model);
            continuationSchedule(model, iterationsPerEpoch * o.epochs());
        } else {
            model = build(o.arch(), o.seed(), o.epochs());
            if (o.epochs() == 1) {
                oneEpochSchedule(model, iterationsPerEpoch);
            }
        }
        InMemoryIterator it = new InMemoryIterator(train, o.batchSize(), true, o.seed());
        for (int epoch = 0; epoch < o.epochs(); epoch++) {
            if (epoch > 0) {
                it.reset();
            }
            while (it.hasNext()) {
                DataSet b = it.next();
                Networks.fit(model, b);
                if (onBatch != null) {
                    onBatch.accept(b.numExamples());
                }
            }
            incrementEpoch(model);
            if (onEpochEnd != null) {
                onEpochEnd.accept(epoch + 1);
            }
        }
        double top1 = Accuracy.top1(model, new InMemoryIterator(test, 500), null);
        ModelFiles.save(model, o.out(), false);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Result r = new Result(o.arch(), o.out().toString(), o.epochs(), o.seed(), train.numExamples(), test.numExamples(),
                top1, seconds, model.numParams());
        writeProvenance(o, r);
        return r;
    }

    /**
     * A one-epoch run has no "last epoch" to lower the learning rate in, so it drops from 1e-3 to 2e-4 for the last
     * 30% of its iterations instead (the multi-epoch schedule of {@link SmallModels} lowers it for the last epoch).
     */
    public static void oneEpochSchedule(Model model, int iterations) {
        stepSchedule(model, 0, iterations, 1e-3, 2e-4);
    }

    /**
     * Continuing a trained model restarts Adam's moments (the committed files do not keep the updater state), so it
     * starts lower than a fresh run: 5e-4, then 1e-4 for the last 30% of the iterations. The loaded model's iteration
     * counter keeps running from where its first training stopped, so the schedule's keys are offset by it.
     */
    public static void continuationSchedule(Model model, int iterations) {
        int done = Network.of(model).iterationCount();
        stepSchedule(model, done, iterations, 5e-4, 1e-4);
    }

    /** Learning rate {@code first}, then {@code last} from 70% of {@code iterations} after iteration {@code start}. */
    private static void stepSchedule(Model model, int start, int iterations, double first, double last) {
        Map<Integer, Double> lr = new HashMap<>();
        lr.put(0, first);
        lr.put(start + (int) Math.round(0.7 * iterations), last);
        MapSchedule s = new MapSchedule(ScheduleType.ITERATION, lr);
        Network.of(model).setLearningRate(s);
    }

    /** The file given to {@code --init} must hold the architecture being trained (same parameter count). */
    private static void checkSameArch(Options o, Model model) {
        long expected = build(o.arch(), o.seed(), 1).numParams();
        if (model.numParams() != expected) {
            throw new IllegalArgumentException("--init " + o.init() + " holds a model with " + model.numParams()
                    + " parameters, not the small " + o.arch() + " (" + expected + ")");
        }
    }

    /** DL4J's epoch-based schedules need the epoch counter advanced when fitting minibatch by minibatch. */
    private static void incrementEpoch(Model model) {
        Network net = Network.of(model);
        net.setEpochCount(net.epochCount() + 1);
    }

    private static void writeProvenance(Options o, Result r) throws IOException {
        Provenance n = Provenance.record();
        n.put("model", o.out().getFileName().toString());
        n.put("arch", o.arch());
        n.put("command", "./dsconv train --arch " + o.arch() + " --epochs " + o.epochs() + " --seed " + o.seed()
                + " --batch " + o.batchSize() + (o.trainLimit() > 0 ? " --train-limit " + o.trainLimit() : "")
                + (o.testLimit() > 0 ? " --test-limit " + o.testLimit() : "")
                + (o.init() != null ? " --init " + o.init() : "")
                + " --out " + o.out());
        n.put("seed", o.seed());
        n.put("epochs", o.epochs());
        n.put("batchSize", o.batchSize());
        n.put("trainImages", r.trainImages());
        n.put("testImages", r.testImages());
        n.put("top1", r.top1());
        n.put("params", r.params());
        n.put("seconds", Math.round(r.seconds() * 10) / 10.0);
        n.put("data", "Fashion-MNIST IDX files (Debian dataset-fashion-mnist), pixels / 255");
        n.stamp();
        if (o.init() != null) {
            Path previous = Provenance.fileOf(o.init());
            if (java.nio.file.Files.isRegularFile(previous)) {
                n.set("initFrom", Json.MAPPER.readTree(previous.toFile()));
            } else {
                n.put("initFrom", o.init().toString() + " (no provenance file)");
            }
        }
        n.writeFor(o.out());
    }
}
