package io.github.dsconv.pack;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvParamInitializer;
import io.github.dsconv.nn.Network;
import io.github.dsconv.quant.ScalePrecision;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.wrapper.BaseWrapperLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where each parameter of a DL4J network sits in its flat parameter vector and how the packed format stores it:
 * DSConv {@code q} as packed integers, DSConv scales at the layer's scale precision, kernels of unconverted
 * convolutions in fp32, everything else at the params precision. The order is DL4J's: layers in topological
 * order, each layer's parameters in its initializer's order ({@code paramTable()}), which is checked against the
 * views' offsets into the flat vector so a layer that orders its table differently fails loudly.
 */
final class PackedLayout {

    private PackedLayout() {
    }

    /**
     * One parameter's place in the flat vector and its storage.
     *
     * @param bits          packed integer bits (DSConv {@code q}), or 0 for a float parameter
     * @param precision     float storage precision when {@code bits == 0}
     * @param dsconv        the DSConv layer configuration, or {@code null}
     * @param convKernel    part of a convolution kernel (DSConv {@code q} and scales, or an unconverted kernel)
     * @param kernelWeights one value per kernel weight (DSConv {@code q} or an unconverted kernel)
     */
    record Slot(String layer, String param, long offset, long length, int bits, ScalePrecision precision,
                DSConvLayer dsconv, boolean convKernel, boolean kernelWeights) {

        /** The encoding this parameter is written in (before an fp16 overflow falls back to fp32). */
        String encoding() {
            return ParamCodec.encodingFor(bits, precision);
        }

        /** This parameter's values in a flat vector (rank 1). */
        float[] values(INDArray flat) {
            return flat.get(NDArrayIndex.interval(offset, offset + length)).toFloatVector();
        }
    }

    /** The network's parameters, one slot each, in flat-vector order. */
    static List<Slot> slots(Network net, ScalePrecision paramsPrecision) {
        List<Slot> slots = new ArrayList<>();
        INDArray flat = net.params();
        long offset = 0;
        for (Network.NamedLayer e : net.layers()) {
            Layer layer = e.layer();
            org.deeplearning4j.nn.conf.layers.Layer conf = layer.conf().getLayer();
            while (conf instanceof BaseWrapperLayer w) {
                conf = w.getUnderlying();
            }
            for (Map.Entry<String, INDArray> p : layer.paramTable().entrySet()) {
                String key = p.getKey();
                INDArray view = p.getValue();
                long len = view.length();
                if (flat != null && view.data() == flat.data() && view.offset() - flat.offset() != offset) {
                    throw new IllegalStateException("parameter " + e.name() + "/" + key + " is at offset "
                            + (view.offset() - flat.offset()) + " of the flat vector, expected " + offset);
                }
                Slot s;
                if (conf instanceof DSConvLayer ds) {
                    switch (key) {
                        case DSConvParamInitializer.Q_KEY ->
                                s = new Slot(e.name(), key, offset, len, ds.getWeightBits(), null, ds, true, true);
                        case DSConvParamInitializer.BIAS_KEY ->
                                s = new Slot(e.name(), key, offset, len, 0, paramsPrecision, ds, false, false);
                        default ->
                                s = new Slot(e.name(), key, offset, len, 0, ds.getScalePrecision(), ds, true, false);
                    }
                } else if (conf instanceof ConvolutionLayer c && c.initializer().isWeightParam(c, key)) {
                    // an unconverted convolution was kept at full precision on purpose (skipped by the plan)
                    s = new Slot(e.name(), key, offset, len, 0, ScalePrecision.FP32, null, true, true);
                } else {
                    s = new Slot(e.name(), key, offset, len, 0, paramsPrecision, null, false, false);
                }
                slots.add(s);
                offset += len;
            }
        }
        long total = flat == null ? 0 : flat.length();
        if (offset != total) {
            throw new IllegalStateException("layer parameters add up to " + offset + " values, the network has "
                    + total);
        }
        return slots;
    }

    /** Weight bits of every DSConv layer by layer name, in network order (for the provenance). */
    static Map<String, Integer> weightBits(List<Slot> slots) {
        Map<String, Integer> bits = new LinkedHashMap<>();
        for (Slot s : slots) {
            if (s.dsconv() != null) {
                bits.putIfAbsent(s.layer(), s.dsconv().getWeightBits());
            }
        }
        return bits;
    }

    /**
     * The network's flat parameter vector as rank 1.
     *
     * @throws IllegalArgumentException if the parameters are not FLOAT
     */
    static INDArray flatParams(Network net) {
        INDArray p = net.params();
        if (p.dataType() != DataType.FLOAT) {
            throw new IllegalArgumentException("the packed format stores FLOAT networks; this one has "
                    + p.dataType() + " parameters");
        }
        return p.reshape(p.length());
    }

    /**
     * The network of a model, for the packed format: only a MultiLayerNetwork or a ComputationGraph.
     */
    static Network network(Model model) {
        if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
            throw new IllegalArgumentException("the packed format stores a MultiLayerNetwork or"
                    + " ComputationGraph, not " + (model == null ? "null" : model.getClass().getSimpleName()));
        }
        return Network.of(model);
    }

    /** An uninitialised network of a manifest's model kind built from its configuration JSON. */
    static Network fromJson(String kind, String json) throws PackedContainer.BadFileException {
        if (!Network.MULTI_LAYER.equals(kind) && !Network.GRAPH.equals(kind)) {
            throw new PackedContainer.BadFileException("corrupt packed model (unknown model kind '" + kind + "')");
        }
        try {
            return Network.fromJson(kind, json);
        } catch (RuntimeException e) {
            throw new PackedContainer.BadFileException("corrupt packed model (bad network configuration: "
                    + PackedContainer.firstLine(e) + ")", e);
        }
    }
}
