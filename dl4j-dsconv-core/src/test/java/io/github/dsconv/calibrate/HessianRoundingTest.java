package io.github.dsconv.calibrate;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.quant.HessianRoundingSolver;
import io.github.dsconv.quant.KernelShape;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The layer input Hessians against DL4J's own convolution, and the network pass end to end. */
class HessianRoundingTest {

    private static final ConversionPlan W3 = ConversionPlan.uniform(new LayerSpec(3, 8, 32));

    /**
     * {@code sum_o w_o^T H w_o} is the mean over images and output positions of {@code sum_o y_o^2}, with {@code y}
     * the FP32 convolution without its bias, computed by DL4J: checks the im2col geometry (Same padding, stride 2
     * with DL4J's asymmetric padding on an even input, 1x1 stride 2, NCHW and NHWC) and the mean.
     */
    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void hessianGivesTheMeanSquareOfDl4jConvolutionOutputs(CNN2DFormat f) {
        ComputationGraph fp32 = TinyNets.residualGraph(11, f);
        ComputationGraph dsconv = (ComputationGraph) new DSConvConverter(W3).convert(fp32).network();
        INDArray x = TinyNets.random(12, DataType.FLOAT, f == CNN2DFormat.NCHW ? new long[] {5, 3, 8, 8}
                : new long[] {5, 8, 8, 3});
        List<String> names = List.of("stem", "b1a", "b2a", "b2proj");
        Map<String, double[]> h = HessianRounding.hessians(fp32, dsconv, names, x, 2); // batches of 2, 2, 1
        Map<String, INDArray> acts = fp32.feedForward(x, false);
        for (String name : names) {
            INDArray w = fp32.getLayer(name).getParam("W");
            KernelShape shape = KernelShape.of(w.shape());
            float[] wf = w.dup('c').data().asFloat();
            double predicted = HessianRoundingSolver.outputError(wf, new float[wf.length], shape, h.get(name));
            INDArray y = acts.get(name).castTo(DataType.DOUBLE);
            if (fp32.getLayer(name).getParam("b") != null) {
                INDArray b = fp32.getLayer(name).getParam("b").castTo(DataType.DOUBLE).reshape(
                        f == CNN2DFormat.NCHW ? new long[] {1, shape.nOut(), 1, 1}
                                : new long[] {1, 1, 1, shape.nOut()});
                y = y.sub(b);
            }
            long positions = y.length() / shape.nOut();
            double measured = y.mul(y).sumNumber().doubleValue() / positions;
            assertEquals(measured, predicted, 1e-4 * measured, name);
        }
    }

    /**
     * On a converted W3 network the pass replaces kernels only where it lowers the output error on the
     * calibration images, and the stem's actual output (the DSConv network's, block floating point input and all)
     * moves closer to the FP32 one.
     */
    @Test
    void roundingLowersTheLayerOutputError() {
        ComputationGraph fp32 = TinyNets.residualGraph(13, CNN2DFormat.NCHW);
        INDArray x = smoothImages(16);
        ComputationGraph dsconv = (ComputationGraph) new DSConvConverter(W3).convert(fp32).network();
        double before = stemError(fp32, dsconv, x);
        INDArray paramsBefore = dsconv.params().dup();
        List<HessianRounding.LayerResult> r = HessianRounding.apply(fp32, dsconv, x, 8, false);
        assertEquals(List.of("stem", "b1a", "b1b", "b2a", "b2proj"),
                r.stream().map(HessianRounding.LayerResult::layer).toList());
        for (HessianRounding.LayerResult l : r) {
            assertEquals(l.replaced(), l.outputSqnrDbAfter() > l.outputSqnrDbBefore(), l.toString());
        }
        assertTrue(r.get(0).replaced(), r.get(0).toString());
        assertEquals(27, r.get(0).columns());
        assertNotEquals(paramsBefore, dsconv.params());
        double after = stemError(fp32, dsconv, x);
        assertTrue(after < 0.8 * before, "stem output MSE " + before + " -> " + after);
    }

    /**
     * Images whose neighbouring pixels and channels correlate, as natural images' do (with independent pixels every
     * rounding is as good as the nearest one): a random 4x4 image upsampled 2x, plus a per-image offset shared by
     * the channels.
     */
    private static INDArray smoothImages(int n) {
        float[] coarse = TinyNets.random(18, DataType.FLOAT, n, 3, 4, 4).dup('c').data().asFloat();
        float[] offset = TinyNets.random(19, DataType.FLOAT, n).dup('c').data().asFloat();
        float[] v = new float[n * 3 * 64];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < 8; y++) {
                    for (int xx = 0; xx < 8; xx++) {
                        v[((i * 3 + c) * 8 + y) * 8 + xx] = offset[i] + coarse[((i * 3 + c) * 4 + y / 2) * 4 + xx / 2];
                    }
                }
            }
        }
        return org.nd4j.linalg.factory.Nd4j.create(v, new long[] {n, 3, 8, 8}, 'c');
    }

    /**
     * Sequentially, each layer's Hessian comes from the DSConv network with the earlier layers already
     * re-quantized: the stem sees the same images either way (same outcome), the later layers see other inputs.
     */
    @Test
    void sequentialHessiansComeFromTheQuantizedNetwork() {
        ComputationGraph fp32 = TinyNets.residualGraph(20, CNN2DFormat.NCHW);
        INDArray x = smoothImages(12);
        ComputationGraph oneShot = (ComputationGraph) new DSConvConverter(W3).convert(fp32).network();
        ComputationGraph seq = (ComputationGraph) new DSConvConverter(W3).convert(fp32).network();
        List<HessianRounding.LayerResult> a = HessianRounding.apply(fp32, oneShot, x, 6, false, false);
        List<HessianRounding.LayerResult> b = HessianRounding.apply(fp32, seq, x, 6, false, true);
        assertEquals(a.get(0), b.get(0));
        assertEquals(oneShot.getLayer("stem").params(), seq.getLayer("stem").params());
        assertNotEquals(a.get(3).outputSqnrDbBefore(), b.get(3).outputSqnrDbBefore(), 1e-9);
        for (HessianRounding.LayerResult l : b) {
            assertEquals(l.replaced(), l.outputSqnrDbAfter() > l.outputSqnrDbBefore(), l.toString());
        }
    }

    private static double stemError(ComputationGraph fp32, ComputationGraph dsconv, INDArray x) {
        INDArray a = fp32.feedForward(x, false).get("stem").castTo(DataType.DOUBLE);
        INDArray b = dsconv.feedForward(x, false).get("stem").castTo(DataType.DOUBLE);
        INDArray d = a.sub(b);
        return d.mul(d).meanNumber().doubleValue();
    }

    @Test
    void badInputIsRejected() {
        MultiLayerNetwork fp32 = TinyNets.mln(15, CNN2DFormat.NCHW);
        MultiLayerNetwork dsconv = (MultiLayerNetwork) new DSConvConverter(W3).convert(fp32).network();
        ComputationGraph graph = TinyNets.residualGraph(16, CNN2DFormat.NCHW);
        INDArray x = TinyNets.random(17, DataType.FLOAT, 4, 3, 9, 9);
        assertThrows(IllegalArgumentException.class, () -> HessianRounding.apply(fp32, dsconv, x, 0, false));
        assertThrows(IllegalArgumentException.class, () -> HessianRounding.apply(fp32, dsconv, null, 4, false));
        IllegalArgumentException kinds = assertThrows(IllegalArgumentException.class,
                () -> HessianRounding.apply(graph, dsconv, x, 4, false));
        assertTrue(kinds.getMessage().contains("both"), kinds.getMessage());
        assertFalse(HessianRounding.apply(fp32, dsconv, x, 4, true).isEmpty(), "a valid call still works");
    }
}
