package io.github.dsconv.distill;

import io.github.dsconv.eval.Logits;
import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Adapts a DSConv student to its FP32 teacher by knowledge distillation on unlabelled images.
 *
 * <p>Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural Network" (arXiv:1503.02531, 2015) give the
 * loss {@code T^2 KL(softmax(z_t/T) || softmax(z_s/T))} ({@link DistillationLoss}); DSConv (Nascimento, Fawcett and
 * Prisacariu, ICCV 2019) gives the student, whose integer kernels {@code q} stay fixed while the float scales
 * {@code alpha}, {@code beta}, CDS, conv biases and batch-norm scale and shift can be trained (each group
 * switchable, {@link TrainableGroup}). With {@link DistillConfig#featureLayers()} a ComputationGraph student also
 * matches the teacher's activations at named vertices (mean squared error).
 *
 * <p>Training is DL4J's own: a training copy of the student ({@code TrainingNets}: frozen layers in
 * {@code FrozenLayerWithBackprop}, the loss in a {@code LossLayer}, Adam updaters, workspaces) is fitted one
 * minibatch at a time with the teacher's soft targets as labels, computed per minibatch from the teacher's logits;
 * a DL4J training listener reports loss and teacher agreement. Labels are never read: the API takes images only
 * (a {@link DataSetIterator}'s labels are ignored).
 *
 * <p>A run is deterministic for a seed (on the same machine and thread count): the held-out split and the shuffle
 * of every epoch are drawn from {@code seed} alone. With a checkpoint folder the training network, its updater
 * state and the run's state are written atomically after each epoch ({@code Checkpoints}); a run resumed from it
 * continues with the next epoch and ends with the parameters an uninterrupted run would have. After each epoch,
 * teacher agreement on the held-out images decides early stopping ({@code patience} epochs without a strict
 * improvement); the best epoch's parameters are kept, the student as given counting as epoch 0.
 */
public final class Distiller {

    /** Minibatch size of the agreement and teacher passes outside training. */
    private static final int EVAL_BATCH = 256;

    private final DistillConfig config;
    private final Path checkpointDir;
    private final boolean resume;
    private final DistillListener listener;

    /** A distiller without checkpoints or progress callbacks. */
    public Distiller(DistillConfig config) {
        this(config, null, false, null);
    }

    private Distiller(DistillConfig config, Path checkpointDir, boolean resume, DistillListener listener) {
        this.config = java.util.Objects.requireNonNull(config, "config");
        this.checkpointDir = checkpointDir;
        this.resume = resume;
        this.listener = listener == null ? new DistillListener() { } : listener;
    }

    /**
     * A copy that checkpoints every epoch into {@code dir}.
     *
     * @param dir    checkpoint folder (created when missing)
     * @param resume continue the run the folder holds (a fresh start when it holds none); without it a folder
     *               that already holds a run is an error, so that progress is never overwritten by accident
     */
    public Distiller withCheckpoints(Path dir, boolean resume) {
        return new Distiller(config, dir, resume, listener);
    }

    /** A copy that reports progress to {@code l}. */
    public Distiller withListener(DistillListener l) {
        return new Distiller(config, checkpointDir, resume, l);
    }

    /** The settings. */
    public DistillConfig config() {
        return config;
    }

    /** Whether a checkpoint folder holds a (possibly finished) distillation run that could be resumed. */
    public static boolean holdsRun(Path dir) {
        return java.nio.file.Files.isRegularFile(dir.resolve(Checkpoints.STATE_FILE));
    }

    /**
     * Distills on the features of every batch of {@code unlabelled}; its labels are never read.
     *
     * @param teacher    the FP32 network (not modified)
     * @param student    its DSConv copy (not modified)
     * @param unlabelled images; labels, if present, are ignored
     */
    public DistillResult distill(Model teacher, Model student, DataSetIterator unlabelled) throws IOException {
        requireTeacherAndStudent(teacher, student);
        return distill(teacher, student, UnlabelledImages.from(unlabelled, 0));
    }

    /**
     * Distills on a stack of images.
     *
     * @param teacher the FP32 network (not modified)
     * @param student its DSConv copy (not modified)
     * @param images  {@code [n, ...]} network inputs, at least 2
     * @return the adapted student and the run's history
     * @throws IOException when a checkpoint cannot be written or read
     * @throws IllegalArgumentException before any work when {@link #requireTeacherAndStudent} refuses the pair
     */
    public DistillResult distill(Model teacher, Model student, INDArray images) throws IOException {
        long t0 = System.nanoTime();
        requireTeacherAndStudent(teacher, student);
        if (images.rank() < 2 || images.size(0) < 2) {
            throw new IllegalArgumentException("need at least 2 unlabelled images, got shape "
                    + Arrays.toString(images.shape()));
        }
        INDArray x = images.dataType() == DataType.FLOAT && images.ordering() == 'c' && !images.isView() ? images
                : images.castTo(DataType.FLOAT).dup('c');
        int n = Math.toIntExact(x.size(0));
        Nd4j.getRandom().setSeed(config.seed());

        int[][] split = split(n);
        int[] train = split[0];
        int[] held = split[1];
        boolean early = held.length > 0;
        Map<String, long[]> featureShapes = featureShapes(teacher, student, x);
        TrainingNets.Built built = TrainingNets.build(student, config, featureShapes);
        Model net = built.net();
        int[] heldTeacher = early ? teacherClasses(teacher, x, held) : null;

        Map<String, String> fingerprint = fingerprint(teacher, student, x);
        Checkpoints ck = checkpointDir == null ? null : new Checkpoints(checkpointDir);
        Checkpoints.State state = ck == null ? null : ck.read();
        String kind = Network.of(net).kind();

        int done = 0;
        int bestEpoch = 0;
        int since = 0;
        boolean stopped = false;
        Double before;
        Double best;
        INDArray bestParams = null;
        List<EpochStats> history = new ArrayList<>();
        if (state != null) {
            if (!resume) {
                throw new IOException("checkpoint folder " + ck.dir() + " already holds a distillation run ("
                        + state.epochsCompleted() + " epochs done); resume it or use an empty folder");
            }
            ck.requireSameRun(state, fingerprint);
            net = ck.restore(state.latestFile(), kind, true);
            done = state.epochsCompleted();
            bestEpoch = state.bestEpoch();
            since = state.epochsWithoutImprovement();
            stopped = state.stopped();
            before = state.agreementBefore();
            best = state.bestAgreement();
            history.addAll(state.history());
            if (bestEpoch == done) {
                bestParams = net.params().dup();
            } else if (bestEpoch > 0) {
                bestParams = ck.restore(state.bestFile(), kind, false).params().dup();
            }
        } else {
            before = early ? agreement(net, x, held, heldTeacher) : null;
            best = before;
        }
        int resumedFrom = done;

        AgreementListener al = new AgreementListener(built.logitsLayer(), built.logitsVertex());
        net.setListeners(al);
        listener.onStart(train.length, held.length, done + 1, config.epochs());
        for (int epoch = done + 1; epoch <= config.epochs() && !stopped; epoch++) {
            long te = System.nanoTime();
            int[] order = shuffle(train, epoch);
            double lossSum = 0;
            long agreed = 0;
            long seen = 0;
            for (int from = 0; from < order.length; from += config.batchSize()) {
                int[] idx = Arrays.copyOfRange(order, from, Math.min(order.length, from + config.batchSize()));
                INDArray xb = rows(x, idx);
                Targets t = targets(teacher, xb);
                al.expect(t.classes());
                fit(net, xb, t);
                double loss = al.score();
                lossSum += loss * idx.length;
                seen += idx.length;
                agreed += Math.max(0, al.agreed());
                listener.onBatch(epoch, idx.length, loss, lossSum / seen, (double) agreed / seen);
            }
            incrementEpoch(net);
            Double agreement = early ? agreement(net, x, held, heldTeacher) : null;
            if (!early || agreement > best) {
                best = agreement;
                bestEpoch = epoch;
                since = 0;
                bestParams = net.params().dup();
            } else {
                since++;
                stopped = since >= config.patience();
            }
            EpochStats es = new EpochStats(epoch, lossSum / Math.max(1, seen), (double) agreed / Math.max(1, seen),
                    agreement, (System.nanoTime() - te) / 1e9);
            history.add(es);
            if (ck != null) {
                ck.save(net, new Checkpoints.State(Checkpoints.FORMAT_VERSION, fingerprint, epoch, bestEpoch, best,
                        before, since, stopped, Checkpoints.fileOf(epoch),
                        bestEpoch == 0 ? null : Checkpoints.fileOf(bestEpoch), history));
            }
            listener.onEpochEnd(es);
        }

        Model out = copyOf(student);
        if (bestEpoch > 0) {
            net.setParams(bestParams);
            TrainingNets.copyParams(net, out);
        }
        int epochsRun = history.size();
        return new DistillResult(out, epochsRun, bestEpoch, stopped && epochsRun < config.epochs(), history,
                train.length, held.length, before, best, built.trainableParams(), resumedFrom,
                (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Checks a teacher and student before any work: every parameter of both finite, the teacher FP32 (no DSConv
     * layer) and the student a DSConv model. Distilling into an FP32 "student" would train its batch norms and
     * biases towards a copy of itself and report success.
     *
     * @throws IllegalArgumentException one line naming {@code teacher} or {@code student} and what was found
     */
    public static void requireTeacherAndStudent(Model teacher, Model student) {
        ModelChecks.requireFinite(teacher, "teacher");
        ModelChecks.requireFinite(student, "student");
        ModelChecks.requireFp32(teacher, "teacher", "the teacher must be the FP32 model");
        ModelChecks.requireDsconv(student, "student", "the student must be the DSConv conversion of the teacher");
    }

    /**
     * Fraction of images on which two classifiers predict the same class (top-1 agreement), in batches.
     *
     * @param teacher  the reference
     * @param student  the model compared with it
     * @param images   {@code [n, ...]} inputs
     */
    public static double agreement(Model teacher, Model student, INDArray images) {
        int n = Math.toIntExact(images.size(0));
        int same = 0;
        for (int from = 0; from < n; from += EVAL_BATCH) {
            INDArray xb = images.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(from, Math.min(n,
                    from + EVAL_BATCH)));
            int[] a = Logits.of(teacher, xb).argMax(1).toIntVector();
            int[] b = Logits.of(student, xb).argMax(1).toIntVector();
            for (int i = 0; i < a.length; i++) {
                if (a[i] == b[i]) {
                    same++;
                }
            }
        }
        return (double) same / n;
    }

    /** Soft targets, predicted classes and feature targets of the teacher for one minibatch. */
    private record Targets(INDArray probs, int[] classes, INDArray[] features) {
    }

    private Targets targets(Model teacher, INDArray xb) {
        INDArray z = Logits.of(teacher, xb);
        INDArray p = DistillationLoss.softTargets(z, config.temperature());
        int[] classes = z.argMax(1).toIntVector();
        INDArray[] feats = new INDArray[config.featureLayers().size()];
        if (feats.length > 0) {
            Map<String, INDArray> acts = Network.of(teacher).feedForward(xb);
            for (int i = 0; i < feats.length; i++) {
                feats[i] = acts.get(config.featureLayers().get(i));
            }
        }
        return new Targets(p, classes, feats);
    }

    private static void fit(Model net, INDArray xb, Targets t) {
        INDArray[] labels = new INDArray[1 + t.features().length];
        labels[0] = t.probs();
        System.arraycopy(t.features(), 0, labels, 1, t.features().length);
        Network.of(net).fit(xb, labels);
    }

    /** The training network's logits: the distillation loss layer has an identity activation. */
    private static INDArray trainingLogits(Model net, INDArray xb) {
        return Network.of(net).outputs(xb)[0];
    }

    private static double agreement(Model net, INDArray x, int[] idx, int[] teacherClasses) {
        int same = 0;
        for (int from = 0; from < idx.length; from += EVAL_BATCH) {
            int[] part = Arrays.copyOfRange(idx, from, Math.min(idx.length, from + EVAL_BATCH));
            int[] s = trainingLogits(net, rows(x, part)).argMax(1).toIntVector();
            for (int i = 0; i < s.length; i++) {
                if (s[i] == teacherClasses[from + i]) {
                    same++;
                }
            }
        }
        return (double) same / idx.length;
    }

    private static int[] teacherClasses(Model teacher, INDArray x, int[] idx) {
        int[] out = new int[idx.length];
        for (int from = 0; from < idx.length; from += EVAL_BATCH) {
            int[] part = Arrays.copyOfRange(idx, from, Math.min(idx.length, from + EVAL_BATCH));
            int[] c = Logits.of(teacher, rows(x, part)).argMax(1).toIntVector();
            System.arraycopy(c, 0, out, from, c.length);
        }
        return out;
    }

    /** Training and held-out indices: a seeded permutation, the first {@code round(f n)} held out. */
    private int[][] split(int n) {
        int[] perm = permutation(n, new Random(config.seed()));
        int held = (int) Math.round(config.heldOutFraction() * n);
        if (config.heldOutFraction() > 0) {
            held = Math.max(1, Math.min(n - 1, held));
        }
        int[] h = Arrays.copyOfRange(perm, 0, held);
        int[] t = Arrays.copyOfRange(perm, held, n);
        Arrays.sort(h);
        Arrays.sort(t);
        return new int[][] {t, h};
    }

    /** The training order of an epoch: depends on the seed and the epoch only, so a resumed run repeats it. */
    private int[] shuffle(int[] train, int epoch) {
        Random r = new Random(config.seed() * 1_000_003L + epoch);
        int[] p = permutation(train.length, r);
        int[] out = new int[train.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = train[p[i]];
        }
        return out;
    }

    private static int[] permutation(int n, Random r) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    private static INDArray rows(INDArray x, int[] idx) {
        long[] shape = x.shape().clone();
        shape[0] = idx.length;
        return Nd4j.pullRows(x.reshape('c', x.size(0), -1), 1, idx).reshape('c', shape);
    }

    /** Activation shapes of the feature layers, checked to exist with equal shapes in teacher and student. */
    private Map<String, long[]> featureShapes(Model teacher, Model student, INDArray x) {
        Map<String, long[]> out = new LinkedHashMap<>();
        if (config.featureLayers().isEmpty()) {
            return out;
        }
        Network s = Network.of(student);
        Network t = Network.of(teacher);
        if (!s.isGraph() || !t.isGraph()) {
            throw new IllegalArgumentException("feature distillation at named layers " + config.featureLayers()
                    + " needs ComputationGraph teacher and student; this is a " + teacher.getClass().getSimpleName()
                    + " teacher and a " + student.getClass().getSimpleName() + " student (use logits only)");
        }
        INDArray x2 = rows(x, new int[] {0, 1});
        Map<String, INDArray> ta = t.feedForward(x2);
        Map<String, INDArray> sa = s.feedForward(x2);
        for (String f : config.featureLayers()) {
            INDArray a = ta.get(f);
            INDArray b = sa.get(f);
            if (a == null || b == null) {
                throw new IllegalArgumentException("feature layer '" + f + "' is not a vertex of the "
                        + (a == null ? "teacher" : "student") + " graph");
            }
            if (!Arrays.equals(a.shape(), b.shape())) {
                throw new IllegalArgumentException("feature layer '" + f + "': teacher activation "
                        + Arrays.toString(a.shape()) + " and student activation " + Arrays.toString(b.shape())
                        + " differ");
            }
            out.put(f, a.shape());
        }
        return out;
    }

    /** What a resumed run must share with its checkpoint: settings (except epochs and patience) and data. */
    private Map<String, String> fingerprint(Model teacher, Model student, INDArray x) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("temperature", Double.toString(config.temperature()));
        f.put("learningRate", Double.toString(config.learningRate()));
        f.put("batchSize", Integer.toString(config.batchSize()));
        f.put("trainable", String.join(",", config.trainableNames()));
        f.put("seed", Long.toString(config.seed()));
        f.put("heldOutFraction", Double.toString(config.heldOutFraction()));
        f.put("featureLayers", String.join(",", config.featureLayers()));
        f.put("featureWeight", Double.toString(config.featureWeight()));
        f.put("images", Arrays.toString(x.shape()));
        f.put("imagesChecksum", checksum(x));
        f.put("teacherParams", checksum(teacher.params()));
        f.put("studentParams", checksum(student.params()));
        return f;
    }

    /** A cheap content summary: length, sum and norm to 6 significant digits. */
    private static String checksum(INDArray a) {
        if (a == null) {
            return "none";
        }
        return String.format(Locale.ROOT, "n=%d,sum=%.6g,norm=%.6g", a.length(), a.sumNumber().doubleValue(),
                a.norm2Number().doubleValue());
    }

    private static void incrementEpoch(Model net) {
        Network.of(net).incrementEpochCount();
    }

    private static Model copyOf(Model m) {
        return Network.of(m).copy().model();
    }
}
