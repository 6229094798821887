package io.github.dsconv.examples;

import io.github.dsconv.nn.Network;
import org.bytedeco.hdf5.DataSet;
import org.bytedeco.hdf5.DataSpace;
import org.bytedeco.hdf5.Group;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DepthwiseConvolution2D;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SeparableConvolution2D;
import org.deeplearning4j.nn.modelimport.keras.Hdf5Archive;
import org.deeplearning4j.nn.modelimport.keras.KerasLayer;
import org.deeplearning4j.nn.modelimport.keras.KerasModel;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks every weight array of a Keras HDF5 file against the shape its layer's configuration implies, because
 * DL4J's Keras import (1.0.0-M2.1) does not.
 *
 * <p>How DL4J copies the weights: the {@code KerasModel} constructor reads every dataset of a layer into an
 * INDArray ({@code KerasModelUtils.importWeights}) and hands the map to the layer's {@code setWeights}, which
 * renames and reorders it (for a Conv2D {@code KerasConvolution.setWeights} permutes {@code [kh, kw, in, out]} to
 * DL4J's {@code [out, in, kh, kw]}, nothing more); building the network then calls
 * {@code KerasLayer.copyWeightsToLayer}, which compares only the parameter <em>names</em> with the DL4J layer's
 * and copies each array with {@code BaseLayer.setParam}, i.e. {@code INDArray.assign}. In M2.1 {@code assign} runs
 * ND4J's {@code Assign} op without comparing shapes, so a Conv2D kernel {@code [3, 3, 8, 4]} where the
 * configuration says 8 filters fills part of the {@code [8, 8, 3, 3]} parameter and leaves the rest at DL4J's
 * random initialisation, and the import reports success.
 *
 * <p>{@link #checkFile} runs before the weights are copied: it reads each dataset's shape (not its values) from the
 * file, where DL4J reads the weights ({@code model_weights/<layer>/...}), and compares it, in Keras 2's layout, with what the DL4J layer built
 * from the configuration implies, for the layers this project works with (Conv2D, DepthwiseConv2D,
 * SeparableConv2D, Conv2DTranspose, Dense, BatchNormalization). {@link #checkImported} then covers every other
 * layer type generically: each array DL4J reordered must have its DL4J parameter's shape (ignoring size-1
 * dimensions, as a bias is {@code [c]} in Keras).
 */
final class KerasWeightShapes {

    private KerasWeightShapes() {
    }

    /**
     * Compares each weight dataset of the Keras layers with the shape the configuration implies.
     *
     * @param h5    the Keras file (weights under {@code model_weights}, as {@code model.save} writes them, or at the
     *              root)
     * @param confs DL4J layer configurations by layer name (Keras layer names)
     * @throws IOException {@code m.h5: layer 'conv2d_1' weight 'kernel' has shape [3, 3, 8, 4] but its
     *                     configuration implies [3, 3, 8, 8]}
     */
    static void checkFile(Path h5, Map<String, Layer> confs) throws IOException {
        try (Hdf5Archive archive = new Hdf5Archive(h5.toString())) {
            String[] base = archive.getGroups().contains("model_weights") ? new String[] {"model_weights"}
                    : new String[0];
            List<String> groups = archive.getGroups(base);
            for (Map.Entry<String, Layer> e : confs.entrySet()) {
                Map<String, long[]> implied = implied(e.getValue());
                if (implied.isEmpty() || !groups.contains(e.getKey())) {
                    continue;
                }
                Map<String, long[]> stored = new LinkedHashMap<>();
                shapes(archive, append(base, e.getKey()), stored, 0);
                for (Map.Entry<String, long[]> w : stored.entrySet()) {
                    long[] want = implied.get(w.getKey());
                    if (want != null && !Arrays.equals(want, w.getValue())) {
                        throw new IOException(h5 + ": layer '" + e.getKey() + "' weight '" + w.getKey()
                                + "' has shape " + Arrays.toString(w.getValue()) + " but its configuration implies "
                                + Arrays.toString(want));
                    }
                }
            }
        }
    }

    /**
     * After the import, compares every array DL4J copied with the parameter it was copied into.
     *
     * @throws IOException naming the file, the layer, the DL4J parameter and both shapes
     */
    static void checkImported(Path h5, KerasModel keras, Model model) throws IOException {
        Map<String, org.deeplearning4j.nn.api.Layer> layers = new HashMap<>();
        for (org.deeplearning4j.nn.api.Layer l : Network.of(model).dl4jLayers()) {
            layers.put(l.conf().getLayer().getLayerName(), l);
        }
        for (KerasLayer kl : keras.getLayersOrdered()) {
            org.deeplearning4j.nn.api.Layer l = layers.get(kl.getLayerName());
            Map<String, INDArray> weights = kl.getWeights();
            if (l == null || weights == null || l.numParams() == 0) {
                continue;
            }
            Map<String, INDArray> params = l.paramTable();
            for (Map.Entry<String, INDArray> w : weights.entrySet()) {
                INDArray p = params.get(w.getKey());
                if (p != null && !Arrays.equals(squeezed(p.shape()), squeezed(w.getValue().shape()))) {
                    throw new IOException(h5 + ": layer '" + kl.getLayerName() + "' weight for DL4J parameter '"
                            + w.getKey() + "' has shape " + Arrays.toString(w.getValue().shape())
                            + " (in DL4J's order) but its configuration implies " + Arrays.toString(p.shape()));
                }
            }
        }
    }

    /** DL4J layer configurations by name, for either kind of network configuration. */
    static Map<String, Layer> confs(Object configuration) {
        Map<String, Layer> out = new LinkedHashMap<>();
        if (configuration instanceof MultiLayerConfiguration c) {
            for (NeuralNetConfiguration n : c.getConfs()) {
                out.put(n.getLayer().getLayerName(), n.getLayer());
            }
        } else {
            ((ComputationGraphConfiguration) configuration).getVertices().forEach((name, v) -> {
                if (v instanceof LayerVertex lv) {
                    out.put(name, lv.getLayerConf().getLayer());
                }
            });
        }
        return out;
    }

    /**
     * Keras 2 weight shapes by weight name (the dataset name without its {@code :0}) that a DL4J layer implies;
     * empty for layer types this check does not know. Keras 2 stores kernels channels-last whatever the layer's
     * {@code data_format}.
     */
    static Map<String, long[]> implied(Layer l) {
        Map<String, long[]> m = new HashMap<>();
        if (l instanceof ConvolutionLayer c && c.getKernelSize().length == 2) {
            long kh = c.getKernelSize()[0];
            long kw = c.getKernelSize()[1];
            long in = c.getNIn();
            long out = c.getNOut();
            if (l.getClass() == ConvolutionLayer.class) {
                m.put("kernel", new long[] {kh, kw, in, out});
            } else if (l.getClass() == Deconvolution2D.class) {
                m.put("kernel", new long[] {kh, kw, out, in});
            } else if (l.getClass() == DepthwiseConvolution2D.class) {
                m.put("depthwise_kernel", new long[] {kh, kw, in, ((DepthwiseConvolution2D) l).getDepthMultiplier()});
            } else if (l.getClass() == SeparableConvolution2D.class) {
                long mult = ((SeparableConvolution2D) l).getDepthMultiplier();
                m.put("depthwise_kernel", new long[] {kh, kw, in, mult});
                m.put("pointwise_kernel", new long[] {1, 1, in * mult, out});
            } else {
                return m;
            }
            m.put("bias", new long[] {out});
        } else if (l.getClass() == DenseLayer.class || l.getClass() == OutputLayer.class) {
            FeedForwardLayer f = (FeedForwardLayer) l;
            m.put("kernel", new long[] {f.getNIn(), f.getNOut()});
            m.put("bias", new long[] {f.getNOut()});
        } else if (l instanceof BatchNormalization bn) {
            for (String w : List.of("gamma", "beta", "moving_mean", "moving_variance")) {
                m.put(w, new long[] {bn.getNOut()});
            }
        }
        return m;
    }

    /** Shapes of every dataset under a group, by dataset name without its {@code :n} suffix (subgroups too). */
    private static void shapes(Hdf5Archive archive, String[] path, Map<String, long[]> out, int depth) {
        for (String name : archive.getDataSets(path)) {
            out.putIfAbsent(name.replaceFirst(":\\d+$", ""), shape(archive, path, name));
        }
        if (depth < 4) { // Keras nests at most <layer>/<layer or scope>/<weight>; the bound only stops a cycle
            for (String g : archive.getGroups(path)) {
                shapes(archive, append(path, g), out, depth + 1);
            }
        }
    }

    /** A dataset's dimensions, read from its dataspace without reading its values. */
    private static long[] shape(Hdf5Archive archive, String[] path, String name) {
        synchronized (Hdf5Archive.LOCK_OBJECT) {
            Group[] groups = archive.openGroups(path);
            try {
                DataSet ds = groups[groups.length - 1].openDataSet(name);
                DataSpace space = ds.getSpace();
                long[] dims = new long[space.getSimpleExtentNdims()];
                space.getSimpleExtentDims(dims);
                space._close();
                ds._close();
                return dims;
            } finally {
                archive.closeGroups(groups);
            }
        }
    }

    private static String[] append(String[] path, String last) {
        String[] p = Arrays.copyOf(path, path.length + 1);
        p[path.length] = last;
        return p;
    }

    private static long[] squeezed(long[] shape) {
        return Arrays.stream(shape).filter(d -> d != 1).toArray();
    }
}
