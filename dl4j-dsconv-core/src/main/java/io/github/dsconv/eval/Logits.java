package io.github.dsconv.eval;

import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;
import java.util.function.UnaryOperator;

/**
 * The pre-softmax outputs (logits) of a classifier. For a dense {@link OutputLayer} head they are computed
 * exactly as {@code x W + b} from the head's input; a head whose activation is not softmax (a linear
 * {@code DenseLayer}, as Keras models without a softmax import) already outputs logits; for any other head they are
 * the mean-centred log of the output probabilities (equal to the logits up to a per-example constant, which SQNR
 * should not see anyway).
 */
public final class Logits {

    private Logits() {
    }

    /** Logits {@code [n, classes]} of a batch (inference mode). */
    public static INDArray of(Model model, INDArray features) {
        Network net = Network.of(model);
        String out = net.outputNames().get(0);
        return of(model, features, x -> net.layerInputs(List.of(out), x).get(out), net::output);
    }

    /**
     * As {@link #of(Model, INDArray)}, with the network run by someone else (the engine's whole-graph plan):
     * {@code headInput} gives what the output layer reads (after its preprocessor), {@code output} the network's
     * output; {@code model} supplies the head's parameters and activation.
     */
    public static INDArray of(Model model, INDArray features, UnaryOperator<INDArray> headInput,
                              UnaryOperator<INDArray> output) {
        Network net = Network.of(model);
        net.requireSingleIo();
        String out = net.outputNames().get(0);
        Layer head = net.layer(out);
        List<String> inputs = net.inputsOf(out);
        if (head == null || !(head.conf().getLayer() instanceof OutputLayer) || inputs.size() != 1) {
            INDArray y = output.apply(features);
            return head != null && isSoftmax(head.conf().getLayer()) ? centredLog(y) : y;
        }
        return dense(head, headInput.apply(features));
    }

    private static INDArray dense(Layer layer, INDArray in) {
        INDArray w = layer.getParam("W");
        INDArray z = in.castTo(w.dataType()).mmul(w);
        INDArray b = layer.paramTable().get("b");
        if (b != null) {
            z.addiRowVector(b.reshape(1, b.length()));
        }
        return z;
    }

    /** Whether a head layer ends in a softmax (so that its outputs are probabilities, not logits). */
    private static boolean isSoftmax(org.deeplearning4j.nn.conf.layers.Layer layer) {
        return layer instanceof org.deeplearning4j.nn.conf.layers.BaseLayer b
                && b.getActivationFn() instanceof org.nd4j.linalg.activations.impl.ActivationSoftmax
                || layer instanceof org.deeplearning4j.nn.conf.layers.ActivationLayer a
                && a.getActivationFn() instanceof org.nd4j.linalg.activations.impl.ActivationSoftmax;
    }

    private static INDArray centredLog(INDArray probs) {
        INDArray l = Transforms.log(probs, true);
        return l.subiColumnVector(l.mean(1).reshape(l.size(0), 1));
    }
}
