package io.github.dsconv.convert;

import io.github.dsconv.nn.Network;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link CrossLayerEqualization}: the equalised network computes what the original does, the ranges of each pair
 * are equal afterwards (DFQ eq. 11), a hand-computed case, bias absorption exact where the paper's conditions hold,
 * and what is skipped, with reasons.
 */
class CrossLayerEqualizationTest {

    private static final CrossLayerEqualization.Options NO_ABSORPTION =
            CrossLayerEqualization.Options.DEFAULT.withAbsorbBias(false);

    // ------------------------------------------------------------------ test networks

    /**
     * Unnamed layers: c1 3x3 Same 3->6 (layer0), BN, ReLU, c2 3x3 Truncate 6->5 (layer3), BN, ReLU, c3 1x1 5->4 with
     * its own ReLU (layer6), global average, identity output (layer8). Pairs c1-c2 and c2-c3 chain; the second
     * convolution of each pair has no zero padding, so bias absorption is exact wherever the pre-activations stay
     * above {@code c}.
     */
    static MultiLayerNetwork chain() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(17).weightInit(WeightInit.XAVIER)
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(6).hasBias(false).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().useLogStd(false).build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(5).convolutionMode(ConvolutionMode.Truncate)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().useLogStd(false).build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new ConvolutionLayer.Builder(1, 1).nOut(4).activation(Activation.RELU).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(3)
                        .activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(8, 8, 3)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /**
     * c1 3x3 Same 3->6, bn1, relu1, c2 3x3 Same 6->5, bn2, relu2, then a residual: c3 1x1 5->5 added to relu2,
     * global average, identity output. One pair, c1-c2 (no chain); c2 (two consumers) and c3 (into the add) skipped.
     */
    static ComputationGraph residual(CNN2DFormat f) {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(23)
                .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Same).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(8, 8, 3, f))
                .addLayer("c1", new ConvolutionLayer.Builder(3, 3).nOut(6).dataFormat(f)
                        .activation(Activation.IDENTITY).build(), "in")
                .addLayer("bn1", new BatchNormalization.Builder().useLogStd(false).dataFormat(f).build(), "c1")
                .addLayer("relu1", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn1")
                .addLayer("c2", new ConvolutionLayer.Builder(3, 3).nOut(5).dataFormat(f)
                        .activation(Activation.IDENTITY).build(), "relu1")
                .addLayer("bn2", new BatchNormalization.Builder().useLogStd(false).dataFormat(f).build(), "c2")
                .addLayer("relu2", new ActivationLayer.Builder().activation(Activation.RELU).build(), "bn2")
                .addLayer("c3", new ConvolutionLayer.Builder(1, 1).nOut(5).dataFormat(f)
                        .activation(Activation.IDENTITY).build(), "relu2")
                .addVertex("add", new ElementWiseVertex(ElementWiseVertex.Op.Add), "c3", "relu2")
                .addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "add")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(3)
                        .activation(Activation.IDENTITY).build(), "gap")
                .setOutputs("out").build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        return cg;
    }

    /**
     * Makes channel ranges very unequal and gives every BN statistics that describe {@code x}, as a trained
     * network's do: each convolution's input channel {@code i} is multiplied by {@code 10^U(-1, 1)}; BN mean and
     * variance are the channel's mean and 2.25 x its variance on {@code x} (so {@code |x_hat| < 3} on it, the
     * 3-sigma assumption of bias absorption), {@code gamma = +-10^U(-1, 1)}, and {@code beta = (3 + U(0, 1)) |gamma|}
     * on even channels (absorbed: {@code beta > 3 |gamma|}), {@code N(0, 1) |gamma|} on odd ones.
     */
    static void randomise(Model model, INDArray x, List<String> convs, List<String> bns, CNN2DFormat f, long seed) {
        Random r = new Random(seed);
        Network net = Network.of(model);
        for (String c : convs) {
            INDArray w = net.paramTable(c).get("W");
            for (long i = 0; i < w.size(1); i++) {
                w.get(NDArrayIndex.all(), NDArrayIndex.point(i)).muli(Math.pow(10, 2 * r.nextDouble() - 1));
            }
        }
        int channelAxis = f == CNN2DFormat.NCHW ? 1 : 3;
        int[] others = f == CNN2DFormat.NCHW ? new int[] {0, 2, 3} : new int[] {0, 1, 2};
        for (int k = 0; k < bns.size(); k++) {
            String conv = net.inputsOf(bns.get(k)).get(0);
            INDArray pre = net.feedForwardTo(conv, x).get(conv).castTo(DataType.DOUBLE);
            long n = pre.size(channelAxis);
            Map<String, INDArray> bn = net.paramTable(bns.get(k));
            bn.get("mean").assign(pre.mean(others).reshape(1, n));
            bn.get("var").assign(pre.var(false, others).muli(2.25).reshape(1, n));
            for (int i = 0; i < n; i++) {
                double g = (r.nextBoolean() ? 1 : -1) * Math.pow(10, 2 * r.nextDouble() - 1);
                bn.get("gamma").putScalar(i, g);
                bn.get("beta").putScalar(i, i % 2 == 0 ? (3 + r.nextDouble()) * Math.abs(g)
                        : r.nextGaussian() * Math.abs(g));
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /** {@code max |a - ref| / max |ref|}. */
    private static double relErr(INDArray a, INDArray ref) {
        return a.castTo(DataType.DOUBLE).sub(ref.castTo(DataType.DOUBLE)).amaxNumber().doubleValue()
                / ref.amaxNumber().doubleValue();
    }

    /** {@code max |W[o, :, :, :]|} for every output channel. */
    private static double[] outRanges(INDArray w) {
        INDArray a = abs(w);
        return a.reshape(a.size(0), -1).max(1).data().asDouble();
    }

    /** {@code max |W[:, i, :, :]|} for every input channel. */
    private static double[] inRanges(INDArray w) {
        INDArray a = abs(w);
        return a.permute(1, 0, 2, 3).dup('c').reshape(a.size(1), -1).max(1).data().asDouble();
    }

    private static INDArray abs(INDArray w) {
        return org.nd4j.linalg.ops.transforms.Transforms.abs(w.castTo(DataType.DOUBLE), true);
    }

    private static INDArray w(Model m, String layer) {
        return Network.of(m).paramTable(layer).get("W");
    }

    /** Asserts that the pre-activation {@code y} of BN {@code bn} satisfies {@code y >= beta - 3|gamma|}. */
    private static void assertAbsorptionIsExactOn(Model original, String bn, INDArray x, CNN2DFormat f) {
        Network net = Network.of(original);
        INDArray y = net.feedForwardTo(bn, x).get(bn).castTo(DataType.DOUBLE);
        if (f == CNN2DFormat.NHWC) {
            y = y.permute(0, 3, 1, 2);
        }
        Map<String, INDArray> p = net.paramTable(bn);
        for (int i = 0; i < y.size(1); i++) {
            double c = p.get("beta").getDouble(i) - 3 * Math.abs(p.get("gamma").getDouble(i));
            double min = y.get(NDArrayIndex.all(), NDArrayIndex.point(i)).minNumber().doubleValue();
            assertTrue(c <= 0 || min >= c, bn + " channel " + i + ": pre-activation " + min + " below c = " + c);
        }
    }

    // ------------------------------------------------------------------ equivalence and ranges

    @Test
    void chainOfPairsComputesTheSameAndEqualisesEveryPair() {
        MultiLayerNetwork net = chain();
        INDArray x = TinyNets.random(5, DataType.FLOAT, 6, 3, 8, 8);
        randomise(net, x, List.of("layer0", "layer3", "layer6"), List.of("layer1", "layer4"), CNN2DFormat.NCHW, 1);
        INDArray params = net.params().dup();
        INDArray ref = net.output(x, false).dup();

        Equalized<MultiLayerNetwork> e = CrossLayerEqualization.equalize(net, NO_ABSORPTION);

        EqualizationReport r = e.report();
        assertEquals(List.of("layer1", "layer4"), r.batchNormsFolded());
        assertEquals(List.of("layer2", "layer5"), r.activationsFolded());
        assertEquals(List.of("layer0", "layer3"), r.pairs().stream().map(EqualizationReport.Pair::first).toList());
        assertEquals(List.of("layer3", "layer6"), r.pairs().stream().map(EqualizationReport.Pair::second).toList());
        assertEquals(List.of(new EqualizationReport.Skipped("layer6",
                "consumer 'layer7' is GlobalPoolingLayer, not a plain ConvolutionLayer")), r.skipped());
        // Folding removed four layers; the convolutions keep their names (DL4J names unnamed layers in the conf).
        assertEquals(List.of("layer0", "layer3", "layer6", "layer7", "layer8"),
                Network.of(e.network()).layers().stream().map(Network.NamedLayer::name).toList());
        for (EqualizationReport.Pair p : r.pairs()) {
            assertTrue(p.relu() && p.activationLayer() == null, p.toString());
            assertEquals(0, p.channelsAbsorbed());
            assertEquals("off", p.absorption());
            assertTrue(p.maxScale() / p.minScale() > 3, "the ranges were unequal: " + p);
        }
        System.out.println("CLE chain: " + r.sweeps() + " sweeps, " + r.pairs());
        assertTrue(r.sweeps() > 2 && r.sweeps() < CrossLayerEqualization.DEFAULT_MAX_SWEEPS,
                "a chain converges in a few sweeps: " + r.sweeps());

        double err = relErr(e.network().output(x, false), ref);
        assertTrue(err < 1e-5, "relative output error " + err);
        // Converged: each pair's ranges agree to the tolerance's order (the last pair's exactly).
        for (String[] pair : new String[][] {{"layer0", "layer3"}, {"layer3", "layer6"}}) {
            double[] r1 = outRanges(w(e.network(), pair[0]));
            double[] r2 = inRanges(w(e.network(), pair[1]));
            for (int i = 0; i < r1.length; i++) {
                assertEquals(r1[i], r2[i], 1e-5 * r1[i], pair[0] + "-" + pair[1] + " channel " + i);
            }
        }
        assertEquals(params, net.params(), "the input network is unchanged");
        assertEquals(9, net.getnLayers());

        // One sweep scales each pair once, as DFQ does; the function is the same.
        Equalized<MultiLayerNetwork> once = CrossLayerEqualization.equalize(net, NO_ABSORPTION.withMaxSweeps(1));
        assertEquals(1, once.report().sweeps());
        assertTrue(relErr(once.network().output(x, false), ref) < 1e-5);
    }

    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void residualGraphComputesTheSameAndItsPairHasEqualRanges(CNN2DFormat f) {
        ComputationGraph cg = residual(f);
        INDArray x = TinyNets.random(7, DataType.FLOAT, 5, 3, 8, 8);
        if (f == CNN2DFormat.NHWC) {
            x = x.permute(0, 2, 3, 1).dup('c');
        }
        randomise(cg, x, List.of("c1", "c2", "c3"), List.of("bn1", "bn2"), f, 2);
        INDArray params = cg.params().dup();
        INDArray ref = cg.outputSingle(false, x).dup();
        // The ranges before equalising: those of the BN-folded network.
        ComputationGraph folded = BatchNormFolding.fold(cg).network();
        double[] r1 = outRanges(w(folded, "c1"));
        double[] r2 = inRanges(w(folded, "c2"));

        Equalized<ComputationGraph> e = CrossLayerEqualization.equalize(cg, NO_ABSORPTION);

        EqualizationReport r = e.report();
        assertEquals(1, r.pairs().size());
        EqualizationReport.Pair p = r.pairs().get(0);
        assertEquals(new EqualizationReport.Pair("c1", null, "c2", true, 6, p.minScale(), p.maxScale(), 0, "off"),
                p);
        assertEquals(2, r.sweeps(), "no chain: the second sweep's scales are all 1");
        assertEquals(List.of(
                new EqualizationReport.Skipped("c2", "output read by 2 consumers [c3, add] (a branch)"),
                new EqualizationReport.Skipped("c3", "consumer 'add' is ElementWiseVertex, not a plain "
                        + "ConvolutionLayer")), r.skipped());
        double[] r1e = outRanges(w(e.network(), "c1"));
        double[] r2e = inRanges(w(e.network(), "c2"));
        double minS = Double.MAX_VALUE;
        double maxS = 0;
        for (int i = 0; i < r1.length; i++) {
            double equalised = Math.sqrt(r1[i] * r2[i]);
            assertEquals(r1e[i], r2e[i], 1e-6 * r1e[i], "channel " + i);
            assertEquals(equalised, r1e[i], 1e-6 * equalised, "channel " + i);
            minS = Math.min(minS, Math.sqrt(r1[i] * r2[i]) / r2[i]);
            maxS = Math.max(maxS, Math.sqrt(r1[i] * r2[i]) / r2[i]);
        }
        assertEquals(minS, p.minScale(), 1e-9 * minS);
        assertEquals(maxS, p.maxScale(), 1e-9 * maxS);
        double err = relErr(e.network().outputSingle(false, x), ref);
        assertTrue(err < 1e-5, f + " relative output error " + err);
        assertEquals(params, cg.params(), "the input network is unchanged");
        assertTrue(cg.getConfiguration().getVertices().containsKey("bn1"));
    }

    // ------------------------------------------------------------------ bias absorption

    @Test
    void biasAbsorptionIsExactWhereThePaperSaysSo() {
        MultiLayerNetwork net = chain();
        INDArray x = TinyNets.random(5, DataType.FLOAT, 6, 3, 8, 8);
        randomise(net, x, List.of("layer0", "layer3", "layer6"), List.of("layer1", "layer4"), CNN2DFormat.NCHW, 1);
        // The conditions: pre-activations >= c on x, and the second convolutions read no zero padding.
        assertAbsorptionIsExactOn(net, "layer1", x, CNN2DFormat.NCHW);
        assertAbsorptionIsExactOn(net, "layer4", x, CNN2DFormat.NCHW);
        INDArray ref = net.output(x, false).dup();

        Equalized<MultiLayerNetwork> e = CrossLayerEqualization.equalize(net);
        Equalized<MultiLayerNetwork> plain = CrossLayerEqualization.equalize(net, NO_ABSORPTION);

        // beta > 3|gamma| on the even channels only: c1 has 6 channels (3 absorbed), c2 has 5 (3 absorbed).
        assertEquals(List.of(3, 3), e.report().pairs().stream().map(EqualizationReport.Pair::channelsAbsorbed)
                .toList());
        assertTrue(e.report().pairs().stream().allMatch(p -> p.absorption().equals("absorbed")));
        assertEquals(plain.report().pairs().stream().map(EqualizationReport.Pair::maxScale).toList(),
                e.report().pairs().stream().map(EqualizationReport.Pair::maxScale).toList(),
                "absorption comes after the scaling and does not change it");
        INDArray b1 = Network.of(e.network()).paramTable("layer0").get("b");
        INDArray b1Plain = Network.of(plain.network()).paramTable("layer0").get("b");
        assertTrue(b1.getDouble(0) < b1Plain.getDouble(0), "channel 0's bias went down by c_0");
        assertEquals(b1Plain.getDouble(1), b1.getDouble(1), 0.0, "channel 1 (beta < 3|gamma|) is untouched");
        double err = relErr(e.network().output(x, false), ref);
        System.out.println("CLE + bias absorption, exact case: relative output error " + err);
        assertTrue(err < 1e-5, "relative output error " + err);
    }

    /**
     * With zero padding the absorbed bias is wrong where c2's window overlaps the border (a padded tap reads 0, not
     * {@code -c}): c2's output agrees in the interior and differs on the border ring, as the Javadoc states.
     */
    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void biasAbsorptionWithPaddingIsExactInTheInteriorOnly(CNN2DFormat f) {
        ComputationGraph cg = residual(f);
        INDArray x = TinyNets.random(7, DataType.FLOAT, 5, 3, 8, 8);
        if (f == CNN2DFormat.NHWC) {
            x = x.permute(0, 2, 3, 1).dup('c');
        }
        randomise(cg, x, List.of("c1", "c2", "c3"), List.of("bn1", "bn2"), f, 2);
        assertAbsorptionIsExactOn(cg, "bn1", x, f);
        INDArray ref = cg.outputSingle(false, x).dup();

        ComputationGraph absorbed = CrossLayerEqualization.equalize(cg).network();
        ComputationGraph plain = CrossLayerEqualization.equalize(cg, NO_ABSORPTION).network();

        INDArray a = absorbed.feedForward(x, false).get("c2").dup();
        INDArray b = plain.feedForward(x, false).get("c2").dup();
        if (f == CNN2DFormat.NHWC) {
            a = a.permute(0, 3, 1, 2);
            b = b.permute(0, 3, 1, 2);
        }
        org.nd4j.linalg.indexing.INDArrayIndex inner = NDArrayIndex.interval(1, 7);
        double interior = relErr(a.get(NDArrayIndex.all(), NDArrayIndex.all(), inner, inner),
                b.get(NDArrayIndex.all(), NDArrayIndex.all(), inner, inner));
        double whole = relErr(a, b);
        double out = relErr(absorbed.outputSingle(false, x), ref);
        System.out.println(f + " CLE + absorption with padding: c2 interior " + interior + ", c2 whole " + whole
                + ", output " + out);
        assertTrue(interior < 1e-5, "interior relative error " + interior);
        assertTrue(whole > 1e-3, "the border ring differs: " + whole);
        // The end-to-end effect of the border error, measured 0.9% on this 8x8 input where 28 of 64 positions are
        // border; bound 5%. On a real network's larger maps the border is a far smaller share.
        assertTrue(out < 0.05, "relative output error " + out);
    }

    // ------------------------------------------------------------------ hand-computed case and layout

    /**
     * 1x1 convolutions, 2 channels. W1 = [[4, -2], [0.5, 0.25]] (rows = output channels), b1 = [1, -0.5], ReLU;
     * W2 = [[1, -8], [0.5, 2]] ({@code W2[o, i]}), b2 = 0. r1 = [4, 0.5], r2 = [1, 8],
     * s = sqrt(r1 r2) / r2 = [2, 0.25]: W1' = [[2, -1], [2, 1]], b1' = [0.5, -2], W2' = [[2, -2], [1, 0.5]], every
     * range 2 = sqrt(r1 r2). For x = [1, 1]: ReLU(W1 x + b1) = [3, 0.25], W2 of that = [1, 2], before and after.
     * The same numbers in both data formats show the kernel is {@code [nOut, nIn, kH, kW]} in both.
     */
    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void handComputedPair(CNN2DFormat f) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(1, 1).nOut(2).dataFormat(f).activation(Activation.RELU)
                        .name("c1").build())
                .layer(new ConvolutionLayer.Builder(1, 1).nOut(2).dataFormat(f).activation(Activation.IDENTITY)
                        .name("c2").build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).name("gap").build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2)
                        .activation(Activation.IDENTITY).name("out").build())
                .setInputType(InputType.convolutional(1, 1, 2, f)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.getLayer(0).getParam("W").assign(Nd4j.createFromArray(4f, -2f, 0.5f, 0.25f).reshape(2, 2, 1, 1));
        net.getLayer(0).getParam("b").assign(Nd4j.createFromArray(1f, -0.5f).reshape(1, 2));
        net.getLayer(1).getParam("W").assign(Nd4j.createFromArray(1f, -8f, 0.5f, 2f).reshape(2, 2, 1, 1));
        net.getLayer(1).getParam("b").assign(0);
        net.getLayer(3).getParam("W").assign(Nd4j.eye(2));
        net.getLayer(3).getParam("b").assign(0);
        INDArray x = f == CNN2DFormat.NCHW ? Nd4j.ones(DataType.FLOAT, 1, 2, 1, 1)
                : Nd4j.ones(DataType.FLOAT, 1, 1, 1, 2);
        assertArrayEquals(new float[] {1f, 2f}, net.output(x).data().asFloat(), 0f, "the function, by hand");

        Equalized<MultiLayerNetwork> e = CrossLayerEqualization.equalize(net);

        MultiLayerNetwork m = e.network();
        assertArrayEquals(new float[] {2f, -1f, 2f, 1f}, m.getLayer(0).getParam("W").dup().data().asFloat(), 0f);
        assertArrayEquals(new float[] {0.5f, -2f}, m.getLayer(0).getParam("b").dup().data().asFloat(), 0f);
        assertArrayEquals(new float[] {2f, -2f, 1f, 0.5f}, m.getLayer(1).getParam("W").dup().data().asFloat(), 0f);
        assertArrayEquals(new float[] {0f, 0f}, m.getLayer(1).getParam("b").dup().data().asFloat(), 0f);
        assertEquals(List.of(new EqualizationReport.Pair("c1", null, "c2", true, 2, 0.25, 2.0, 0,
                "no batch norm folded into c1")), e.report().pairs());
        assertArrayEquals(new float[] {1f, 2f}, m.output(x).data().asFloat(), 1e-6f);
    }

    /**
     * DL4J 1.0.0-M2.1 keeps a convolution's "W" as [nOut, nIn, kH, kW] in both formats, and its "b" as a vector
     * [nOut] (not the [1, nOut] of dense layers).
     */
    @ParameterizedTest
    @EnumSource(CNN2DFormat.class)
    void kernelLayoutIsOutInHeightWidthInBothFormats(CNN2DFormat f) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().list()
                .layer(new ConvolutionLayer.Builder(3, 1).nOut(5).dataFormat(f).build())
                .layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1)
                        .activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(6, 6, 2, f)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        assertArrayEquals(new long[] {5, 2, 3, 1}, net.getLayer(0).getParam("W").shape());
        assertArrayEquals(new long[] {5}, net.getLayer(0).getParam("b").shape());
    }

    // ------------------------------------------------------------------ what is skipped

    /** conv -> (activation) -> conv, everything 1x1 on a 4x4x3 input, then an identity head. */
    private static MultiLayerNetwork twoConvs(Layer first, Layer between, Layer second) {
        NeuralNetConfiguration.ListBuilder b = new NeuralNetConfiguration.Builder().seed(3).list().layer(first);
        if (between != null) {
            b.layer(between);
        }
        b.layer(second);
        if (second instanceof ConvolutionLayer) {
            b.layer(new GlobalPoolingLayer.Builder(PoolingType.AVG).build());
        }
        b.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2).activation(Activation.IDENTITY)
                .build());
        MultiLayerNetwork net = new MultiLayerNetwork(b.setInputType(InputType.convolutional(4, 4, 3)).build());
        net.init();
        return net;
    }

    private static ConvolutionLayer conv(String name, Activation a) {
        return new ConvolutionLayer.Builder(1, 1).nOut(4).activation(a).name(name).build();
    }

    private static void assertSkipped(MultiLayerNetwork net, String layer, String reasonPart) {
        INDArray x = TinyNets.random(1, DataType.FLOAT, 2, 3, 4, 4);
        Equalized<MultiLayerNetwork> e = CrossLayerEqualization.equalize(net);
        assertEquals(List.of(), e.report().pairs());
        assertEquals(0, e.report().sweeps());
        EqualizationReport.Skipped s = e.report().skipped().stream().filter(k -> k.layer().equals(layer))
                .findFirst().orElseThrow(() -> new AssertionError(layer + " not in " + e.report().skipped()));
        assertTrue(s.reason().contains(reasonPart), s.reason());
        assertNotSame(net, e.network());
        assertArrayEquals(net.output(x).data().asFloat(), e.network().output(x).data().asFloat(), 0f);
    }

    @Test
    void leakyReluReluSixAndClippedReluAreSkipped() {
        assertSkipped(twoConvs(conv("c1", Activation.LEAKYRELU), null, conv("c2", Activation.IDENTITY)),
                "c1", "activation leakyrelu");
        // Activation.RELU6 is its own class, ActivationReLU6, not ActivationReLU with max 6.
        assertInstanceOf(ActivationReLU6.class, Activation.RELU6.getActivationFunction());
        assertSkipped(twoConvs(conv("c1", Activation.IDENTITY),
                new ActivationLayer.Builder().activation(Activation.RELU6).name("r6").build(),
                conv("c2", Activation.IDENTITY)), "c1", "activation layer 'r6' is relu6");
        assertSkipped(twoConvs(conv("c1", Activation.IDENTITY),
                new ActivationLayer.Builder().activation(new ActivationReLU(6.0, null, null)).name("rmax").build(),
                conv("c2", Activation.IDENTITY)), "c1", "activation layer 'rmax' is");
        assertSkipped(twoConvs(conv("c1", Activation.RELU6), null, conv("c2", Activation.IDENTITY)),
                "c1", "not ReLU or identity");
        assertSkipped(twoConvs(conv("c1", Activation.TANH), null, conv("c2", Activation.IDENTITY)),
                "c1", "activation tanh");
    }

    @Test
    void denseAndDepthwiseConsumersAreSkipped() {
        assertSkipped(twoConvs(conv("c1", Activation.RELU), null,
                new DenseLayer.Builder().nOut(3).name("d").build()), "c1", "consumer 'd' is DenseLayer");
        assertSkipped(twoConvs(conv("c1", Activation.RELU), null,
                new DepthwiseConvolution2D.Builder(1, 1).depthMultiplier(1).name("dw").build()),
                "c1", "consumer 'dw' is DepthwiseConvolution2D");
        assertSkipped(twoConvs(new DepthwiseConvolution2D.Builder(1, 1).depthMultiplier(2).name("dw").build(),
                null, conv("c2", Activation.IDENTITY)), "dw", "DepthwiseConvolution2D is not a plain");
    }

    @Test
    void aNetworkWithoutPairsComesBackEquivalent() {
        MultiLayerNetwork single = twoConvs(conv("c1", Activation.RELU), null,
                new DenseLayer.Builder().nOut(3).name("d").build());
        Equalized<MultiLayerNetwork> e = CrossLayerEqualization.equalize(single);
        assertEquals(List.of(), e.report().pairs());
        assertEquals(List.of("c1"), e.report().skipped().stream().map(EqualizationReport.Skipped::layer).toList());
        INDArray x = TinyNets.random(2, DataType.FLOAT, 3, 3, 4, 4);
        assertArrayEquals(single.output(x).data().asFloat(), e.network().output(x).data().asFloat(), 0f);
        // For contrast, the shared tiny net c1 -> bn1 -> r1 -> c2 -> gap has one pair, through the folded BN and ReLU.
        Equalized<MultiLayerNetwork> t = CrossLayerEqualization.equalize(TinyNets.mln(4, CNN2DFormat.NCHW));
        assertEquals(1, t.report().pairs().size());
        assertNull(t.report().pairs().get(0).activationLayer());
    }

    // ------------------------------------------------------------------ bad input

    @Test
    void refusesWhatIsNotAnInitialisedNetwork() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CrossLayerEqualization.equalize((Model) null));
        assertTrue(e.getMessage().contains("unsupported model type null"), e.getMessage());
        MultiLayerNetwork net = chain();
        e = assertThrows(IllegalArgumentException.class, () -> CrossLayerEqualization.equalize(net.getLayer(0)));
        assertTrue(e.getMessage().contains("unsupported model type") && e.getMessage().contains("ConvolutionLayer"),
                e.getMessage());
        MultiLayerNetwork uninitialised = new MultiLayerNetwork(net.getLayerWiseConfigurations().clone());
        e = assertThrows(IllegalArgumentException.class, () -> CrossLayerEqualization.equalize(uninitialised));
        assertTrue(e.getMessage().contains("not initialised"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CrossLayerEqualization.Options(true, 0, 1e-6));
        assertThrows(IllegalArgumentException.class, () -> new CrossLayerEqualization.Options(true, 1, Double.NaN));
        assertThrows(IllegalArgumentException.class,
                () -> new EqualizationReport.Pair("a", null, "b", true, 2, 0, 1, 0, "off"));
    }
}
