package io.github.dsconv.layers;

import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An alternative inference path for one {@link DSConvRuntime}: computes the layer's pre-activation output
 * (convolution, KDS bias, CDS and conv bias included; the activation function is applied by the runtime).
 * Installed by {@code io.github.dsconv.engine.IntegerEngine}; training passes always use the float simulation.
 */
public interface InferenceKernel {

    /**
     * Pre-activation output of the layer for a rank-4 input in the layer's data format.
     *
     * @param input the layer input (not yet block floating point)
     * @param mgr   workspace manager; the result is an {@link org.deeplearning4j.nn.workspace.ArrayType#ACTIVATIONS}
     *              array of the layer's data type and data format
     */
    INDArray preOutput(INDArray input, LayerWorkspaceMgr mgr);
}
