package io.github.dsconv.calibrate;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bias correction removes exactly the mean output shift that quantization causes. With BFP off (act bits 0) the
 * converted layers are linear in their input, so the shift can be measured independently: the mean over images and
 * pixels of the DSConv layer's output minus the FP32 layer's output on the same (FP32) input.
 */
class BiasCorrectionTest {

    /** Post-ReLU-like, non-negative inputs, so the mean input (and with it the shift) is far from zero. */
    private static INDArray images(long seed, long... shape) {
        return TinyNets.random(seed, DataType.FLOAT, shape).addi(1).divi(2);
    }

    private static double[] channelMeans(INDArray a, CNN2DFormat f) {
        int[] dims = f == CNN2DFormat.NCHW ? new int[] {0, 2, 3} : new int[] {0, 1, 2};
        return a.castTo(DataType.DOUBLE).mean(dims).toDoubleVector();
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void batchNormMeanAbsorbsTheMeasuredShift(CNN2DFormat format) {
        MultiLayerNetwork fp32 = TinyNets.mln(7, format);
        MultiLayerNetwork ds = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(3, 0, 32))).convert(fp32)
                .network();
        INDArray x = images(11, format == CNN2DFormat.NCHW ? new long[] {40, 3, 9, 9} : new long[] {40, 9, 9, 3});
        // c1 is layer 0, followed by bn1: its output is feedForward()[1] in both networks
        double[] fpOut = channelMeans(fp32.feedForward(x, false).get(1), format);
        double[] dsOut = channelMeans(ds.feedForward(x, false).get(1), format);
        double[] bnMeanBefore = ds.getLayer(1).getParam("mean").toDoubleVector();
        double[] c2BiasBefore = ds.getLayer(3).getParam("b").toDoubleVector();

        List<BiasCorrection.Correction> rep = BiasCorrection.apply(fp32, ds, x, 16);

        assertEquals(List.of("c1", "c2"), rep.stream().map(BiasCorrection.Correction::layer).toList());
        assertEquals("bn bn1", rep.get(0).target());
        assertEquals("bias", rep.get(1).target(), "c2 has a bias and no batch norm after it");
        double[] bnMeanAfter = ds.getLayer(1).getParam("mean").toDoubleVector();
        double maxShift = 0;
        for (int o = 0; o < fpOut.length; o++) {
            double expected = dsOut[o] - fpOut[o];
            maxShift = Math.max(maxShift, Math.abs(expected));
            assertEquals(expected, bnMeanAfter[o] - bnMeanBefore[o], 2e-5 + 1e-3 * Math.abs(expected), "channel " + o);
        }
        assertEquals(maxShift, rep.get(0).maxAbsShift(), 2e-5 + 1e-3 * maxShift);
        assertTrue(maxShift > 1e-3, "a 3-bit kernel on non-negative inputs shifts the mean: " + maxShift);
        assertTrue(!java.util.Arrays.equals(c2BiasBefore, ds.getLayer(3).getParam("b").toDoubleVector()));
        // the corrected network's c1 -> bn1 output now has the FP32 network's mean. (bn1 is run on its own: in
        // feedForward()'s list, the in-place ReLU after it overwrites its output.)
        double[] fpBn = channelMeans(bn(fp32, x), format);
        double[] dsBn = channelMeans(bn(ds, x), format);
        for (int o = 0; o < fpBn.length; o++) {
            assertEquals(fpBn[o], dsBn[o], 1e-4, "bn1 channel " + o);
        }
    }

    /** bn1's output: c1 then bn1 of {@code net}. */
    private static INDArray bn(MultiLayerNetwork net, INDArray x) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        INDArray c1 = net.feedForward(x, false).get(1).dup();
        Layer bn1 = net.getLayer(1);
        bn1.setInput(c1, mgr);
        return bn1.activate(false, mgr).dup();
    }

    @Test
    void biasAbsorbsTheShiftOfALayerFedByTheFp32Activations() {
        ComputationGraph fp32 = TinyNets.residualGraph(3, CNN2DFormat.NCHW);
        ComputationGraph ds = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(3, 0, 32))).convert(fp32)
                .network();
        INDArray x = images(5, 24, 3, 8, 8);
        // b1a (bias, identity activation, consumed by the conv b1b) reads stem_relu: its shift is measured on the
        // FP32 network's stem_relu output
        INDArray in = fp32.feedForward(x, false).get("stem_relu");
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        Layer fpLayer = fp32.getLayer("b1a");
        fpLayer.setInput(in, mgr);
        double[] fpOut = channelMeans(fpLayer.activate(false, mgr), CNN2DFormat.NCHW);
        DSConvRuntime dsLayer = (DSConvRuntime) ds.getLayer("b1a");
        dsLayer.setInput(in, mgr);
        double[] dsOut = channelMeans(dsLayer.activate(false, mgr), CNN2DFormat.NCHW);
        double[] biasBefore = dsLayer.getParam("b").toDoubleVector();

        List<BiasCorrection.Correction> rep = BiasCorrection.apply(fp32, ds, x, 10);

        assertEquals("bn stem_bn", rep.get(0).target());
        BiasCorrection.Correction b1a = rep.stream().filter(c -> c.layer().equals("b1a")).findFirst().orElseThrow();
        assertEquals("bias", b1a.target());
        double[] biasAfter = dsLayer.getParam("b").toDoubleVector();
        for (int o = 0; o < fpOut.length; o++) {
            double expected = dsOut[o] - fpOut[o];
            assertEquals(expected, biasBefore[o] - biasAfter[o], 2e-5 + 1e-3 * Math.abs(expected), "channel " + o);
        }
    }

    @Test
    void qIsUntouchedAndOnlyBiasesAndBatchNormMeansMove() {
        MultiLayerNetwork fp32 = TinyNets.mln(9, CNN2DFormat.NCHW);
        MultiLayerNetwork ds = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32))).convert(fp32)
                .network();
        INDArray q0 = ds.getLayer(0).getParam("q").dup();
        INDArray alpha0 = ds.getLayer(0).getParam("alpha").dup();
        INDArray gamma0 = ds.getLayer(1).getParam("gamma").dup();
        BiasCorrection.apply(fp32, ds, images(1, 8, 3, 9, 9), 8);
        assertEquals(q0, ds.getLayer(0).getParam("q"));
        assertEquals(alpha0, ds.getLayer(0).getParam("alpha"));
        assertEquals(gamma0, ds.getLayer(1).getParam("gamma"));
    }

    @Test
    void rejectsEmptyInputsBadBatchesAndMismatchedNetworks() {
        MultiLayerNetwork fp32 = TinyNets.mln(1, CNN2DFormat.NCHW);
        MultiLayerNetwork ds = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32))).convert(fp32)
                .network();
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> BiasCorrection.apply(fp32, ds, Nd4j.create(DataType.FLOAT, 0, 3, 9, 9), 8));
        assertTrue(empty.getMessage().contains("at least one"), empty.getMessage());
        IllegalArgumentException batch = assertThrows(IllegalArgumentException.class,
                () -> BiasCorrection.apply(fp32, ds, images(1, 2, 3, 9, 9), 0));
        assertTrue(batch.getMessage().contains("batch"), batch.getMessage());
        ComputationGraph graph = TinyNets.residualGraph(1, CNN2DFormat.NCHW);
        IllegalArgumentException kinds = assertThrows(IllegalArgumentException.class,
                () -> BiasCorrection.apply(graph, ds, images(1, 2, 3, 8, 8), 2));
        assertTrue(kinds.getMessage().contains("ComputationGraph"), kinds.getMessage());
    }
}
