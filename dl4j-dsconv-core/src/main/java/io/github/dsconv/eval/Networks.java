package io.github.dsconv.eval;

import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Inference and training of a {@code MultiLayerNetwork} or single-input, single-output {@code ComputationGraph}
 * in one call each (shorthands for {@link Network}).
 */
public final class Networks {

    private Networks() {
    }

    /** Inference output (probabilities for a softmax head). */
    public static INDArray output(Model model, INDArray features) {
        return Network.of(model).output(features);
    }

    /** Trains one minibatch. */
    public static void fit(Model model, org.nd4j.linalg.dataset.DataSet batch) {
        Network.of(model).fit(batch);
    }
}
