package io.github.dsconv.calibrate;

import io.github.dsconv.layers.DSConvRuntime;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.ArrayList;
import java.util.List;

/** Finding layers by name in an FP32 network and its DSConv conversion (the calibrations' shared lookups). */
final class NetworkLayers {

    private NetworkLayers() {
    }

    /** Every layer of a {@link MultiLayerNetwork} or {@link ComputationGraph}, in the network's order. */
    static Layer[] of(Model net) {
        if (net instanceof ComputationGraph cg) {
            return cg.getLayers();
        }
        if (net instanceof MultiLayerNetwork mln) {
            return mln.getLayers();
        }
        throw new IllegalArgumentException("unsupported model type " + net.getClass().getName()
                + " (expected MultiLayerNetwork or ComputationGraph)");
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
        if ((fp32 instanceof ComputationGraph) != (dsconv instanceof ComputationGraph)) {
            throw new IllegalArgumentException("networks must both be MultiLayerNetwork or both ComputationGraph");
        }
    }
}
