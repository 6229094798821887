package io.github.dsconv.testutil;

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
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Tiny deterministic networks and inputs shared by the tests of every module (published in core's test-jar). */
public final class TinyNets {

    private TinyNets() {
    }

    /**
     * Gives every BatchNormalization layer running statistics and gamma/beta far from the identity (mean, gamma,
     * beta ~ N(0, 1); var = exp(N(0, 1)); log10 std ~ N(0, 0.25)), so that BN really changes the values.
     */
    public static void randomBatchNormStats(org.deeplearning4j.nn.api.Layer[] layers, long seed) {
        java.util.Random r = new java.util.Random(seed);
        for (org.deeplearning4j.nn.api.Layer l : layers) {
            if (l.conf().getLayer() instanceof BatchNormalization) {
                l.paramTable().forEach((k, p) -> {
                    for (long i = 0; i < p.length(); i++) {
                        p.putScalar(i, switch (k) {
                            case "log10stdev" -> 0.5 * r.nextGaussian();
                            case "var" -> Math.exp(r.nextGaussian());
                            default -> r.nextGaussian();
                        });
                    }
                });
            }
        }
    }

    /** Seeded uniform random array in [-1, 1). */
    public static INDArray random(long seed, DataType type, long... shape) {
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(type, shape).muli(2).subi(1);
    }

    /**
     * A small conv net (MultiLayerNetwork): conv(3x3, 40 out) - BN - ReLU - conv(3x3 stride 2, 36 out, bias) -
     * global average pool - softmax(5). Input {@code [n, 3, 9, 9]} (or NHWC).
     */
    public static MultiLayerNetwork mln(long seed, CNN2DFormat format) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .updater(new Adam(1e-2))
                .weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(40).hasBias(false).dataFormat(format)
                        .activation(Activation.IDENTITY).name("c1").build())
                .layer(new BatchNormalization.Builder().name("bn1").build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).name("r1").build())
                .layer(new ConvolutionLayer.Builder(3, 3).stride(2, 2).nOut(36).dataFormat(format)
                        .activation(Activation.RELU).name("c2").build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5).name("out")
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(9, 9, 3, format))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * A residual graph: conv stem (3 -> 34) - BN - ReLU, a block with two 3x3 convs and an identity add, a
     * strided block with a 1x1 projection shortcut, global average pooling and a softmax(4) output.
     */
    public static ComputationGraph residualGraph(long seed, CNN2DFormat format) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .updater(new Adam(1e-2))
                .weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutional(8, 8, 3, format));
        g.addLayer("stem", conv(3, 1, 34, format, false), "in");
        g.addLayer("stem_bn", new BatchNormalization.Builder().build(), "stem");
        g.addLayer("stem_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "stem_bn");
        g.addLayer("b1a", conv(3, 1, 34, format, true), "stem_relu");
        g.addLayer("b1b", conv(3, 1, 34, format, true), "b1a");
        g.addVertex("b1add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "b1b", "stem_relu");
        g.addLayer("b2a", conv(3, 2, 48, format, true), "b1add");
        g.addLayer("b2proj", conv(1, 2, 48, format, true), "b1add");
        g.addVertex("b2add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "b2a", "b2proj");
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "b2add");
        g.addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                .activation(Activation.SOFTMAX).build(), "gap");
        g.setOutputs("out");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        return net;
    }

    private static ConvolutionLayer conv(int k, int stride, int nOut, CNN2DFormat format, boolean bias) {
        return new ConvolutionLayer.Builder(k, k).stride(stride, stride).nOut(nOut).hasBias(bias).dataFormat(format)
                .activation(Activation.IDENTITY).build();
    }
}
