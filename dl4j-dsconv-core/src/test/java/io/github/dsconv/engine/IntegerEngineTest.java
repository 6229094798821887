package io.github.dsconv.engine;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IntegerEngineTest {

    /**
     * Every layer on integer products: on the GEMM route (oneDNN or Java GEMMs, then a Java epilogue) summed in double
     * (bit-identical to the float simulation), in float pairs (asserted bit-identical wherever double is) and in
     * plain float (to FP32 summation order); and on the native fused kernel on every path this CPU runs (VNNI, AVX2,
     * portable C; always double sums, so bit-identical too).
     */
    static final List<EngineOptions> INTEGER_ONLY = integerOnly();

    private static List<EngineOptions> integerOnly() {
        List<EngineOptions> out = new ArrayList<>(List.of(EngineOptions.exact().withNativePath(null),
                new EngineOptions(Accumulation.COMPENSATED, EngineOptions.Stem.INTEGER).withNativePath(null),
                new EngineOptions(Accumulation.FLOAT, EngineOptions.Stem.INTEGER).withNativePath(null)));
        for (NativeKernels.Path p : NativeKernelsTest.runnablePaths()) {
            out.add(EngineOptions.exact().withNativePath(p));
        }
        return List.copyOf(out);
    }

    /**
     * Relative bound for float sums: each of the at most 75 block terms of an output (5x5 kernel, 3 blocks) adds one
     * float rounding of at most 2^-24 of the running sum, so about 75 * 6e-8 = 4.5e-6 of the largest partial sum in
     * the worst case; 2e-5 leaves room for partial sums a few times the largest output.
     */
    static final double FLOAT_SUM_BOUND = 2e-5;

    /** The bound for an exact (double) path with the given exact bound, or {@link #FLOAT_SUM_BOUND} for float. */
    static double bound(EngineOptions o, double exact) {
        return o.accumulation() != Accumulation.FLOAT ? exact : Math.max(exact, FLOAT_SUM_BOUND);
    }

    /**
     * Resident bytes of a layer's integer weights ({@code g} terms of {@code kb x nOut}; the GEMM route packs
     * {@code kbPacked} rows a term): bit-packed at {@code bits} on the GEMM route; on the native route the
     * kernel's layout by hand: VNNI {@code ceil(nOut/16) * (kb/4 * 64 + 64)} bytes a term (16 x 4 int8 tiles plus
     * 16 int32 column sums), AVX2 {@code ceil(nOut/8) * kb/2 * 16} (int8 pairs), portable {@code kb * nOut}.
     */
    static long weightBytes(EngineOptions opt, int g, int kb, int kbPacked, int nOut, int bits) {
        if (opt.nativePath() == null) {
            return ((long) g * kbPacked * nOut * bits + 7) / 8;
        }
        return (long) g * switch (NativeKernels.pathFor(opt.nativePath(), kb)) {
            case AVX512_VNNI -> (long) ((nOut + 15) / 16) * (kb / 4 * 64 + 64);
            case AVX2 -> (long) ((nOut + 7) / 8) * (kb / 2) * 16;
            case PORTABLE -> (long) kb * nOut;
        };
    }

    /** One DSConv layer + global pooling + softmax (so the network is a valid DL4J net). */
    private static MultiLayerNetwork single(DSConvLayer conv, int nIn, int side, CNN2DFormat f) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.FLOAT).updater(new Sgd(0.1)).weightInit(WeightInit.XAVIER)
                .list()
                .layer(conv)
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(side, side, nIn, f))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    private static INDArray layerOut(MultiLayerNetwork net, INDArray x) {
        return net.feedForward(x, false).get(1);
    }

    @Test
    void oneDnnLoadsOnThisPlatform() {
        assertTrue(OneDnn.available(), "oneDNN failed to load: " + OneDnn.failure());
        assertNull(OneDnn.failure());
    }

    /**
     * 1x1 conv, one block of 2 channels, A8 (m = 7), by hand. Position 0: x = (1, 0.5), e = 0, mantissas
     * (64, 32), scale 2^-6; q = (3, -2), alpha = 0.25: acc = 128, y = 0.25 * 2^-6 * 128 = 0.5. Position 1:
     * x = (0.3, -0.1), e = -2, mantissas rint(76.8) = 77 and rint(-25.6) = -26, scale 2^-8: acc = 283,
     * y = 0.25 * 283 / 256 = 0.2763671875.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void handComputedOneByOne(Backend backend) {
        DSConvLayer ds = new DSConvLayer.Builder(1, 1).nIn(2).nOut(1).blockSize(2).weightBits(8).actBits(8)
                .hasBias(false).activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, 2, 1, CNN2DFormat.NCHW);
        net.getLayer(0).setParam("q", Nd4j.create(new float[] {3, -2}, 1, 2, 1, 1));
        net.getLayer(0).setParam("alpha", Nd4j.create(new float[] {0.25f}, 1, 1, 1, 1));
        INDArray x = Nd4j.create(new float[] {1f, 0.5f, 0.3f, -0.1f}, 2, 2, 1, 1);
        for (EngineOptions opt : INTEGER_ONLY) {
            EngineReport r = IntegerEngine.enable(net, backend, opt);
            assertEquals(backend, r.backend());
            assertEquals(opt.effectiveAccumulation(), r.accumulation());
            INDArray y = layerOut(net, x);
            assertEquals(0.5f, y.getFloat(0, 0, 0, 0), 0f);
            assertEquals(0.2763671875f, y.getFloat(1, 0, 0, 0), 0f);
            // 1 weight padded to the block of 2, packed at 8 bits, plus one alpha (0.25 is an fp16 value); FP32
            // would hold 2 floats. The native kernel holds its own layout instead of the packed bits.
            assertEquals(weightBytes(opt, 1, 2, 2, 1, 8) + 2, r.integerConvWeightBytes());
            assertEquals(8, r.fp32ConvWeightBytes());
        }
    }

    /**
     * 3x3 Same conv on a 3x3 single-channel image of ones (BFP: mantissa 64, scale 2^-6, exact), q = -4..4 in
     * raster order, alpha = 0.5: each output is 0.5 * the sum of q over the kernel taps that land in the image.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void handComputedThreeByThree(Backend backend) {
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(1).nOut(1).blockSize(32).weightBits(4).actBits(8)
                .convolutionMode(ConvolutionMode.Same).hasBias(false).activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, 1, 3, CNN2DFormat.NCHW);
        net.getLayer(0).setParam("q", Nd4j.create(new float[] {-4, -3, -2, -1, 0, 1, 2, 3, 4}, 1, 1, 3, 3));
        net.getLayer(0).setParam("alpha", Nd4j.valueArrayOf(new long[] {1, 1, 3, 3}, 0.5f));
        // Top-left output sees taps (1,1),(1,2),(2,1),(2,2): q = 0 + 1 + 3 + 4 = 8; centre sees all: 0.
        float[][] expect = {{0.5f * 8, 0.5f * 9, 0.5f * 4}, {0.5f * 3, 0f, 0.5f * -3}, {0.5f * -4, 0.5f * -9,
            0.5f * -8}};
        for (EngineOptions opt : INTEGER_ONLY) {
            IntegerEngine.enable(net, backend, opt);
            INDArray y = layerOut(net, Nd4j.ones(DataType.FLOAT, 1, 1, 3, 3));
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    assertEquals(expect[i][j], y.getFloat(0, 0, i, j), 0f, opt + " output (" + i + "," + j + ")");
                }
            }
        }
    }

    /**
     * 8-bit extremes: 32 mantissas of +127 (x = 127/64, e = 0) against q = -128 and q = 127. Without the split of
     * q into halves, oneDNN's non-VNNI int8 kernels saturate int16 pair sums (255 * -128 * 2 < -32768).
     * Expected: 32 * 127 * -128 / 64 = -8128 and 32 * 127 * 127 / 64 = 8064.5.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void eightBitExtremesDoNotSaturate(Backend backend) {
        DSConvLayer ds = new DSConvLayer.Builder(1, 1).nIn(32).nOut(2).blockSize(32).weightBits(8).actBits(8)
                .hasBias(false).activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, 32, 1, CNN2DFormat.NCHW);
        INDArray q = Nd4j.create(DataType.FLOAT, 2, 32, 1, 1);
        q.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0)).assign(-128);
        q.get(org.nd4j.linalg.indexing.NDArrayIndex.point(1)).assign(127);
        net.getLayer(0).setParam("q", q);
        net.getLayer(0).setParam("alpha", Nd4j.ones(DataType.FLOAT, 2, 1, 1, 1));
        for (EngineOptions opt : INTEGER_ONLY) {
            IntegerEngine.enable(net, backend, opt);
            INDArray y = layerOut(net, Nd4j.valueArrayOf(new long[] {1, 32, 1, 1}, 127f / 64));
            assertEquals(-8128f, y.getFloat(0, 0, 0, 0), 0f);
            assertEquals(8064.5f, y.getFloat(0, 1, 0, 0), 0f);
        }
    }

    static Stream<Backend> backends() {
        return Stream.of(Backend.JAVA, Backend.ONEDNN);
    }

    static Stream<Arguments> geometries() {
        List<Arguments> out = new ArrayList<>();
        for (Backend b : Backend.values()) {
            out.add(Arguments.of(b, CNN2DFormat.NCHW, ConvolutionMode.Same, 3, 1, 1, 0, false, false, true));
            out.add(Arguments.of(b, CNN2DFormat.NHWC, ConvolutionMode.Same, 3, 2, 1, 0, true, false, false));
            out.add(Arguments.of(b, CNN2DFormat.NCHW, ConvolutionMode.Same, 1, 2, 1, 0, false, true, true));
            out.add(Arguments.of(b, CNN2DFormat.NHWC, ConvolutionMode.Truncate, 3, 2, 1, 1, true, true, true));
            out.add(Arguments.of(b, CNN2DFormat.NCHW, ConvolutionMode.Truncate, 3, 1, 2, 2, false, false, false));
            out.add(Arguments.of(b, CNN2DFormat.NHWC, ConvolutionMode.Same, 5, 1, 1, 0, false, true, true));
        }
        return out.stream();
    }

    /**
     * The integer layer equals the float simulation {@code conv(x_bfp, W_eff)} up to FP32 summation order, for
     * both formats, Same/Truncate, stride 2, dilation, a block size (16) that does not divide nIn (37), KDS bias,
     * CDS and conv bias, signed (s8) and non-negative (u8) input: bit for bit when summing in double (without KDS
     * bias or CDS), within {@link #FLOAT_SUM_BOUND} when summing in float.
     */
    @ParameterizedTest
    @MethodSource("geometries")
    void layerAgreesWithFloatSimulation(Backend backend, CNN2DFormat f, ConvolutionMode mode, int k, int stride,
                                        int dilation, int pad, boolean kdsBias, boolean cds, boolean bias) {
        int nIn = 37;
        int nOut = 20;
        int side = 13;
        int nb = 3;
        DSConvLayer ds = new DSConvLayer.Builder(k, k).stride(stride, stride).dilation(dilation, dilation)
                .padding(pad, pad).convolutionMode(mode).nIn(nIn).nOut(nOut).dataFormat(f).actBits(8)
                .weightBits(4).blockSize(16).kdsBias(kdsBias).cds(cds).hasBias(bias)
                .activation(Activation.TANH).build();
        MultiLayerNetwork net = single(ds, nIn, side, f);
        DSConvRuntime rt = (DSConvRuntime) net.getLayer(0);
        Random rnd = new Random(11);
        float[] q = new float[nOut * nIn * k * k];
        for (int i = 0; i < q.length; i++) {
            q[i] = rnd.nextInt(16) - 8;
        }
        rt.setParam("q", Nd4j.create(q, new long[] {nOut, nIn, k, k}, 'c'));
        rt.setParam("alpha", TinyNets.random(1, DataType.FLOAT, nOut, nb, k, k).muli(0.05));
        if (kdsBias) {
            rt.setParam("beta", TinyNets.random(2, DataType.FLOAT, nOut, nb, k, k).muli(0.01));
        }
        if (cds) {
            rt.setParam("gamma", TinyNets.random(3, DataType.FLOAT, nOut).addi(2));
            rt.setParam("delta", TinyNets.random(4, DataType.FLOAT, nOut).muli(0.01));
        }
        if (bias) {
            rt.setParam("b", TinyNets.random(5, DataType.FLOAT, nOut));
        }
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {3, nIn, side, side} : new long[] {3, side, side, nIn};
        INDArray x = TinyNets.random(6, DataType.FLOAT, shape);
        // Exact zeros and an all-zero block exercise the "zeros ignored" exponent rule and zero scales.
        x.muli(Nd4j.rand(DataType.FLOAT, shape).gt(0.2).castTo(DataType.FLOAT));
        // Signed input, then a non-negative one (as after a ReLU), which takes oneDNN's u8 x s8 path.
        for (INDArray in : List.of(x, Transforms.abs(x, true))) {
            INDArray expect = layerOut(net, in).dup();
            for (EngineOptions opt : INTEGER_ONLY) {
                IntegerEngine.enable(net, backend, opt);
                assertNotNull(IntegerEngine.kernel(rt));
                INDArray got = layerOut(net, in);
                assertArrayEquals(expect.shape(), got.shape());
                double rel = got.sub(expect).amaxNumber().doubleValue() / expect.amaxNumber().doubleValue();
                // In double both paths round (nearly) exact sums once to float; without KDS bias or CDS (whose float
                // simulation folds them into the float effective kernel) the results are bit-identical.
                assertTrue(rel <= bound(opt, kdsBias || cds ? 1e-6 : 0), opt + ": max relative difference " + rel);

                IntegerEngine.disable(net);
                assertNull(IntegerEngine.kernel(rt));
                assertEquals(expect, layerOut(net, in), "disable restores the float simulation exactly");
            }
        }
    }

    /**
     * The engine reuses its layer buffers (mantissas, scales, sums) from layer to layer: a layer on 48 channels
     * (three full blocks of B=16) over a large dense input, then a layer on 37 channels (11 padding channels in its
     * last block) over a smaller input with all-zero blocks (the first image's first block, the second image's
     * second block), must still match the float simulation: nothing of the first layer's mantissas or scales survives into the second.
     * (Stale padding mantissas meet zero weights in the products; they would show in the mantissa sums that the
     * KDS shift and CDS use, so both are on.)
     */
    @ParameterizedTest
    @MethodSource("backends")
    void reusedBuffersCarryNothingOver(Backend backend) {
        for (CNN2DFormat f : CNN2DFormat.values()) {
            boolean nchw = f == CNN2DFormat.NCHW;
            MultiLayerNetwork first = shiftedLayer(48, f);
            MultiLayerNetwork second = shiftedLayer(37, f);
            INDArray big = TinyNets.random(21, DataType.FLOAT, nchw ? new long[] {4, 48, 9, 9}
                    : new long[] {4, 9, 9, 48}).muli(100);
            INDArray small = TinyNets.random(22, DataType.FLOAT, nchw ? new long[] {2, 37, 9, 9}
                    : new long[] {2, 9, 9, 37});
            int channelAxis = nchw ? 1 : 3;
            small.get(blockOf(0, channelAxis, 0, 16)).assign(0);
            small.get(blockOf(1, channelAxis, 16, 32)).assign(0);
            INDArray expectBig = layerOut(first, big).dup();
            INDArray expectSmall = layerOut(second, small).dup();
            for (EngineOptions opt : INTEGER_ONLY) {
                IntegerEngine.enable(first, backend, opt);
                IntegerEngine.enable(second, backend, opt);
                // KDS shift and CDS are folded into the simulation's kernel in another order: 1e-6, as above.
                assertTrue(maxRel(layerOut(first, big), expectBig) <= bound(opt, 1e-6), f + " first layer");
                assertTrue(maxRel(layerOut(second, small), expectSmall) <= bound(opt, 1e-6),
                        f + " second layer after it");
            }
        }
    }

    /** A 3x3 W4 B16 layer on {@code nIn} channels with a random KDS shift and CDS shift. */
    private static MultiLayerNetwork shiftedLayer(int nIn, CNN2DFormat f) {
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).convolutionMode(ConvolutionMode.Same).nIn(nIn).nOut(6)
                .dataFormat(f).actBits(8).weightBits(4).blockSize(16).kdsBias(true).cds(true)
                .activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, nIn, 9, f);
        DSConvRuntime rt = (DSConvRuntime) net.getLayer(0);
        int nb = (nIn + 15) / 16;
        rt.setParam("beta", TinyNets.random(23, DataType.FLOAT, 6, nb, 3, 3).muli(0.01));
        rt.setParam("delta", TinyNets.random(24, DataType.FLOAT, 6).muli(0.01));
        return net;
    }

    private static double maxRel(INDArray got, INDArray expect) {
        return got.sub(expect).amaxNumber().doubleValue() / expect.amaxNumber().doubleValue();
    }

    /** Channels {@code [from, to)} of image {@code img}, the channel axis being {@code axis}. */
    private static INDArrayIndex[] blockOf(int img, int axis, int from, int to) {
        INDArrayIndex[] idx = {NDArrayIndex.interval(img, img + 1), NDArrayIndex.all(), NDArrayIndex.all(),
                NDArrayIndex.all()};
        idx[axis] = NDArrayIndex.interval(from, to);
        return idx;
    }

    /**
     * A ResNet50 stage-3 3x3 conv (256 -> 256, no bias) at W4 B32 with fp16 scales, as the converter makes it:
     * {@code q} is held bit-packed and alpha in fp16, 1/7 of FP32 or less, and the outputs are those of the float
     * simulation bit for bit. By hand: g = 3 * 3 * 256/32 = 72 weight matrices of 32 x 256, 4 bits each:
     * 72 * 32 * 256 / 2 = 294,912 bytes; alpha 72 * 256 halves = 36,864 bytes; total 331,776 of the FP32
     * 4 * 256 * 256 * 9 = 2,359,296 (1/7.11). Before packing: 589,824 + 73,728 (float alpha) = 663,552 (1/3.56).
     */
    @ParameterizedTest
    @MethodSource("backends")
    void packedResidentW4LayerIsOneSeventhOfFp32(Backend backend) {
        int c = 256;
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(c).nOut(c).blockSize(32).weightBits(4).actBits(8)
                .convolutionMode(ConvolutionMode.Same).hasBias(false).activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, c, 5, CNN2DFormat.NCHW);
        DSConvRuntime rt = (DSConvRuntime) net.getLayer(0);
        Random rnd = new Random(17);
        float[] q = new float[c * c * 9];
        for (int i = 0; i < q.length; i++) {
            q[i] = rnd.nextInt(16) - 8;
        }
        rt.setParam("q", Nd4j.create(q, new long[] {c, c, 3, 3}, 'c'));
        float[] alpha = TinyNets.random(1, DataType.FLOAT, c, 8, 3, 3).muli(0.05).data().asFloat();
        ScalePrecision.FP16.roundInPlace(alpha);
        rt.setParam("alpha", Nd4j.create(alpha, new long[] {c, 8, 3, 3}, 'c'));
        INDArray x = TinyNets.random(6, DataType.FLOAT, 2, c, 5, 5);
        INDArray expect = layerOut(net, x).dup();

        for (EngineOptions opt : INTEGER_ONLY) {
            EngineReport r = IntegerEngine.enable(net, backend, opt);
            long bytes = weightBytes(opt, 72, 32, 32, 256, 4) + 36_864;
            assertEquals(opt.nativePath() == null ? 331_776 : bytes, bytes);
            assertEquals(bytes, IntegerEngine.kernel(rt).weightBytes());
            assertEquals(bytes, r.integerConvWeightBytes());
            assertEquals(2_359_296, r.fp32ConvWeightBytes());
            // Bit-packed: 1/7 of FP32; the native kernel's int8 layouts (speed over memory): 1/3.4 to 1/3.8.
            assertTrue((opt.nativePath() == null ? 7 : 3) * r.integerConvWeightBytes() <= r.fp32ConvWeightBytes());
            if (opt.accumulation() != Accumulation.FLOAT) {
                assertArrayEquals(floats(expect), floats(layerOut(net, x)),
                        "the packed engine equals the float simulation");
            } else {
                assertTrue(maxRel(layerOut(net, x), expect) <= FLOAT_SUM_BOUND);
            }
            IntegerEngine.disable(net);
        }
    }

    /**
     * 8-bit weights on oneDNN enter the GEMM as two int8 halves, unpacked per batch from one packed byte a weight;
     * scales that are not fp16 values stay float. 3 x 3 x 2 = 18 matrices of 16 x 5 bytes = 1,440, plus 18 x 5
     * float alphas (360 bytes) and 5 float biases (20 bytes); outputs equal the float simulation exactly.
     */
    @ParameterizedTest
    @MethodSource("backends")
    void eightBitPackedLayerWithFloatScales(Backend backend) {
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(20).nOut(5).blockSize(16).weightBits(8).actBits(6)
                .convolutionMode(ConvolutionMode.Same).hasBias(true).activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, 20, 6, CNN2DFormat.NHWC);
        DSConvRuntime rt = (DSConvRuntime) net.getLayer(0);
        Random rnd = new Random(23);
        float[] q = new float[5 * 20 * 9];
        for (int i = 0; i < q.length; i++) {
            q[i] = rnd.nextInt(256) - 128;
        }
        rt.setParam("q", Nd4j.create(q, new long[] {5, 20, 3, 3}, 'c'));
        rt.setParam("alpha", TinyNets.random(1, DataType.FLOAT, 5, 2, 3, 3).muli(0.01));
        rt.setParam("b", TinyNets.random(2, DataType.FLOAT, 5));
        INDArray x = TinyNets.random(3, DataType.FLOAT, 2, 6, 6, 20);
        INDArray expect = layerOut(net, x).dup();

        for (EngineOptions opt : INTEGER_ONLY) {
            EngineReport r = IntegerEngine.enable(net, backend, opt);
            assertEquals(weightBytes(opt, 18, 16, 16, 5, 8) + 360 + 20, r.integerConvWeightBytes());
            if (opt.accumulation() != Accumulation.FLOAT) {
                assertArrayEquals(floats(expect), floats(layerOut(net, x)));
            } else {
                assertTrue(maxRel(layerOut(net, x), expect) <= FLOAT_SUM_BOUND);
            }
            IntegerEngine.disable(net);
        }
    }

    /** A {@code q} value outside the layer's weight bits cannot be packed: building the kernel says which. */
    @Test
    void rejectsQOutsideTheWeightBits() {
        DSConvLayer ds = new DSConvLayer.Builder(1, 1).nIn(2).nOut(1).blockSize(2).weightBits(4).actBits(8)
                .hasBias(false).activation(Activation.IDENTITY).name("bad").build();
        MultiLayerNetwork net = single(ds, 2, 1, CNN2DFormat.NCHW);
        net.getLayer(0).setParam("q", Nd4j.create(new float[] {3, 9}, 1, 2, 1, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IntegerEngine.enable(net, Backend.JAVA));
        assertTrue(e.getMessage().contains("'bad': q[1] = 9.0 is not a 4-bit integer"), e.getMessage());
    }

    /**
     * Whole converted networks (MLN and residual graph, NCHW and NHWC) agree with their float simulation to 1e-5:
     * on integers in double, and with the defaults (float-pair sums, the 3-channel first convolution as a direct
     * double convolution, reported as a float layer).
     */
    @ParameterizedTest
    @MethodSource("backends")
    void convertedNetworksAgree(Backend backend) {
        for (CNN2DFormat f : CNN2DFormat.values()) {
            ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 16));
            MultiLayerNetwork mln = new DSConvConverter(plan).convert(TinyNets.mln(3, f)).network();
            ComputationGraph cg = new DSConvConverter(plan).convert(TinyNets.residualGraph(4, f)).network();
            long[] shape = f == CNN2DFormat.NCHW ? new long[] {4, 3, 9, 9} : new long[] {4, 9, 9, 3};
            INDArray x = TinyNets.random(9, DataType.FLOAT, shape);
            for (Model m : List.<Model>of(mln, cg)) {
                INDArray expect = out(m, x);
                for (EngineOptions opt : List.of(EngineOptions.exact(), EngineOptions.defaults(),
                        EngineOptions.gemmRoute())) {
                    EngineReport r = IntegerEngine.enable(m, backend, opt);
                    assertEquals(opt.nativePath() != null ? "native-fused:" + opt.nativePath().label()
                            : backend.label() + "-gemm", r.kernel());
                    boolean stem = opt.stem() != EngineOptions.Stem.INTEGER;
                    assertEquals(stem ? 1 : 0, r.floatLayers().size(), r.toString());
                    assertEquals(r.floatLayers(), r.doubleLayers(), r.toString());
                    assertTrue(r.integerLayers().size() >= (stem ? 1 : 2));
                    assertTrue(r.integerConvWeightBytes() < r.fp32ConvWeightBytes());
                    INDArray got = out(m, x);
                    double rel = got.sub(expect).amaxNumber().doubleValue() / expect.amaxNumber().doubleValue();
                    assertTrue(rel <= 1e-5, f + " " + m.getClass().getSimpleName() + " " + opt + ": " + rel);
                    IntegerEngine.disable(m);
                }
            }
        }
    }

    static Stream<Arguments> stems() {
        List<Arguments> out = new ArrayList<>();
        out.add(Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Same, 7, 2, 1, 3, false, false, false));
        out.add(Arguments.of(CNN2DFormat.NHWC, ConvolutionMode.Same, 7, 2, 1, 3, true, true, true));
        out.add(Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Truncate, 3, 1, 2, 1, true, false, true));
        out.add(Arguments.of(CNN2DFormat.NHWC, ConvolutionMode.Truncate, 5, 2, 1, 2, false, true, false));
        out.add(Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Same, 3, 1, 1, 1, false, false, true));
        return out.stream();
    }

    /**
     * A stem (3 input channels, one narrow block). By default ({@link EngineOptions.Stem#DOUBLE}) it runs as a
     * direct double convolution of the BFP input with the simulation's double effective kernel: reported as a float
     * (and double) layer, kernel held in double, and equal to the float simulation bit for bit (both round exact
     * products summed in double once to float; only a sum within ~1e-14 of a rounding boundary could differ). As
     * {@link EngineOptions.Stem#FP32} (oneDNN) it agrees to FP32 summation (each product is exact in float, only the
     * sum of up to 147 terms rounds: 1e-5 of the largest output bounds it with a wide margin). As
     * {@link EngineOptions.Stem#INTEGER} it runs on integers exactly as before. Geometries: asymmetric Same padding,
     * stride, dilation, Truncate padding, NCHW and NHWC, KDS bias, CDS and bias.
     */
    @ParameterizedTest
    @MethodSource("stems")
    void narrowStemRunsAsFp32Convolution(CNN2DFormat f, ConvolutionMode mode, int k, int stride, int dilation,
                                         int pad, boolean kdsBias, boolean cds, boolean bias) {
        int nIn = 3;
        int nOut = 8;
        int side = 15;
        DSConvLayer ds = new DSConvLayer.Builder(k, k).stride(stride, stride).dilation(dilation, dilation)
                .padding(pad, pad).convolutionMode(mode).nIn(nIn).nOut(nOut).dataFormat(f).actBits(8)
                .weightBits(4).blockSize(32).kdsBias(kdsBias).cds(cds).hasBias(bias).activation(Activation.IDENTITY)
                .build();
        MultiLayerNetwork net = single(ds, nIn, side, f);
        DSConvRuntime rt = (DSConvRuntime) net.getLayer(0);
        Random rnd = new Random(31);
        float[] q = new float[nOut * nIn * k * k];
        for (int i = 0; i < q.length; i++) {
            q[i] = rnd.nextInt(16) - 8;
        }
        rt.setParam("q", Nd4j.create(q, new long[] {nOut, nIn, k, k}, 'c'));
        rt.setParam("alpha", TinyNets.random(1, DataType.FLOAT, nOut, 1, k, k).muli(0.05));
        if (kdsBias) {
            rt.setParam("beta", TinyNets.random(2, DataType.FLOAT, nOut, 1, k, k).muli(0.01));
        }
        if (cds) {
            rt.setParam("gamma", TinyNets.random(3, DataType.FLOAT, nOut).addi(2));
            rt.setParam("delta", TinyNets.random(4, DataType.FLOAT, nOut).muli(0.01));
        }
        if (bias) {
            rt.setParam("b", TinyNets.random(5, DataType.FLOAT, nOut));
        }
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {2, nIn, side, side} : new long[] {2, side, side, nIn};
        INDArray x = TinyNets.random(6, DataType.FLOAT, shape);
        INDArray expect = layerOut(net, x).dup();

        // The GEMM route's default stem (the native kernel's default is the integer stem: below).
        EngineOptions doubleStem = new EngineOptions(Accumulation.COMPENSATED, EngineOptions.Stem.DOUBLE)
                .withNativePath(null);
        for (Backend backend : Backend.values()) {
            EngineReport r = IntegerEngine.enable(net, backend, doubleStem);
            assertEquals(List.of(), r.integerLayers());
            assertEquals(List.of(), r.fp32Layers());
            assertEquals(r.floatLayers(), r.doubleLayers());
            assertEquals(1, r.doubleLayers().size());
            assertEquals(EngineOptions.Stem.DOUBLE, IntegerEngine.kernel(rt).route());
            assertEquals(8L * nOut * nIn * k * k + (bias ? 8L * nOut : 0), r.integerConvWeightBytes());
            INDArray got = layerOut(net, x);
            assertArrayEquals(expect.shape(), got.shape());
            assertArrayEquals(floats(expect), floats(got), backend + ": the double stem equals the float simulation");
        }

        if (NativeKernels.selected() != null) {
            // With the native kernel the defaults keep the stem on integers: double sums, bit-identical.
            EngineReport n = IntegerEngine.enable(net, Backend.ONEDNN, EngineOptions.defaults());
            assertEquals(List.of(rt.layerConf().getLayerName()), n.integerLayers());
            assertEquals(EngineOptions.Stem.INTEGER, IntegerEngine.kernel(rt).route());
            assertArrayEquals(floats(expect), floats(layerOut(net, x)), "the native integer stem");
        }

        EngineReport r = IntegerEngine.enable(net, Backend.ONEDNN,
                new EngineOptions(Accumulation.FLOAT, EngineOptions.Stem.FP32));
        assertEquals(List.of(), r.integerLayers());
        assertEquals(List.of(), r.doubleLayers());
        assertEquals(r.floatLayers(), r.fp32Layers());
        assertEquals(1, r.fp32Layers().size());
        assertEquals(EngineOptions.Stem.FP32, IntegerEngine.kernel(rt).route());
        assertEquals(4L * nOut * nIn * k * k + (bias ? 4L * nOut : 0), r.integerConvWeightBytes());
        INDArray got = layerOut(net, x);
        assertArrayEquals(expect.shape(), got.shape());
        assertTrue(maxRel(got, expect) <= 1e-5, "max relative difference " + maxRel(got, expect));

        r = IntegerEngine.enable(net, Backend.ONEDNN, EngineOptions.exact());
        assertEquals(List.of(), r.floatLayers());
        assertEquals(1, r.integerLayers().size());
        assertTrue(maxRel(layerOut(net, x), expect) <= (kdsBias || cds ? 1e-6 : 0));
        IntegerEngine.disable(net);
    }

    /** After a parameter change the integer kernel is rebuilt from the new values. */
    @Test
    void parameterChangeRebuildsTheKernel() {
        DSConvLayer ds = new DSConvLayer.Builder(1, 1).nIn(2).nOut(1).blockSize(2).weightBits(8).actBits(8)
                .hasBias(false).activation(Activation.IDENTITY).build();
        MultiLayerNetwork net = single(ds, 2, 1, CNN2DFormat.NCHW);
        net.getLayer(0).setParam("q", Nd4j.create(new float[] {3, -2}, 1, 2, 1, 1));
        net.getLayer(0).setParam("alpha", Nd4j.create(new float[] {0.25f}, 1, 1, 1, 1));
        IntegerEngine.enable(net, Backend.JAVA);
        INDArray x = Nd4j.create(new float[] {1f, 0.5f}, 1, 2, 1, 1);
        assertEquals(0.5f, layerOut(net, x).getFloat(0), 0f);
        net.getLayer(0).setParam("alpha", Nd4j.create(new float[] {0.5f}, 1, 1, 1, 1));
        assertEquals(1.0f, layerOut(net, x).getFloat(0), 0f);
    }

    /** A layer without block floating point input cannot run integer products: it stays on the float path. */
    @Test
    void layerWithoutBfpInputStaysFloat() {
        DSConvLayer ds = new DSConvLayer.Builder(1, 1).nIn(2).nOut(1).blockSize(2).weightBits(8).actBits(8)
                .quantizeInput(false).hasBias(false).activation(Activation.IDENTITY).name("first").build();
        MultiLayerNetwork net = single(ds, 2, 1, CNN2DFormat.NCHW);
        EngineReport r = IntegerEngine.enable(net, Backend.JAVA);
        assertEquals(List.of("first"), r.floatLayers());
        assertEquals(List.of(), r.fp32Layers(), "on the float simulation, not an FP32 oneDNN convolution");
        assertEquals(List.of(), r.integerLayers());
        assertEquals(r.fp32ConvWeightBytes(), r.integerConvWeightBytes());
        assertNull(IntegerEngine.kernel((DSConvRuntime) net.getLayer(0)));
    }

    @Test
    void parsesNamesAndRejectsUnknownOnes() {
        assertEquals(EngineMode.INTEGER, EngineMode.parse("Integer"));
        assertEquals(Backend.ONEDNN, Backend.parse("onednn"));
        assertThrows(IllegalArgumentException.class, () -> EngineMode.parse("int4"));
        assertThrows(IllegalArgumentException.class, () -> Backend.parse("cuda"));
    }

    private static float[] floats(INDArray a) {
        return a.dup('c').data().asFloat();
    }

    private static INDArray out(Model m, INDArray x) {
        return m instanceof ComputationGraph cg ? cg.outputSingle(false, x) : ((MultiLayerNetwork) m).output(x);
    }
}
