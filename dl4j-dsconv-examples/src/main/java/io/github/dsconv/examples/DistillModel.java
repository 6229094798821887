package io.github.dsconv.examples;

import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.engine.Fp32Convolutions;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import io.github.dsconv.distill.DistillConfig;
import io.github.dsconv.distill.DistillListener;
import io.github.dsconv.distill.DistillResult;
import io.github.dsconv.distill.Distiller;
import io.github.dsconv.distill.EpochStats;
import io.github.dsconv.distill.TrainableGroup;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.provenance.Provenance;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Adapts a DSConv model to its FP32 original by distillation on unlabelled images (Hinton, Vinyals and Dean 2015,
 * "Distilling the Knowledge in a Neural Network"; DSConv, ICCV 2019) and saves it with a provenance file.
 *
 * <p>Training reads images only: the Fashion-MNIST training images (their label file is parsed by the shared
 * loader and dropped before distillation) or the images of a folder through {@link io.github.dsconv.data.ImageFolderSource}, whose labels
 * are ignored. Top-1 and agreement with the teacher are measured before and after on the labelled Fashion-MNIST
 * test split, only to report them. Checkpoints go to {@code <out>.checkpoint/} unless another folder is given.
 */
public final class DistillModel {

    /** {@code --data} value that selects the Fashion-MNIST training images. */
    public static final String FASHION_MNIST = "fashion-mnist";

    /**
     * Options.
     *
     * @param teacher        FP32 model file
     * @param student        DSConv model file (converted from the teacher)
     * @param data           the unlabelled images (labels, if any, are never read)
     * @param limit          at most this many unlabelled images ({@code 0}: all)
     * @param inputSpec      the input images are handed over as, or null for {@link ModelInputs#of} the teacher
     * @param config         distillation settings
     * @param test           labelled images to report top-1 and agreement on
     * @param testLimit      evaluate on the first N test images ({@code 0}: all)
     * @param checkpointDir  checkpoint folder, or null for {@code <out>.checkpoint}
     * @param resume         continue the run in the checkpoint folder
     * @param out            adapted model to write
     */
    public record Options(Path teacher, Path student, ImageSource data, int limit, InputSpec inputSpec,
                          DistillConfig config, ImageSource test, int testLimit, Path checkpointDir, boolean resume,
                          Path out) {
        public Options {
            if (limit < 0) {
                throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
            }
            if (testLimit < 0) {
                throw new IllegalArgumentException("--test-limit must be >= 0, got " + testLimit);
            }
            if (data == null) {
                throw new IllegalArgumentException("--data must be '" + FASHION_MNIST + "' or an image folder");
            }
            if (test == null) {
                throw new IllegalArgumentException("distillation reports on labelled test images: pass --test-data"
                        + " (fashion-mnist or a folder with one subfolder per class)");
            }
            if (!test.labelled()) {
                throw new IllegalArgumentException("--test-data must be labelled (one subfolder per class): "
                        + test.describe());
            }
        }

        /** The checkpoint folder actually used. */
        public Path checkpoints() {
            return checkpointDir != null ? checkpointDir : out.resolveSibling(out.getFileName() + ".checkpoint");
        }
    }

    /**
     * Top-1 on the labelled test images and agreement with the teacher's predictions there.
     *
     * @param top1      top-1 accuracy
     * @param agreement fraction of test images where the model predicts the teacher's class
     */
    public record Score(double top1, double agreement) {
    }

    /**
     * The result, as the {@code distill} command's JSON: the first five fields are the summary.
     *
     * @param epochs            epochs completed (including those of a resumed checkpoint)
     * @param images            unlabelled images read (training plus held-out)
     * @param seconds           wall time of the command
     * @param before            the student as given
     * @param after             the adapted student
     * @param testImages        labelled test images of the two scores
     * @param trainImages       images trained on per epoch
     * @param heldOutImages     images held out for early stopping
     * @param heldOutBefore     teacher agreement on them before, or null
     * @param heldOutBest       teacher agreement on them of the kept parameters, or null
     * @param bestEpoch         epoch kept (0 = the student as given)
     * @param stoppedEarly      whether early stopping ended the run
     * @param resumedFromEpoch  epochs taken from a checkpoint (0 = fresh run)
     * @param trainableParams   trained parameters by group
     * @param settings          the distillation settings
     * @param history           every epoch
     * @param out               the adapted model file
     * @param heldOutCheck      what the held-out check decided: {@code improved} (an epoch beat the student as
     *                          given), {@code kept-as-given} (none did, so the student is written unchanged) or
     *                          {@code none} ({@code --held-out 0}: no check was made, the last epoch is written)
     * @param warnings          what the user should know about the result (also printed on stderr)
     */
    public record Result(int epochs, int images, double seconds, Score before, Score after, int testImages,
                         int trainImages, int heldOutImages, Double heldOutBefore, Double heldOutBest, int bestEpoch,
                         boolean stoppedEarly, int resumedFromEpoch, Map<String, Long> trainableParams,
                         Map<String, Object> settings, List<EpochStats> history, String out,
                         String heldOutCheck, List<String> warnings) {
    }

    private DistillModel() {
    }

    /** The unlabelled images: features only, in the input the teacher takes. */
    public static INDArray unlabelledImages(Options o, Model teacher) throws IOException {
        InputSpec spec = o.data().resolve(o.inputSpec() != null ? o.inputSpec() : ModelInputs.of(teacher));
        int n = o.limit() > 0 ? Math.min(o.limit(), o.data().size()) : o.data().size();
        return o.data().features(spec, n);
    }

    /** {@link #run(Options, DistillListener)} without progress reporting. */
    public static Result run(Options o) throws IOException {
        return run(o, null);
    }

    /**
     * Loads, scores, distills, scores again and writes the model and its provenance. The teacher must be an FP32
     * model and the student a DSConv one, both with finite parameters; a wrong one is refused naming its file.
     *
     * @param o        options
     * @param progress distillation progress (may be null)
     */
    public static Result run(Options o, DistillListener progress) throws IOException {
        long t0 = System.nanoTime();
        Model teacher = ModelFiles.load(o.teacher());
        Model student = ModelFiles.load(o.student());
        ModelChecks.requireFp32(teacher, o.teacher().toString(), "distill --teacher needs the FP32 model");
        ModelChecks.requireDsconv(student, o.student().toString(),
                "distill --student needs the teacher's DSConv conversion (the output of quantize)");
        if (teacher.getClass() != student.getClass()) {
            throw new IllegalArgumentException("teacher is a " + teacher.getClass().getSimpleName()
                    + " but student a " + student.getClass().getSimpleName()
                    + "; the student must be the DSConv conversion of the teacher");
        }
        if (!o.resume() && Distiller.holdsRun(o.checkpoints())) {
            throw new IOException("checkpoint folder " + o.checkpoints() + " already holds a distillation run; pass "
                    + "--resume to continue it, or remove the folder or choose another with --checkpoint");
        }
        INDArray images = unlabelledImages(o, teacher);
        InputSpec testSpec = o.test().resolve(o.inputSpec() != null ? o.inputSpec() : ModelInputs.of(teacher));
        DataSetIterator test = o.test().cached(testSpec, 250, o.testLimit());
        Fp32Convolutions.enable(teacher);
        Outputs teacherOut = Outputs.collect(teacher, test, null);
        Score before = score(student, test, teacherOut);

        Distiller d = new Distiller(o.config()).withCheckpoints(o.checkpoints(), o.resume());
        if (progress != null) {
            d = d.withListener(progress);
        }
        DistillResult r = d.distill(teacher, student, images);
        Score after = score(r.student(), test, teacherOut);
        ModelFiles.save(r.student(), o.out(), false);

        Map<String, Long> counts = new LinkedHashMap<>();
        for (TrainableGroup g : TrainableGroup.values()) {
            if (r.trainableParams().containsKey(g)) {
                counts.put(g.cliName(), r.trainableParams().get(g));
            }
        }
        Result res = new Result(r.epochsRun(), (int) images.size(0), (System.nanoTime() - t0) / 1e9, before, after,
                teacherOut.size(), r.trainImages(), r.heldOutImages(), r.heldOutAgreementBefore(),
                r.heldOutAgreementBest(), r.bestEpoch(), r.stoppedEarly(), r.resumedFromEpoch(), counts,
                settings(o), r.history(), o.out().toString(), heldOutCheck(r), warnings(r, before, after));
        writeProvenance(o, res);
        return res;
    }

    private static String heldOutCheck(DistillResult r) {
        return r.heldOutImages() == 0 ? "none" : r.bestEpoch() == 0 ? "kept-as-given" : "improved";
    }

    /** The warnings of a run: no held-out check, no improvement on it, or a lower test agreement. */
    static List<String> warnings(DistillResult r, Score before, Score after) {
        List<String> w = new ArrayList<>();
        if (r.heldOutImages() == 0) {
            w.add("--held-out 0: no held-out check was made; the last epoch's parameters are written whether or not "
                    + "they are better than the student as given");
        } else if (r.bestEpoch() == 0) {
            w.add(String.format(java.util.Locale.ROOT, "no epoch improved the agreement with the teacher on the %d "
                    + "held-out images (%.4f as given); the student is written unchanged", r.heldOutImages(),
                    r.heldOutAgreementBefore()));
        }
        if (after.agreement() < before.agreement()) {
            w.add(String.format(java.util.Locale.ROOT, "agreement with the teacher on the test images fell from %.4f "
                    + "to %.4f", before.agreement(), after.agreement()));
        }
        return List.copyOf(w);
    }

    private static Score score(Model m, DataSetIterator test, Outputs teacherOut) {
        Outputs out = Outputs.collect(m, test, null);
        return new Score(out.top1(), out.agreement(teacherOut));
    }

    private static Map<String, Object> settings(Options o) {
        DistillConfig c = o.config();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("teacher", o.teacher().toString());
        m.put("student", o.student().toString());
        m.put("data", o.data().name());
        m.put("testData", o.test().name());
        m.put("limit", o.limit());
        m.put("temperature", c.temperature());
        m.put("epochs", c.epochs());
        m.put("batchSize", c.batchSize());
        m.put("learningRate", c.learningRate());
        m.put("updater", "Adam");
        m.put("train", c.trainableNames());
        m.put("seed", c.seed());
        m.put("heldOutFraction", c.heldOutFraction());
        m.put("patience", c.patience());
        m.put("featureLayers", new ArrayList<>(c.featureLayers()));
        m.put("featureWeight", c.featureWeight());
        m.put("checkpoints", o.checkpoints().toString());
        return m;
    }

    /** The command line that reproduces a run. */
    public static String command(Options o) {
        DistillConfig c = o.config();
        StringBuilder b = new StringBuilder("./dsconv distill --teacher ").append(o.teacher())
                .append(" --student ").append(o.student()).append(" --data ").append(o.data().name())
                .append(" --epochs ").append(c.epochs()).append(" --temperature ").append(c.temperature())
                .append(" --train ").append(String.join(",", c.trainableNames()))
                .append(" --lr ").append(c.learningRate()).append(" --batch ").append(c.batchSize())
                .append(" --seed ").append(c.seed()).append(" --held-out ").append(c.heldOutFraction())
                .append(" --patience ").append(c.patience());
        if (o.limit() > 0) {
            b.append(" --limit ").append(o.limit());
        }
        if (!c.featureLayers().isEmpty()) {
            b.append(" --feature-layers ").append(String.join(",", c.featureLayers()))
                    .append(" --feature-weight ").append(c.featureWeight());
        }
        return b.append(" --out ").append(o.out()).toString();
    }

    private static void writeProvenance(Options o, Result r) throws IOException {
        Provenance n = Provenance.record();
        n.put("model", o.out().getFileName().toString());
        n.put("arch", Provenance.archOf(o.student()));
        n.put("command", command(o));
        n.put("method", "knowledge distillation (Hinton et al. 2015), T^2 KL(softmax(z_t/T) || softmax(z_s/T)),"
                + " Adam, q frozen");
        n.set("settings", Json.MAPPER.valueToTree(r.settings()));
        n.set("result", Json.MAPPER.valueToTree(Map.of("epochs", r.epochs(), "bestEpoch", r.bestEpoch(),
                "images", r.images(), "before", r.before(), "after", r.after(), "testImages", r.testImages())));
        n.put("data", o.data().describe() + " (labels unused)");
        n.put("testData", o.test().describe());
        n.stamp();
        n.writeFor(o.out());
    }

    /** Trainable groups from a comma-separated list (see {@link TrainableGroup#parse}). */
    public static Set<TrainableGroup> groups(String csv) {
        return TrainableGroup.parse(csv);
    }
}
