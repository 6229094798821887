package io.github.dsconv.zoo.small;

import io.github.dsconv.zoo.DenseNet121;
import io.github.dsconv.zoo.GoogLeNet;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * Small GoogLeNet and DenseNet variants for 28x28x1 images (Fashion-MNIST), built from the same blocks as the
 * full-size {@link GoogLeNet} (Szegedy et al., CVPR 2015) and {@link DenseNet121} (Huang et al., CVPR 2017).
 *
 * <p>Sized by training time, not multiply-adds: in DL4J on a CPU a step of these many-layer nets is dominated by
 * the memory traffic of BN, ReLU, pooling and concatenation, roughly proportional to the activations stored per
 * image. {@link SmallModels#resnet} stores 194k values per image (14M multiply-adds); {@link #googlenet} stores 267k
 * (7.0M multiply-adds) and {@link #densenet} 295k (4.9M), and took about 1.4x and 1.6x the ResNet's time per
 * batch on two busy cores. Their width sits at 7x7 and 4x4, where a map costs a quarter of one at 14x14.
 *
 * <p>Trained like {@link SmallModels}: Adam, learning rate 1e-3 dropping to 2e-4 for the last epoch, L2 1e-4, He
 * initialisation, Same convolution mode, batch normalization after every convolution.
 */
public final class SmallFamilies {

    private SmallFamilies() {
    }

    private static ComputationGraphConfiguration.GraphBuilder base(long seed, int epochs) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .updater(SmallModels.updater(epochs))
                .l2(1e-4)
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("input")
                .setInputTypes(InputType.convolutional(28, 28, 1));
    }

    private static ComputationGraph finish(ComputationGraphConfiguration.GraphBuilder g, String x) {
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
        g.addLayer("fc", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(SmallModels.CLASSES)
                .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build(), "gap");
        g.setOutputs("fc");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        return net;
    }

    /**
     * A small GoogLeNet: a 3x3 stem (32) and 3x3/2 max pool to 14x14, inception modules 3a (out 40) and 3b (64),
     * 3x3/2 max pool to 7x7, inception module 4a (256), global average pooling and a softmax layer. Each inception
     * module concatenates 1x1 | 1x1 - 3x3 | 1x1 - 5x5 | max pool 3x3/1 - 1x1, every convolution followed by BN and
     * ReLU. 19 convolutions, 7.0M multiply-adds per image.
     *
     * @param seed   weight-initialisation seed
     * @param epochs planned training epochs (for the learning-rate schedule)
     */
    public static ComputationGraph googlenet(long seed, int epochs) {
        ComputationGraphConfiguration.GraphBuilder g = base(seed, epochs);
        String x = GoogLeNet.convUnit(g, "stem", "input", 32, 3, 1, true);
        g.addLayer("pool1", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2).build(), x);
        // Channel ratios follow Table 1 of the paper (3x3 branch widest, 5x5 branch thin). The 14x14 modules are
        // thin because every map there costs 4x one at 7x7; the width goes into the 7x7 module.
        x = GoogLeNet.inception(g, "inc3a", "pool1", 8, 12, 16, 4, 8, 8, true);
        x = GoogLeNet.inception(g, "inc3b", x, 16, 16, 24, 4, 12, 12, true);
        g.addLayer("pool2", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2).build(), x);
        x = GoogLeNet.inception(g, "inc4a", "pool2", 64, 64, 128, 16, 32, 32, true);
        return finish(g, x);
    }

    /** Growth rate of {@link #densenet}. */
    static final int DENSE_GROWTH = 12;

    /** Bottleneck layers per dense block of {@link #densenet}: few at 14x14, more where maps are small. */
    private static final int[] DENSE_BLOCKS = {2, 3, 4};

    /**
     * A small DenseNet-BC: a 3x3 stem (32) - BN - ReLU and 2x2 max pool to 14x14, then dense blocks of 2, 3 and 4
     * bottleneck layers (growth rate 12: BN - ReLU - conv 1x1 (48) - BN - ReLU - conv 3x3 (12), concatenated) at
     * 14x14, 7x7 and 4x4, separated by transitions (BN - ReLU - conv 1x1 halving the channels - 2x2 average pool),
     * then BN - ReLU - global average pooling and a softmax layer. Channels: 32 -&gt; 56 -&gt; 28 -&gt; 64 -&gt;
     * 32 -&gt; 80. 21 convolutions, 4.9M multiply-adds per image.
     *
     * @param seed   weight-initialisation seed
     * @param epochs planned training epochs (for the learning-rate schedule)
     */
    public static ComputationGraph densenet(long seed, int epochs) {
        ComputationGraphConfiguration.GraphBuilder g = base(seed, epochs);
        int channels = 32;
        g.addLayer("stem_conv", new ConvolutionLayer.Builder(3, 3).nOut(channels).hasBias(false)
                .activation(Activation.IDENTITY).build(), "input");
        String x = DenseNet121.bnRelu(g, "stem", "stem_conv");
        g.addLayer("stem_pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build(),
                x);
        x = "stem_pool";
        for (int b = 1; b <= DENSE_BLOCKS.length; b++) {
            x = DenseNet121.denseBlock(g, "db" + b, x, DENSE_BLOCKS[b - 1], DENSE_GROWTH);
            channels += DENSE_BLOCKS[b - 1] * DENSE_GROWTH;
            if (b < DENSE_BLOCKS.length) {
                channels /= 2;
                // 7x7 -> 4x4: Same mode pads one row and column, which the average leaves out.
                x = DenseNet121.transition(g, "tr" + b, x, channels);
            }
        }
        x = DenseNet121.bnRelu(g, "final", x);
        return finish(g, x);
    }
}
