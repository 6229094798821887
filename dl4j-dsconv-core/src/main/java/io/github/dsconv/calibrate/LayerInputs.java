package io.github.dsconv.calibrate;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The inputs that named layers of a network receive for a batch, from one inference {@code feedForward}, after
 * each layer's input preprocessor: what a calibration needs to see of a layer. DL4J's activation lists are
 * overwritten by later in-place layers (an {@code ActivationLayer} after a batch norm turns the batch norm's listed
 * output into its own), so a layer whose input vertex is consumed in place by another layer would read the wrong
 * array; convolution inputs here never are.
 */
final class LayerInputs {

    private LayerInputs() {
    }

    /**
     * @param net   the network to run (inference mode)
     * @param names layers to report, each with exactly one input
     * @param x     a batch of network inputs
     * @return each named layer's input, by name, in the order of {@code names}
     * @throws IllegalArgumentException if a name is not a layer of {@code net} with one input
     */
    static Map<String, INDArray> of(Model net, List<String> names, INDArray x) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        if (net instanceof ComputationGraph cg) {
            Map<String, INDArray> acts = cg.feedForward(x, false);
            for (String name : names) {
                List<String> ins = cg.getConfiguration().getVertexInputs().get(name);
                if (ins == null || ins.size() != 1) {
                    throw new IllegalArgumentException("layer '" + name + "' not found with one input in the "
                            + "network");
                }
                INDArray in = acts.containsKey(ins.get(0)) ? acts.get(ins.get(0)) : x;
                GraphVertex gv = cg.getConfiguration().getVertices().get(name);
                InputPreProcessor pp = gv instanceof LayerVertex lv ? lv.getPreProcessor() : null;
                out.put(name, pp == null ? in : pp.preProcess(in, (int) in.size(0), mgr));
            }
            return out;
        }
        if (!(net instanceof MultiLayerNetwork mln)) {
            throw new IllegalArgumentException("unsupported model type " + net.getClass().getName());
        }
        List<INDArray> acts = mln.feedForward(x, false);
        Layer[] layers = mln.getLayers();
        for (String name : names) {
            int i = indexOf(layers, name);
            INDArray in = acts.get(i);
            InputPreProcessor pp = mln.getLayerWiseConfigurations().getInputPreProcess(i);
            out.put(name, pp == null ? in : pp.preProcess(in, (int) in.size(0), mgr));
        }
        return out;
    }

    private static int indexOf(Layer[] layers, String name) {
        for (int i = 0; i < layers.length; i++) {
            if (name.equals(layers[i].conf().getLayer().getLayerName())) {
                return i;
            }
        }
        throw new IllegalArgumentException("layer '" + name + "' not found in the network");
    }
}
