package io.github.dsconv.nn;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.schedule.ISchedule;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link MultiLayerNetwork} or a {@link ComputationGraph} behind one face: the one place in the project that knows
 * how the two DL4J network types differ. Everything else asks this class instead of switching on the type.
 *
 * <p>What it covers: the layers with their names in topological order (the order of the flat parameter vector), a
 * layer's inputs and consumers (graph vertex inputs; the previous and next layer of a multi-layer network, whose
 * input is called {@value #MLN_INPUT}), a layer's input preprocessor, the inference activations of every layer or of
 * the layers up to a named one, the input each named layer receives, the output, fitting, cloning, the flat
 * parameters and per-layer parameter tables (views of the flat vector), the configuration as JSON with its kind name
 * (so a network can be rebuilt from both, {@link #fromJson}), the number and names of its inputs and outputs,
 * listeners, the iteration and epoch counters and the learning rate. A {@link Configuration} is an editable copy of
 * the configuration that builds a new network ({@link Configuration#build(INDArray)}).
 *
 * <p>A multi-layer network's unnamed layers are called {@code layer<i>}, as DL4J names them when it builds the
 * configuration. Code that needs a DL4J API taking only one of the types reaches the concrete network through
 * {@link #graph()} or {@link #multiLayer()}, after asking {@link #isGraph()}.
 */
public final class Network {

    /** {@link #kind()} of a {@link MultiLayerNetwork}. */
    public static final String MULTI_LAYER = "MultiLayerNetwork";
    /** {@link #kind()} of a {@link ComputationGraph}. */
    public static final String GRAPH = "ComputationGraph";
    /** The name of a multi-layer network's input in {@link #inputsOf}, {@link #feedForward} and {@link #inputNames}. */
    public static final String MLN_INPUT = "input";

    /** A layer and its name (vertex name in a graph). */
    public record NamedLayer(String name, Layer layer) {
    }

    /** A layer's configuration and its name, from a network's configuration (no parameters needed). */
    public record LayerConfiguration(String name, NeuralNetConfiguration conf) {
        /** The layer itself. */
        public org.deeplearning4j.nn.conf.layers.Layer layer() {
            return conf.getLayer();
        }
    }

    private final MultiLayerNetwork mln;
    private final ComputationGraph cg;

    Network(MultiLayerNetwork mln, ComputationGraph cg) {
        this.mln = mln;
        this.cg = cg;
    }

    /**
     * The facade of {@code model}.
     *
     * @throws IllegalArgumentException if it is neither a {@link MultiLayerNetwork} nor a {@link ComputationGraph}
     */
    public static Network of(Model model) {
        if (model instanceof MultiLayerNetwork m) {
            return new Network(m, null);
        }
        if (model instanceof ComputationGraph g) {
            return new Network(null, g);
        }
        throw new IllegalArgumentException("unsupported model type "
                + (model == null ? "null" : model.getClass().getName())
                + " (expected MultiLayerNetwork or ComputationGraph)");
    }

    /**
     * An uninitialised network of {@code kind} ({@link #MULTI_LAYER} or {@link #GRAPH}) from its configuration JSON.
     *
     * @throws IllegalArgumentException for another kind; DL4J's exception for bad JSON
     */
    public static Network fromJson(String kind, String json) {
        return NetworkConfiguration.fromJson(kind, json).build();
    }

    /** The network itself. */
    public Model model() {
        return mln != null ? mln : cg;
    }

    /** Whether this is a {@link ComputationGraph}. */
    public boolean isGraph() {
        return cg != null;
    }

    /** {@link #MULTI_LAYER} or {@link #GRAPH}. */
    public String kind() {
        return isGraph() ? GRAPH : MULTI_LAYER;
    }

    /** The graph, for a DL4J API that takes only graphs. @throws IllegalStateException if this is not one */
    public ComputationGraph graph() {
        if (cg == null) {
            throw new IllegalStateException("expected a ComputationGraph, this is a MultiLayerNetwork");
        }
        return cg;
    }

    /** The multi-layer network, for a DL4J API that takes only those. @throws IllegalStateException if not one */
    public MultiLayerNetwork multiLayer() {
        if (mln == null) {
            throw new IllegalStateException("expected a MultiLayerNetwork, this is a ComputationGraph");
        }
        return mln;
    }

    // ------------------------------------------------------------------ layers and structure

    /**
     * The layers with their names, in topological order: that of the flat parameter vector (a graph's vertices
     * without a layer are left out). Needs an initialised network.
     */
    public List<NamedLayer> layers() {
        List<NamedLayer> out = new ArrayList<>();
        if (mln != null) {
            Layer[] ls = mln.getLayers();
            for (int i = 0; i < ls.length; i++) {
                out.add(new NamedLayer(nameOf(ls[i].conf().getLayer(), i), ls[i]));
            }
        } else {
            org.deeplearning4j.nn.graph.vertex.GraphVertex[] vs = cg.getVertices();
            for (int idx : cg.topologicalSortOrder()) {
                if (vs[idx].hasLayer()) {
                    out.add(new NamedLayer(vs[idx].getVertexName(), vs[idx].getLayer()));
                }
            }
        }
        return out;
    }

    /**
     * DL4J's own layer array ({@code getLayers()}): a multi-layer network's layers in order; a graph's in the order
     * of its configuration, which need not be topological. Reports listed in "network order" use this order.
     */
    public Layer[] dl4jLayers() {
        return mln != null ? mln.getLayers() : cg.getLayers();
    }

    /** The layer called {@code name}, or null. */
    public Layer layer(String name) {
        if (mln != null) {
            int i = indexOf(name);
            return i < 0 ? null : mln.getLayer(i);
        }
        org.deeplearning4j.nn.graph.vertex.GraphVertex v = cg.getVertex(name);
        return v == null || !v.hasLayer() ? null : v.getLayer();
    }

    /** The layer called {@code name}. @throws IllegalArgumentException if there is none */
    public Layer requireLayer(String name) {
        Layer l = layer(name);
        if (l == null) {
            throw new IllegalArgumentException("layer '" + name + "' not found in the network");
        }
        return l;
    }

    /** The layers' configurations with their names, in topological order, read from the configuration alone. */
    public List<LayerConfiguration> layerConfigurations() {
        return configuration().layers();
    }

    /**
     * The names of what feeds layer or vertex {@code name}: a graph's vertex inputs; in a multi-layer network the
     * previous layer, or {@value #MLN_INPUT} for the first. A network input has none.
     *
     * @throws IllegalArgumentException if there is no such layer or vertex
     */
    public List<String> inputsOf(String name) {
        if (mln != null) {
            if (MLN_INPUT.equals(name) && indexOf(name) < 0) {
                return List.of();
            }
            int i = requireIndex(name);
            return List.of(i == 0 ? MLN_INPUT : nameOf(mln.getLayerWiseConfigurations().getConf(i - 1).getLayer(),
                    i - 1));
        }
        ComputationGraphConfiguration conf = cg.getConfiguration();
        if (conf.getNetworkInputs().contains(name)) {
            return List.of();
        }
        List<String> ins = conf.getVertexInputs().get(name);
        if (ins == null) {
            throw new IllegalArgumentException("no vertex '" + name + "' in the graph");
        }
        return List.copyOf(ins);
    }

    /**
     * The names of the layers or vertices that take {@code name}'s output: in a graph, in the order of its
     * configuration; in a multi-layer network the next layer, if any.
     */
    public List<String> consumersOf(String name) {
        if (mln != null) {
            int i = MLN_INPUT.equals(name) && indexOf(name) < 0 ? -1 : requireIndex(name);
            int n = mln.getLayerWiseConfigurations().getConfs().size();
            return i + 1 < n ? List.of(nameOf(mln.getLayerWiseConfigurations().getConf(i + 1).getLayer(), i + 1))
                    : List.of();
        }
        List<String> out = new ArrayList<>();
        cg.getConfiguration().getVertexInputs().forEach((v, ins) -> {
            if (ins.contains(name)) {
                out.add(v);
            }
        });
        return out;
    }

    /** The input preprocessor of layer {@code name}, or null (none, or a graph vertex without a layer). */
    public InputPreProcessor preProcessor(String name) {
        return configuration().preProcessor(name);
    }

    /** The network's input names ({@value #MLN_INPUT} for a multi-layer network). */
    public List<String> inputNames() {
        return mln != null ? List.of(MLN_INPUT) : List.copyOf(cg.getConfiguration().getNetworkInputs());
    }

    /** The network's output names (a multi-layer network's last layer). */
    public List<String> outputNames() {
        if (mln != null) {
            int last = mln.getLayerWiseConfigurations().getConfs().size() - 1;
            return List.of(nameOf(mln.getLayerWiseConfigurations().getConf(last).getLayer(), last));
        }
        return List.copyOf(cg.getConfiguration().getNetworkOutputs());
    }

    /** How many inputs the network takes (1 for a multi-layer network). */
    public int numInputs() {
        return inputNames().size();
    }

    /** How many outputs the network has (1 for a multi-layer network). */
    public int numOutputs() {
        return outputNames().size();
    }

    /** @throws IllegalArgumentException unless the network has one input and one output */
    public void requireSingleIo() {
        if (numInputs() != 1 || numOutputs() != 1) {
            throw new IllegalArgumentException("only single-input, single-output graphs are supported, this one has "
                    + inputNames() + " -> " + outputNames());
        }
    }

    // ------------------------------------------------------------------ forward passes

    /**
     * Inference activations of every layer (every vertex of a graph) for a single input, by name; the input itself
     * under its name. DL4J's lists: a later in-place layer (DL4J's {@code ActivationLayer} activates in place at
     * inference) can overwrite the array listed for the layer it consumes.
     */
    public Map<String, INDArray> feedForward(INDArray x) {
        if (mln != null) {
            return byName(mln.feedForward(x, false));
        }
        return cg.feedForward(x, false);
    }

    /**
     * Inference activations of the layers up to and including layer {@code name}, as {@link #feedForward(INDArray)}
     * lists them (a graph: the layers DL4J runs to reach it; a multi-layer network: the input and every layer up to
     * it).
     *
     * @throws IllegalArgumentException if there is no such layer
     */
    public Map<String, INDArray> feedForwardTo(String name, INDArray x) {
        if (mln != null) {
            return byName(mln.feedForwardToLayer(requireIndex(name), x, false));
        }
        Layer target = requireLayer(name);
        Layer[] ls = cg.getLayers();
        for (int i = 0; i < ls.length; i++) {
            if (ls[i] == target) {
                return cg.feedForward(x, i, false);
            }
        }
        throw new IllegalStateException("layer '" + name + "' is not in the graph's layer array");
    }

    /**
     * The input each named layer receives for a batch, after the layer's input preprocessor, from one inference
     * feed-forward. See {@link #feedForward(INDArray)} on in-place layers: a layer whose input is consumed in place
     * by another layer would read the wrong array.
     *
     * @param names layers to report, each with exactly one input
     * @return each named layer's input, by name, in the order of {@code names}
     * @throws IllegalArgumentException if a name is not a layer with one input
     */
    public Map<String, INDArray> layerInputs(List<String> names, INDArray x) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        if (mln != null) {
            List<INDArray> acts = mln.feedForward(x, false);
            for (String name : names) {
                int i = requireIndex(name);
                INDArray in = acts.get(i);
                InputPreProcessor pp = mln.getLayerWiseConfigurations().getInputPreProcess(i);
                out.put(name, pp == null ? in : pp.preProcess(in, (int) in.size(0), mgr));
            }
            return out;
        }
        Map<String, INDArray> acts = cg.feedForward(x, false);
        for (String name : names) {
            List<String> ins = cg.getConfiguration().getVertexInputs().get(name);
            if (ins == null || ins.size() != 1) {
                throw new IllegalArgumentException("layer '" + name + "' not found with one input in the network");
            }
            INDArray in = acts.containsKey(ins.get(0)) ? acts.get(ins.get(0)) : x;
            InputPreProcessor pp = preProcessor(name);
            out.put(name, pp == null ? in : pp.preProcess(in, (int) in.size(0), mgr));
        }
        return out;
    }

    /** Inference output of a single-input, single-output network (probabilities for a softmax head). */
    public INDArray output(INDArray x) {
        if (mln != null) {
            return mln.output(x, false);
        }
        requireSingleIo();
        return cg.outputSingle(false, x);
    }

    /** Inference outputs of a single-input network, one per network output. */
    public INDArray[] outputs(INDArray x) {
        return mln != null ? new INDArray[] {mln.output(x, false)} : cg.output(false, x);
    }

    // ------------------------------------------------------------------ training

    /** Trains one minibatch. */
    public void fit(DataSet batch) {
        if (mln != null) {
            mln.fit(batch);
        } else {
            cg.fit(batch);
        }
    }

    /**
     * Trains one minibatch of single-input features with one label array per output (a multi-layer network takes
     * exactly one).
     */
    public void fit(INDArray features, INDArray... labels) {
        if (mln != null) {
            if (labels.length != 1) {
                throw new IllegalArgumentException("a MultiLayerNetwork takes one label array, got " + labels.length);
            }
            mln.fit(new DataSet(features, labels[0]));
        } else {
            cg.fit(new MultiDataSet(new INDArray[] {features}, labels));
        }
    }

    /** Replaces the training listeners. */
    public void setListeners(TrainingListener... listeners) {
        if (mln != null) {
            mln.setListeners(listeners);
        } else {
            cg.setListeners(listeners);
        }
    }

    /** The configuration's iteration counter. */
    public int iterationCount() {
        return mln != null ? mln.getLayerWiseConfigurations().getIterationCount()
                : cg.getConfiguration().getIterationCount();
    }

    /** The configuration's epoch counter. */
    public int epochCount() {
        return mln != null ? mln.getLayerWiseConfigurations().getEpochCount() : cg.getConfiguration().getEpochCount();
    }

    /** Sets the configuration's epoch counter (and nothing else). */
    public void setEpochCount(int epochs) {
        if (mln != null) {
            mln.getLayerWiseConfigurations().setEpochCount(epochs);
        } else {
            cg.getConfiguration().setEpochCount(epochs);
        }
    }

    /** DL4J's {@code incrementEpochCount()} (the counter, synchronised into the layers' configurations). */
    public void incrementEpochCount() {
        if (mln != null) {
            mln.incrementEpochCount();
        } else {
            cg.incrementEpochCount();
        }
    }

    /** Sets the learning rate schedule of every layer. */
    public void setLearningRate(ISchedule schedule) {
        if (mln != null) {
            mln.setLearningRate(schedule);
        } else {
            cg.setLearningRate(schedule);
        }
    }

    // ------------------------------------------------------------------ copies and parameters

    /** An independent deep copy (DL4J's {@code clone()}: configuration, parameters and updater state). */
    public Network copy() {
        return mln != null ? new Network(mln.clone(), null) : new Network(null, cg.clone());
    }

    /** The flat parameter vector (null before initialisation); every layer's parameters are views of it. */
    public INDArray params() {
        return model().params();
    }

    /** Layer {@code name}'s parameters by key: views of {@link #params()} (empty for a layer without any). */
    public Map<String, INDArray> paramTable(String name) {
        Layer l = requireLayer(name);
        return l.numParams() == 0 ? Map.of() : Collections.unmodifiableMap(l.paramTable());
    }

    /**
     * The parameters of graph vertex {@code name} when it has some but no layer (a custom vertex with weights), else
     * null; always null in a multi-layer network. Such parameters sit in the flat vector in topological order too.
     */
    public INDArray vertexParams(String name) {
        if (cg == null) {
            return null;
        }
        org.deeplearning4j.nn.graph.vertex.GraphVertex v = cg.getVertex(name);
        return v == null || v.hasLayer() || v.numParams() == 0 ? null : v.params();
    }

    /** Initialises the network with {@code params} (used as the flat vector itself unless {@code clone}). */
    public void init(INDArray params, boolean clone) {
        if (mln != null) {
            mln.init(params, clone);
        } else {
            cg.init(params, clone);
        }
    }

    /** The configuration as JSON ({@link #fromJson} with {@link #kind()} reads it back). */
    public String configJson() {
        return configuration().toJson();
    }

    /** The network's live configuration (not a copy: edits change this network's configuration). */
    public NetworkConfiguration configuration() {
        return mln != null ? new NetworkConfiguration(mln.getLayerWiseConfigurations(), null)
                : new NetworkConfiguration(null, cg.getConfiguration());
    }

    /** An editable copy of the configuration, to {@link Configuration#build build} a modified network from. */
    public NetworkConfiguration copyConfiguration() {
        return configuration().copy();
    }

    @Override
    public String toString() {
        return kind() + " with " + dl4jLayers().length + " layers";
    }

    private int indexOf(String name) {
        List<NeuralNetConfiguration> confs = mln.getLayerWiseConfigurations().getConfs();
        for (int i = 0; i < confs.size(); i++) {
            if (name.equals(nameOf(confs.get(i).getLayer(), i))) {
                return i;
            }
        }
        return -1;
    }

    private int requireIndex(String name) {
        int i = indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("layer '" + name + "' not found in the network");
        }
        return i;
    }

    /** A multi-layer network's activation list (input first) by name. */
    private Map<String, INDArray> byName(List<INDArray> acts) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        out.put(MLN_INPUT, acts.get(0));
        for (int i = 1; i < acts.size(); i++) {
            out.put(nameOf(mln.getLayerWiseConfigurations().getConf(i - 1).getLayer(), i - 1), acts.get(i));
        }
        return out;
    }

    static String nameOf(org.deeplearning4j.nn.conf.layers.Layer layer, int index) {
        String name = layer.getLayerName();
        return name == null ? "layer" + index : name;
    }
}
