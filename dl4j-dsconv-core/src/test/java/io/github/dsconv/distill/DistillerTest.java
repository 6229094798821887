package io.github.dsconv.distill;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.datasets.iterator.ExistingDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.nd4j.linalg.learning.regularization.L2Regularization;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Distiller} on the tiny networks of {@link TinyNets} converted at W2 with KDS bias and CDS (so that every
 * trainable group exists), random teachers and random images: the loss goes down, {@code q} and every unselected
 * group stay bit-identical, labels cannot matter, runs repeat exactly, and a resumed run ends where an
 * uninterrupted one does.
 */
class DistillerTest {

    private static final ConversionPlan PLAN = ConversionPlan.uniform(new LayerSpec(2, 8, 8))
            .withMethod(true, true, false);

    /**
     * Small batches, no held-out split unless a test asks for one, and Adam at 1e-4: these students start within
     * 0.003 of their teachers, and one Adam step of 1e-3 on the CDS shift (added to all 360 weights of an output
     * channel) or the KDS shift overshoots that.
     */
    private static final DistillConfig QUICK = DistillConfig.defaults().withBatchSize(16).withLearningRate(1e-4)
            .withEarlyStopping(0, 1);

    private static Threads threads;

    @BeforeAll
    static void oneThread() {
        threads = Threads.one();
    }

    @AfterAll
    static void restoreThreads() {
        threads.close();
    }

    /**
     * A random-weight teacher whose logits are scaled up 10x (to a standard deviation near 1), so that its soft
     * targets are not nearly uniform; at W2 its student then disagrees with it on 10-15% of random inputs.
     */
    private static MultiLayerNetwork teacherMln() {
        MultiLayerNetwork net = TinyNets.mln(11, CNN2DFormat.NCHW);
        net.getLayer(5).getParam("W").muli(10);
        return net;
    }

    private static ComputationGraph teacherGraph() {
        ComputationGraph net = TinyNets.residualGraph(12, CNN2DFormat.NCHW);
        net.getLayer("out").getParam("W").muli(10);
        return net;
    }

    private static Model student(Model teacher) {
        return new DSConvConverter(PLAN).convert(teacher).network();
    }

    private static INDArray mlnImages(long seed, int n) {
        return TinyNets.random(seed, DataType.FLOAT, n, 3, 9, 9);
    }

    private static INDArray graphImages(long seed, int n) {
        return TinyNets.random(seed, DataType.FLOAT, n, 3, 8, 8);
    }

    /** Mean distillation loss of a student against the teacher over some images. */
    private static double kdLoss(Model teacher, Model student, INDArray x, double t) {
        INDArray p = DistillationLoss.softTargets(Logits.of(teacher, x), t);
        return new DistillationLoss(t).computeScore(p, Logits.of(student, x),
                new org.nd4j.linalg.activations.impl.ActivationIdentity(), null, true);
    }

    /** Every parameter by its network key ({@code 0_alpha}, {@code b1a_b}, ...), as exact float bits. */
    private static Map<String, float[]> params(Model m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : m.paramTable().entrySet()) {
            out.put(e.getKey(), e.getValue().dup('c').data().asFloat());
        }
        return out;
    }

    private static Layer layerOf(Model m, String key) {
        String layer = key.substring(0, key.lastIndexOf('_'));
        if (m instanceof MultiLayerNetwork mln) {
            return mln.getLayerWiseConfigurations().getConf(Integer.parseInt(layer)).getLayer();
        }
        return ((LayerVertex) ((ComputationGraph) m).getConfiguration().getVertices().get(layer)).getLayerConf()
                .getLayer();
    }

    /** The group a parameter belongs to, or null when distillation never trains it. */
    private static TrainableGroup groupOf(Model m, String key) {
        String p = key.substring(key.lastIndexOf('_') + 1);
        Layer l = layerOf(m, key);
        if (l instanceof DSConvLayer) {
            for (TrainableGroup g : TrainableGroup.values()) {
                if (g.dsconvParams().contains(p)) {
                    return g;
                }
            }
            return null;
        }
        if (l instanceof BatchNormalization && (p.equals("gamma") || p.equals("beta"))) {
            return TrainableGroup.BN;
        }
        return null;
    }

    private static void assertOnlySelectedChanged(Model before, Model after, Set<TrainableGroup> selected) {
        Map<String, float[]> a = params(before);
        Map<String, float[]> b = params(after);
        assertEquals(a.keySet(), b.keySet());
        int changed = 0;
        for (String key : a.keySet()) {
            TrainableGroup g = groupOf(before, key);
            if (g != null && selected.contains(g)) {
                assertFalse(java.util.Arrays.equals(a.get(key), b.get(key)), key + " (" + g + ") did not change");
                changed++;
            } else {
                assertArrayEquals(a.get(key), b.get(key), key + " changed although " + g + " is not trained");
            }
        }
        assertTrue(changed > 0, "nothing was checked to change");
    }

    /** The objective falls on the images trained on (random images carry little that generalizes). */
    @Test
    void lossDecreasesAndQStaysBitIdentical() throws IOException {
        MultiLayerNetwork teacher = teacherMln();
        Model student = student(teacher);
        INDArray x = mlnImages(1, 64);
        INDArray unseen = mlnImages(2, 64);
        Map<String, float[]> before = params(student);
        double t = DistillConfig.DEFAULT_TEMPERATURE;
        double lossBefore = kdLoss(teacher, student, x, t);
        double unseenBefore = kdLoss(teacher, student, unseen, t);
        DistillResult r = new Distiller(QUICK.withEpochs(3)).distill(teacher, student, x);
        double lossAfter = kdLoss(teacher, r.student(), x, t);
        System.out.printf("tiny MLN: mean minibatch loss per epoch %s; loss on the training images %.5f -> %.5f, "
                        + "on unseen random images %.5f -> %.5f%n",
                r.history().stream().map(e -> String.format("%.5f", e.meanLoss())).toList(), lossBefore, lossAfter,
                unseenBefore, kdLoss(teacher, r.student(), unseen, t));
        assertTrue(lossAfter < 0.9 * lossBefore, lossBefore + " -> " + lossAfter);
        assertTrue(r.history().get(2).meanLoss() < r.history().get(0).meanLoss());
        Map<String, float[]> after = params(r.student());
        for (String key : before.keySet()) {
            if (key.endsWith("_q")) {
                assertArrayEquals(before.get(key), after.get(key), key);
            }
        }
        assertArrayEquals(before.get("1_mean"), after.get("1_mean"), "running statistics are never re-estimated");
        assertEquals(3, r.epochsRun());
        assertEquals(3, r.bestEpoch());
        assertEquals(64, r.trainImages());
        assertEquals(0, r.heldOutImages());
        // The input student is untouched, and the result keeps the softmax head.
        assertEquals(before.keySet(), params(student).keySet());
        assertArrayEquals(before.get("0_alpha"), params(student).get("0_alpha"));
        INDArray probs = ((MultiLayerNetwork) r.student()).output(unseen);
        assertEquals(64.0, probs.sumNumber().doubleValue(), 1e-3);
    }

    @Test
    void onlySelectedGroupsChange() throws IOException {
        MultiLayerNetwork teacher = teacherMln();
        Model student = student(teacher);
        // L2 on every layer of the student must not move anything distillation does not train.
        for (NeuralNetConfiguration nnc : ((MultiLayerNetwork) student).getLayerWiseConfigurations().getConfs()) {
            if (nnc.getLayer() instanceof BaseLayer b) {
                b.setRegularization(new ArrayList<>(List.of(new L2Regularization(1e-2))));
                b.setRegularizationBias(new ArrayList<>(List.of(new L2Regularization(1e-2))));
            }
        }
        INDArray x = mlnImages(3, 48);
        List<Set<TrainableGroup>> cases = List.of(EnumSet.of(TrainableGroup.ALPHA),
                EnumSet.of(TrainableGroup.BETA, TrainableGroup.BIAS), EnumSet.of(TrainableGroup.CDS),
                EnumSet.of(TrainableGroup.BN), TrainableGroup.ALL);
        for (Set<TrainableGroup> groups : cases) {
            DistillResult r = new Distiller(QUICK.withTrainable(groups)).distill(teacher, student, x);
            assertOnlySelectedChanged(student, r.student(), groups);
            assertEquals(groups, r.trainableParams().keySet());
        }
        // A graph: residual adds, projection shortcuts, convs with biases, a batch norm after the stem.
        ComputationGraph gt = teacherGraph();
        Model gs = student(gt);
        Set<TrainableGroup> groups = EnumSet.of(TrainableGroup.CDS, TrainableGroup.BN);
        DistillResult r = new Distiller(QUICK.withTrainable(groups)).distill(gt, gs, graphImages(4, 48));
        assertOnlySelectedChanged(gs, r.student(), groups);
        assertOnlySelectedChanged(gs, new Distiller(QUICK).distill(gt, gs, graphImages(4, 48)).student(),
                TrainableGroup.ALL);
    }

    /** Channels-last networks: DSConv, the frozen-statistics batch norm and the dense head all in NHWC. */
    @Test
    void nhwcNetworkDistillsToo() throws IOException {
        MultiLayerNetwork teacher = TinyNets.mln(13, CNN2DFormat.NHWC);
        teacher.getLayer(5).getParam("W").muli(10);
        Model student = student(teacher);
        INDArray x = TinyNets.random(14, DataType.FLOAT, 32, 9, 9, 3);
        DistillResult r = new Distiller(QUICK).distill(teacher, student, x);
        assertOnlySelectedChanged(student, r.student(), TrainableGroup.ALL);
        assertTrue(kdLoss(teacher, r.student(), x, 4) < kdLoss(teacher, student, x, 4));
    }

    @Test
    void labelsAreNeverRead() throws IOException {
        MultiLayerNetwork teacher = teacherMln();
        Model student = student(teacher);
        INDArray x = mlnImages(5, 40);
        List<DataSet> unreadable = new ArrayList<>();
        List<DataSet> labelledA = new ArrayList<>();
        List<DataSet> labelledB = new ArrayList<>();
        for (int i = 0; i < 40; i += 10) {
            INDArray f = x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(i, i + 10)).dup();
            unreadable.add(new DataSet(f, Nd4j.zeros(10, 5)) {
                @Override
                public INDArray getLabels() {
                    throw new AssertionError("labels were read");
                }
            });
            labelledA.add(new DataSet(f, Nd4j.eye(5).repeat(0, 2)));
            labelledB.add(new DataSet(f, TinyNets.random(i, DataType.FLOAT, 10, 5)));
        }
        Distiller d = new Distiller(QUICK.withEpochs(2).withEarlyStopping(0.2, 1));
        float[] fromArray = flat(d.distill(teacher, student, x));
        assertArrayEquals(fromArray, flat(d.distill(teacher, student, new ExistingDataSetIterator(unreadable))));
        assertArrayEquals(fromArray, flat(d.distill(teacher, student, new ExistingDataSetIterator(labelledA))));
        assertArrayEquals(fromArray, flat(d.distill(teacher, student, new ExistingDataSetIterator(labelledB))));
    }

    private static float[] flat(DistillResult r) {
        return r.student().params().dup().data().asFloat();
    }

    @Test
    void deterministicForASeed() throws IOException {
        ComputationGraph teacher = teacherGraph();
        Model student = student(teacher);
        INDArray x = graphImages(6, 40);
        DistillConfig c = QUICK.withEpochs(2);
        float[] a = flat(new Distiller(c).distill(teacher, student, x));
        assertArrayEquals(a, flat(new Distiller(c).distill(teacher, student, x)));
        assertFalse(java.util.Arrays.equals(a, flat(new Distiller(c.withSeed(7)).distill(teacher, student, x))));
    }

    /** Kill in the middle of epoch 2 (an exception from the progress callback), then resume: same result. */
    @Test
    void resumeAfterAnInterruptedRunMatchesAnUninterruptedRun(@TempDir Path dir) throws IOException {
        for (boolean graph : new boolean[] {false, true}) {
            Model teacher = graph ? teacherGraph() : teacherMln();
            Model student = student(teacher);
            INDArray x = graph ? graphImages(7, 64) : mlnImages(7, 64);
            DistillConfig c = QUICK.withEpochs(3).withEarlyStopping(0.25, 3);
            Path full = dir.resolve((graph ? "cg" : "mln") + "-full");
            Path cut = dir.resolve((graph ? "cg" : "mln") + "-cut");
            DistillResult uninterrupted = new Distiller(c).withCheckpoints(full, false).distill(teacher, student, x);

            DistillListener killer = new DistillListener() {
                private int batches;

                @Override
                public void onBatch(int epoch, int images, double loss, double meanLoss, double agreement) {
                    if (epoch == 2 && ++batches == 2) {
                        throw new IllegalStateException("killed");
                    }
                }
            };
            assertThrows(IllegalStateException.class,
                    () -> new Distiller(c).withCheckpoints(cut, false).withListener(killer).distill(teacher, student, x));
            assertTrue(Files.exists(cut.resolve(Checkpoints.STATE_FILE)));
            DistillResult resumed = new Distiller(c).withCheckpoints(cut, true).distill(teacher, student, x);

            assertEquals(1, resumed.resumedFromEpoch());
            assertEquals(uninterrupted.epochsRun(), resumed.epochsRun());
            assertEquals(uninterrupted.bestEpoch(), resumed.bestEpoch());
            assertEquals(uninterrupted.history().size(), resumed.history().size());
            for (int i = 0; i < resumed.history().size(); i++) {
                assertEquals(uninterrupted.history().get(i).meanLoss(), resumed.history().get(i).meanLoss(), 1e-6);
                assertEquals(uninterrupted.history().get(i).heldOutAgreement(),
                        resumed.history().get(i).heldOutAgreement());
            }
            INDArray diff = uninterrupted.student().params().sub(resumed.student().params());
            double maxAbs = diff.amaxNumber().doubleValue();
            System.out.printf("%s resume: max |param difference| = %.3g%n", graph ? "graph" : "MLN", maxAbs);
            assertTrue(maxAbs <= 1e-6, "max abs diff " + maxAbs);

            // Resuming a finished run trains no more and gives the same student.
            DistillResult again = new Distiller(c).withCheckpoints(cut, true).distill(teacher, student, x);
            assertEquals(0.0, again.student().params().sub(resumed.student().params()).amaxNumber().doubleValue());
        }
    }

    @Test
    void checkpointsAreNotOverwrittenOrResumedWithOtherSettings(@TempDir Path dir) throws IOException {
        MultiLayerNetwork teacher = teacherMln();
        Model student = student(teacher);
        INDArray x = mlnImages(8, 32);
        new Distiller(QUICK).withCheckpoints(dir, false).distill(teacher, student, x);
        IOException e = assertThrows(IOException.class,
                () -> new Distiller(QUICK).withCheckpoints(dir, false).distill(teacher, student, x));
        assertTrue(e.getMessage().contains("resume"), e.getMessage());
        e = assertThrows(IOException.class,
                () -> new Distiller(QUICK.withTemperature(2)).withCheckpoints(dir, true).distill(teacher, student, x));
        assertTrue(e.getMessage().contains("temperature"), e.getMessage());
        e = assertThrows(IOException.class,
                () -> new Distiller(QUICK).withCheckpoints(dir, true).distill(teacher, student, mlnImages(9, 32)));
        assertTrue(e.getMessage().contains("imagesChecksum"), e.getMessage());
        // Resuming with more epochs continues.
        DistillResult more = new Distiller(QUICK.withEpochs(2)).withCheckpoints(dir, true).distill(teacher, student, x);
        assertEquals(1, more.resumedFromEpoch());
        assertEquals(2, more.epochsRun());
    }

    /** A learning rate far too large wrecks the student: early stopping keeps the student as given. */
    @Test
    void earlyStoppingKeepsTheBestEpoch() throws IOException {
        MultiLayerNetwork teacher = teacherMln();
        Model student = student(teacher);
        INDArray x = mlnImages(10, 80);
        DistillResult r = new Distiller(QUICK.withLearningRate(1.0).withEpochs(4).withEarlyStopping(0.25, 1))
                .distill(teacher, student, x);
        System.out.printf("diverging run: held-out agreement %.3f before, per epoch %s%n", r.heldOutAgreementBefore(),
                r.history().stream().map(EpochStats::heldOutAgreement).toList());
        assertEquals(20, r.heldOutImages());
        assertEquals(0, r.bestEpoch());
        assertTrue(r.stoppedEarly());
        assertEquals(1, r.epochsRun());
        assertArrayEquals(student.params().dup().data().asFloat(), flat(r));
        assertEquals(r.heldOutAgreementBefore(), r.heldOutAgreementBest());
    }

    /**
     * Feature terms (weight 100, so that they outweigh the logits term here) pull the student's activations at the
     * named vertices towards the teacher's: closer than before and than after logits-only distillation.
     */
    @Test
    void graphFeatureDistillation() throws IOException {
        ComputationGraph teacher = teacherGraph();
        Model student = student(teacher);
        INDArray x = graphImages(11, 64);
        DistillConfig c = QUICK.withEpochs(3).withFeatureLayers(List.of("b1add", "gap"), 100);
        double mseBefore = mse(teacher, (ComputationGraph) student, x, "b1add");
        DistillResult r = new Distiller(c).distill(teacher, student, x);
        double mseAfter = mse(teacher, (ComputationGraph) r.student(), x, "b1add");
        double mseKdOnly = mse(teacher, (ComputationGraph) new Distiller(QUICK.withEpochs(3)).distill(teacher,
                student, x).student(), x, "b1add");
        System.out.printf("graph with feature MSE: loss per epoch %s; b1add MSE on the training images %.6f -> "
                + "%.6f (logits only: %.6f)%n", r.history().stream().map(e -> String.format("%.5f", e.meanLoss()))
                .toList(), mseBefore, mseAfter, mseKdOnly);
        assertTrue(mseAfter < mseBefore, mseBefore + " -> " + mseAfter);
        assertTrue(mseAfter < mseKdOnly, mseAfter + " vs logits only " + mseKdOnly);
        assertTrue(r.history().get(2).meanLoss() < r.history().get(0).meanLoss());
        assertEquals(List.of("in"), ((ComputationGraph) r.student()).getConfiguration().getNetworkInputs());
        assertEquals(List.of("out"), ((ComputationGraph) r.student()).getConfiguration().getNetworkOutputs());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Distiller(c.withFeatureLayers(List.of("nope"), 1)).distill(teacher, student, x));
        assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        MultiLayerNetwork mt = teacherMln();
        e = assertThrows(IllegalArgumentException.class, () -> new Distiller(c.withFeatureLayers(List.of("r1"), 1))
                .distill(mt, student(mt), mlnImages(1, 8)));
        assertTrue(e.getMessage().contains("ComputationGraph"), e.getMessage());
    }

    private static double mse(ComputationGraph teacher, ComputationGraph student, INDArray x, String vertex) {
        INDArray a = teacher.feedForward(x, false).get(vertex);
        INDArray b = student.feedForward(x, false).get(vertex);
        return a.squaredDistance(b) / a.length();
    }

    @Test
    void clearErrors() {
        MultiLayerNetwork teacher = teacherMln();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Distiller(
                QUICK.withTrainable(Set.of(TrainableGroup.ALPHA))).distill(teacher, teacher, mlnImages(1, 8)));
        // The FP32 teacher as its own "student" is refused before anything else is looked at.
        assertTrue(e.getMessage().startsWith("student: not a DSConv model"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Distiller(QUICK).distill(teacher, student(teacher),
                mlnImages(1, 1)));
        assertThrows(IllegalArgumentException.class, () -> QUICK.withTemperature(0));
        assertThrows(IllegalArgumentException.class, () -> QUICK.withEarlyStopping(0.9, 1));
        assertThrows(IllegalArgumentException.class, () -> QUICK.withTrainable(Set.of()));
        assertThrows(IllegalArgumentException.class, () -> TrainableGroup.parse("alpha,gamma"));
        assertEquals(EnumSet.of(TrainableGroup.ALPHA, TrainableGroup.BN), TrainableGroup.parse(" alpha, BN ,"));
        assertNotNull(DistillConfig.defaults());
    }
}
