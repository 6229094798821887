package io.github.dsconv.eval;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Uniform access to {@link MultiLayerNetwork} and single-input, single-output {@link ComputationGraph}. */
public final class Networks {

    private Networks() {
    }

    /** Inference output (probabilities for a softmax head). */
    public static INDArray output(Model model, INDArray features) {
        if (model instanceof MultiLayerNetwork mln) {
            return mln.output(features, false);
        }
        if (model instanceof ComputationGraph cg) {
            requireSingleIo(cg);
            return cg.outputSingle(false, features);
        }
        throw new IllegalArgumentException("unsupported model type " + model.getClass().getName());
    }

    /** Trains one minibatch. */
    public static void fit(Model model, org.nd4j.linalg.dataset.DataSet batch) {
        if (model instanceof MultiLayerNetwork mln) {
            mln.fit(batch);
        } else if (model instanceof ComputationGraph cg) {
            cg.fit(batch);
        } else {
            throw new IllegalArgumentException("unsupported model type " + model.getClass().getName());
        }
    }

    static void requireSingleIo(ComputationGraph cg) {
        if (cg.getConfiguration().getNetworkInputs().size() != 1 || cg.getConfiguration().getNetworkOutputs().size() != 1) {
            throw new IllegalArgumentException("only single-input, single-output graphs are supported, this one has "
                    + cg.getConfiguration().getNetworkInputs() + " -> " + cg.getConfiguration().getNetworkOutputs());
        }
    }
}
