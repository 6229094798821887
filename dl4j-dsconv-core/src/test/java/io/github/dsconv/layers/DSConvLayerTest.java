package io.github.dsconv.layers;

import io.github.dsconv.quant.BlockFloatingPoint;
import io.github.dsconv.quant.KernelShape;
import io.github.dsconv.quant.QuantizedKernel;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.quant.VqkQuantizer;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.io.File;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DSConvLayerTest {

    /** One conv layer (DSConv or FP32) + global pooling + softmax, so the net is trainable and checkable. */
    private static MultiLayerNetwork single(org.deeplearning4j.nn.conf.layers.Layer conv, int nIn, int side,
                                            CNN2DFormat f, DataType dt, org.nd4j.linalg.learning.config.IUpdater u) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(7).dataType(dt).updater(u).weightInit(WeightInit.XAVIER)
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

    static Stream<Arguments> geometries() {
        return Stream.of(
                Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Same, 3, 1, 1, 0),
                Arguments.of(CNN2DFormat.NHWC, ConvolutionMode.Same, 3, 1, 1, 0),
                Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Same, 3, 2, 1, 0),
                Arguments.of(CNN2DFormat.NHWC, ConvolutionMode.Same, 5, 2, 2, 0),
                Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Truncate, 3, 2, 1, 1),
                Arguments.of(CNN2DFormat.NHWC, ConvolutionMode.Truncate, 1, 1, 1, 0),
                Arguments.of(CNN2DFormat.NCHW, ConvolutionMode.Truncate, 3, 1, 2, 2));
    }

    /**
     * With BFP off, a DSConv layer must compute exactly DL4J's own convolution with the effective kernel: same
     * padding, stride, dilation, format and activation handling.
     */
    @ParameterizedTest
    @MethodSource("geometries")
    void forwardMatchesDl4jConvolutionWithEffectiveKernel(CNN2DFormat f, ConvolutionMode mode, int k, int stride,
                                                          int dilation, int pad) {
        int nIn = 37;
        int nOut = 6;
        DSConvLayer ds = new DSConvLayer.Builder(k, k).stride(stride, stride).dilation(dilation, dilation)
                .padding(pad, pad).convolutionMode(mode).nIn(nIn).nOut(nOut).dataFormat(f).actBits(0)
                .weightBits(5).blockSize(16).kdsBias(true).cds(true).activation(Activation.TANH).build();
        ConvolutionLayer fp = new ConvolutionLayer.Builder(k, k).stride(stride, stride).dilation(dilation, dilation)
                .padding(pad, pad).convolutionMode(mode).nIn(nIn).nOut(nOut).dataFormat(f)
                .activation(Activation.TANH).build();
        MultiLayerNetwork dsNet = single(ds, nIn, 11, f, DataType.FLOAT, new Sgd(0.1));
        MultiLayerNetwork fpNet = single(fp, nIn, 11, f, DataType.FLOAT, new Sgd(0.1));
        // Non-trivial CDS and bias so every term of the effective kernel is exercised.
        dsNet.getLayer(0).setParam("gamma", TinyNets.random(1, DataType.FLOAT, nOut).addi(2));
        dsNet.getLayer(0).setParam("delta", TinyNets.random(2, DataType.FLOAT, nOut).muli(0.01));
        dsNet.getLayer(0).setParam("b", TinyNets.random(3, DataType.FLOAT, nOut));
        INDArray w = ((DSConvRuntime) dsNet.getLayer(0)).effectiveKernel(false);
        fpNet.getLayer(0).setParam("W", w);
        fpNet.getLayer(0).setParam("b", dsNet.getLayer(0).getParam("b"));
        for (int i = 1; i < 3; i++) {
            fpNet.getLayer(i).setParams(dsNet.getLayer(i).params());
        }
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {2, nIn, 11, 11} : new long[] {2, 11, 11, nIn};
        INDArray x = TinyNets.random(4, DataType.FLOAT, shape);
        INDArray a = dsNet.feedForward(x, false).get(1);
        INDArray b = fpNet.feedForward(x, false).get(1);
        assertArrayEquals(b.shape(), a.shape());
        assertTrue(a.equalsWithEps(b, 1e-5), "max diff " + a.sub(b).amaxNumber());
    }

    /** The effective kernel is gamma * (alpha q + beta) + delta, checked element by element. */
    @Test
    void effectiveKernelFollowsTheFormula() {
        DSConvLayer ds = new DSConvLayer.Builder(2, 2).nIn(5).nOut(3).blockSize(2).kdsBias(true).cds(true)
                .actBits(0).build();
        MultiLayerNetwork net = single(ds, 5, 4, CNN2DFormat.NCHW, DataType.FLOAT, new Sgd(0.1));
        DSConvRuntime l = (DSConvRuntime) net.getLayer(0);
        l.setParam("alpha", TinyNets.random(10, DataType.FLOAT, 3, 3, 2, 2));
        l.setParam("beta", TinyNets.random(11, DataType.FLOAT, 3, 3, 2, 2));
        l.setParam("gamma", TinyNets.random(12, DataType.FLOAT, 3));
        l.setParam("delta", TinyNets.random(13, DataType.FLOAT, 3));
        INDArray w = l.effectiveKernel(false);
        INDArray q = l.getParam("q");
        for (int o = 0; o < 3; o++) {
            for (int c = 0; c < 5; c++) {
                for (int y = 0; y < 2; y++) {
                    for (int x = 0; x < 2; x++) {
                        int blk = c / 2;
                        double expect = l.getParam("gamma").getDouble(o)
                                * (l.getParam("alpha").getDouble(o, blk, y, x) * q.getDouble(o, c, y, x)
                                + l.getParam("beta").getDouble(o, blk, y, x)) + l.getParam("delta").getDouble(o);
                        assertEquals(expect, w.getDouble(o, c, y, x), 1e-6);
                    }
                }
            }
        }
    }

    /** With BFP on, the layer equals DL4J's convolution of the BFP-quantized input. */
    @Test
    void blockFloatingPointIsAppliedToTheInput() {
        int nIn = 40;
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(nIn).nOut(4).convolutionMode(ConvolutionMode.Same)
                .actBits(4).blockSize(16).activation(Activation.IDENTITY).build();
        ConvolutionLayer fp = new ConvolutionLayer.Builder(3, 3).nIn(nIn).nOut(4)
                .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build();
        MultiLayerNetwork dsNet = single(ds, nIn, 5, CNN2DFormat.NCHW, DataType.FLOAT, new Sgd(0.1));
        MultiLayerNetwork fpNet = single(fp, nIn, 5, CNN2DFormat.NCHW, DataType.FLOAT, new Sgd(0.1));
        fpNet.getLayer(0).setParam("W", ((DSConvRuntime) dsNet.getLayer(0)).effectiveKernel(false));
        fpNet.getLayer(0).setParam("b", dsNet.getLayer(0).getParam("b"));
        INDArray x = TinyNets.random(5, DataType.FLOAT, 2, nIn, 5, 5);
        double[] xq = x.dup('c').data().asDouble();
        BlockFloatingPoint.quantizeInPlace(xq, 2, nIn, 25, false, 16, 4);
        INDArray a = dsNet.feedForward(x, false).get(1);
        INDArray b = fpNet.feedForward(Nd4j.create(xq, x.shape(), 'c').castTo(DataType.FLOAT), false).get(1);
        assertTrue(a.equalsWithEps(b, 1e-5));
        // And BFP at 4 bits really changes the result compared with the float input.
        INDArray c = fpNet.feedForward(x, false).get(1);
        assertTrue(a.sub(c).amaxNumber().doubleValue() > 1e-3);
    }

    /**
     * At W8A8 the layer converted from an FP32 conv stays close to it on random input. Measured here: relative
     * L2 error 0.67% (about 43.5 dB SQNR), dominated by the A8 activations; the bound is 2%.
     */
    @Test
    void eightBitsIsCloseToFp32() {
        int nIn = 64;
        ConvolutionLayer fp = new ConvolutionLayer.Builder(3, 3).nIn(nIn).nOut(32)
                .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build();
        MultiLayerNetwork fpNet = single(fp, nIn, 8, CNN2DFormat.NCHW, DataType.FLOAT, new Sgd(0.1));
        DSConvLayer ds = DSConvLayer.builderFrom(fp).weightBits(8).actBits(8).blockSize(32)
                .scalePrecision(ScalePrecision.FP32).build();
        MultiLayerNetwork dsNet = single(ds, nIn, 8, CNN2DFormat.NCHW, DataType.FLOAT, new Sgd(0.1));
        float[] w = fpNet.getLayer(0).getParam("W").dup('c').data().asFloat();
        QuantizedKernel qk = new VqkQuantizer().quantize(w, KernelShape.of(fpNet.getLayer(0).getParam("W").shape()), 8, 32);
        DSConvParams.write(ds, dsNet.getLayer(0).paramTable(), qk,
                fpNet.getLayer(0).getParam("b").dup().data().asFloat());
        ((DSConvRuntime) dsNet.getLayer(0)).invalidateCache();
        INDArray x = TinyNets.random(6, DataType.FLOAT, 4, nIn, 8, 8);
        INDArray a = dsNet.feedForward(x, false).get(1);
        INDArray b = fpNet.feedForward(x, false).get(1);
        double rel = a.sub(b).norm2Number().doubleValue() / b.norm2Number().doubleValue();
        System.out.println("W8A8 single layer relative L2 error: " + rel);
        assertTrue(rel < 0.02, "relative error " + rel);
        assertTrue(rel > 0, "8-bit quantization cannot be exact on random weights");
    }

    static Stream<Arguments> gradientCases() {
        return Stream.of(
                Arguments.of(CNN2DFormat.NCHW, false, false, true),
                Arguments.of(CNN2DFormat.NCHW, true, true, true),
                Arguments.of(CNN2DFormat.NHWC, true, true, false));
    }

    /**
     * Analytic gradients of alpha, beta, CDS and the bias against central finite differences (double precision,
     * BFP off because rounding has no derivative). {@code q} has a zero analytic gradient by design, so it is
     * excluded from the numeric check (its numeric gradient is not zero).
     */
    @ParameterizedTest
    @MethodSource("gradientCases")
    void gradientsMatchFiniteDifferences(CNN2DFormat f, boolean kdsBias, boolean cds, boolean bias) {
        DataType previous = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            checkGradients(f, kdsBias, cds, bias);
        } finally {
            Nd4j.setDefaultDataTypes(previous, previous);
        }
    }

    private static void checkGradients(CNN2DFormat f, boolean kdsBias, boolean cds, boolean bias) {
        int nIn = 5;
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(nIn).nOut(3).stride(2, 2)
                .convolutionMode(ConvolutionMode.Same).dataFormat(f).blockSize(2).weightBits(4).actBits(0)
                .kdsBias(kdsBias).cds(cds).hasBias(bias).activation(Activation.TANH).build();
        MultiLayerNetwork net = single(ds, nIn, 5, f, DataType.DOUBLE, new NoOp());
        if (cds) {
            net.getLayer(0).setParam("gamma", TinyNets.random(1, DataType.DOUBLE, 3).addi(1.5));
            net.getLayer(0).setParam("delta", TinyNets.random(2, DataType.DOUBLE, 3).muli(0.1));
        }
        long[] shape = f == CNN2DFormat.NCHW ? new long[] {2, nIn, 5, 5} : new long[] {2, 5, 5, nIn};
        INDArray x = TinyNets.random(3, DataType.DOUBLE, shape);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, 2, 3);
        y.putScalar(0, 1, 1.0);
        y.putScalar(1, 2, 1.0);
        java.util.Set<String> exclude = java.util.Set.of("0_q");
        boolean ok = GradientCheckUtil.checkGradients(new GradientCheckUtil.MLNConfig().net(net).input(x).labels(y)
                .epsilon(1e-6).maxRelError(1e-5).minAbsoluteError(1e-8).excludeParams(exclude));
        assertTrue(ok, "gradient check failed");
        net.computeGradientAndScore();
        assertEquals(0.0, net.gradient().getGradientFor("0_q").amaxNumber().doubleValue(), 0.0);
    }

    /** Training changes the float scales and never {@code q}, bit for bit. */
    @Test
    void trainingKeepsQBitIdentical() {
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(3).nOut(40).kdsBias(true).cds(true)
                .convolutionMode(ConvolutionMode.Same).weightBits(3).build();
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(1e-2))
                .l2(1e-2).weightDecay(1e-3).list()
                .layer(ds)
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(6, 6, 3)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        INDArray q0 = net.getLayer(0).getParam("q").dup();
        INDArray alpha0 = net.getLayer(0).getParam("alpha").dup();
        INDArray gamma0 = net.getLayer(0).getParam("gamma").dup();
        INDArray x = TinyNets.random(4, DataType.FLOAT, 8, 3, 6, 6);
        INDArray y = Nd4j.eye(3).getRows(0, 1, 2, 0, 1, 2, 0, 1);
        for (int i = 0; i < 20; i++) {
            net.fit(new DataSet(x, y));
        }
        assertEquals(q0, net.getLayer(0).getParam("q"), "q moved");
        assertNotEquals(alpha0, net.getLayer(0).getParam("alpha"));
        assertNotEquals(gamma0, net.getLayer(0).getParam("gamma"));
        // q holds integers in the 3-bit range.
        INDArray q = net.getLayer(0).getParam("q");
        assertEquals(q, Transforms.round(q, true));
        assertTrue(q.maxNumber().doubleValue() <= 3 && q.minNumber().doubleValue() >= -4);
    }

    /** JSON, ModelSerializer and clone() round trips give identical outputs. */
    @Test
    void roundTripsGiveIdenticalOutputs(@TempDir Path dir) throws Exception {
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(3).nOut(34).kdsBias(true).cds(true).weightBits(6)
                .blockSize(8).actBits(6).quantizeInput(false).scalePrecision(ScalePrecision.FP32)
                .convolutionMode(ConvolutionMode.Same).dataFormat(CNN2DFormat.NHWC).build();
        MultiLayerNetwork net = single(ds, 3, 6, CNN2DFormat.NHWC, DataType.FLOAT, new Adam(1e-3));
        INDArray x = TinyNets.random(5, DataType.FLOAT, 2, 6, 6, 3);
        INDArray out = net.output(x);

        String json = net.getLayerWiseConfigurations().toJson();
        MultiLayerConfiguration back = MultiLayerConfiguration.fromJson(json);
        assertEquals(net.getLayerWiseConfigurations(), back);
        DSConvLayer l = (DSConvLayer) back.getConf(0).getLayer();
        assertEquals(6, l.getWeightBits());
        assertEquals(8, l.getBlockSize());
        assertEquals(ScalePrecision.FP32, l.getScalePrecision());
        MultiLayerNetwork fromJson = new MultiLayerNetwork(back);
        fromJson.init(net.params().dup(), false);
        assertEquals(out, fromJson.output(x));

        File f = dir.resolve("m.zip").toFile();
        ModelSerializer.writeModel(net, f, true);
        MultiLayerNetwork restored = ModelSerializer.restoreMultiLayerNetwork(f, true);
        assertEquals(out, restored.output(x));
        assertEquals(net.getLayer(0).getParam("q"), restored.getLayer(0).getParam("q"));

        assertEquals(out, net.clone().output(x));
    }

    @Test
    void badConfigurationIsRejectedWithTheLayerName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DSConvLayer.Builder(3, 3).nIn(3).nOut(4).name("convX").weightBits(1).build());
        assertTrue(e.getMessage().contains("convX") && e.getMessage().contains("[2, 8]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DSConvLayer.Builder(3, 3).weightBits(9).build());
        e = assertThrows(IllegalArgumentException.class, () -> new DSConvLayer.Builder(3, 3).blockSize(0).build());
        assertTrue(e.getMessage().contains("block size"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DSConvLayer.Builder(3, 3).actBits(1).build());
        assertThrows(IllegalArgumentException.class, () -> new DSConvLayer.Builder(3, 3).actBits(17).build());
    }

    @Test
    void wrongInputChannelsIsAClearError() {
        DSConvLayer ds = new DSConvLayer.Builder(3, 3).nIn(3).nOut(4).name("cx").build();
        MultiLayerNetwork net = single(ds, 3, 6, CNN2DFormat.NCHW, DataType.FLOAT, new Sgd(0.1));
        Exception e = assertThrows(Exception.class, () -> net.output(Nd4j.rand(DataType.FLOAT, 1, 5, 6, 6)));
        assertTrue(e.getMessage().contains("cx") && e.getMessage().contains("nIn=3"), e.getMessage());
    }
}
