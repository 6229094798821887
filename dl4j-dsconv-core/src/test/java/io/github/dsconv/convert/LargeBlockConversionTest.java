package io.github.dsconv.convert;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A block larger than a layer's input channels is one block of all of them. {@code --block 2147483647} used to
 * overflow {@code (nIn + block - 1) / block} to 0 blocks (an empty alpha array, then a null data buffer in DL4J); a
 * block beyond {@link LayerSpec#MAX_BLOCK_SIZE} is now rejected by name, and any block up to it converts.
 */
class LargeBlockConversionTest {

    /** conv(3x3, 16 -> 12) - conv(3x3, 12 -> 8) - global average pool - softmax(3); input [n, 16, 6, 6]. */
    private static MultiLayerNetwork sixteenChannels() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(21)
                .weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(12).activation(Activation.RELU).name("c1").build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.RELU).name("c2").build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).name("out")
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(6, 6, 16))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    @Test
    void aBlockBeyondTheMaximumIsRejectedByName() {
        for (int block : new int[] {Integer.MAX_VALUE, LayerSpec.MAX_BLOCK_SIZE + 1}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, block))).convert(
                            sixteenChannels()));
            assertTrue(e.getMessage().contains("block size") && e.getMessage().contains("got " + block)
                    && !e.getMessage().contains("\n"), e.getMessage());
        }
    }

    @Test
    void aBlockLargerThanTheChannelsIsOneBlockOfAllOfThem() {
        MultiLayerNetwork net = sixteenChannels();
        INDArray x = TinyNets.random(5, DataType.FLOAT, 4, 16, 6, 6);
        MultiLayerNetwork byChannels = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 16)))
                .convert(net).network();
        for (int block : new int[] {1024, LayerSpec.MAX_BLOCK_SIZE}) {
            Converted<MultiLayerNetwork> big = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, block)))
                    .convert(net);
            DSConvLayer c1 = (DSConvLayer) big.network().getLayer(0).conf().getLayer();
            assertEquals(block, c1.getBlockSize());
            assertEquals(1, c1.nBlocks());
            assertEquals(byChannels.params(), big.network().params(), "B=" + block + " params");
            assertEquals(byChannels.output(x), big.network().output(x), "B=" + block + " output");
            // the report counts one block per kernel tap: c1 16x... weights, 12*9 fp32 alphas (first layer)
            assertEquals((12 * 16 * 9 * 4 + 7) / 8 + 12 * 9 * 4, big.report().converted().get(0).dsconvBytes());
        }
    }
}
