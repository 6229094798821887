package io.github.dsconv.zoo.small;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.schedule.MapSchedule;
import org.nd4j.linalg.schedule.ScheduleType;

import java.util.HashMap;
import java.util.Map;

/**
 * Small networks for 28x28x1 images with batch normalization: a residual net (a {@link ComputationGraph} with
 * identity and 1x1 projection shortcuts, He et al. 2016) and a VGG-style net (a {@link MultiLayerNetwork},
 * Simonyan and Zisserman 2015). Trained with Adam, learning rate 1e-3 dropping to 2e-4 for the last epoch, and
 * L2 weight decay 1e-4.
 */
public final class SmallModels {

    /** Classes of the output layer. */
    public static final int CLASSES = 10;

    private SmallModels() {
    }

    /** Learning-rate schedule: 1e-3, then 2e-4 from the last epoch on. */
    static Adam updater(int epochs) {
        Map<Integer, Double> lr = new HashMap<>();
        lr.put(0, 1e-3);
        if (epochs > 1) {
            lr.put(epochs - 1, 2e-4);
        }
        return new Adam(new MapSchedule(ScheduleType.EPOCH, lr));
    }

    /**
     * A small ResNet: a 3x3 stem (32) and 2x2 max pool, then residual stages of 32, 64 (two blocks) and 128
     * channels at 14x14, 7x7 and 4x4, global average pooling and a softmax layer. 11 convolutions.
     *
     * @param seed   weight-initialisation seed
     * @param epochs planned training epochs (for the learning-rate schedule)
     */
    public static ComputationGraph resnet(long seed, int epochs) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .updater(updater(epochs))
                .l2(1e-4)
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("input")
                .setInputTypes(InputType.convolutional(28, 28, 1));
        String x = convBnRelu(g, "stem", "input", 32, 3, 1, true);
        g.addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(), x);
        x = "pool";
        x = residualBlock(g, "s1b1", x, 32, 1, false);
        x = residualBlock(g, "s2b1", x, 64, 2, true);
        x = residualBlock(g, "s2b2", x, 64, 1, false);
        x = residualBlock(g, "s3b1", x, 128, 2, true);
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
        g.addLayer("fc", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES)
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build(), "gap");
        g.setOutputs("fc");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        return net;
    }

    private static String convBnRelu(ComputationGraphConfiguration.GraphBuilder g, String name, String in, int nOut,
                                     int k, int stride, boolean relu) {
        g.addLayer(name + "_conv", new ConvolutionLayer.Builder(k, k).stride(stride, stride).nOut(nOut)
                .hasBias(false).activation(Activation.IDENTITY).build(), in);
        g.addLayer(name + "_bn", new BatchNormalization.Builder().build(), name + "_conv");
        if (!relu) {
            return name + "_bn";
        }
        g.addLayer(name + "_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_bn");
        return name + "_relu";
    }

    private static String residualBlock(ComputationGraphConfiguration.GraphBuilder g, String name, String in,
                                        int nOut, int stride, boolean project) {
        String a = convBnRelu(g, name + "a", in, nOut, 3, stride, true);
        String b = convBnRelu(g, name + "b", a, nOut, 3, 1, false);
        String shortcut = project ? convBnRelu(g, name + "proj", in, nOut, 1, stride, false) : in;
        g.addVertex(name + "_add", new ElementWiseVertex(ElementWiseVertex.Op.Add), b, shortcut);
        g.addLayer(name + "_out", new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "_add");
        return name + "_out";
    }

    /**
     * A small VGG-style net: stacks of 3x3 conv-BN-ReLU with 2x2 max pooling between them: 32 channels at 28x28,
     * then 32, 64 at 14x14 and 64, 128 at 7x7, global average pooling and a softmax layer. 5 convolutions,
     * 11M multiply-adds per image. (Pooling after the first convolution halves the cost of the 32 | 32 64 | 64 128
     * stage layout with the pools one layer later, which is what training time on two cores allows.)
     *
     * @param seed   weight-initialisation seed
     * @param epochs planned training epochs (for the learning-rate schedule)
     */
    public static MultiLayerNetwork vgg(long seed, int epochs) {
        NeuralNetConfiguration.ListBuilder b = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .updater(updater(epochs))
                .l2(1e-4)
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .list();
        int[] widths = {32, -1, 32, 64, -1, 64, 128};
        int convIndex = 1;
        for (int w : widths) {
            if (w < 0) {
                b.layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build());
                continue;
            }
            b.layer(new ConvolutionLayer.Builder(3, 3).nOut(w).hasBias(false).activation(Activation.IDENTITY)
                    .name("conv" + convIndex).build());
            b.layer(new BatchNormalization.Builder().name("bn" + convIndex).build());
            b.layer(new ActivationLayer.Builder().activation(Activation.RELU).name("relu" + convIndex).build());
            convIndex++;
        }
        b.layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build());
        b.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES).name("fc")
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build());
        b.setInputType(InputType.convolutional(28, 28, 1));
        MultiLayerNetwork net = new MultiLayerNetwork(b.build());
        net.init();
        return net;
    }
}
