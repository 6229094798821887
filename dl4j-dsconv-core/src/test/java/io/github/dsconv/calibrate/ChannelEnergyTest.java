package io.github.dsconv.calibrate;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Channel mean squares against the activations read directly, and their use by the converter. */
class ChannelEnergyTest {

    /** {@code E[a_c^2]} over every axis but the channel one, computed the plain way. */
    private static double[] meanSquares(INDArray a, CNN2DFormat f) {
        INDArray d = a.castTo(DataType.DOUBLE);
        int[] dims = f == CNN2DFormat.NCHW ? new int[] {0, 2, 3} : new int[] {0, 1, 2};
        return d.mul(d).mean(dims).toDoubleVector();
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void multiLayerNetworkConvInputs(CNN2DFormat f) {
        MultiLayerNetwork net = TinyNets.mln(3, f);
        INDArray x = TinyNets.random(4, DataType.FLOAT, f == CNN2DFormat.NCHW ? new long[] {10, 3, 9, 9}
                : new long[] {10, 9, 9, 3});
        INDArray before = x.dup();
        Map<String, double[]> h = ChannelEnergy.of(net, x, 4); // batches of 4, 4 and 2
        assertEquals(List.of("c1", "c2"), List.copyOf(h.keySet()));
        assertArrayEquals(meanSquares(x, f), h.get("c1"), 1e-7);
        // c2's input is the in-place ReLU's output, layer 2's activation (feedForward()[3])
        assertArrayEquals(meanSquares(net.feedForward(x, false).get(3), f), h.get("c2"), 1e-7);
        assertEquals(40, h.get("c2").length);
        assertEquals(before, x, "the images are not modified");
    }

    /** Activations of a batch of 3 and of all 7 images at once differ in the last float bits: 1e-7 absolute. */
    @Test
    void computationGraphConvInputs() {
        ComputationGraph net = TinyNets.residualGraph(5, CNN2DFormat.NCHW);
        INDArray x = TinyNets.random(6, DataType.FLOAT, 7, 3, 8, 8);
        Map<String, double[]> h = ChannelEnergy.of(net, x, 3);
        assertEquals(List.of("stem", "b1a", "b1b", "b2a", "b2proj"), List.copyOf(h.keySet()));
        Map<String, INDArray> acts = net.feedForward(x, false);
        assertArrayEquals(meanSquares(x, CNN2DFormat.NCHW), h.get("stem"), 1e-7);
        assertArrayEquals(meanSquares(acts.get("b1add"), CNN2DFormat.NCHW), h.get("b2proj"), 1e-7);
        assertArrayEquals(meanSquares(acts.get("b1a"), CNN2DFormat.NCHW), h.get("b1b"), 1e-7);
        assertThrows(IllegalArgumentException.class, () -> ChannelEnergy.of(net, x, 0));
        assertThrows(IllegalArgumentException.class, () -> ChannelEnergy.of(net, null, 2));
    }

    /**
     * The converter passes each layer's weights to the fit: weights that differ from channel to channel change the
     * scales, unit weights give exactly the unweighted conversion, and a wrong length fails naming the layer.
     */
    @Test
    void converterUsesTheWeightsByLayerName() {
        MultiLayerNetwork net = TinyNets.mln(8, CNN2DFormat.NCHW);
        INDArray x = TinyNets.random(9, DataType.FLOAT, 12, 3, 9, 9).muli(TinyNets.random(10, DataType.FLOAT,
                1, 3, 1, 1).muli(4)); // channel scales that differ a lot
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(3, 8, 32));
        DSConvConverter plain = new DSConvConverter(plan);
        INDArray p0 = plain.convert(net).network().params();
        Map<String, double[]> h = ChannelEnergy.of(net, x, 6);
        INDArray pw = plain.withChannelWeights(h).convert(net).network().params();
        assertNotEquals(p0, pw);
        double[] ones = new double[40];
        java.util.Arrays.fill(ones, 1.0);
        INDArray p1 = plain.withChannelWeights(Map.of("c2", ones)).convert(net).network().params();
        assertEquals(p0, p1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> plain.withChannelWeights(Map.of("c2", new double[3])).convert(net));
        assertTrue(e.getMessage().contains("layer 'c2'"), e.getMessage());
    }
}
