package io.github.dsconv.mixed;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.zoo.small.SmallModels;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.ptq.PtqResult;
import io.github.dsconv.ptq.Recipe;
import io.github.dsconv.ptq.WeightMethod;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Mixed-precision networks assembled per bit width equal a direct quantization with the mixed plan. */
class BitWidthVariantsTest {

    private static ComputationGraph fp32;
    private static INDArray images;

    @BeforeAll
    static void network() {
        fp32 = SmallModels.resnet(7, 0);
        Nd4j.getRandom().setSeed(11);
        images = Nd4j.rand(DataType.FLOAT, 16, 1, 28, 28);
    }

    @Test
    void positionsGroupAProjectionWithItsBlockAndLeaveTheStemInFp32() {
        SearchLayers l = SearchLayers.of(fp32, ConversionPlan.standard());
        // The 1-channel stem is below the standard plan's minCompression: it stays FP32 and out of the search.
        assertEquals(List.of("stem_conv"), l.fp32Left());
        assertEquals(List.of("s1b1a_conv", "s1b1b_conv", "s2b1a_conv", "s2b1b_conv", "s2b2a_conv", "s2b2b_conv",
                "s3b1a_conv", "s3b1b_conv"), l.leaders());
        assertEquals(List.of("s2b1a_conv", "s2b1proj_conv"), l.groups().get(2).members());
        assertEquals(List.of("s3b1a_conv", "s3b1proj_conv"), l.groups().get(6).members());
        Map<String, Integer> bits = l.bitsByLayer(new int[] {8, 7, 6, 5, 4, 3, 2, 2});
        assertEquals(6, bits.get("s2b1proj_conv"));
        assertEquals(2, bits.get("s3b1proj_conv"));
        assertThrows(IllegalArgumentException.class, () -> l.bitsByLayer(new int[3]));
    }

    @Test
    void anAssembledConfigurationEqualsADirectRunWithItsPlan() throws IOException {
        SearchLayers l = SearchLayers.of(fp32, ConversionPlan.standard());
        Recipe recipe = Recipe.calibrated(WeightMethod.DSCONV, 16);
        BitWidthVariants v = new BitWidthVariants(fp32, l, ConversionPlan.standard(), WeightMethod.DSCONV, recipe,
                images, 16);
        int[] bits = {8, 3, 3, 8, 8, 3, 2, 3}; // three widths keep the test short: one calibration each
        BitWidthVariants.Assembled a = v.assemble(bits);
        PtqResult direct = PostTrainingQuantizer.builder().plan(a.plan()).recipe(recipe).batchSize(16)
                .calibrationData(images).build().quantize(fp32);
        assertEquals(direct.network().params(), a.network().params());
        ComputationGraph net = (ComputationGraph) a.network();
        assertEquals(2, ((DSConvLayer) net.getLayer("s3b1proj_conv").conf().getLayer()).getWeightBits());
        assertEquals(3, ((DSConvLayer) net.getLayer("s2b1proj_conv").conf().getLayer()).getWeightBits());
        assertEquals(8, ((DSConvLayer) net.getLayer("s1b1a_conv").conf().getLayer()).getWeightBits());
        assertTrue(!(net.getLayer("stem_conv").conf().getLayer() instanceof DSConvLayer), "stem stays FP32");
        assertEquals(direct.report().convertedWeightBytes(), a.convWeightBytes());
        // The memory table predicts the same bytes without converting.
        long[][] table = new BitWidthVariants(fp32, l, ConversionPlan.standard(), WeightMethod.DSCONV,
                Recipe.plain(), null, 16).bytesTable();
        long predicted = 0;
        for (int i = 0; i < bits.length; i++) {
            predicted += table[i][bits[i]];
        }
        long fp32Left = a.report().skipped().stream().mapToLong(s -> s.fp32Bytes()).sum();
        assertEquals(a.convWeightBytes(), predicted + fp32Left);
        assertEquals(a.report().converted().stream().mapToLong(LayerReport::dsconvBytes).sum(), predicted);
    }
}
