package io.github.dsconv.eval;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;
import java.util.Map;

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
        if (model instanceof MultiLayerNetwork mln) {
            return ofMln(mln, features);
        }
        if (model instanceof ComputationGraph cg) {
            return ofGraph(cg, features);
        }
        throw new IllegalArgumentException("unsupported model type " + model.getClass().getName());
    }

    private static INDArray ofMln(MultiLayerNetwork net, INDArray x) {
        int last = net.getnLayers() - 1;
        if (!(net.getLayer(last).conf().getLayer() instanceof OutputLayer)) {
            INDArray y = net.output(x, false);
            return isSoftmax(net.getLayer(last).conf().getLayer()) ? centredLog(y) : y;
        }
        List<INDArray> acts = net.feedForwardToLayer(last - 1, x, false);
        INDArray in = acts.get(acts.size() - 1);
        InputPreProcessor pp = net.getLayerWiseConfigurations().getInputPreProcess(last);
        if (pp != null) {
            in = pp.preProcess(in, (int) in.size(0), LayerWorkspaceMgr.noWorkspaces());
        }
        return dense(net.getLayer(last), in);
    }

    private static INDArray ofGraph(ComputationGraph cg, INDArray x) {
        Networks.requireSingleIo(cg);
        String out = cg.getConfiguration().getNetworkOutputs().get(0);
        org.deeplearning4j.nn.conf.graph.GraphVertex v = cg.getConfiguration().getVertices().get(out);
        List<String> inputs = cg.getConfiguration().getVertexInputs().get(out);
        if (!(v instanceof LayerVertex lv) || !(lv.getLayerConf().getLayer() instanceof OutputLayer)
                || inputs.size() != 1) {
            INDArray y = cg.outputSingle(false, x);
            boolean softmax = v instanceof LayerVertex l && isSoftmax(l.getLayerConf().getLayer());
            return softmax ? centredLog(y) : y;
        }
        Map<String, INDArray> acts = cg.feedForward(x, false);
        INDArray in = acts.get(inputs.get(0));
        if (lv.getPreProcessor() != null) {
            in = lv.getPreProcessor().preProcess(in, (int) in.size(0), LayerWorkspaceMgr.noWorkspaces());
        }
        return dense(cg.getLayer(out), in);
    }

    private static INDArray dense(org.deeplearning4j.nn.api.Layer layer, INDArray in) {
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
