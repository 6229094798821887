package io.github.dsconv.eval;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link Logits}: heads that output logits (a linear dense layer, as Keras imports) and softmax heads. */
class LogitsTest {

    private static ComputationGraph graph(Activation head) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(5).graphBuilder()
                .addInputs("in").setInputTypes(InputType.convolutional(6, 6, 3))
                .addLayer("c", new ConvolutionLayer.Builder(3, 3).nOut(8).activation(Activation.RELU).build(), "in")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "c")
                .addLayer("dense", new DenseLayer.Builder().nOut(10).activation(head).build(), "gap")
                .setOutputs("dense").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    @Test
    void aLinearDenseHeadAlreadyOutputsLogits() {
        ComputationGraph g = graph(Activation.IDENTITY);
        INDArray x = TinyNets.random(1, DataType.FLOAT, 4, 3, 6, 6);
        INDArray logits = Logits.of(g, x);
        assertEquals(g.outputSingle(false, x), logits);
        for (double v : logits.data().asDouble()) {
            assertTrue(Double.isFinite(v), "finite logits");
        }
    }

    @Test
    void aSoftmaxDenseHeadGivesCentredLogProbabilities() {
        ComputationGraph g = graph(Activation.SOFTMAX);
        INDArray x = TinyNets.random(2, DataType.FLOAT, 4, 3, 6, 6);
        INDArray logits = Logits.of(g, x);
        INDArray log = Transforms.log(g.outputSingle(false, x), true);
        INDArray centred = log.subColumnVector(log.mean(1).reshape(4, 1));
        assertTrue(logits.equalsWithEps(centred, 1e-5));
        assertEquals(0, logits.sum(1).norm2Number().doubleValue(), 1e-4, "rows are mean-centred");
    }
}
