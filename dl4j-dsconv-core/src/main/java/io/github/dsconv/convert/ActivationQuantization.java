package io.github.dsconv.convert;

import io.github.dsconv.layers.BlockFloatingPointPreProcessor;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The activation half of a DSConv conversion alone: every convolution a {@link ConversionPlan} would convert keeps
 * its FP32 kernel, and its input is rounded to block floating point with the plan's activation bits and block size
 * (a {@link BlockFloatingPointPreProcessor}), exactly as the converted {@code DSConvLayer} would round it. The
 * network's first convolution rounds the raw input only when the plan quantizes the network input; layers whose
 * activation bits are 0 are unchanged. Used to separate the error of the activations from that of the weights.
 */
public final class ActivationQuantization {

    private ActivationQuantization() {
    }

    /**
     * A copy of {@code fp32} (not modified) with block floating point inputs on the plan's convolutions.
     *
     * @throws IllegalArgumentException when the plan names a layer that is not a convertible convolution, or the
     *                                  model type is not supported
     */
    public static Model apply(Model fp32, ConversionPlan plan) {
        List<DSConvConverter.Target> targets = new DSConvConverter(plan).targets(fp32);
        if (fp32 instanceof MultiLayerNetwork mln) {
            MultiLayerConfiguration conf = mln.getLayerWiseConfigurations().clone();
            Map<Integer, InputPreProcessor> pps = new HashMap<>(conf.getInputPreProcessors());
            for (DSConvConverter.Target t : rounded(targets, plan)) {
                ConvolutionLayer conv = (ConvolutionLayer) conf.getConf(t.index()).getLayer();
                pps.put(t.index(), wrap(t, conv, pps.get(t.index())));
            }
            conf.setInputPreProcessors(pps);
            MultiLayerNetwork out = new MultiLayerNetwork(conf);
            out.init(mln.params().dup(), false);
            return out;
        }
        ComputationGraph cg = (ComputationGraph) fp32;
        ComputationGraphConfiguration conf = DSConvConverter.cloneConfiguration(cg.getConfiguration());
        for (DSConvConverter.Target t : rounded(targets, plan)) {
            LayerVertex lv = (LayerVertex) conf.getVertices().get(t.name());
            lv.setPreProcessor(wrap(t, (ConvolutionLayer) lv.getLayerConf().getLayer(), lv.getPreProcessor()));
        }
        ComputationGraph out = new ComputationGraph(conf);
        out.init(cg.params().dup(), false);
        return out;
    }

    /** The targets whose input the converted layer would round. */
    private static List<DSConvConverter.Target> rounded(List<DSConvConverter.Target> targets, ConversionPlan plan) {
        return targets.stream()
                .filter(t -> t.spec().actBits() > 0 && (!t.first() || plan.quantizeNetworkInput())).toList();
    }

    private static InputPreProcessor wrap(DSConvConverter.Target t, ConvolutionLayer conv, InputPreProcessor inner) {
        CNN2DFormat f = conv.getCnn2dDataFormat() == null ? CNN2DFormat.NCHW : conv.getCnn2dDataFormat();
        return new BlockFloatingPointPreProcessor(t.spec().actBits(), t.spec().blockSize(), f, inner);
    }
}
