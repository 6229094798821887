package io.github.dsconv.calibrate;

import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;

/** Finding layers by name in an FP32 network and its DSConv conversion (the calibrations' shared lookups). */
final class NetworkLayers {

    private NetworkLayers() {
    }

    /** Every layer of a network, in DL4J's order ({@link Network#dl4jLayers()}: the order of the reports). */
    static Layer[] of(Model net) {
        return Network.of(net).dl4jLayers();
    }

    /**
     * The inputs that named layers of a network receive for a batch, after each layer's input preprocessor
     * ({@link Network#layerInputs}): what a calibration needs to see of a layer. DL4J's activation lists are
     * overwritten by later in-place layers (an {@code ActivationLayer} after a batch norm turns the batch norm's
     * listed output into its own), so a layer whose input vertex is consumed in place by another layer would read
     * the wrong array; convolution inputs here never are.
     *
     * @throws IllegalArgumentException if a name is not a layer of {@code net} with one input
     */
    static java.util.Map<String, INDArray> inputs(Model net, List<String> names, INDArray x) {
        return Network.of(net).layerInputs(names, x);
    }

    /** Names of the DSConv layers, in network order. */
    static List<String> dsconvNames(Model net) {
        List<String> names = new ArrayList<>();
        for (Layer l : of(net)) {
            if (l instanceof DSConvRuntime rt) {
                names.add(rt.layerConf().getLayerName());
            }
        }
        return names;
    }

    /** The DSConv layer called {@code name}. */
    static DSConvRuntime dsconv(Model net, String name) {
        for (Layer l : of(net)) {
            if (l instanceof DSConvRuntime rt && name.equals(rt.layerConf().getLayerName())) {
                return rt;
            }
        }
        throw new IllegalArgumentException("no DSConv layer '" + name + "'");
    }

    /** The FP32 network's layer called {@code name}. */
    static Layer fp32(Model net, String name) {
        for (Layer l : of(net)) {
            if (name.equals(l.conf().getLayer().getLayerName())) {
                return l;
            }
        }
        throw new IllegalArgumentException("FP32 network has no layer '" + name + "'");
    }

    /** Checks that the two networks are of the same kind (both graphs or both multi-layer networks). */
    static void requireSameKind(Model fp32, Model dsconv) {
        if (!Network.of(fp32).kind().equals(Network.of(dsconv).kind())) {
            throw new IllegalArgumentException("networks must both be MultiLayerNetwork or both ComputationGraph");
        }
    }
}
