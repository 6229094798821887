package io.github.dsconv.io;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Checks that a model is fit to work on, run by {@link ModelFiles#load} and by every API entry point that takes a
 * model, so that a damaged or wrong model is refused with one line naming where it came from instead of producing
 * a plausible-looking but meaningless result.
 *
 * <p>{@link #requireFinite} refuses any NaN or infinite parameter, in any layer (convolution kernels, batch-norm
 * statistics, dense weights, biases, and a DSConv layer's integer kernel and scales alike): one NaN in a
 * batch-norm gamma silently turns a channel into NaN for every image, which surfaces only as a collapsed accuracy.
 * {@link #kind} tells an FP32 model from a DSConv one, and the {@code require...} methods refuse a model of the
 * wrong kind for a command (re-quantizing a DSConv model, distilling into an FP32 "student").
 */
public final class ModelChecks {

    private ModelChecks() {
    }

    /**
     * What a model holds, from its configuration.
     *
     * @param dsconvLayers      {@link DSConvLayer}s
     * @param convolutions      plain {@link ConvolutionLayer}s, the ones the converter quantizes
     * @param otherConvolutions other convolution types (depthwise, separable, deconvolution, 1D, 3D), left in FP32
     * @param layers            layers (graph vertices that hold a layer)
     */
    public record Kind(int dsconvLayers, int convolutions, int otherConvolutions, int layers) {

        /** Whether the model holds any DSConv layer (it is the output of a conversion). */
        public boolean isDsconv() {
            return dsconvLayers > 0;
        }

        /** E.g. {@code 12 DSConv layers} or {@code an FP32 model with 11 convolutions}. */
        public String describe() {
            if (isDsconv()) {
                return plural(dsconvLayers, "DSConv layer");
            }
            return "an FP32 model with " + plural(convolutions, "convolution")
                    + (otherConvolutions > 0 ? " and " + plural(otherConvolutions, "other convolution") : "");
        }
    }

    /** The kind of a {@link MultiLayerNetwork} or {@link ComputationGraph}. */
    public static Kind kind(Model model) {
        int dsconv = 0;
        int plain = 0;
        int other = 0;
        List<org.deeplearning4j.nn.conf.layers.Layer> confs = layerConfs(model);
        for (org.deeplearning4j.nn.conf.layers.Layer l : confs) {
            if (l instanceof DSConvLayer) {
                dsconv++;
            } else if (l != null && l.getClass() == ConvolutionLayer.class) {
                plain++;
            } else if (l instanceof ConvolutionLayer) {
                other++;
            }
        }
        return new Kind(dsconv, plain, other, confs.size());
    }

    /**
     * Refuses a model that already holds DSConv layers, e.g. {@code x.dsconv.zip: already a DSConv model (12 DSConv
     * layers); quantize needs the FP32 model it came from}.
     *
     * @param source where the model came from (a file name, or e.g. {@code teacher})
     * @param needs  what the caller needs instead, ending the message
     * @throws IllegalArgumentException when the model has a DSConv layer
     */
    public static void requireFp32(Model model, String source, String needs) {
        Kind k = kind(model);
        if (k.isDsconv()) {
            throw new IllegalArgumentException(source + ": already a DSConv model (" + k.describe() + "); " + needs);
        }
    }

    /**
     * Refuses a model without DSConv layers, e.g. {@code m.zip: not a DSConv model (an FP32 model with 11
     * convolutions); distill --student needs the quantize output}.
     *
     * @throws IllegalArgumentException when the model has no DSConv layer
     */
    public static void requireDsconv(Model model, String source, String needs) {
        Kind k = kind(model);
        if (!k.isDsconv()) {
            throw new IllegalArgumentException(source + ": not a DSConv model (" + k.describe() + "); " + needs);
        }
    }

    /**
     * Refuses a model without a single plain {@link ConvolutionLayer}: converting it would change nothing and
     * report {@code 0 -> 0 bytes}.
     *
     * @throws IllegalArgumentException when the model has no ConvolutionLayer
     */
    public static void requireConvolutions(Model model, String source) {
        Kind k = kind(model);
        if (k.convolutions() == 0 && !k.isDsconv()) {
            throw new IllegalArgumentException(source + ": no convolution to convert (none of its "
                    + plural(k.layers(), "layer") + " is a ConvolutionLayer"
                    + (k.otherConvolutions() > 0 ? "; " + plural(k.otherConvolutions(), "other convolution")
                    + " (depthwise, separable, ...) stay FP32" : "") + ")");
        }
    }

    /**
     * Requires every parameter of every layer to be finite. Cost: one reduction over the flat parameter vector
     * (about 10 ms for 25M parameters); only when that sum is not finite are the parameters scanned one by one, to
     * name the culprit.
     *
     * @param source where the model came from, starting the message (a file name, or e.g. {@code teacher})
     * @throws IllegalArgumentException naming the source, the layer, the parameter, how many of its values are
     *                                  not finite and the first one with its index, e.g. {@code m.zip: layer 'bn1'
     *                                  parameter 'gamma' has 1 non-finite value (NaN at [3])}
     */
    public static void requireFinite(Model model, String source) {
        INDArray flat = model.params();
        if (flat == null || flat.isEmpty()) {
            return; // not initialised: nothing to check (the callers that need parameters say so)
        }
        // NaN or an infinity anywhere makes the sum non-finite; a finite sum proves every value finite. A sum
        // that overflows from huge finite values only costs the exact scan below, which then finds nothing.
        if (Double.isFinite(flat.sumNumber().doubleValue())) {
            return;
        }
        String first = null;
        int otherParams = 0;
        for (Param p : params(model)) {
            Bad bad = scan(p.value());
            if (bad == null) {
                continue;
            }
            if (first == null) {
                first = source + ": layer '" + p.layer() + "' parameter '" + p.key() + "' has "
                        + plural(bad.count(), "non-finite value") + " (" + bad.first() + " at "
                        + Arrays.toString(unravel(bad.index(), p.value().shape())) + ")";
            } else {
                otherParams++;
            }
        }
        if (first != null) {
            throw new IllegalArgumentException(first + (otherParams == 0 ? ""
                    : ", and " + plural(otherParams, "other parameter") + " hold non-finite values too"));
        }
    }

    /** One parameter array of one layer (or parameterised graph vertex). */
    private record Param(String layer, String key, INDArray value) {
    }

    /** How many values of a parameter are not finite, the first one's text and its (c order) flat index. */
    private record Bad(long count, String first, long index) {
    }

    private static Bad scan(INDArray p) {
        long count = 0;
        long index = -1;
        String first = null;
        if (p.dataType() == DataType.DOUBLE) {
            double[] v = p.dup('c').data().asDouble();
            for (int i = 0; i < v.length; i++) {
                if (!Double.isFinite(v[i])) {
                    if (count++ == 0) {
                        index = i;
                        first = name(v[i]);
                    }
                }
            }
        } else {
            float[] v = io.github.dsconv.layers.HostCopies.floats(p);
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    if (count++ == 0) {
                        index = i;
                        first = name(v[i]);
                    }
                }
            }
        }
        return count == 0 ? null : new Bad(count, first, index);
    }

    private static String name(double v) {
        return Double.isNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
    }

    /** The index of c-order flat position {@code i} in an array of {@code shape}. */
    static long[] unravel(long i, long[] shape) {
        long[] idx = new long[Math.max(1, shape.length)];
        if (shape.length == 0) {
            idx[0] = i;
            return idx;
        }
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
        return idx;
    }

    /** Every parameter array, by layer (vertex) name and parameter key, in topological (flat vector) order. */
    private static List<Param> params(Model model) {
        List<Param> out = new ArrayList<>();
        for (Network.NamedLayer l : Network.of(model).layers()) {
            if (l.layer().numParams() > 0) {
                add(out, l.name(), l.layer().paramTable());
            }
        }
        return out;
    }

    private static void add(List<Param> out, String layer, Map<String, INDArray> table) {
        table.forEach((k, v) -> out.add(new Param(layer, k, v)));
    }

    /** Layer configurations in topological order ({@code null} never appears). */
    private static List<org.deeplearning4j.nn.conf.layers.Layer> layerConfs(Model model) {
        List<org.deeplearning4j.nn.conf.layers.Layer> out = new ArrayList<>();
        for (Network.LayerConfiguration l : Network.of(model).layerConfigurations()) {
            out.add(l.layer());
        }
        return out;
    }

    private static String plural(long n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
