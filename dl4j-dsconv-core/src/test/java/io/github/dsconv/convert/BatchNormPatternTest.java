package io.github.dsconv.convert;

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
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link BatchNormPattern}: which conv feeds which BN, and which ReLU follows, in a graph and in a chain. */
class BatchNormPatternTest {

    private static ConvolutionLayer conv() {
        return new ConvolutionLayer.Builder(3, 3).convolutionMode(ConvolutionMode.Same).nOut(4)
                .activation(Activation.IDENTITY).build();
    }

    private static ActivationLayer relu() {
        return new ActivationLayer.Builder().activation(Activation.RELU).build();
    }

    @Test
    void graph() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("c1", conv(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().build(), "c1")
                .addLayer("relu1", relu(), "bn1")
                .addLayer("c2", conv(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().build(), "c2")
                .addLayer("c3", conv(), "bn2")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "bn2", "c3")
                .addLayer("c4", conv(), "add")
                .addLayer("c4b", conv(), "c4")
                .addLayer("bn4", new BatchNormalization.Builder().build(), "c4")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "bn4", "c4b")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(2)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out")
                .setInputTypes(InputType.convolutional(12, 12, 3))
                .build();
        List<String> order = List.of("in", "c1", "bn1", "relu1", "c2", "bn2", "c3", "add", "c4", "c4b", "bn4",
                "pool", "out");
        List<BatchNormPattern.Match<String>> ms = BatchNormPattern.find(conf, order);
        // c1 -> bn1 -> relu1 (one consumer); c2 -> bn2 (two consumers, so no ReLU); c4 has two consumers: no match.
        assertEquals(2, ms.size(), ms.toString());
        BatchNormPattern.Match<String> a = ms.get(0);
        assertEquals("c1", a.conv());
        assertEquals("bn1", a.batchNorm());
        assertEquals("relu1", a.relu());
        assertEquals(1, a.batchNormConsumers());
        assertEquals(1, a.reluConsumers());
        assertFalse(a.batchNormOutput());
        assertFalse(a.batchNormPreProcessed());
        BatchNormPattern.Match<String> b = ms.get(1);
        assertEquals("c2", b.conv());
        assertEquals("bn2", b.batchNorm());
        assertEquals(null, b.relu());
        assertEquals(2, b.batchNormConsumers());
        assertEquals(0, b.reluConsumers());
    }

    @Test
    void chain() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().list()
                .layer(conv())
                .layer(new BatchNormalization.Builder().build())
                .layer(relu())
                .layer(conv())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(new ActivationReLU(6.0, 0.0, 0.0)).build())
                .layer(conv())
                .layer(new BatchNormalization.Builder().build())
                .setInputType(InputType.convolutional(12, 12, 3))
                .build();
        List<BatchNormPattern.Match<Integer>> ms = BatchNormPattern.find(conf);
        assertEquals(3, ms.size(), ms.toString());
        assertEquals(List.of(0, 1, 2), List.of(ms.get(0).conv(), ms.get(0).batchNorm(), ms.get(0).relu()));
        assertEquals(3, ms.get(1).conv());
        assertEquals(null, ms.get(1).relu(), "a ReLU with a maximum is not plain");
        assertEquals(6, ms.get(2).conv());
        assertTrue(ms.get(2).batchNormOutput(), "the last layer is the network output");
        assertEquals(0, ms.get(2).batchNormConsumers());
    }

    @Test
    void plainRelu() {
        assertTrue(BatchNormPattern.isPlainRelu(relu()));
        assertFalse(BatchNormPattern.isPlainRelu(new ActivationLayer.Builder().activation(Activation.TANH).build()));
        assertFalse(BatchNormPattern.isPlainRelu(new ActivationLayer.Builder()
                .activation(new ActivationReLU(null, 0.5, null)).build()));
        assertFalse(BatchNormPattern.isPlainRelu(conv()));
    }
}
