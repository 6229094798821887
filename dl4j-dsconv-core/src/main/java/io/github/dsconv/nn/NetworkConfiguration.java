package io.github.dsconv.nn;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.util.GraphIndices;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A network configuration of either kind: read it, edit it, build a network from it. Obtained from
 * {@link Network#configuration()} (live) or {@link Network#copyConfiguration()} (a copy).
 */
public final class NetworkConfiguration {

    private final MultiLayerConfiguration mlc;
    private final ComputationGraphConfiguration cgc;

    NetworkConfiguration(MultiLayerConfiguration mlc, ComputationGraphConfiguration cgc) {
        this.mlc = mlc;
        this.cgc = cgc;
    }

    /**
     * The configuration of {@code kind} ({@link #MULTI_LAYER} or {@link #GRAPH}) in {@code json}.
     *
     * @throws IllegalArgumentException for another kind; DL4J's exception for bad JSON
     */
    public static NetworkConfiguration fromJson(String kind, String json) {
        return switch (kind) {
            case Network.MULTI_LAYER -> new NetworkConfiguration(MultiLayerConfiguration.fromJson(json), null);
            case Network.GRAPH -> new NetworkConfiguration(null, ComputationGraphConfiguration.fromJson(json));
            default -> throw new IllegalArgumentException("unknown model kind '" + kind + "' (expected "
                    + Network.MULTI_LAYER + " or " + Network.GRAPH + ")");
        };
    }

    /** Whether this configures a {@link ComputationGraph}. */
    public boolean isGraph() {
        return cgc != null;
    }

    /** {@link #MULTI_LAYER} or {@link #GRAPH}. */
    public String kind() {
        return isGraph() ? Network.GRAPH : Network.MULTI_LAYER;
    }

    /** The graph configuration. @throws IllegalStateException if this configures a multi-layer network */
    public ComputationGraphConfiguration graph() {
        if (cgc == null) {
            throw new IllegalStateException("expected a ComputationGraph configuration");
        }
        return cgc;
    }

    /** The multi-layer configuration. @throws IllegalStateException if this configures a graph */
    public MultiLayerConfiguration multiLayer() {
        if (mlc == null) {
            throw new IllegalStateException("expected a MultiLayerNetwork configuration");
        }
        return mlc;
    }

    /** The configuration as JSON. */
    public String toJson() {
        return mlc != null ? mlc.toJson() : cgc.toJson();
    }

    /**
     * A deep copy. A graph's keeps each {@link MergeVertex}'s merge axis: DL4J M2.1's
     * {@code MergeVertex.clone()} returns a fresh vertex with the default axis 1, dropping the axis 3 that an
     * NHWC concatenation inferred from its input types, so the clone would concatenate along the height.
     */
    public NetworkConfiguration copy() {
        return mlc != null ? new NetworkConfiguration(mlc.clone(), null) : new NetworkConfiguration(null, copyOf(cgc));
    }

    /** A graph configuration's deep copy that keeps the merge axes (see {@link #copy()}). */
    public static ComputationGraphConfiguration copyOf(ComputationGraphConfiguration conf) {
        ComputationGraphConfiguration copy = conf.clone();
        conf.getVertices().forEach((name, v) -> {
            if (v instanceof MergeVertex m && copy.getVertices().get(name) instanceof MergeVertex c) {
                c.setMergeAxis(m.getMergeAxis());
            }
        });
        return copy;
    }

    /**
     * The layers' configurations with their names in topological order (a graph's vertices without a layer
     * are left out). The {@link NeuralNetConfiguration}s are this configuration's own: setting a layer in one
     * edits it.
     */
    public List<Network.LayerConfiguration> layers() {
        List<Network.LayerConfiguration> out = new ArrayList<>();
        if (mlc != null) {
            for (int i = 0; i < mlc.getConfs().size(); i++) {
                NeuralNetConfiguration nnc = mlc.getConf(i);
                out.add(new Network.LayerConfiguration(Network.nameOf(nnc.getLayer(), i), nnc));
            }
        } else {
            for (String name : topologicalOrder()) {
                if (cgc.getVertices().get(name) instanceof LayerVertex lv) {
                    out.add(new Network.LayerConfiguration(name, lv.getLayerConf()));
                }
            }
        }
        return out;
    }

    /** Every vertex and network input of a graph in topological order; a multi-layer network's layers. */
    public List<String> topologicalOrder() {
        if (mlc != null) {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < mlc.getConfs().size(); i++) {
                out.add(Network.nameOf(mlc.getConf(i).getLayer(), i));
            }
            return out;
        }
        GraphIndices indices = new ComputationGraph(cgc).calculateIndices();
        List<String> out = new ArrayList<>();
        for (int idx : indices.getTopologicalSortOrder()) {
            out.add(indices.getIdxToName().get(idx));
        }
        return out;
    }

    /**
     * A graph's vertices that the layer list does not describe fully, by name with their type: every vertex
     * (a layer vertex by its layer's type) and every network input ({@code "network input"}); empty for a
     * multi-layer network, whose {@link #layers()} are all there is.
     */
    public Map<String, String> graphVertexTypes() {
        Map<String, String> out = new LinkedHashMap<>();
        if (cgc != null) {
            cgc.getVertices().forEach((name, v) -> out.put(name, v instanceof LayerVertex lv
                    ? lv.getLayerConf().getLayer().getClass().getSimpleName() : v.getClass().getSimpleName()));
            cgc.getNetworkInputs().forEach(name -> out.putIfAbsent(name, "network input"));
        }
        return out;
    }

    /** The input preprocessor of layer {@code name}, or null. */
    public InputPreProcessor preProcessor(String name) {
        if (mlc != null) {
            int i = index(name);
            return i < 0 ? null : mlc.getInputPreProcess(i);
        }
        GraphVertex v = cgc.getVertices().get(name);
        return v instanceof LayerVertex lv ? lv.getPreProcessor() : null;
    }

    /**
     * Sets layer {@code name}'s input preprocessor (null removes it).
     *
     * @throws IllegalArgumentException if there is no such layer
     */
    public void setPreProcessor(String name, InputPreProcessor pp) {
        if (mlc != null) {
            int i = index(name);
            if (i < 0) {
                throw new IllegalArgumentException("layer '" + name + "' not found in the configuration");
            }
            Map<Integer, InputPreProcessor> pps = new java.util.HashMap<>(mlc.getInputPreProcessors());
            if (pp == null) {
                pps.remove(i);
            } else {
                pps.put(i, pp);
            }
            mlc.setInputPreProcessors(pps);
            return;
        }
        if (!(cgc.getVertices().get(name) instanceof LayerVertex lv)) {
            throw new IllegalArgumentException("layer '" + name + "' not found in the configuration");
        }
        lv.setPreProcessor(pp);
    }

    /** Resets the configuration's iteration and epoch counters to 0. */
    public void resetCounters() {
        if (mlc != null) {
            mlc.setIterationCount(0);
            mlc.setEpochCount(0);
        } else {
            cgc.setIterationCount(0);
            cgc.setEpochCount(0);
        }
    }

    /** An uninitialised network of this configuration (the configuration object itself, not a copy). */
    public Network build() {
        return mlc != null ? new Network(new MultiLayerNetwork(mlc), null)
                : new Network(null, new ComputationGraph(cgc));
    }

    /** A network of this configuration initialised with {@code params} (used as its flat vector, no copy). */
    public Network build(INDArray params) {
        Network n = build();
        n.init(params, false);
        return n;
    }

    private int index(String name) {
        for (int i = 0; i < mlc.getConfs().size(); i++) {
            if (name.equals(Network.nameOf(mlc.getConf(i).getLayer(), i))) {
                return i;
            }
        }
        return -1;
    }
}
