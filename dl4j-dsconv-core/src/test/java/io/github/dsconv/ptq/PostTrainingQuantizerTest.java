package io.github.dsconv.ptq;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link PostTrainingQuantizer}: the recipe it picks, that it runs what it reports, and its validation. */
class PostTrainingQuantizerTest {

    private static ComputationGraph fp32() {
        ComputationGraph g = TinyNets.residualGraph(3, CNN2DFormat.NCHW);
        TinyNets.randomBatchNormStats(g.getLayers(), 4);
        return g;
    }

    private static INDArray images(int n) {
        return TinyNets.random(9, DataType.FLOAT, n, 3, 8, 8);
    }

    @Test
    void withoutDataItIsThePapersConversion() throws IOException {
        ComputationGraph g = fp32();
        INDArray before = g.params().dup();
        PtqResult r = PostTrainingQuantizer.builder().build().quantize(g);
        assertEquals(Recipe.plain(), r.recipe());
        assertNull(r.calibrationData());
        INDArray plain = new DSConvConverter(ConversionPlan.standard()).convert(g).network().params();
        assertEquals(plain, r.network().params());
        assertEquals(before, g.params(), "the FP32 network is not modified");
    }

    @Test
    void withDataTheDefaultRecipeIsHessianRoundingThenBiasCorrection() throws IOException {
        ComputationGraph g = fp32();
        INDArray before = g.params().dup();
        PtqResult r = PostTrainingQuantizer.builder().calibrationData(images(64)).build().quantize(g);
        assertEquals(new Recipe(0, 64, 64), r.recipe());
        assertEquals("hessian-rounding(64) + bias-correction(64)", r.recipe().describe());
        // The default plan keeps the 3-channel stem in FP32 (minCompression 3): four DSConv layers remain.
        assertEquals(4, r.hessianRounding().size(), "one entry per DSConv layer");
        assertEquals(4, r.biasCorrections().size());
        INDArray plain = new DSConvConverter(ConversionPlan.standard()).convert(g).network().params();
        assertNotEquals(plain, r.network().params(), "calibration changed the network");
        assertEquals(before, g.params(), "the FP32 network is not modified");
        assertTrue(r.calibrationData().startsWith("64 images"), r.calibrationData());
    }

    /**
     * The per-channel baseline gets the same calibration as DSConv: Hessian-aware rounding on its own grid (its
     * scales kept, integers in the symmetric range), then bias correction.
     */
    @Test
    void perChannelRoundingGetsTheSameRecipeOnItsOwnGrid() throws IOException {
        ComputationGraph g = fp32();
        PtqResult r = PostTrainingQuantizer.builder().method(WeightMethod.RTN_PER_CHANNEL)
                .plan(ConversionPlan.standard().withDefaults(new io.github.dsconv.convert.LayerSpec(2, 8, 32)))
                .calibrationData(images(16)).build().quantize(g);
        assertEquals(new Recipe(0, 16, 16), r.recipe());
        assertEquals(4, r.hessianRounding().size());
        PtqResult plain = PostTrainingQuantizer.builder().method(WeightMethod.RTN_PER_CHANNEL)
                .plan(ConversionPlan.standard().withDefaults(new io.github.dsconv.convert.LayerSpec(2, 8, 32)))
                .build().quantize(g);
        for (String name : dsconvNames(r)) {
            var rounded = layerKernel(r, name);
            var nearest = layerKernel(plain, name);
            assertEquals(java.util.Arrays.toString(nearest.alpha()), java.util.Arrays.toString(rounded.alpha()),
                    "the per-channel scales are kept");
            for (byte q : rounded.q()) {
                assertTrue(q >= -1 && q <= 1, "W2 symmetric range, got " + q);
            }
        }
        for (var l : r.hessianRounding()) {
            assertTrue(!l.replaced() || l.outputSqnrDbAfter() > l.outputSqnrDbBefore(), l.toString());
        }
    }

    /** AdaRound through the builder: one entry per DSConv layer, a kept kernel only when it is better. */
    @Test
    void adaRoundRunsOnEveryDsconvLayerAndKeepsOnlyImprovements() throws IOException {
        ComputationGraph g = fp32();
        INDArray before = g.params().dup();
        Recipe recipe = new Recipe(0, 0, 16).withRounding(Rounding.ADAROUND, 16)
                .withAdaRound(io.github.dsconv.quant.AdaRoundSolver.Options.defaults().withIterations(200), false);
        PtqResult r = PostTrainingQuantizer.builder().recipe(recipe)
                .plan(ConversionPlan.standard().withDefaults(new io.github.dsconv.convert.LayerSpec(3, 8, 32)))
                .calibrationData(images(16)).build().quantize(g);
        assertEquals("adaround(16, 200 iterations) + bias-correction(16)", r.recipe().describe());
        assertEquals(4, r.adaRound().size());
        assertTrue(r.hessianRounding().isEmpty());
        int replaced = 0;
        for (var l : r.adaRound()) {
            assertTrue(!l.replaced() || l.outputSqnrDbAdaRound() > l.outputSqnrDbNearest(), l.toString());
            replaced += l.replaced() ? 1 : 0;
        }
        assertTrue(replaced >= 1, r.adaRound().toString());
        assertEquals(before, g.params(), "the FP32 network is not modified");

        // The asymmetric variant (the quantized network's inputs) runs too.
        PtqResult a = PostTrainingQuantizer.builder().recipe(recipe.withAdaRound(recipe.adaRound(), true))
                .calibrationData(images(16)).build().quantize(g);
        assertTrue(a.recipe().describe().contains("quantized inputs"));
        assertEquals(4, a.adaRound().size());
    }

    /** Equalisation runs first and is reported; the converted network then has no BN (folded). */
    @Test
    void equalisationIsReportedAndTheRestOfTheRecipeRunsOnTheEqualisedNetwork() throws IOException {
        ComputationGraph g = fp32();
        PtqResult r = PostTrainingQuantizer.builder().recipe(Recipe.calibrated(WeightMethod.DSCONV, 16)
                .withEqualize(true)).calibrationData(images(16)).build().quantize(g);
        assertTrue(r.recipe().describe().startsWith("equalize + hessian-rounding(16)"), r.recipe().describe());
        assertTrue(r.equalization() != null && !r.equalization().batchNormsFolded().isEmpty());
        assertEquals(4, r.hessianRounding().size());
        assertNull(PostTrainingQuantizer.builder().build().quantize(g).equalization());
    }

    private static java.util.List<String> dsconvNames(PtqResult r) {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (var l : io.github.dsconv.nn.Network.of(r.network()).dl4jLayers()) {
            if (l instanceof io.github.dsconv.layers.DSConvRuntime rt) {
                names.add(rt.layerConf().getLayerName());
            }
        }
        return names;
    }

    private static io.github.dsconv.quant.QuantizedKernel layerKernel(PtqResult r, String name) {
        for (var l : io.github.dsconv.nn.Network.of(r.network()).dl4jLayers()) {
            if (l instanceof io.github.dsconv.layers.DSConvRuntime rt && rt.layerConf().getLayerName().equals(name)) {
                return io.github.dsconv.layers.DSConvParams.read(rt.layerConf(), rt.paramTable());
            }
        }
        throw new AssertionError(name);
    }

    @Test
    void anExplicitRecipeUsesTheFirstImagesOfTheData() throws IOException {
        PtqResult r = PostTrainingQuantizer.builder().recipe(new Recipe(0, 0, 8)).calibrationData(images(32))
                .build().quantize(fp32());
        assertEquals("bias-correction(8)", r.recipe().describe());
        assertTrue(r.hessianRounding().isEmpty());
        assertEquals(4, r.biasCorrections().size());
    }

    @Test
    void badSettingsAreRejectedBeforeAnyWork() {
        assertThrows(IllegalArgumentException.class,
                () -> PostTrainingQuantizer.builder().recipe(new Recipe(0, 8, 0)).build());
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.builder()
                .recipe(new Recipe(0, 0, 100)).calibrationData(images(10)).build());
        assertThrows(IllegalArgumentException.class, () -> new Recipe(false, 0, Rounding.NEAREST, 4,
                io.github.dsconv.quant.AdaRoundSolver.Options.defaults(), false, 0));
        assertThrows(IllegalArgumentException.class, () -> new Recipe(false, 0, Rounding.ADAROUND, 0,
                io.github.dsconv.quant.AdaRoundSolver.Options.defaults(), false, 0));
        assertThrows(IllegalArgumentException.class, () -> Rounding.parse("stochastic"));
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.builder().batchSize(0));
        assertThrows(IllegalArgumentException.class, () -> new Recipe(-1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.builder()
                .calibrationData(new FashionMnistSource(FashionMnist.Split.TEST, Preprocessing.defaults()), 10_001));
        assertThrows(IllegalArgumentException.class, () -> WeightMethod.parse("int8"));
    }
}
