package io.github.dsconv.engine.graph;

import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A dense layer or dense softmax head ({@code DenseLayer}, {@code OutputLayer}) at inference: {@code x W} by ND4J's
 * matrix product into a new c-order array, {@code + b} as a row vector, then the activation, the calls DL4J's
 * {@code BaseLayer.preOutput} and {@code activate} make (so the same bits) without the layer's input, workspace and
 * dropout bookkeeping. Layers with layer normalisation or weight noise stay on DL4J ({@link #supports}).
 */
final class DenseStep implements Step {

    private final org.deeplearning4j.nn.layers.BaseLayer<?> layer;

    DenseStep(org.deeplearning4j.nn.layers.BaseLayer<?> layer) {
        this.layer = layer;
    }

    /** True for a plain DL4J dense layer or dense output layer (FLOAT, no layer norm, no weight noise). */
    static boolean supports(org.deeplearning4j.nn.api.Layer l) {
        if (!(l instanceof org.deeplearning4j.nn.layers.BaseLayer<?> b)) {
            return false;
        }
        Class<?> c = l.conf().getLayer().getClass();
        boolean dense = c == org.deeplearning4j.nn.conf.layers.DenseLayer.class
                || c == org.deeplearning4j.nn.conf.layers.OutputLayer.class;
        BaseLayer conf = (BaseLayer) l.conf().getLayer();
        boolean layerNorm = l instanceof DenseLayer d && d.hasLayerNorm();
        INDArray w = b.getParam(DefaultParamInitializer.WEIGHT_KEY);
        return dense && !layerNorm && conf.getWeightNoise() == null && w != null && w.dataType() == DataType.FLOAT;
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        INDArray w = layer.getParam(DefaultParamInitializer.WEIGHT_KEY);
        INDArray bias = layer.getParam(DefaultParamInitializer.BIAS_KEY);
        Tensor in = inputs[0];
        if (in.shape().length != 2 || in.shape()[1] != w.rows()) {
            throw new IllegalArgumentException("dense layer '" + layer.conf().getLayer().getLayerName()
                    + "': input of shape " + java.util.Arrays.toString(in.shape()) + ", expected [n, " + w.rows()
                    + "]");
        }
        INDArray out;
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray x = in.toArray();
            INDArray z = Nd4j.createUninitialized(w.dataType(), x.size(0), w.size(1));
            x.mmuli(w, z);
            if (layer.hasBias()) {
                z.addiRowVector(bias);
            }
            out = ((BaseLayer) layer.conf().getLayer()).getActivationFn().getActivation(z, false);
        }
        return Tensor.copyOf(out, arena);
    }

    @Override
    public String kind() {
        return "dense (ND4J matrix product)";
    }
}
