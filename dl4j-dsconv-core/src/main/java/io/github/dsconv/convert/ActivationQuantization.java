package io.github.dsconv.convert;

import io.github.dsconv.layers.BlockFloatingPointPreProcessor;
import io.github.dsconv.nn.Network;
import io.github.dsconv.nn.NetworkConfiguration;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;

import java.util.List;

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
        Network net = Network.of(fp32);
        NetworkConfiguration conf = net.copyConfiguration();
        for (DSConvConverter.Target t : rounded(targets, plan)) {
            ConvolutionLayer conv = (ConvolutionLayer) net.requireLayer(t.name()).conf().getLayer();
            conf.setPreProcessor(t.name(), wrap(t, conv, conf.preProcessor(t.name())));
        }
        return conf.build(net.params().dup()).model();
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
