package io.github.dsconv.convert;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.quant.RoundToNearestQuantizer;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DSConvConverterTest {

    private static double relErr(INDArray a, INDArray ref) {
        return a.sub(ref).norm2Number().doubleValue() / ref.norm2Number().doubleValue();
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void convertsEveryConvolutionOfAMultiLayerNetwork(CNN2DFormat f) {
        MultiLayerNetwork net = TinyNets.mln(1, f);
        INDArray paramsBefore = net.params().dup();
        Converted<MultiLayerNetwork> r = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(8, 8, 32)))
                .convert(net);
        MultiLayerNetwork q = r.network();
        assertInstanceOf(DSConvLayer.class, q.getLayer(0).conf().getLayer());
        assertInstanceOf(DSConvLayer.class, q.getLayer(3).conf().getLayer());
        assertEquals(2, r.report().converted().size());
        // Everything that is not a convolution is copied bit for bit; the input network is untouched.
        for (int i : new int[] {1, 2, 4, 5}) {
            assertEquals(net.getLayer(i).params(), q.getLayer(i).params(), "layer " + i);
        }
        assertEquals(paramsBefore, net.params());
        assertInstanceOf(ConvolutionLayer.class, net.getLayer(0).conf().getLayer());
        assertFalse(net.getLayer(0).conf().getLayer() instanceof DSConvLayer);
        // The bias of c2 is carried over.
        assertEquals(net.getLayer(3).getParam("b"), q.getLayer(3).getParam("b"));
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {6, 3, 9, 9} : new long[] {6, 9, 9, 3};
        INDArray x = TinyNets.random(2, DataType.FLOAT, shape);
        // W8A8: measured relative output error 0.036% (NCHW) and 0.047% (NHWC); bound 2%.
        double err = relErr(q.output(x), net.output(x));
        System.out.println("MLN " + f + " W8A8 output relative error: " + err);
        assertTrue(err < 0.02, "W8A8 relative error " + err);
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void convertsAResidualGraph(CNN2DFormat f) {
        ComputationGraph net = TinyNets.residualGraph(3, f);
        Converted<ComputationGraph> r = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(8, 8, 16)))
                .convert(net);
        ComputationGraph q = r.network();
        int convs = 0;
        for (Layer l : q.getLayers()) {
            String name = l.conf().getLayer().getLayerName();
            if (l.conf().getLayer() instanceof DSConvLayer) {
                convs++;
            } else {
                assertEquals(net.getLayer(name).params(), l.params(), name);
            }
        }
        assertEquals(5, convs);
        assertEquals(5, r.report().converted().size());
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {4, 3, 8, 8} : new long[] {4, 8, 8, 3};
        INDArray x = TinyNets.random(4, DataType.FLOAT, shape);
        // W8A8: measured relative output error 0.11% (NCHW) and 0.13% (NHWC); bound 2%.
        double err = relErr(q.outputSingle(x), net.outputSingle(x));
        System.out.println("CG " + f + " W8A8 output relative error: " + err);
        assertTrue(err < 0.02, "W8A8 relative error " + err);
        // Lower bits cost more: the error at W3 is larger than at W8.
        ComputationGraph q3 = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(3, 8, 16))).convert(net)
                .network();
        assertTrue(relErr(q3.outputSingle(x), net.outputSingle(x)) > err);
    }

    @Test
    void firstLayerKeepsFp32ScalesAndTheReportCountsBytesHonestly() {
        ComputationGraph net = TinyNets.residualGraph(5, CNN2DFormat.NCHW);
        ConversionReport rep = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32))).convert(net)
                .report();
        LayerReport stem = rep.converted().get(0);
        assertEquals("stem", stem.name());
        assertEquals("FP32", stem.scalePrecision());
        // stem: 34x3x3x3 = 918 weights; 3 input channels -> 1 block -> 34*9 fp32 alphas.
        assertEquals(918L * 4, stem.fp32Bytes());
        assertEquals((918 * 4 + 7) / 8 + 34 * 9 * 4, stem.dsconvBytes());
        LayerReport b1a = rep.converted().get(1);
        assertEquals("FP16", b1a.scalePrecision());
        // b1a: 34x34x3x3 = 10404 weights; 34 channels at B=32 -> 2 blocks -> 34*2*9 fp16 alphas.
        assertEquals((10404 * 4 + 7) / 8 + 34 * 2 * 9 * 2, b1a.dsconvBytes());
        assertTrue(b1a.sqnrDb() > 15 && b1a.sqnrDb() < 30, "W4 SQNR " + b1a.sqnrDb());
        assertEquals(rep.converted().stream().mapToLong(LayerReport::dsconvBytes).sum(), rep.convertedWeightBytes());
    }

    @Test
    void planOverridesAndSkips() {
        ComputationGraph net = TinyNets.residualGraph(6, CNN2DFormat.NCHW);
        ConversionPlan plan = new ConversionPlan(new LayerSpec(4, 8, 32),
                Map.of("b1b", new LayerOverride(false, 6, null, 8), "b2proj", LayerOverride.skipped()),
                true, true, false, false, false);
        Converted<ComputationGraph> r = new DSConvConverter(plan).convert(net);
        assertInstanceOf(ConvolutionLayer.class, r.network().getLayer("stem").conf().getLayer());
        assertFalse(r.network().getLayer("stem").conf().getLayer() instanceof DSConvLayer);
        assertFalse(r.network().getLayer("b2proj").conf().getLayer() instanceof DSConvLayer);
        assertEquals(net.getLayer("stem").params(), r.network().getLayer("stem").params());
        DSConvLayer b1b = (DSConvLayer) r.network().getLayer("b1b").conf().getLayer();
        assertEquals(6, b1b.getWeightBits());
        assertEquals(8, b1b.getBlockSize());
        assertEquals(ScalePrecision.FP16, b1b.getScalePrecision());
        assertEquals(2, r.report().skipped().size());
        assertEquals(4 + 3 * 0, ((DSConvLayer) r.network().getLayer("b1a").conf().getLayer()).getWeightBits());
    }

    @Test
    void minCompressionKeepsAnRgbStemInFp32() {
        ComputationGraph net = TinyNets.residualGraph(6, CNN2DFormat.NCHW);
        // stem 34x3x3x3: 918 weights = 3672 FP32 bytes; W4 q 459 bytes + 34*9 fp32 alphas 1224 bytes: 2.18x.
        // b1a 34x34x3x3: 41616 bytes vs 5202 + 34*2*9*2 = 6426 bytes: 6.48x.
        ConversionPlan plan = ConversionPlan.standard().withMinCompression(3);
        Converted<ComputationGraph> r = new DSConvConverter(plan).convert(net);
        assertFalse(r.network().getLayer("stem").conf().getLayer() instanceof DSConvLayer);
        assertEquals(net.getLayer("stem").params(), r.network().getLayer("stem").params());
        assertEquals(1, r.report().skipped().size());
        assertTrue(r.report().skipped().get(0).reason().contains("2.18x"), r.report().skipped().get(0).reason());
        DSConvLayer b1a = (DSConvLayer) r.network().getLayer("b1a").conf().getLayer();
        assertEquals(ScalePrecision.FP16, b1a.getScalePrecision());
        assertTrue(b1a.quantizesActivations());
        // A plan entry for the layer wins over the rule; 0 converts everything (the old behaviour).
        ConversionPlan named = new ConversionPlan(LayerSpec.DEFAULT, Map.of("stem", new LayerOverride(false, 8, null,
                null)), false, true, false, false, false, false, 3);
        assertInstanceOf(DSConvLayer.class, new DSConvConverter(named).convert(net).network().getLayer("stem").conf()
                .getLayer());
        assertTrue(new DSConvConverter(ConversionPlan.uniform(LayerSpec.DEFAULT)).convert(net).report().skipped()
                .isEmpty());
        assertEquals(ConversionPlan.DEFAULT_MIN_COMPRESSION, ConversionPlan.standard().minCompression());
        assertEquals(List.of("stem"), new DSConvConverter(ConversionPlan.standard()).convert(net).report().skipped()
                .stream().map(ConversionReport.SkippedLayer::name).toList(), "the library's default keeps the stem");
        assertEquals(3.0, ConversionPlan.fromJson(plan.toJson()).minCompression());
        assertThrows(IllegalArgumentException.class, () -> ConversionPlan.standard().withMinCompression(-1));
    }

    @Test
    void roundToNearestBaselineRunsInTheSameLayer() {
        MultiLayerNetwork net = TinyNets.mln(7, CNN2DFormat.NCHW);
        ConversionReport rep = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32)),
                new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL)).convert(net).report();
        assertEquals("rtn-per-channel", rep.method());
        // c2: 36x40x3x3 weights at 4 bits plus 36 fp16 scales.
        assertEquals((36 * 40 * 9 * 4 + 7) / 8 + 36 * 2, rep.converted().get(1).dsconvBytes());
    }

    @Test
    void badPlansAndWeightsAreClearErrors(@TempDir Path dir) throws IOException {
        ComputationGraph net = TinyNets.residualGraph(8, CNN2DFormat.NCHW);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DSConvConverter(
                new ConversionPlan(LayerSpec.DEFAULT, Map.of("nope", LayerOverride.skipped()), false, true, false,
                        false, false)).convert(net));
        assertTrue(e.getMessage().contains("'nope'") && e.getMessage().contains("b1a"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new DSConvConverter(
                new ConversionPlan(LayerSpec.DEFAULT, Map.of("stem_bn", LayerOverride.skipped()), false, true, false,
                        false, false)).convert(net));
        assertTrue(e.getMessage().contains("BatchNormalization"), e.getMessage());

        ComputationGraph nan = net.clone();
        nan.getLayer("b1b").getParam("W").putScalar(new long[] {1, 2, 0, 1}, Float.NaN);
        e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvConverter(ConversionPlan.standard()).convert(nan));
        assertTrue(e.getMessage().contains("'b1b'") && e.getMessage().contains("NaN"), e.getMessage());

        assertThrows(IllegalArgumentException.class, () -> new LayerSpec(1, 8, 32));
        assertThrows(IllegalArgumentException.class, () -> new LayerSpec(9, 8, 32));
        assertThrows(IllegalArgumentException.class, () -> new LayerSpec(4, 8, 0));

        Path plan = dir.resolve("plan.json");
        Files.writeString(plan, "{\"formatVersion\": 2}");
        IOException io = assertThrows(IOException.class, () -> ConversionPlan.read(plan));
        assertTrue(io.getMessage().contains("formatVersion 2"), io.getMessage());
        Files.writeString(plan, "{\"weightBits\": 4, \"bogus\": 1}");
        io = assertThrows(IOException.class, () -> ConversionPlan.read(plan));
        assertTrue(io.getMessage().contains("'bogus'"), io.getMessage());
        Files.writeString(plan, "{\"weightBits\": 4, ");
        io = assertThrows(IOException.class, () -> ConversionPlan.read(plan));
        assertTrue(io.getMessage().contains("not valid JSON"), io.getMessage());
        Files.writeString(plan, "{\"layers\": {\"b1a\": {\"weightBits\": 12}}}");
        io = assertThrows(IOException.class, () -> ConversionPlan.read(plan));
        assertTrue(io.getMessage().contains("b1a") && io.getMessage().contains("[2, 8]"), io.getMessage());
        assertThrows(IOException.class, () -> ConversionPlan.read(dir.resolve("missing.json")));
    }

    @Test
    void planJsonRoundTrip() {
        ConversionPlan plan = new ConversionPlan(new LayerSpec(3, 6, 16),
                Map.of("a", new LayerOverride(false, 5, 0, null), "b", LayerOverride.skipped()), true, false, true,
                true, true);
        assertEquals(plan, ConversionPlan.fromJson(plan.toJson()));
    }
}
