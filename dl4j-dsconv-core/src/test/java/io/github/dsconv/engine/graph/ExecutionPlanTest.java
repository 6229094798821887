package io.github.dsconv.engine.graph;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.engine.BatchNormFusionTest;
import io.github.dsconv.engine.EngineOptions;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.PreprocessorVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole-network plan gives the network's own output on the engine bit for bit (the reference is
 * {@code network.output} with the same kernels, per layer through DL4J), on graphs and layer lists, NCHW and NHWC,
 * with and without batch normalization fused, with every engine step kind and with fallbacks.
 */
class ExecutionPlanTest {

    private static final LayerSpec W4 = new LayerSpec(4, 8, 16);

    private static INDArray input(CNN2DFormat f, int n, int c, int side, long seed) {
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {n, c, side, side} : new long[] {n, side, side, c};
        Nd4j.getRandom().setSeed(seed);
        return Nd4j.rand(DataType.FLOAT, shape).subi(0.5).muli(4);
    }

    private static float[] reference(Model m, INDArray x) {
        INDArray out = m instanceof ComputationGraph cg ? cg.outputSingle(false, x) : ((MultiLayerNetwork) m).output(x);
        return out.dup().data().asFloat();
    }

    private static void assertPlanEqualsNetwork(Model m, INDArray x) {
        // The plan first: it must not depend on state a DL4J forward pass leaves behind (the graph's input arrays).
        ExecutionPlan plan = ExecutionPlan.compile(m);
        float[] got = plan.output(x).data().asFloat();
        float[] expect = reference(m, x);
        assertArrayEquals(expect, got, 0f, "plan vs network, bit for bit: " + plan.engineSteps() + plan.fallbacks());
        long held = plan.bufferFloats();
        float[] again = plan.output(x).data().asFloat(); // reused buffers carry nothing over
        assertArrayEquals(got, again, 0f);
        assertEquals(held, plan.bufferFloats(), "the second call allocates no buffer");
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void residualGraphWithFusedAndPlainBatchNorm(CNN2DFormat f) {
        ComputationGraph cg = BatchNormFusionTest.graph(f, false);
        INDArray x = input(f, 5, 3, 10, 1);
        IntegerEngine.enable(cg);
        ExecutionPlan plan = ExecutionPlan.compile(cg);
        // bn1+relu1, bn2, bn3 are fused into their convolutions; the add, the ReLU after it, the global average
        // pooling and the dense softmax head are engine steps.
        assertTrue(plan.engineSteps().contains("add: add + relu"), plan.engineSteps().toString());
        assertTrue(plan.engineSteps().contains("relu3: fused into the add before it"));
        assertTrue(plan.engineSteps().contains("bn2: fused into the convolution before it"));
        assertTrue(plan.engineSteps().contains("pool: global-avg-pool"));
        assertEquals(List.of(), plan.fallbacks());
        assertTrue(plan.engineSteps().contains("out: dense (ND4J matrix product)"));
        assertPlanEqualsNetwork(cg, x);

        IntegerEngine.enable(cg, IntegerEngine.defaultBackend(), EngineOptions.defaults().withFuseBatchNorm(false));
        ExecutionPlan unfused = ExecutionPlan.compile(cg);
        assertTrue(unfused.engineSteps().contains("bn2: batch-norm"), unfused.engineSteps().toString());
        assertTrue(unfused.engineSteps().contains("relu1: relu"));
        assertPlanEqualsNetwork(cg, x);
        IntegerEngine.disable(cg);
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void multiLayerNetwork(CNN2DFormat f) {
        MultiLayerNetwork mln = TinyNets.mln(11, f);
        TinyNets.randomBatchNormStats(mln.getLayers(), 3);
        MultiLayerNetwork net = (MultiLayerNetwork) new DSConvConverter(ConversionPlan.uniform(W4)).convert(mln)
                .network();
        IntegerEngine.enable(net);
        ExecutionPlan plan = ExecutionPlan.compile(net);
        assertTrue(plan.engineSteps().contains("bn1: batch-norm"), plan.engineSteps().toString());
        assertTrue(plan.engineSteps().stream().anyMatch(s -> s.startsWith("c2: conv") && s.endsWith("+ relu")));
        assertPlanEqualsNetwork(net, input(f, 4, 3, 9, 2));
        IntegerEngine.disable(net);
    }

    /**
     * Branches merged by concatenation, max pooling in Same and Truncate modes (with padding), average pooling in
     * Same mode (divided by the taps present) and with padding counted in the divisor, asymmetric zero padding, a tanh convolution (ND4J's activation) and global max pooling.
     */
    static ComputationGraph branchy(CNN2DFormat f) {
        ComputationGraph cg = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(5)
                .convolutionMode(ConvolutionMode.Same).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(13, 13, 3, f))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.RELU)
                        .dataFormat(f).build(), "in")
                .addLayer("pool1", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(2, 2)
                        .dataFormat(f).build(), "stem")
                .addLayer("a", new ConvolutionLayer.Builder(1, 1).nOut(32).activation(Activation.RELU)
                        .dataFormat(f).build(), "pool1")
                .addLayer("b", new ConvolutionLayer.Builder(3, 3).nOut(16).activation(Activation.RELU)
                        .dataFormat(f).build(), "pool1")
                .addVertex("cat", new MergeVertex(), "a", "b")
                .addLayer("pool2", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .padding(1, 1).convolutionMode(ConvolutionMode.Truncate).dataFormat(f).build(), "cat")
                .addLayer("avg", new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(3, 3).stride(1, 1)
                        .dataFormat(f).build(), "pool2")
                .addLayer("avgpad", new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(2, 2).stride(1, 1)
                        .padding(1, 1).convolutionMode(ConvolutionMode.Truncate).avgPoolIncludePadInDivisor(true)
                        .dataFormat(f).build(), "avg")
                .addLayer("zpad", new ZeroPaddingLayer.Builder(1, 0, 2, 1).dataFormat(f).build(), "avgpad")
                .addLayer("c", new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.TANH)
                        .dataFormat(f).build(), "zpad")
                .addLayer("gmp", new GlobalPoolingLayer.Builder(PoolingType.MAX).build(), "c")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(6)
                        .activation(Activation.SOFTMAX).build(), "gmp")
                .setOutputs("out").build());
        cg.init();
        return (ComputationGraph) new DSConvConverter(ConversionPlan.uniform(W4)).convert(cg).network();
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void concatenationPoolingAndFallbacks(CNN2DFormat f) {
        ComputationGraph cg = branchy(f);
        IntegerEngine.enable(cg);
        ExecutionPlan plan = ExecutionPlan.compile(cg);
        List<String> steps = plan.engineSteps();
        assertTrue(steps.containsAll(List.of("cat: concat", "pool1: max-pool", "pool2: max-pool",
                "gmp: global-max-pool", "zpad: zero-padding", "avg: avg-pool", "avgpad: avg-pool")),
                steps.toString());
        assertTrue(steps.stream().anyMatch(s -> s.startsWith("c: conv") && s.contains("(ND4J)")), steps.toString());
        assertEquals(List.of(), plan.fallbacks());
        assertPlanEqualsNetwork(cg, input(f, 3, 3, 13, 3));
        // Another input size goes through the same plan (geometries are recomputed per shape).
        assertPlanEqualsNetwork(cg, input(f, 2, 3, 17, 4));
        IntegerEngine.disable(cg);
    }

    /**
     * The C pooling ({@code NativeKernels.pool}) and the Java fallback give the same bits, with zero-sign ties
     * (the first of {@code -0} and {@code 0} in the window wins), padding, dilation and both divisors.
     */
    @ParameterizedTest
    @EnumSource(value = PoolingType.class, names = {"MAX", "AVG"})
    void nativeAndJavaPoolingAgreeBitForBit(PoolingType type) {
        org.junit.jupiter.api.Assumptions.assumeTrue(io.github.dsconv.engine.NativeKernels.available(),
                "no native library here: only the Java pooling runs");
        java.util.Random r = new java.util.Random(9);
        float[] x = new float[3 * 5 * 11 * 9];
        for (int i = 0; i < x.length; i++) {
            int k = r.nextInt(4);
            x[i] = k == 0 ? 0f : k == 1 ? -0f : (float) r.nextGaussian();
        }
        for (boolean includePad : new boolean[] {false, true}) {
            for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
                SubsamplingLayer conf = new SubsamplingLayer.Builder(type).kernelSize(3, 2).stride(2, 1)
                        .padding(mode == ConvolutionMode.Same ? 0 : 1, mode == ConvolutionMode.Same ? 0 : 1)
                        .dilation(1, 2).convolutionMode(mode).avgPoolIncludePadInDivisor(includePad)
                        .build();
                Tensor in = new Tensor(x, new long[] {3, 5, 11, 9});
                Tensor a = new PoolStep(conf, true).run(new Tensor[] {in}, new Arena());
                Tensor b = new PoolStep(conf, false).run(new Tensor[] {in}, new Arena());
                assertArrayEquals(b.shape(), a.shape());
                for (int i = 0; i < a.length(); i++) {
                    assertEquals(Float.floatToRawIntBits(b.data()[i]), Float.floatToRawIntBits(a.data()[i]),
                            type + " " + mode + " includePad=" + includePad + " at " + i);
                }
            }
        }
    }

    /** The GEMM route (what runs without the native library) and the plain-Java backend through the plan. */
    @ParameterizedTest
    @EnumSource(io.github.dsconv.engine.Backend.class)
    void gemmRoutesWithoutTheNativeKernel(io.github.dsconv.engine.Backend backend) {
        org.junit.jupiter.api.Assumptions.assumeTrue(backend != io.github.dsconv.engine.Backend.ONEDNN
                || io.github.dsconv.engine.OneDnn.available(), "oneDNN does not load here");
        ComputationGraph cg = branchy(CNN2DFormat.NHWC);
        IntegerEngine.enable(cg, backend, EngineOptions.gemmRoute());
        ExecutionPlan plan = ExecutionPlan.compile(cg);
        assertTrue(plan.engineSteps().stream().noneMatch(s -> s.contains("native")), plan.engineSteps().toString());
        assertPlanEqualsNetwork(cg, input(CNN2DFormat.NHWC, 2, 3, 13, 7));
        IntegerEngine.disable(cg);
    }

    /** A flatten as a graph vertex (how Keras' Flatten imports) before a dense softmax head, both layouts. */
    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void preprocessorVertexAndDenseHead(CNN2DFormat f) {
        ComputationGraph cg = new ComputationGraph(new NeuralNetConfiguration.Builder().seed(8)
                .convolutionMode(ConvolutionMode.Same).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(6, 6, 3, f))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.RELU)
                        .dataFormat(f).build(), "in")
                .addVertex("flatten", new PreprocessorVertex(
                        new CnnToFeedForwardPreProcessor(6, 6, 32, f)),
                        "conv")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(6 * 6 * 32).nOut(4)
                        .activation(Activation.SOFTMAX).build(), "flatten")
                .setOutputs("out").build());
        cg.init();
        ComputationGraph ds = (ComputationGraph) new DSConvConverter(ConversionPlan.uniform(W4)).convert(cg)
                .network();
        IntegerEngine.enable(ds);
        ExecutionPlan plan = ExecutionPlan.compile(ds);
        assertTrue(plan.fallbacks().get(0).startsWith("flatten: input preprocessor"), plan.fallbacks().toString());
        assertPlanEqualsNetwork(ds, input(f, 3, 3, 6, 9));
        IntegerEngine.disable(ds);
    }

    @Test
    void floatSimulationLayersFallBackToDl4j() {
        ComputationGraph cg = BatchNormFusionTest.graph(CNN2DFormat.NCHW, true);
        ExecutionPlan plan = ExecutionPlan.compile(cg); // engine off: every DSConv layer is DL4J's float simulation
        assertTrue(plan.fallbacks().contains("c2: DSConv layer on the float simulation"), plan.fallbacks().toString());
        assertFalse(plan.engineSteps().stream().anyMatch(s -> s.contains("conv")));
        assertPlanEqualsNetwork(cg, input(CNN2DFormat.NCHW, 2, 3, 10, 5));
    }

    @Test
    void badInput() {
        assertThrows(IllegalArgumentException.class, () -> ExecutionPlan.compile(null));
        ComputationGraph cg = BatchNormFusionTest.graph(CNN2DFormat.NCHW, false);
        ExecutionPlan plan = ExecutionPlan.compile(cg);
        INDArray x = input(CNN2DFormat.NCHW, 1, 3, 10, 6);
        assertThrows(IllegalArgumentException.class, () -> plan.output(x, x));
        assertThrows(IllegalArgumentException.class, () -> plan.output((INDArray[]) null));
    }
}
