package io.github.dsconv.data;

import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.NoParamLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the image input a trained network expects from its configuration.
 *
 * <p>Channels and layout come from the first convolution the input reaches (through layers without parameters such
 * as zero padding); the size comes from a {@link FeedForwardToCnnPreProcessor} at the input when there is one.
 * DL4J does not store a network's input type in its configuration, so the size is otherwise unknown (0x0): callers
 * then keep the images' own size, or take one from the user.
 */
public final class ModelInputs {

    private ModelInputs() {
    }

    /**
     * The input a {@link MultiLayerNetwork} or single-input {@link ComputationGraph} takes.
     *
     * @throws IllegalArgumentException when the network has no convolution on its input path, several inputs, or a
     *                                  first convolution with other than 1 or 3 input channels
     */
    public static InputSpec of(Model model) {
        Network net = Network.of(model);
        if (net.numInputs() != 1) {
            throw new IllegalArgumentException("only single-input graphs are supported, this one has inputs "
                    + net.inputNames());
        }
        Map<String, Layer> layers = layerConfigurations(net);
        // Breadth first from the input: the first convolution reached before any other layer with parameters.
        Deque<String> queue = new ArrayDeque<>(net.inputNames());
        Set<String> seen = new HashSet<>();
        int[] hw = null;
        while (!queue.isEmpty()) {
            List<String> next = new ArrayList<>(net.consumersOf(queue.poll()));
            next.sort(null);
            for (String name : next) {
                if (!seen.add(name)) {
                    continue;
                }
                Layer l = layers.get(name);
                if (l != null) {
                    if (hw == null) {
                        hw = sizeOf(net.preProcessor(name));
                    }
                    if (l instanceof ConvolutionLayer conv) {
                        return spec(conv, hw);
                    }
                    if (l instanceof BaseLayer) {
                        continue;
                    }
                }
                queue.add(name);
            }
        }
        throw new IllegalArgumentException("no convolution on the network's input path before its first other layer"
                + " with parameters: dsconv works on image models");
    }

    /**
     * The number of outputs (classes) of the network's output layer, or -1 when its configuration does not say
     * (e.g. an output layer without parameters whose input size is not recorded).
     */
    public static int outputs(Model model) {
        Network net = Network.of(model);
        if (net.numOutputs() != 1) {
            return -1;
        }
        Map<String, Layer> layers = layerConfigurations(net);
        String name = net.outputNames().get(0);
        while (true) { // back from the output through layers without parameters and loss layers
            Layer l = layers.get(name);
            if (l instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer ff && ff.getNOut() > 0) {
                return (int) ff.getNOut();
            }
            if (!(l instanceof NoParamLayer) && !(l instanceof org.deeplearning4j.nn.conf.layers.LossLayer)) {
                return -1;
            }
            List<String> in = net.inputsOf(name);
            if (in.size() != 1) {
                return -1;
            }
            name = in.get(0);
        }
    }

    private static Map<String, Layer> layerConfigurations(Network net) {
        Map<String, Layer> m = new HashMap<>();
        for (Network.LayerConfiguration c : net.layerConfigurations()) {
            m.put(c.name(), c.layer());
        }
        return m;
    }

    private static int[] sizeOf(InputPreProcessor pp) {
        if (pp instanceof FeedForwardToCnnPreProcessor f) {
            return new int[] {(int) f.getInputHeight(), (int) f.getInputWidth()};
        }
        return null;
    }

    private static InputSpec spec(ConvolutionLayer conv, int[] hw) {
        CNN2DFormat format = conv.getCnn2dDataFormat() == null ? CNN2DFormat.NCHW : conv.getCnn2dDataFormat();
        long c = conv.getNIn();
        if (c != 1 && c != 3) {
            throw new IllegalArgumentException("layer '" + conv.getLayerName() + "' takes " + c + " input channels: "
                    + "image models must take 1 (grey) or 3 (colour)");
        }
        return new InputSpec((int) c, hw == null ? 0 : hw[0], hw == null ? 0 : hw[1], format);
    }
}
