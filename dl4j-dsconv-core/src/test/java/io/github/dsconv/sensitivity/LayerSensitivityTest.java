package io.github.dsconv.sensitivity;

import io.github.dsconv.convert.ActivationQuantization;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.LayerOverride;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.eval.Networks;
import io.github.dsconv.layers.BlockFloatingPointPreProcessor;
import io.github.dsconv.quant.BlockFloatingPoint;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.datasets.iterator.ExistingDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LayerSensitivityTest {

    private static final int N = 96;

    /**
     * The residual tiny graph with {@code b1b} made fragile to weight quantization: input channel 0 of {@code b1b}
     * is always zero ({@code b1a}'s channel 0 has zero weights and bias), and {@code b1b}'s weights on that channel
     * are 1e4 times the others. FP32 outputs do not see them, but they set every block scale of {@code b1b}'s first
     * block, so the other 31 channels of that block round to zero at 8 bits.
     */
    static ComputationGraph fragile() {
        ComputationGraph g = TinyNets.residualGraph(7, CNN2DFormat.NCHW);
        INDArray aW = g.getLayer("b1a").getParam("W");
        aW.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0)).assign(0);
        g.getLayer("b1a").getParam("b").putScalar(0, 0);
        INDArray bW = g.getLayer("b1b").getParam("W");
        double big = 1e4 * bW.amaxNumber().doubleValue();
        bW.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(0)).assign(big);
        return g;
    }

    static DataSetIterator data(boolean labelled) {
        INDArray x = TinyNets.random(11, DataType.FLOAT, N, 3, 8, 8);
        INDArray y = Nd4j.zeros(DataType.FLOAT, N, 4);
        for (int i = 0; i < N; i++) {
            y.putScalar(i, i % 4, 1);
        }
        List<DataSet> list = new java.util.ArrayList<>();
        for (int i = 0; i < N; i += 32) {
            var idx = org.nd4j.linalg.indexing.NDArrayIndex.interval(i, i + 32);
            list.add(new DataSet(x.get(idx).dup(), labelled ? y.get(idx).dup() : null));
        }
        return new ExistingDataSetIterator(list);
    }

    @Test
    void theFragileLayerRanksFirstOnItsWeights() throws IOException {
        ComputationGraph g = fragile();
        INDArray before = g.params().dup();
        LayerSensitivity s = LayerSensitivity.builder().plan(ConversionPlan.uniform(new LayerSpec(8, 8, 32))).build();
        int[] seen = {0};
        SensitivityReport r = s.analyse(g, data(true), n -> seen[0] += n);

        assertEquals(List.of("stem", "b1a", "b1b", "b2a", "b2proj"),
                r.layers().stream().sorted(java.util.Comparator.comparingInt(LayerResult::order))
                        .map(LayerResult::layer).toList());
        assertEquals("b1b", r.ranking().get(0), () -> "ranking " + r.layers());
        LayerResult b1b = r.layers().get(0);
        assertTrue(b1b.weights().logitsSqnrDb() < 15, () -> "b1b weights " + b1b.weights());
        assertTrue(b1b.activations().logitsSqnrDb() > 25, () -> "b1b activations " + b1b.activations());
        for (LayerResult l : r.layers().subList(1, r.layers().size())) {
            assertTrue(l.weights().logitsSqnrDb() > 25, () -> l.layer() + " " + l.weights());
            assertTrue(l.agreementLoss() <= b1b.agreementLoss());
        }
        assertEquals(N, r.images());
        assertTrue(r.labelled());
        assertNotNull(r.fp32Top1());
        assertNotNull(b1b.weights().top1());
        assertTrue(r.allWeights().logitsSqnrDb() < 15);
        assertTrue(r.allActivations().logitsSqnrDb() > 25);
        assertEquals("plain", r.recipe());
        assertEquals(s.passes(g) * N, seen[0]);
        assertEquals(before, g.params(), "the FP32 network must not change");
    }

    @Test
    void unlabelledDataGivesAgreementWithoutTop1() throws IOException {
        MultiLayerNetwork net = TinyNets.mln(3, CNN2DFormat.NHWC);
        INDArray x = TinyNets.random(5, DataType.FLOAT, 40, 9, 9, 3);
        DataSetIterator it = new ExistingDataSetIterator(List.of(new DataSet(x, null)));
        SensitivityReport r = LayerSensitivity.builder().build().analyse(net, it, null);
        assertEquals(2, r.layers().size());
        assertNull(r.fp32Top1());
        assertNull(r.layers().get(0).weights().top1());
        assertTrue(r.both().agreement() >= 0 && r.both().agreement() <= 1);
    }

    /** Activation-only quantization of the first convolution is the FP32 network on the BFP-rounded input. */
    @Test
    void activationQuantizationRoundsOnlyTheInput() {
        MultiLayerNetwork net = TinyNets.mln(3, CNN2DFormat.NCHW);
        ConversionPlan onlyFirst = new ConversionPlan(new LayerSpec(4, 6, 2), Map.of("c2", LayerOverride.skipped()),
                false, true, false, false, false);
        Model q = ActivationQuantization.apply(net, onlyFirst);
        INDArray x = TinyNets.random(5, DataType.FLOAT, 4, 3, 9, 9);
        double[] v = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        BlockFloatingPoint.quantizeInPlace(v, 4, 3, 81, false, 2, 6);
        INDArray xq = Nd4j.create(v, x.shape(), 'c').castTo(DataType.FLOAT);
        assertArrayEquals(Networks.output(net, xq).dup('c').data().asFloat(), Networks.output(q, x).dup('c').data().asFloat(), 0f);
        assertTrue(Networks.output(net, x).sub(Networks.output(q, x)).amaxNumber().doubleValue() > 0);
        assertEquals(net.params(), ((MultiLayerNetwork) q).params());

        ConversionPlan noInput = new ConversionPlan(new LayerSpec(4, 6, 2), Map.of("c2", LayerOverride.skipped()),
                false, false, false, false, false);
        assertArrayEquals(Networks.output(net, x).dup('c').data().asFloat(),
                Networks.output(ActivationQuantization.apply(net, noInput), x).dup('c').data().asFloat(), 0f);
    }

    @Test
    void badInputsAreRejected() {
        MultiLayerNetwork net = TinyNets.mln(3, CNN2DFormat.NCHW);
        LayerSensitivity planNamesUnknown = LayerSensitivity.builder().plan(new ConversionPlan(LayerSpec.DEFAULT,
                Map.of("nope", LayerOverride.skipped()), false, true, false, false, false)).build();
        assertThrows(IllegalArgumentException.class, () -> planNamesUnknown.analyse(net, data(true), null));
        LayerSensitivity allSkipped = LayerSensitivity.builder().plan(new ConversionPlan(LayerSpec.DEFAULT,
                Map.of("c1", LayerOverride.skipped(), "c2", LayerOverride.skipped()), false, true, false, false,
                false)).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> allSkipped.analyse(net, data(true), null));
        assertTrue(e.getMessage().contains("no convolution"), e.getMessage());
        DataSetIterator empty = new ExistingDataSetIterator(List.<DataSet>of());
        assertThrows(IllegalArgumentException.class, () -> LayerSensitivity.builder().build().analyse(net, empty,
                null));
        assertThrows(IllegalArgumentException.class, () -> LayerSensitivity.builder().batchSize(0));
        assertThrows(IllegalArgumentException.class, () -> LayerSensitivity.builder()
                .calibrationData(Nd4j.zeros(DataType.FLOAT, 0, 3, 9, 9)));
        assertThrows(IllegalArgumentException.class, () -> new LayerSpec(9, 8, 32));
        assertThrows(IllegalArgumentException.class, () -> new BlockFloatingPointPreProcessor(1, 32,
                CNN2DFormat.NCHW, null));
        assertThrows(IllegalArgumentException.class, () -> new BlockFloatingPointPreProcessor(8, 0,
                CNN2DFormat.NCHW, null));
    }
}
