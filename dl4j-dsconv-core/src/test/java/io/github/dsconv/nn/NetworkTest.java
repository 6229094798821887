package io.github.dsconv.nn;

import io.github.dsconv.testutil.TinyNets;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NetworkTest {

    private static final INDArray X_MLN = TinyNets.random(3, DataType.FLOAT, 2, 3, 9, 9);
    private static final INDArray X_CG = TinyNets.random(4, DataType.FLOAT, 2, 3, 8, 8);

    @Test
    void rejectsOtherModels() {
        Model other = new org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer(
                new NeuralNetConfiguration.Builder().layer(new DenseLayer.Builder().nIn(2).nOut(2).build()).build(),
                DataType.FLOAT);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Network.of(other));
        assertTrue(e.getMessage().contains("expected MultiLayerNetwork or ComputationGraph"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Network.of(null));
    }

    @Test
    void multiLayerNetworkStructure() {
        MultiLayerNetwork mln = TinyNets.mln(1, CNN2DFormat.NCHW);
        Network n = Network.of(mln);
        assertFalse(n.isGraph());
        assertEquals(Network.MULTI_LAYER, n.kind());
        assertSame(mln, n.model());
        assertEquals(List.of("c1", "bn1", "r1", "c2", "gap", "out"), names(n));
        assertEquals(List.of(Network.MLN_INPUT), n.inputsOf("c1"));
        assertEquals(List.of("r1"), n.inputsOf("c2"));
        assertEquals(List.of("bn1"), n.consumersOf("c1"));
        assertEquals(List.of(), n.consumersOf("out"));
        assertEquals(1, n.numInputs());
        assertEquals(List.of("out"), n.outputNames());
        assertSame(mln.getLayer(3), n.layer("c2"));
        assertNull(n.layer("nope"));
        assertThrows(IllegalArgumentException.class, () -> n.inputsOf("nope"));
        assertThrows(IllegalStateException.class, n::graph);
    }

    @Test
    void graphLayersAreTopologicalWithVertexInputs() {
        ComputationGraph cg = TinyNets.residualGraph(2, CNN2DFormat.NCHW);
        Network n = Network.of(cg);
        assertTrue(n.isGraph());
        assertEquals(Network.GRAPH, n.kind());
        List<String> order = names(n);
        assertEquals(Set.of("stem", "stem_bn", "stem_relu", "b1a", "b1b", "b2a", "b2proj", "gap", "out"),
                new HashSet<>(order));
        for (String name : order) {
            for (String in : n.inputsOf(name)) {
                if (order.contains(in)) {
                    assertTrue(order.indexOf(in) < order.indexOf(name), in + " after " + name);
                }
            }
        }
        assertEquals(List.of("b1b", "stem_relu"), n.inputsOf("b1add"));
        assertEquals(List.of("b2a", "b2proj"), n.inputsOf("b2add"));
        assertEquals(List.of("b1a", "b1add"), n.consumersOf("stem_relu"));
        assertEquals(List.of(), n.inputsOf("in"));
        assertEquals(List.of("in"), n.inputNames());
        assertEquals(1, n.numOutputs());
        assertNull(n.layer("b1add")); // a vertex, not a layer
        assertSame(cg.getLayer("b2proj"), n.layer("b2proj"));
    }

    @Test
    void layersFollowTheParameterVectorEvenWhenTheConfigurationIsNotTopological() {
        ComputationGraph cg = outOfOrderGraph();
        Network n = Network.of(cg);
        assertEquals(List.of("a", "b", "c", "out"), names(n));
        assertNotEquals(names(n), dl4jNames(n)); // DL4J's own array follows the configuration
        long offset = 0;
        INDArray flat = n.params();
        for (Network.NamedLayer l : n.layers()) {
            for (INDArray p : l.layer().paramTable().values()) {
                p.putScalar(0, 1000.0 + offset); // a view: the flat vector sees the write at the layer's offset
                assertEquals(1000.0 + offset, flat.getDouble(offset), 1e-3, l.name());
                offset += p.length();
            }
        }
        assertEquals(flat.length(), offset);
        assertEquals(List.of("a", "b", "c", "out"),
                n.layerConfigurations().stream().map(Network.LayerConfiguration::name).toList());
    }

    @Test
    void feedForwardMatchesDl4j() {
        MultiLayerNetwork mln = TinyNets.mln(1, CNN2DFormat.NCHW);
        Network n = Network.of(mln);
        List<INDArray> ref = mln.feedForward(X_MLN.dup(), false);
        Map<String, INDArray> acts = n.feedForward(X_MLN.dup());
        assertEquals(ref.size(), acts.size());
        assertEquals(ref.get(0), acts.get(Network.MLN_INPUT));
        assertEquals(ref.get(4), acts.get("c2"));
        List<INDArray> refTo = mln.feedForwardToLayer(3, X_MLN.dup(), false);
        Map<String, INDArray> to = n.feedForwardTo("c2", X_MLN.dup());
        assertEquals(List.of(Network.MLN_INPUT, "c1", "bn1", "r1", "c2"), new ArrayList<>(to.keySet()));
        assertEquals(refTo.get(4), to.get("c2"));
        assertEquals(mln.output(X_MLN.dup(), false), n.output(X_MLN.dup()));

        ComputationGraph cg = TinyNets.residualGraph(2, CNN2DFormat.NCHW);
        Network g = Network.of(cg);
        Map<String, INDArray> full = cg.feedForward(X_CG.dup(), false);
        Map<String, INDArray> gActs = g.feedForwardTo("b2a", X_CG.dup());
        assertEquals(full.get("b2a"), gActs.get("b2a"));
        assertEquals(full.get("b1add"), g.feedForward(X_CG.dup()).get("b1add"));
        assertFalse(gActs.containsKey("out"));
        assertEquals(cg.outputSingle(false, X_CG.dup()), g.output(X_CG.dup()));
        assertEquals(1, g.outputs(X_CG.dup()).length);
    }

    @Test
    void layerInputsAreWhatTheLayersReceive() {
        MultiLayerNetwork mln = TinyNets.mln(1, CNN2DFormat.NCHW);
        Map<String, INDArray> in = Network.of(mln).layerInputs(List.of("c2", "c1"), X_MLN.dup());
        assertEquals(List.of("c2", "c1"), new ArrayList<>(in.keySet()));
        assertEquals(X_MLN, in.get("c1"));
        assertEquals(mln.feedForward(X_MLN.dup(), false).get(3), in.get("c2"));

        ComputationGraph cg = TinyNets.residualGraph(2, CNN2DFormat.NCHW);
        Network g = Network.of(cg);
        Map<String, INDArray> gin = g.layerInputs(List.of("b2proj", "stem"), X_CG.dup());
        assertEquals(cg.feedForward(X_CG.dup(), false).get("b1add"), gin.get("b2proj"));
        assertEquals(X_CG, gin.get("stem"));
        assertThrows(IllegalArgumentException.class, () -> g.layerInputs(List.of("b1add"), X_CG.dup()));
    }

    @Test
    void copiesAreIndependent() {
        for (Model m : List.of(TinyNets.mln(1, CNN2DFormat.NCHW), TinyNets.residualGraph(2, CNN2DFormat.NCHW))) {
            Network n = Network.of(m);
            INDArray x = n.isGraph() ? X_CG : X_MLN;
            INDArray before = n.output(x.dup());
            Network c = n.copy();
            assertNotSame(n.model(), c.model());
            assertEquals(n.kind(), c.kind());
            assertEquals(n.params(), c.params());
            c.params().addi(1);
            assertEquals(before, n.output(x.dup()));
            assertNotEquals(n.params(), c.params());
        }
    }

    @Test
    void paramViewsShareTheFlatVector() {
        for (Model m : List.of(TinyNets.mln(1, CNN2DFormat.NCHW), TinyNets.residualGraph(2, CNN2DFormat.NCHW))) {
            Network n = Network.of(m);
            String conv = n.isGraph() ? "b1a" : "c2";
            INDArray w = n.paramTable(conv).get("W");
            double before = n.params().sumNumber().doubleValue();
            w.addi(1.0);
            assertEquals(before + w.length(), n.params().sumNumber().doubleValue(), 1e-2 * w.length());
            assertEquals(w, n.requireLayer(conv).getParam("W"));
            assertEquals(Map.of(), n.paramTable(n.isGraph() ? "stem_relu" : "r1"));
        }
    }

    @Test
    void rebuildsFromJsonAndFromAnEditedConfiguration() {
        for (Model m : List.of(TinyNets.mln(1, CNN2DFormat.NCHW), TinyNets.residualGraph(2, CNN2DFormat.NCHW))) {
            Network n = Network.of(m);
            INDArray x = n.isGraph() ? X_CG : X_MLN;
            Network back = Network.fromJson(n.kind(), n.configJson());
            back.init(n.params().dup(), false);
            assertEquals(n.output(x.dup()), back.output(x.dup()));

            NetworkConfiguration c = n.copyConfiguration();
            String conv = n.isGraph() ? "b1a" : "c2";
            assertNull(c.preProcessor(conv));
            c.setPreProcessor(conv, new org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor());
            assertNull(n.preProcessor(conv)); // the copy is independent
            Network edited = c.build(n.params().dup());
            assertTrue(edited.preProcessor(conv) != null);
            assertArrayEquals(n.params().toFloatVector(), edited.params().toFloatVector());
        }
        assertThrows(IllegalArgumentException.class, () -> Network.fromJson("Other", "{}"));
    }

    @Test
    void graphCopiesKeepMergeAxes() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addVertex("m", new MergeVertex(), "in", "in")
                .setOutputs("m").build();
        ((MergeVertex) conf.getVertices().get("m")).setMergeAxis(3);
        assertEquals(3, ((MergeVertex) NetworkConfiguration.copyOf(conf).getVertices().get("m")).getMergeAxis());
    }

    /** Dense layers a -> b -> c -> out, configured in the order c, out, b, a. */
    private static ComputationGraph outOfOrderGraph() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(5)
                .weightInit(WeightInit.XAVIER).graphBuilder()
                .addInputs("in")
                .addLayer("c", new DenseLayer.Builder().nIn(5).nOut(4).build(), "b")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(4).nOut(2)
                        .activation(Activation.IDENTITY).build(), "c")
                .addLayer("b", new DenseLayer.Builder().nIn(6).nOut(5).build(), "a")
                .addLayer("a", new DenseLayer.Builder().nIn(3).nOut(6).build(), "in")
                .setOutputs("out").build();
        ComputationGraph cg = new ComputationGraph(conf);
        cg.init();
        return cg;
    }

    private static List<String> names(Network n) {
        return n.layers().stream().map(Network.NamedLayer::name).toList();
    }

    private static List<String> dl4jNames(Network n) {
        List<String> out = new ArrayList<>();
        for (Layer l : n.dl4jLayers()) {
            out.add(l.conf().getLayer().getLayerName());
        }
        return out;
    }
}
