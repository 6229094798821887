package io.github.dsconv.layers;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.File;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link DSConvLayer#getFrozenParams()}: configuration round trips and zero updates under Adam, L2 and decay. */
class FrozenParamsTest {

    private static DSConvLayer.Builder layer() {
        return new DSConvLayer.Builder(3, 3).nIn(3).nOut(34).kdsBias(true).cds(true).hasBias(true).weightBits(3)
                .blockSize(2).convolutionMode(ConvolutionMode.Same);
    }

    private static MultiLayerNetwork net(DSConvLayer ds) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(1e-2))
                .l2(1e-2).l2Bias(1e-2).weightDecay(1e-3).list()
                .layer(ds)
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(6, 6, 3)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static float[] bits(INDArray a) {
        return a.dup('c').data().asFloat();
    }

    @Test
    void defaultIsNothingFrozenButQ() {
        DSConvLayer l = layer().build();
        assertTrue(l.getFrozenParams().isEmpty());
        assertTrue(l.isFrozen("q"));
        assertFalse(l.isFrozen("alpha"));
    }

    @Test
    void frozenParamsGetNoUpdateEvenWithL2AndWeightDecay() {
        MultiLayerNetwork net = net(layer().frozenParams("alpha", "gamma", "b").build());
        org.deeplearning4j.nn.api.Layer l0 = net.getLayer(0);
        INDArray q0 = l0.getParam("q").dup();
        INDArray alpha0 = l0.getParam("alpha").dup();
        INDArray gamma0 = l0.getParam("gamma").dup();
        INDArray b0 = l0.getParam("b").assign(0.05).dup();
        INDArray beta0 = l0.getParam("beta").dup();
        INDArray delta0 = l0.getParam("delta").dup();
        INDArray x = TinyNets.random(4, DataType.FLOAT, 8, 3, 6, 6);
        INDArray y = Nd4j.eye(3).getRows(0, 1, 2, 0, 1, 2, 0, 1);
        for (int i = 0; i < 10; i++) {
            net.fit(new DataSet(x, y));
        }
        net.setInput(x);
        net.setLabels(y);
        net.computeGradientAndScore();
        for (String k : List.of("0_q", "0_alpha", "0_gamma", "0_b")) {
            assertEquals(0.0, net.gradient().getGradientFor(k).amaxNumber().doubleValue(), 0.0, k);
        }
        assertArrayEquals(bits(q0), bits(l0.getParam("q")));
        assertArrayEquals(bits(alpha0), bits(l0.getParam("alpha")));
        assertArrayEquals(bits(gamma0), bits(l0.getParam("gamma")));
        assertArrayEquals(bits(b0), bits(l0.getParam("b")), "L2 on a frozen bias must not move it");
        assertNotEquals(beta0, l0.getParam("beta"));
        assertNotEquals(delta0, l0.getParam("delta"));
    }

    @Test
    void frozenBiasIsNotRegularized() {
        DSConvLayer l = (DSConvLayer) net(layer().frozenParams("b").build()).getLayerWiseConfigurations().getConf(0)
                .getLayer();
        assertTrue(l.getRegularizationByParam("b").isEmpty());
        DSConvLayer free = (DSConvLayer) net(layer().build()).getLayerWiseConfigurations().getConf(0).getLayer();
        assertFalse(free.getRegularizationByParam("b").isEmpty());
    }

    @Test
    void survivesJsonSerializerAndClone(@TempDir Path dir) throws Exception {
        MultiLayerNetwork net = net(layer().frozenParams("delta", "alpha").build());
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        String json = conf.toJson();
        assertTrue(json.contains("frozenParams"), json);
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(json);
        assertEquals(conf, back);
        DSConvLayer l = (DSConvLayer) back.getConf(0).getLayer();
        assertEquals(Set.of("alpha", "delta"), l.getFrozenParams());
        assertEquals(List.of("alpha", "delta"), List.copyOf(l.getFrozenParams()), "sorted");

        File f = dir.resolve("m.zip").toFile();
        ModelSerializer.writeModel(net, f, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(f, true);
        assertEquals(Set.of("alpha", "delta"),
                ((DSConvLayer) restored.getLayerWiseConfigurations().getConf(0).getLayer()).getFrozenParams());
        assertEquals(Set.of("alpha", "delta"), ((DSConvLayer) l.clone()).getFrozenParams());

        // A configuration written before the field existed reads as nothing frozen.
        String old = net(layer().build()).getLayerWiseConfigurations().toJson().replaceAll(
                "\"frozenParams\"\\s*:\\s*\\[\\s*\\],?", "");
        assertFalse(old.contains("frozenParams"));
        DSConvLayer oldLayer = (DSConvLayer) MultiLayerConfiguration.fromJson(old).getConf(0).getLayer();
        assertTrue(oldLayer.getFrozenParams().isEmpty());
    }

    @Test
    void equalsAndHashCodeSeeTheFrozenSet() {
        DSConvLayer a = layer().frozenParams("alpha").build();
        DSConvLayer b = layer().frozenParams("alpha").build();
        DSConvLayer c = layer().frozenParams("beta").build();
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, c);
        assertNotEquals(a, layer().build());
    }

    @Test
    void unknownNamesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> layer().name("c7").frozenParams("alpha", "W").build());
        assertTrue(e.getMessage().contains("'W'") && e.getMessage().contains("c7"), e.getMessage());
        DSConvLayer l = layer().build();
        assertThrows(IllegalArgumentException.class, () -> l.setFrozenParams(Set.of("mean")));
        l.setFrozenParams(null);
        assertTrue(l.getFrozenParams().isEmpty());
    }
}
