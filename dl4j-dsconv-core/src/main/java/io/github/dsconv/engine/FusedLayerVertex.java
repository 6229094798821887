package io.github.dsconv.engine;

import io.github.dsconv.layers.DSConvRuntime;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.BaseGraphVertex;
import org.deeplearning4j.nn.graph.vertex.impl.LayerVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Stands in for a {@code BatchNormalization} (or the ReLU {@code ActivationLayer} after it) whose work the DSConv layer
 * before it does in its integer-engine output pass ({@link BatchNormFusion}): passes that layer's output on
 * unchanged. If its input is not the fused output (a kernel built without fusion, say) it runs the original vertex,
 * so the result is always DL4J's. Inference only: a training pass or backward pass throws.
 */
final class FusedLayerVertex extends BaseGraphVertex {

    private final LayerVertex original;
    private final DSConvRuntime producer;

    FusedLayerVertex(ComputationGraph graph, LayerVertex original, DSConvRuntime producer) {
        super(graph, original.getVertexName(), original.getVertexIndex(), original.getInputVertices(),
                original.getOutputVertices(), DataType.FLOAT); // fusion needs FLOAT (BatchNormFusion)
        this.original = original;
        this.producer = producer;
    }

    /** The vertex this one replaced. */
    LayerVertex original() {
        return original;
    }

    @Override
    public boolean hasLayer() {
        return false;
    }

    @Override
    public Layer getLayer() {
        return null;
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        if (training) {
            throw new IllegalStateException(trainingMessage());
        }
        if (!canDoForward()) {
            throw new IllegalStateException("layer '" + vertexName + "': input not set");
        }
        IntegerConvKernel k = IntegerEngine.kernel(producer);
        if (k != null && k.isFusedOutput(inputs[0])) {
            return inputs[0];
        }
        original.setInput(0, inputs[0], workspaceMgr);
        return original.doForward(false, workspaceMgr);
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr workspaceMgr) {
        throw new IllegalStateException(trainingMessage());
    }

    private String trainingMessage() {
        return "layer '" + vertexName + "' is fused into DSConv layer '"
                + producer.layerConf().getLayerName() + "' by the integer engine: call IntegerEngine.disable(network)"
                + " before training";
    }

    // Parameters stay the replaced layer's (and keep their place in the network's parameter and gradient vectors):
    // DL4J's set-up before training walks the vertex array and must still reach them.

    @Override
    public void setBackpropGradientsViewArray(INDArray backpropGradientsViewArray) {
        original.setBackpropGradientsViewArray(backpropGradientsViewArray);
    }

    @Override
    public long numParams() {
        return original.numParams();
    }

    @Override
    public INDArray params() {
        return original.params();
    }

    @Override
    public java.util.Map<String, INDArray> paramTable(boolean backpropOnly) {
        return original.paramTable(backpropOnly);
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArrays(INDArray[] maskArrays, MaskState currentMaskState,
                                                           int minibatchSize) {
        return original.feedForwardMaskArrays(maskArrays, currentMaskState, minibatchSize);
    }

    @Override
    public String toString() {
        return "FusedLayerVertex(name=\"" + vertexName + "\", into=\"" + producer.layerConf().getLayerName()
                + "\")";
    }
}
