package io.github.dsconv.it;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.engine.graph.ExecutionPlan;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.examples.ZooConversion;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.nn.Network;
import io.github.dsconv.zoo.ZooModels;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Full-size models (random init) convert with every ConvolutionLayer replaced and every other parameter
 * bit-identical, and at W8A8 their logits follow the FP32 model on real inputs (2 Fashion-MNIST test images
 * upsampled to 224x224x3).
 */
class FullSizeConversionTest {

    /**
     * Measured W8A8 logits SQNR on these 2 inputs (seed 7): GoogLeNet 36.5 dB, DenseNet-121 38.8 dB, ResNet50 (He
     * init) 32.4 dB, VGG16 32.9 dB, VGG19 30.9 dB; the bound is 25 dB.
     */
    static final double W8_SQNR_BOUND_DB = 25.0;

    @ParameterizedTest
    @CsvSource({"googlenet, 57", "densenet121, 120"})
    void convertsEveryConvolutionAndKeepsEverythingElse(String name, int convs) throws Exception {
        check(name, convs);
    }

    @Tag("slow")
    @ParameterizedTest
    @CsvSource({"resnet50, 53", "vgg16, 13", "vgg19, 16"})
    void convertsTheLargeZooModels(String name, int convs) throws Exception {
        check(name, convs);
    }

    private static void check(String name, int convs) throws Exception {
        ComputationGraph fp32 = ZooModels.build(name, 1000, 7);
        assertEquals(convs, ZooModels.convLayers(fp32));
        Converted<ComputationGraph> c = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(8, 8, 32)))
                .convert(fp32);
        assertEquals(convs, c.report().converted().size());
        assertEquals(0, ZooModels.convLayers(c.network()), "a ConvolutionLayer was left unconverted");
        int dsconv = 0;
        for (Layer l : c.network().getLayers()) {
            String layerName = l.conf().getLayer().getLayerName();
            if (l.conf().getLayer() instanceof DSConvLayer) {
                dsconv++;
            } else if (l.numParams() > 0) {
                assertEquals(fp32.getLayer(layerName).params(), l.params(), layerName + " changed");
            }
        }
        assertEquals(convs, dsconv);
        INDArray x = ZooConversion.inputs(2);
        Outputs ref = new Outputs(Logits.of(fp32, x).castTo(DataType.FLOAT), new int[2]);
        Outputs ds = new Outputs(Logits.of(c.network(), x).castTo(DataType.FLOAT), new int[2]);
        double sqnr = ds.logitsSqnrDb(ref);
        System.out.printf("%s W8A8 logits SQNR %.1f dB%n", name, sqnr);
        assertTrue(sqnr > W8_SQNR_BOUND_DB, name + " W8A8 logits SQNR " + sqnr);

        // Whole-graph execution (issue 19): the network compiled into one plan on the integer engine gives the float
        // simulation's outputs bit for bit on the native route (the GEMM routes sum in float pairs: top-1 only).
        float[] sim = Network.of(c.network()).output(x).dup().data().asFloat();
        EngineReport rep = IntegerEngine.enable(c.network());
        ExecutionPlan plan = ExecutionPlan.compile(c.network());
        INDArray out = plan.output(x);
        System.out.printf("%s plan: %d engine steps, DL4J runs %s%n", name, plan.engineSteps().size(),
                plan.fallbacks());
        if (rep.kernel().startsWith("native")) {
            assertArrayEquals(sim, out.data().asFloat(), 0f, name + " plan vs float simulation");
        } else {
            INDArray s = Nd4j.create(sim, out.shape());
            assertArrayEquals(s.argMax(1).toIntVector(), out.argMax(1).toIntVector(), name + " plan top-1");
        }
        IntegerEngine.disable(c.network());
    }
}
