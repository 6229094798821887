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

    @Test
    void roundToNearestGetsBiasCorrectionOnly() throws IOException {
        PtqResult r = PostTrainingQuantizer.builder().method(WeightMethod.RTN_PER_CHANNEL)
                .calibrationData(images(16)).build().quantize(fp32());
        assertEquals(new Recipe(0, 0, 16), r.recipe());
        assertTrue(r.hessianRounding().isEmpty());
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
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.builder()
                .method(WeightMethod.RTN_PER_TENSOR).recipe(new Recipe(0, 4, 0)).calibrationData(images(4)).build());
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.builder().batchSize(0));
        assertThrows(IllegalArgumentException.class, () -> new Recipe(-1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.builder()
                .calibrationData(new FashionMnistSource(FashionMnist.Split.TEST, Preprocessing.defaults()), 10_001));
        assertThrows(IllegalArgumentException.class, () -> WeightMethod.parse("int8"));
    }
}
