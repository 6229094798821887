package io.github.dsconv.engine;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Fp32Convolutions}: DL4J's convolutions through oneDNN give DL4J's outputs to float rounding. */
class Fp32ConvolutionsTest {

    /**
     * 3x3 same with bias; 3x3 stride 2 padding 1 without bias; 2x2 dilation 2 same; 1x1 stride 2; 5x3 same; global
     * average; softmax(3). Input 11x9x4.
     */
    private static MultiLayerNetwork net(CNN2DFormat f) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(12)
                .updater(new Sgd(0.1))
                .weightInit(WeightInit.XAVIER)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(6).convolutionMode(ConvolutionMode.Same).dataFormat(f)
                        .activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).stride(2, 2).padding(1, 1).nOut(10).hasBias(false)
                        .convolutionMode(ConvolutionMode.Truncate).dataFormat(f).activation(Activation.TANH).build())
                .layer(new ConvolutionLayer.Builder(2, 2).dilation(2, 2).nOut(7).convolutionMode(ConvolutionMode.Same)
                        .dataFormat(f).activation(Activation.IDENTITY).build())
                .layer(new ConvolutionLayer.Builder(1, 1).stride(2, 2).nOut(9).dataFormat(f)
                        .activation(Activation.IDENTITY).build())
                .layer(new ConvolutionLayer.Builder(5, 3).nOut(5).convolutionMode(ConvolutionMode.Same).dataFormat(f)
                        .activation(Activation.IDENTITY).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(11, 9, 4, f))
                .build());
        net.init();
        // Non-zero biases, so that a dropped bias would show.
        for (int i = 0; i < 5; i++) {
            if (net.getLayer(i).paramTable().containsKey("b")) {
                net.getLayer(i).getParam("b").assign(TinyNets.random(i, DataType.FLOAT, net.getLayer(i)
                        .getParam("b").shape()));
            }
        }
        return net;
    }

    private static double relErr(INDArray a, INDArray ref) {
        return a.sub(ref).norm2Number().doubleValue() / ref.norm2Number().doubleValue();
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void forwardMatchesDl4jAndTrainingStillWorks(CNN2DFormat f) {
        Assumptions.assumeTrue(OneDnn.available(), "oneDNN does not load here: " + OneDnn.failure());
        MultiLayerNetwork net = net(f);
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {5, 4, 11, 9} : new long[] {5, 11, 9, 4};
        INDArray x = TinyNets.random(1, DataType.FLOAT, shape);
        INDArray ref = net.output(x);
        INDArray[] refActs = net.feedForward(x, false).toArray(new INDArray[0]);

        assertEquals(5, Fp32Convolutions.enable(net));
        assertEquals(5, Fp32Convolutions.enabledLayers(net));
        java.util.List<INDArray> acts = net.feedForward(x, false);
        for (int i = 1; i <= 5; i++) {
            double e = relErr(acts.get(i), refActs[i]);
            assertTrue(e < 1e-5, f + " layer " + (i - 1) + " relative error " + e);
        }
        assertTrue(relErr(net.output(x), ref) < 1e-5);
        // Another batch size: the primitive is remade.
        INDArray x2 = x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2)).dup();
        double e2 = relErr(net.output(x2), ref.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 2)));
        assertTrue(e2 < 1e-5, "batch of 2: relative error " + e2);

        // Training runs DL4J's backward pass and changes the weights.
        INDArray w0 = net.getLayer(0).getParam("W").dup();
        INDArray labels = Nd4j.eye(3).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 3));
        net.fit(x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 3)), labels);
        assertTrue(net.getLayer(0).getParam("W").sub(w0).amaxNumber().doubleValue() > 0);
        assertTrue(Double.isFinite(net.score()));

        Fp32Convolutions.disable(net);
        assertEquals(0, Fp32Convolutions.enabledLayers(net));
    }
}
