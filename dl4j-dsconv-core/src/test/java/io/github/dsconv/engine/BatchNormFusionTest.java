package io.github.dsconv.engine;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batch normalization (and ReLU) fused into the integer engine's output pass ({@link BatchNormFusion}): the network's
 * outputs must be the same floats, bit for bit, as with DL4J's own BN and ReLU layers; the graph must come back
 * unchanged after {@link IntegerEngine#disable}; training while fused must fail loudly.
 */
public class BatchNormFusionTest {

    static Stream<Arguments> cases() {
        return Stream.of(Arguments.of(CNN2DFormat.NCHW, true), Arguments.of(CNN2DFormat.NCHW, false),
                Arguments.of(CNN2DFormat.NHWC, true), Arguments.of(CNN2DFormat.NHWC, false));
    }

    /**
     * conv -> BN -> ReLU -> conv -> BN -> ReLU -> 1x1 conv -> BN -> add (with the second ReLU's output) -> ReLU ->
     * pool -> softmax.
     */
    public static ComputationGraph graph(CNN2DFormat f, boolean logStd) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Sgd(0.1))
                .convolutionMode(ConvolutionMode.Same).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(10, 10, 3, f))
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(40).activation(Activation.IDENTITY)
                        .dataFormat(f).build(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().useLogStd(logStd).eps(1e-3).dataFormat(f).build(),
                        "c1")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(40).activation(Activation.IDENTITY)
                        .dataFormat(f).build(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().useLogStd(logStd).dataFormat(f).build(), "c2")
                .addLayer("relu2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn2")
                .addLayer("c3", new ConvolutionLayer.Builder(1, 1).nOut(40).activation(Activation.IDENTITY)
                        .dataFormat(f).build(), "relu2")
                .addLayer("bn3", new BatchNormalization.Builder().useLogStd(logStd).dataFormat(f).build(), "c3")
                .addVertex("add", new org.deeplearning4j.nn.conf.graph.ElementWiseVertex(
                        org.deeplearning4j.nn.conf.graph.ElementWiseVertex.Op.Add), "bn3", "relu2")
                .addLayer("relu3", new ActivationLayer.Builder().activation(Activation.RELU).build(), "add")
                .addLayer("pool", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "relu3")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(5)
                        .activation(Activation.SOFTMAX).build(), "pool")
                .setOutputs("out").build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        TinyNets.randomBatchNormStats(cg.getLayers(), 7);
        return new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 16))).convert(cg).network();
    }

    @ParameterizedTest(name = "{0} logStd={1}")
    @MethodSource("cases")
    void fusedOutputsAreDl4jsBitForBit(CNN2DFormat f, boolean logStd) {
        ComputationGraph cg = graph(f, logStd);
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {6, 3, 10, 10} : new long[] {6, 10, 10, 3};
        INDArray x = Nd4j.rand(DataType.FLOAT, shape).subi(0.5).muli(4);
        INDArray sim = cg.outputSingle(false, x).dup();
        GraphVertex[] before = cg.getVertices().clone();
        Backend backend = IntegerEngine.defaultBackend();

        EngineReport unfused = IntegerEngine.enable(cg, backend, EngineOptions.defaults().withFuseBatchNorm(false));
        assertEquals(List.of(), unfused.fusedBatchNorms());
        float[] plain = cg.outputSingle(false, x).dup().data().asFloat();

        EngineReport fused = IntegerEngine.enable(cg, backend, EngineOptions.defaults().withFuseBatchNorm(true));
        // bn1 with its ReLU (c1 is the 3-channel stem, double route: fused too); bn2 without relu2 (two consumers,
        // c3 and the add); bn3 (its consumer is the add, not a ReLU).
        assertEquals(List.of("bn1", "relu1", "bn2", "bn3"), fused.fusedBatchNorms(), fused.toString());
        float[] got = cg.outputSingle(false, x).dup().data().asFloat();
        float[] again = cg.outputSingle(false, x).dup().data().asFloat(); // reused output arrays carry nothing over
        assertArrayEquals(plain, got, 0f, "fused vs DL4J's BN/ReLU on the same integer layers");
        assertArrayEquals(got, again, 0f);

        IntegerEngine.disable(cg);
        GraphVertex[] after = cg.getVertices();
        for (int i = 0; i < before.length; i++) {
            assertSame(before[i], after[i], "vertex " + i + " restored");
        }
        assertArrayEquals(sim.data().asFloat(), cg.outputSingle(false, x).data().asFloat(), 0f);
    }

    @ParameterizedTest(name = "{0} logStd={1}")
    @MethodSource("cases")
    void fusedBatchNormEqualsTheLayer(CNN2DFormat f, boolean logStd) {
        ComputationGraph cg = graph(f, logStd);
        org.deeplearning4j.nn.layers.normalization.BatchNormalization bn =
                (org.deeplearning4j.nn.layers.normalization.BatchNormalization) cg.getLayer("bn1");
        String[] why = new String[1];
        FusedBatchNorm fb = FusedBatchNorm.of(bn, f, 40, why);
        assertTrue(fb != null, why[0]);
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {3, 40, 5, 7} : new long[] {3, 5, 7, 40};
        INDArray x = Nd4j.randn(DataType.FLOAT, shape).muli(3);
        x.putScalar(0, -0.0f); // signed zero and a tiny value pass through both the same way
        x.putScalar(1, Float.MIN_VALUE);
        org.deeplearning4j.nn.workspace.LayerWorkspaceMgr mgr =
                org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
        bn.setInput(x.dup(), mgr);
        float[] expect = bn.activate(false, mgr).dup().data().asFloat();
        float[] z = x.dup().data().asFloat();
        FusedBatchNorm.Params p = fb.params();
        int spatial = 35;
        if (f == CNN2DFormat.NCHW) {
            for (int img = 0; img < 3; img++) {
                for (int c = 0; c < 40; c++) {
                    p.applyRun(z, (img * 40 + c) * spatial, (img * 40 + c + 1) * spatial, c);
                }
            }
        } else {
            p.applyRows(z, 0, 3 * spatial, new float[40]);
        }
        for (int i = 0; i < z.length; i++) {
            assertEquals(Float.floatToRawIntBits(expect[i]), Float.floatToRawIntBits(z[i]), "element " + i);
        }
    }

    /**
     * A fused vertex whose input is not its DSConv layer's fused output (a caller feeding it by hand, or a kernel that
     * was rebuilt without fusion) must compute what the layer it replaced would: here DL4J's BN, and ReLU by hand.
     */
    @ParameterizedTest(name = "{0} logStd={1}")
    @MethodSource("cases")
    void aFusedVertexGivenOtherInputRunsTheReplacedLayer(CNN2DFormat f, boolean logStd) {
        ComputationGraph cg = graph(f, logStd);
        EngineReport rep = IntegerEngine.enable(cg);
        assertTrue(rep.fusedBatchNorms().containsAll(List.of("bn2", "relu1")), rep.toString());
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {2, 40, 10, 10} : new long[] {2, 10, 10, 40};
        INDArray a = Nd4j.randn(DataType.FLOAT, shape).muli(2);
        org.deeplearning4j.nn.workspace.LayerWorkspaceMgr mgr =
                org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();

        FusedLayerVertex bn2 = fusedVertex(cg, "bn2");
        bn2.setInput(0, a.dup(), mgr);
        INDArray got = bn2.doForward(false, mgr);
        org.deeplearning4j.nn.api.Layer layer = bn2.original().getLayer();
        layer.setInput(a.dup(), mgr);
        float[] expect = layer.activate(false, mgr).dup().data().asFloat();
        float[] input = a.dup().data().asFloat();
        float[] out = got.dup().data().asFloat();
        assertArrayEquals(expect, out, 0f, "bn2 fallback = DL4J's BatchNormalization");
        assertTrue(!java.util.Arrays.equals(input, out), "BN changed the values");

        FusedLayerVertex relu1 = fusedVertex(cg, "relu1");
        relu1.setInput(0, a.dup(), mgr);
        float[] relu = relu1.doForward(false, mgr).dup().data().asFloat();
        for (int i = 0; i < input.length; i++) {
            assertEquals(input[i] < 0 ? 0f : input[i], relu[i], 0f, "relu1 fallback, element " + i);
        }
        IntegerEngine.disable(cg);
    }

    private static FusedLayerVertex fusedVertex(ComputationGraph cg, String name) {
        for (GraphVertex v : cg.getVertices()) {
            if (v.getVertexName().equals(name)) {
                assertTrue(v instanceof FusedLayerVertex, name + " is " + v);
                return (FusedLayerVertex) v;
            }
        }
        throw new AssertionError("no vertex " + name);
    }

    @ParameterizedTest(name = "{0} logStd={1}")
    @MethodSource("cases")
    void trainingWhileFusedThrows(CNN2DFormat f, boolean logStd) {
        ComputationGraph cg = graph(f, logStd);
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {2, 3, 10, 10} : new long[] {2, 10, 10, 3};
        DataSet ds = new DataSet(Nd4j.rand(DataType.FLOAT, shape), Nd4j.eye(5).getRows(0, 1).castTo(DataType.FLOAT));
        IntegerEngine.enable(cg);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cg.fit(ds));
        assertTrue(e.getMessage().contains("IntegerEngine.disable"), e.getMessage());
        IntegerEngine.disable(cg);
        cg.fit(ds); // trains again once disabled
    }

    @org.junit.jupiter.api.Test
    void rejectsAnUnknownFuseProperty() {
        System.setProperty(EngineOptions.FUSE_BN_PROPERTY, "maybe");
        try {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, EngineOptions::defaults);
            assertTrue(e.getMessage().contains("'maybe'"), e.getMessage());
            System.setProperty(EngineOptions.FUSE_BN_PROPERTY, "false");
            assertEquals(false, EngineOptions.defaults().fuseBatchNorm());
        } finally {
            System.clearProperty(EngineOptions.FUSE_BN_PROPERTY);
        }
        assertEquals(true, EngineOptions.defaults().fuseBatchNorm());
    }
}
