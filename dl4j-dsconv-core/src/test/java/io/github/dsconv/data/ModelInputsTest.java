package io.github.dsconv.data;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link ModelInputs}: channels, layout and (when recorded) size of a network's input, and its output count. */
class ModelInputsTest {

    @Test
    void channelsAndLayoutComeFromTheFirstConvolution() {
        assertEquals(new InputSpec(3, 0, 0, CNN2DFormat.NCHW), ModelInputs.of(TinyNets.mln(1, CNN2DFormat.NCHW)));
        assertEquals(new InputSpec(3, 0, 0, CNN2DFormat.NHWC), ModelInputs.of(TinyNets.mln(1, CNN2DFormat.NHWC)));
        assertEquals(new InputSpec(3, 0, 0, CNN2DFormat.NHWC),
                ModelInputs.of(TinyNets.residualGraph(1, CNN2DFormat.NHWC)));
        assertEquals(5, ModelInputs.outputs(TinyNets.mln(1, CNN2DFormat.NCHW)));
        assertEquals(4, ModelInputs.outputs(TinyNets.residualGraph(1, CNN2DFormat.NCHW)));
    }

    @Test
    void aFlatInputRecordsTheImageSize() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(4).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(7)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(12, 10, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        assertEquals(new InputSpec(1, 12, 10, CNN2DFormat.NCHW), ModelInputs.of(net));
        assertEquals(7, ModelInputs.outputs(net));
    }

    @Test
    void networksThatAreNotImageModelsAreRejected() {
        MultiLayerConfiguration dense = new NeuralNetConfiguration.Builder().list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(3).build())
                .layer(new OutputLayer.Builder().nIn(3).nOut(2).build())
                .build();
        MultiLayerNetwork d = new MultiLayerNetwork(dense);
        d.init();
        assertThrows(IllegalArgumentException.class, () -> ModelInputs.of(d));
        MultiLayerConfiguration fiveChannels = new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 3).nIn(5).nOut(4).name("wide").build())
                .layer(new OutputLayer.Builder().nOut(2).build())
                .setInputType(InputType.convolutional(8, 8, 5))
                .build();
        MultiLayerNetwork f = new MultiLayerNetwork(fiveChannels);
        f.init();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelInputs.of(f));
        assertEquals(true, e.getMessage().contains("wide"), e.getMessage());
    }
}
