package io.github.dsconv.convert;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link BatchNormFolding}: the folded network computes what the original does (to float rounding), the folded
 * weights are the closed form on a hand-computed case, and only the eligible BN and ReLU layers go.
 */
class BatchNormFoldingTest {

    static Stream<Arguments> cases() {
        return Stream.of(Arguments.of(CNN2DFormat.NCHW, true), Arguments.of(CNN2DFormat.NCHW, false),
                Arguments.of(CNN2DFormat.NHWC, true), Arguments.of(CNN2DFormat.NHWC, false));
    }

    /**
     * c1 -> bn1 -> relu1 -> c2 (no bias) -> bn2 -> relu2 -> {c3 -> bn3, cR (ReLU activation) -> bnR} -> add -> relu3
     * -> pool -> softmax; cR -> bnR must stay (the convolution has its own activation).
     */
    static ComputationGraph graph(CNN2DFormat f, boolean logStd) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3)
                .convolutionMode(ConvolutionMode.Same).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(9, 9, 3, f))
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.IDENTITY)
                        .dataFormat(f).build(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().useLogStd(logStd).eps(1e-3).dataFormat(f).build(),
                        "c1")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(8).hasBias(false)
                        .activation(Activation.IDENTITY).dataFormat(f).build(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().useLogStd(logStd).dataFormat(f).build(), "c2")
                .addLayer("relu2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn2")
                .addLayer("c3", new ConvolutionLayer.Builder(1, 1).nOut(8).activation(Activation.IDENTITY)
                        .dataFormat(f).build(), "relu2")
                .addLayer("bn3", new BatchNormalization.Builder().useLogStd(logStd).dataFormat(f).build(), "c3")
                .addLayer("cR", new ConvolutionLayer.Builder(1, 1).nOut(8).activation(Activation.RELU)
                        .dataFormat(f).build(), "relu2")
                .addLayer("bnR", new BatchNormalization.Builder().useLogStd(logStd).dataFormat(f).build(), "cR")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn3", "bnR")
                .addLayer("relu3", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "relu3")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        TinyNets.randomBatchNormStats(cg.getLayers(), 7);
        return cg;
    }

    @ParameterizedTest(name = "{0} logStd={1}")
    @MethodSource("cases")
    void foldedGraphComputesTheSame(CNN2DFormat f, boolean logStd) {
        ComputationGraph cg = graph(f, logStd);
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {4, 3, 9, 9} : new long[] {4, 9, 9, 3};
        INDArray x = Nd4j.rand(DataType.FLOAT, shape).subi(0.5).muli(4);
        INDArray before = cg.outputSingle(false, x).dup();
        int vertices = cg.getVertices().length;

        BatchNormFolding.Folded<ComputationGraph> folded = BatchNormFolding.fold(cg);

        assertEquals(List.of("bn1", "bn2", "bn3"), folded.batchNorms());
        assertEquals(List.of("relu1", "relu2"), folded.activations());
        ComputationGraph g = folded.network();
        assertEquals(vertices - 5, g.getVertices().length);
        for (String gone : List.of("bn1", "bn2", "bn3", "relu1", "relu2")) {
            assertNull(g.getConfiguration().getVertices().get(gone), gone);
        }
        assertTrue(g.getConfiguration().getVertices().containsKey("bnR"), "cR has its own ReLU: bnR stays");
        assertEquals(List.of("c2"), g.getConfiguration().getVertexInputs().get("c3"));
        assertEquals(List.of("c3", "bnR"), g.getConfiguration().getVertexInputs().get("add"));
        assertTrue(((ConvolutionLayer) g.getLayer("c2").conf().getLayer()).hasBias(), "c2 gained a bias");
        assertTrue(g.getLayer("c1").conf().getLayer() instanceof ConvolutionLayer c
                && c.getActivationFn() instanceof ActivationReLU);

        INDArray after = g.outputSingle(false, x);
        INDArray pre = cg.feedForward(x, false).get("add");
        INDArray preFolded = g.feedForward(x, false).get("add");
        double scale = pre.amaxNumber().doubleValue();
        assertTrue(scale > 0.1, "the test graph passes a signal");
        double err = pre.sub(preFolded).amaxNumber().doubleValue() / scale;
        assertTrue(err < 1e-5, "relative difference before the softmax " + err);
        assertArrayEquals(before.data().asFloat(), after.data().asFloat(), 1e-5f);
        // the source network is untouched
        assertArrayEquals(before.data().asFloat(), cg.outputSingle(false, x).data().asFloat(), 0f);
        assertTrue(cg.getConfiguration().getVertices().containsKey("bn1"));
    }

    /**
     * 1x1 convolution, one input channel, two outputs, W = [2, -1], no bias; BN mean [1, 0.5], var [3, 0], eps 1
     * (std [2, 1]), gamma [4, 3], beta [0.5, -1]: s = gamma / std = [2, 3], W' = [4, -3],
     * b' = (0 - mean) * s + beta = [-1.5, -2.5].
     */
    @Test
    void handComputedFold() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(1, 1).nIn(1).nOut(2).hasBias(false)
                        .activation(Activation.IDENTITY).name("c").build())
                .layer(new BatchNormalization.Builder().useLogStd(false).eps(1.0).name("bn").build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1)
                        .activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(2, 2, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.getLayer(0).getParam("W").assign(Nd4j.createFromArray(2f, -1f).reshape(2, 1, 1, 1));
        net.getLayer(1).getParam("mean").assign(Nd4j.createFromArray(1f, 0.5f).reshape(1, 2));
        net.getLayer(1).getParam("var").assign(Nd4j.createFromArray(3f, 0f).reshape(1, 2));
        net.getLayer(1).getParam("gamma").assign(Nd4j.createFromArray(4f, 3f).reshape(1, 2));
        net.getLayer(1).getParam("beta").assign(Nd4j.createFromArray(0.5f, -1f).reshape(1, 2));

        BatchNormFolding.Folded<MultiLayerNetwork> folded = BatchNormFolding.fold(net);

        assertEquals(List.of("bn"), folded.batchNorms());
        MultiLayerNetwork m = folded.network();
        assertEquals(3, m.getnLayers());
        assertArrayEquals(new float[] {4f, -3f}, m.getLayer(0).getParam("W").dup().data().asFloat(), 0f);
        assertArrayEquals(new float[] {-1.5f, -2.5f}, m.getLayer(0).getParam("b").dup().data().asFloat(), 0f);
        INDArray x = Nd4j.rand(DataType.FLOAT, 3, 1, 2, 2);
        assertArrayEquals(net.output(x).data().asFloat(), m.output(x).data().asFloat(), 1e-5f);
    }

    @Test
    void multiLayerNetworkWithPreprocessorsAndReLU() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(6).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(6).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().useLogStd(false).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(8, 8, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        TinyNets.randomBatchNormStats(net.getLayers(), 11);
        assertTrue(conf.getInputPreProcess(5) != null, "the output layer has a CNN -> dense preprocessor");

        BatchNormFolding.Folded<MultiLayerNetwork> folded = BatchNormFolding.fold(net);

        assertEquals(List.of("layer1", "layer4"), folded.batchNorms());
        assertEquals(List.of("layer2"), folded.activations());
        MultiLayerNetwork m = folded.network();
        assertEquals(3, m.getnLayers());
        assertTrue(m.getLayerWiseConfigurations().getInputPreProcess(2) != null, "preprocessor moved with its layer");
        INDArray x = Nd4j.rand(DataType.FLOAT, 5, 2, 8, 8).muli(3);
        assertArrayEquals(net.output(x).data().asFloat(), m.output(x).data().asFloat(), 1e-5f);
        assertEquals(6, net.getnLayers(), "source untouched");
    }

    @Test
    void convWithTwoConsumersIsNotFolded() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).graphBuilder()
                .addInputs("in").setInputTypes(InputType.convolutional(6, 6, 2))
                .addLayer("c", new ConvolutionLayer.Builder(1, 1).nOut(4).activation(Activation.IDENTITY).build(),
                        "in")
                .addLayer("bn", new BatchNormalization.Builder().build(), "c")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn", "c")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.MAX).build(), "add")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1)
                        .activation(Activation.IDENTITY).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        BatchNormFolding.Folded<ComputationGraph> folded = BatchNormFolding.fold(cg);
        assertEquals(List.of(), folded.batchNorms());
        assertFalse(folded.network() == cg, "always a new network");
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 2, 6, 6);
        assertArrayEquals(cg.outputSingle(x).data().asFloat(), folded.network().outputSingle(x).data().asFloat(), 0f);
    }

    @Test
    void rejectsWhatIsNotANetwork() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BatchNormFolding.fold((org.deeplearning4j.nn.api.Model) null));
        assertTrue(e.getMessage().contains("unsupported model type"), e.getMessage());
    }
}
