package io.github.dsconv.data;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
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
        if (model instanceof MultiLayerNetwork mln) {
            var conf = mln.getLayerWiseConfigurations();
            InputPreProcessor pp0 = conf.getInputPreProcess(0);
            int[] hw = sizeOf(pp0);
            for (int i = 0; i < conf.getConfs().size(); i++) {
                Layer l = conf.getConf(i).getLayer();
                if (l instanceof ConvolutionLayer conv) {
                    return spec(conv, hw);
                }
                if (!(l instanceof NoParamLayer)) {
                    break;
                }
            }
            throw new IllegalArgumentException("the network's first layer with parameters is not a convolution: "
                    + "dsconv works on image models (ConvolutionLayer first)");
        }
        if (model instanceof ComputationGraph cg) {
            ComputationGraphConfiguration conf = cg.getConfiguration();
            if (conf.getNetworkInputs().size() != 1) {
                throw new IllegalArgumentException("only single-input graphs are supported, this one has inputs "
                        + conf.getNetworkInputs());
            }
            Map<String, List<String>> inputs = conf.getVertexInputs();
            Deque<String> queue = new ArrayDeque<>(List.of(conf.getNetworkInputs().get(0)));
            Set<String> seen = new HashSet<>();
            int[] hw = null;
            while (!queue.isEmpty()) {
                String from = queue.poll();
                for (String name : consumers(inputs, from)) {
                    if (!seen.add(name)) {
                        continue;
                    }
                    GraphVertex v = conf.getVertices().get(name);
                    if (v instanceof LayerVertex lv) {
                        if (hw == null) {
                            hw = sizeOf(lv.getPreProcessor());
                        }
                        Layer l = lv.getLayerConf().getLayer();
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
            throw new IllegalArgumentException("no convolution on the graph's input path: dsconv works on image models");
        }
        throw new IllegalArgumentException("unsupported model type " + model.getClass().getName()
                + " (expected MultiLayerNetwork or ComputationGraph)");
    }

    /**
     * The number of outputs (classes) of the network's output layer, or -1 when its configuration does not say
     * (e.g. an output layer without parameters whose input size is not recorded).
     */
    public static int outputs(Model model) {
        Layer out = null;
        if (model instanceof MultiLayerNetwork mln) {
            var confs = mln.getLayerWiseConfigurations().getConfs();
            for (int i = confs.size() - 1; i >= 0 && out == null; i--) {
                Layer l = confs.get(i).getLayer();
                if (l instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer ff && ff.getNOut() > 0) {
                    out = l;
                } else if (!(l instanceof NoParamLayer) && !(l instanceof org.deeplearning4j.nn.conf.layers.LossLayer)) {
                    return -1;
                }
            }
        } else if (model instanceof ComputationGraph cg) {
            ComputationGraphConfiguration conf = cg.getConfiguration();
            if (conf.getNetworkOutputs().size() != 1) {
                return -1;
            }
            String name = conf.getNetworkOutputs().get(0);
            while (out == null) {
                GraphVertex v = conf.getVertices().get(name);
                if (!(v instanceof LayerVertex lv)) {
                    return -1;
                }
                Layer l = lv.getLayerConf().getLayer();
                if (l instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer ff && ff.getNOut() > 0) {
                    out = l;
                } else if (l instanceof NoParamLayer || l instanceof org.deeplearning4j.nn.conf.layers.LossLayer) {
                    List<String> in = conf.getVertexInputs().get(name);
                    if (in == null || in.size() != 1) {
                        return -1;
                    }
                    name = in.get(0);
                } else {
                    return -1;
                }
            }
        }
        return out == null ? -1 : (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) out).getNOut();
    }

    private static List<String> consumers(Map<String, List<String>> inputs, String from) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : inputs.entrySet()) {
            if (e.getValue().contains(from)) {
                out.add(e.getKey());
            }
        }
        out.sort(null);
        return out;
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
