package io.github.dsconv.distill;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FrozenStatsBatchNormalization}: test-mode forward in training, the matching backward pass (checked by
 * DL4J's gradient check, where DL4J's own batch norm inside {@code FrozenLayerWithBackprop} is wrong), JSON.
 */
class FrozenStatsBatchNormalizationTest {

    /** conv (with bias) - batch norm - tanh conv - global pool - softmax, with non-trivial running statistics. */
    private static MultiLayerNetwork net(Layer bn, DataType dt, IUpdater u, CNN2DFormat f) {
        return net(bn, dt, u, f, WorkspaceMode.ENABLED);
    }

    private static MultiLayerNetwork net(Layer bn, DataType dt, IUpdater u, CNN2DFormat f, WorkspaceMode ws) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).dataType(dt).updater(u)
                .trainingWorkspaceMode(ws).inferenceWorkspaceMode(ws)
                .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Same).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).dataFormat(f).activation(Activation.IDENTITY)
                        .build())
                .layer(bn)
                .layer(new ConvolutionLayer.Builder(1, 1).nOut(3).dataFormat(f).activation(Activation.TANH).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(5, 5, 2, f)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        org.deeplearning4j.nn.api.Layer l = net.getLayer(1);
        l.setParam("gamma", TinyNets.random(11, dt, 4).addi(1.5));
        l.setParam("beta", TinyNets.random(12, dt, 4).muli(0.3));
        l.setParam("mean", TinyNets.random(13, dt, 4).muli(0.2));
        l.setParam("log10stdev", TinyNets.random(14, dt, 4).muli(0.3));
        return net;
    }

    private static BatchNormalization bn(CNN2DFormat f) {
        return new BatchNormalization.Builder().dataFormat(f).eps(1e-3).build();
    }

    private static INDArray input(DataType dt, CNN2DFormat f) {
        return TinyNets.random(21, dt, f == CNN2DFormat.NCHW ? new long[] {3, 2, 5, 5} : new long[] {3, 5, 5, 2});
    }

    @Test
    void forwardIsTestModeBatchNormEvenInTraining() {
        for (CNN2DFormat f : CNN2DFormat.values()) {
            MultiLayerNetwork ref = net(bn(f), DataType.FLOAT, new Adam(1e-3), f);
            MultiLayerNetwork fs = net(FrozenStatsBatchNormalization.of(bn(f)), DataType.FLOAT, new Adam(1e-3), f);
            fs.setParams(ref.params());
            INDArray x = input(DataType.FLOAT, f);
            INDArray expected = ref.output(x, false);
            assertEquals(expected, fs.output(x, false));
            assertEquals(expected, fs.output(x, true));
            assertNotEquals(expected, ref.output(x, true), "DL4J's own layer uses batch statistics in training");
        }
    }

    @Test
    void copiesEveryOptionAndSurvivesJson() {
        BatchNormalization src = new BatchNormalization.Builder().dataFormat(CNN2DFormat.NHWC).eps(1e-2).decay(0.7)
                .useLogStd(false).nOut(9).name("bnx").build();
        FrozenStatsBatchNormalization c = FrozenStatsBatchNormalization.of(src);
        assertEquals(CNN2DFormat.NHWC, c.getCnn2DFormat());
        assertEquals(1e-2, c.getEps(), 0.0);
        assertEquals(0.7, c.getDecay(), 0.0);
        assertEquals(false, c.isUseLogStd());
        assertEquals(9, c.getNOut());
        assertEquals("bnx", c.getLayerName());
        assertNotEquals(src, c);
        assertNotEquals(c, src);
        MultiLayerNetwork net = net(FrozenStatsBatchNormalization.of(bn(CNN2DFormat.NCHW)), DataType.FLOAT,
                new Adam(1e-3), CNN2DFormat.NCHW);
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(net.getLayerWiseConfigurations().toJson());
        assertEquals(net.getLayerWiseConfigurations(), back);
        assertEquals(FrozenStatsBatchNormalization.class, back.getConf(1).getLayer().getClass());
    }

    /** Training moves gamma and beta with Adam and never the running statistics. */
    @Test
    void trainingKeepsRunningStatistics() {
        MultiLayerNetwork net = net(FrozenStatsBatchNormalization.of(bn(CNN2DFormat.NCHW)), DataType.FLOAT,
                new Adam(1e-2), CNN2DFormat.NCHW);
        org.deeplearning4j.nn.api.Layer l = net.getLayer(1);
        float[] mean = l.getParam("mean").dup().data().asFloat();
        float[] std = l.getParam("log10stdev").dup().data().asFloat();
        INDArray gamma = l.getParam("gamma").dup();
        INDArray x = input(DataType.FLOAT, CNN2DFormat.NCHW);
        INDArray y = Nd4j.eye(3);
        for (int i = 0; i < 5; i++) {
            net.fit(new DataSet(x, y));
        }
        assertArrayEquals(mean, l.getParam("mean").dup().data().asFloat());
        assertArrayEquals(std, l.getParam("log10stdev").dup().data().asFloat());
        assertNotEquals(gamma, l.getParam("gamma"));
    }

    /**
     * DL4J's gradient check (double precision) over every parameter except the running statistics, NCHW and
     * NHWC; a subset of each parameter's entries to keep it quick.
     */
    @Test
    void passesDl4jGradientCheck() {
        withDouble(() -> {
            for (CNN2DFormat f : CNN2DFormat.values()) {
                MultiLayerNetwork net = net(FrozenStatsBatchNormalization.of(bn(f)), DataType.DOUBLE, new NoOp(), f);
                assertTrue(check(net, f), "gradient check failed for " + f);
            }
        });
    }

    /**
     * Why the layer exists: DL4J's batch norm in {@code FrozenLayerWithBackprop} runs forward with the running
     * statistics but back-propagates the training-mode formula, so the gradients of the layers below it are wrong
     * (for the conv bias feeding it, exactly zero). (With workspaces on, that combination even fails with an
     * outdated-workspace error in DL4J's backward pass, so this check runs without them.)
     */
    @Test
    void dl4jBatchNormInFrozenLayerWithBackpropHasWrongGradients() {
        withDouble(() -> {
            MultiLayerNetwork net = net(new FrozenLayerWithBackprop(bn(CNN2DFormat.NCHW)), DataType.DOUBLE,
                    new NoOp(), CNN2DFormat.NCHW, WorkspaceMode.NONE);
            INDArray x = input(DataType.DOUBLE, CNN2DFormat.NCHW);
            INDArray y = Nd4j.eye(3).castTo(DataType.DOUBLE);
            net.setInput(x);
            net.setLabels(y);
            net.computeGradientAndScore();
            INDArray analytic = net.gradient().getGradientFor("0_b").dup();
            INDArray bias = net.getLayer(0).getParam("b");
            double h = 1e-6;
            double b0 = bias.getDouble(0);
            bias.putScalar(0, b0 + h);
            double plus = net.score(new DataSet(x, y), true);
            bias.putScalar(0, b0 - h);
            double minus = net.score(new DataSet(x, y), true);
            bias.putScalar(0, b0);
            double numeric = (plus - minus) / (2 * h);
            assertTrue(Math.abs(numeric) > 1e-4, "numeric gradient " + numeric);
            assertEquals(0.0, analytic.getDouble(0), 1e-9, "DL4J's training-mode backward zeroes it");
        });
    }

    private static boolean check(MultiLayerNetwork net, CNN2DFormat f) {
        INDArray x = input(DataType.DOUBLE, f);
        INDArray y = Nd4j.eye(3).castTo(DataType.DOUBLE);
        return GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(x).labels(y)
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-9).subset(true).maxPerParam(4)
                .excludeParams(Set.of("1_mean", "1_log10stdev")));
    }

    private static void withDouble(Runnable r) {
        DataType previous = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            r.run();
        } finally {
            Nd4j.setDefaultDataTypes(previous, previous);
        }
    }
}
