package io.github.dsconv.engine.graph;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The fallback: a node the engine does not run (a preprocessor, a DSConv layer off the engine, any other layer or
 * vertex) computed by DL4J itself on a copy of its inputs, outside every workspace; its output is copied back into
 * the plan's buffers. A {@code ComputationGraph} vertex, a layer, or a layer's input preprocessor.
 */
final class Dl4jStep implements Step {

    private final GraphVertex vertex;
    private final Layer layer;
    private final InputPreProcessor preProcessor;
    private final String reason;

    private Dl4jStep(GraphVertex vertex, Layer layer, InputPreProcessor preProcessor, String reason) {
        this.vertex = vertex;
        this.layer = layer;
        this.preProcessor = preProcessor;
        this.reason = reason;
    }

    /** A graph vertex run by DL4J ({@code reason} goes to the plan's report). */
    static Dl4jStep vertex(GraphVertex v, String reason) {
        return new Dl4jStep(v, null, null, reason);
    }

    /** A network layer run by DL4J (its input preprocessor, if any, is a step of its own). */
    static Dl4jStep layer(Layer l, String reason) {
        return new Dl4jStep(null, l, null, reason);
    }

    /** A layer's input preprocessor run by DL4J (a reshape or layout change before a layer). */
    static Dl4jStep preProcessor(InputPreProcessor pre) {
        return new Dl4jStep(null, null, pre, "input preprocessor " + pre.getClass().getSimpleName());
    }

    /** Why the engine does not run this node. */
    String reason() {
        return reason;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        INDArray out;
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray[] in = new INDArray[inputs.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = inputs[i].toArray();
            }
            if (vertex != null) {
                vertex.setInputs(in);
                out = vertex.doForward(false, mgr);
                vertex.clear();
            } else if (preProcessor != null) {
                out = preProcessor.preProcess(in[0], Math.toIntExact(in[0].size(0)), mgr);
            } else {
                out = layer.activate(in[0], false, mgr);
                layer.clear();
            }
        }
        return Tensor.copyOf(out, arena);
    }

    @Override
    public boolean onEngine() {
        return false;
    }

    @Override
    public String kind() {
        return "dl4j (" + reason + ")";
    }
}
