package io.github.dsconv.convert;

import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The converter's layout handling on a graph with a concatenation and a residual add: the same weights built
 * once as NCHW and once as NHWC (as Keras channels_last models import) must give the same DSConv layers and,
 * after permuting, the same activations at every vertex.
 */
class NhwcLayoutTest {

    /** Convolutions of {@link #graph}, in topological order. */
    private static final List<String> CONVS = List.of("stem", "br1", "br3", "mix", "down", "head");

    private static ComputationGraph nchw;
    private static ComputationGraph nhwc;
    private static INDArray xNchw;
    private static INDArray xNhwc;

    @BeforeAll
    static void buildTwins() {
        nchw = graph(CNN2DFormat.NCHW);
        nhwc = graph(CNN2DFormat.NHWC);
        // Conv kernels are [out, in, kh, kw] in both layouts, so one flat parameter vector fits both graphs.
        nhwc.setParams(nchw.params());
        xNchw = TinyNets.random(11, DataType.FLOAT, 3, 5, 10, 10);
        xNhwc = xNchw.permute(0, 2, 3, 1).dup('c');
    }

    /**
     * stem 3x3 5->12, BN, ReLU; two branches (1x1 ->10, 3x3 ->14) concatenated to 24 channels; 3x3 24->12 added to
     * the stem; 3x3 stride 2 12->40; 3x3 40->16 (two input blocks at B=32: 32 + 8); global average; softmax(4).
     */
    static ComputationGraph graph(CNN2DFormat f) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .seed(21)
                .updater(new Adam(1e-3))
                .weightInit(WeightInit.XAVIER)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(InputType.convolutional(10, 10, 5, f));
        g.addLayer("stem", conv(3, 1, 12, f), "in");
        g.addLayer("stem_bn", new BatchNormalization.Builder().build(), "stem");
        g.addLayer("stem_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), "stem_bn");
        g.addLayer("br1", conv(1, 1, 10, f), "stem_relu");
        g.addLayer("br3", conv(3, 1, 14, f), "stem_relu");
        g.addVertex("cat", new MergeVertex(), "br1", "br3");
        g.addLayer("mix", conv(3, 1, 12, f), "cat");
        g.addVertex("res", new ElementWiseVertex(ElementWiseVertex.Op.Add), "mix", "stem_relu");
        g.addLayer("down", conv(3, 2, 40, f), "res");
        g.addLayer("head", conv(3, 1, 16, f), "down");
        g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), "head");
        g.addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                .activation(Activation.SOFTMAX).build(), "gap");
        g.setOutputs("out");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        return net;
    }

    private static ConvolutionLayer conv(int k, int stride, int nOut, CNN2DFormat f) {
        return new ConvolutionLayer.Builder(k, k).stride(stride, stride).nOut(nOut).dataFormat(f)
                .activation(Activation.RELU).build();
    }

    private static double relErr(INDArray a, INDArray ref) {
        return a.sub(ref).norm2Number().doubleValue() / ref.norm2Number().doubleValue();
    }

    @Test
    void theTwinsAgreeInFp32() {
        // Guards the premise of the other tests: same weights, same function, only the layout differs.
        double err = relErr(nhwc.outputSingle(xNhwc), nchw.outputSingle(xNchw));
        assertTrue(err < 1e-5, "FP32 NHWC vs NCHW relative error " + err);
    }

    @Test
    void w8ConversionOfTheNhwcGraphStaysCloseToFp32() {
        Converted<ComputationGraph> c = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(8, 8, 32)))
                .convert(nhwc);
        assertEquals(CONVS, c.report().converted().stream().map(LayerReport::name).toList());
        for (String name : CONVS) {
            DSConvLayer l = assertInstanceOf(DSConvLayer.class, c.network().getLayer(name).conf().getLayer());
            assertEquals(CNN2DFormat.NHWC, l.getCnn2dDataFormat(), name);
        }
        INDArray ref = nhwc.outputSingle(xNhwc);
        double err = relErr(c.network().outputSingle(xNhwc), ref);
        // Measured 7.4e-4 (W8A8, B=32); bound 1%.
        System.out.println("NHWC concat+residual graph W8A8 relative output error: " + err);
        assertTrue(err < 0.01, "W8A8 relative error " + err);
    }

    @Test
    void theNhwcConcatenationKeepsItsAxisThroughConversionAndModelSerializer(@TempDir Path dir) throws IOException {
        // DL4J's MergeVertex.clone() forgets the inferred axis (3 for NHWC); the converter must not.
        assertEquals(3, ((MergeVertex) nhwc.getConfiguration().getVertices().get("cat")).getMergeAxis());
        ComputationGraph q = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(8, 8, 32))).convert(nhwc)
                .network();
        assertEquals(3, ((MergeVertex) q.getConfiguration().getVertices().get("cat")).getMergeAxis());
        Path file = dir.resolve("nhwc-w8.zip");
        ModelFiles.save(q, file, false);
        ComputationGraph restored = (ComputationGraph) ModelFiles.load(file);
        assertEquals(3, ((MergeVertex) restored.getConfiguration().getVertices().get("cat")).getMergeAxis());
        assertEquals(q.outputSingle(xNhwc), restored.outputSingle(xNhwc));
    }

    @Test
    void nhwcDsconvEqualsNchwDsconvAtEveryVertexAfterPermuting() {
        DSConvConverter converter = new DSConvConverter(ConversionPlan.uniform(new LayerSpec(4, 8, 32)));
        ComputationGraph qc = converter.convert(nchw).network();
        ComputationGraph qh = converter.convert(nhwc).network();
        // The quantized kernels and scales do not depend on the activation layout.
        for (String name : CONVS) {
            Map<String, INDArray> pc = qc.getLayer(name).paramTable();
            Map<String, INDArray> ph = qh.getLayer(name).paramTable();
            assertEquals(pc.keySet(), ph.keySet(), name);
            for (String p : pc.keySet()) {
                assertEquals(pc.get(p), ph.get(p), name + "." + p);
            }
        }
        Map<String, INDArray> ac = qc.feedForward(xNchw, false);
        Map<String, INDArray> ah = qh.feedForward(xNhwc, false);
        double worst = 0;
        for (String v : List.of("stem", "stem_relu", "br1", "br3", "cat", "mix", "res", "down", "head")) {
            INDArray c = ac.get(v);
            INDArray h = ah.get(v).permute(0, 3, 1, 2);
            assertEquals(List.of(c.shape()[0], c.shape()[1], c.shape()[2], c.shape()[3]),
                    List.of(h.shape()[0], h.shape()[1], h.shape()[2], h.shape()[3]), v);
            double err = relErr(h, c);
            worst = Math.max(worst, err);
            // BFP activations share one exponent per block of channels at each pixel: the same blocks in both
            // layouts. Measured 0 (bit-identical) at every vertex; the bound leaves room for summation order only.
            assertTrue(err < 1e-6, v + ": NHWC vs NCHW DSConv relative error " + err);
        }
        double out = relErr(qh.outputSingle(xNhwc), qc.outputSingle(xNchw));
        System.out.println("NHWC vs NCHW DSConv W4A8: worst vertex relative error " + worst + ", output " + out);
        assertTrue(out < 1e-6, "output relative error " + out);
        for (Layer l : qh.getLayers()) {
            if (l.conf().getLayer() instanceof ConvolutionLayer) {
                assertInstanceOf(DSConvLayer.class, l.conf().getLayer(), l.conf().getLayer().getLayerName());
            }
        }
    }
}
