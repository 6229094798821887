package io.github.dsconv.examples;

import io.github.dsconv.files.AtomicFiles;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Lists a model's layers and writes a layer's arrays as NumPy {@code .npy} files. */
public final class InspectModel {

    /**
     * One layer.
     *
     * @param name       layer name
     * @param type       the layer configuration's class simple name (e.g. ConvolutionLayer, DSConvLayer)
     * @param nIn        input size (channels for convolutions), 0 when the layer has none
     * @param nOut       output size, 0 when the layer has none
     * @param params     number of parameters
     * @param weightBits DSConv weight bits, or null
     * @param actBits    DSConv activation bits, or null
     * @param blockSize  DSConv block size, or null
     */
    @com.fasterxml.jackson.annotation.JsonInclude(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL)
    public record LayerInfo(String name, String type, long nIn, long nOut, long params, Integer weightBits,
                            Integer actBits, Integer blockSize) {
    }

    /**
     * A model's layers in order (topological order for graphs).
     *
     * @param kind   MultiLayerNetwork or ComputationGraph
     * @param layers the layers
     */
    public record Listing(String kind, List<LayerInfo> layers) {

        /** Fixed-width text. */
        public String table() {
            StringBuilder sb = new StringBuilder(kind + "\n");
            sb.append(String.format(Locale.ROOT, "%-20s %-22s %6s %6s %9s  %s%n", "name", "type", "nIn", "nOut",
                    "params", "dsconv"));
            for (LayerInfo l : layers) {
                sb.append(String.format(Locale.ROOT, "%-20s %-22s %6d %6d %9d  %s%n", l.name(), l.type(), l.nIn(),
                        l.nOut(), l.params(), l.weightBits() == null ? ""
                                : "W" + l.weightBits() + "A" + l.actBits() + " B=" + l.blockSize()));
            }
            return sb.toString();
        }
    }

    private InspectModel() {
    }

    /** The layers of a model with their parameter tables. */
    private static Map<String, org.deeplearning4j.nn.api.Layer> layers(Model model) {
        Map<String, org.deeplearning4j.nn.api.Layer> out = new LinkedHashMap<>();
        for (Network.NamedLayer l : Network.of(model).layers()) {
            out.put(l.name(), l.layer());
        }
        return out;
    }

    /** Lists the layers. */
    public static Listing list(Model model) {
        List<LayerInfo> infos = new ArrayList<>();
        for (Map.Entry<String, org.deeplearning4j.nn.api.Layer> e : layers(model).entrySet()) {
            Layer conf = e.getValue().conf().getLayer();
            long nIn = conf instanceof FeedForwardLayer f ? f.getNIn() : 0;
            long nOut = conf instanceof FeedForwardLayer f ? f.getNOut() : 0;
            DSConvLayer ds = conf instanceof DSConvLayer d ? d : null;
            infos.add(new LayerInfo(e.getKey(), conf.getClass().getSimpleName(), nIn, nOut, e.getValue().numParams(),
                    ds == null ? null : ds.getWeightBits(), ds == null ? null : ds.getActBits(),
                    ds == null ? null : ds.getBlockSize()));
        }
        return new Listing(Network.of(model).kind(), infos);
    }

    /**
     * Writes a layer's parameters as {@code .npy}: {@code weight.npy}/{@code bias.npy} for DL4J layers ("W", "b"),
     * {@code q.npy}, {@code alpha.npy}, {@code beta.npy}, {@code gamma.npy}, {@code delta.npy}, {@code bias.npy}
     * for DSConv layers, and every other parameter under its own name.
     *
     * @return the files written
     */
    public static List<Path> writeNpy(Model model, String layerName, Path dir) throws IOException {
        Map<String, org.deeplearning4j.nn.api.Layer> all = layers(model);
        org.deeplearning4j.nn.api.Layer layer = all.get(layerName);
        if (layer == null) {
            throw new IllegalArgumentException("no layer named '" + layerName + "' (layers: "
                    + String.join(", ", all.keySet()) + ")");
        }
        if (layer.numParams() == 0) {
            throw new IllegalArgumentException("layer '" + layerName + "' has no parameters");
        }
        Files.createDirectories(dir);
        List<Path> written = new ArrayList<>();
        for (Map.Entry<String, INDArray> p : layer.paramTable().entrySet()) {
            String file = switch (p.getKey()) {
                case "W" -> "weight";
                case "b" -> "bias";
                default -> p.getKey();
            };
            Path target = dir.resolve(file + ".npy");
            Path tmp = AtomicFiles.tempFor(target);
            try {
                Nd4j.writeAsNumpy(p.getValue().dup('c'), tmp.toFile());
                AtomicFiles.moveIntoPlace(tmp, target);
            } finally {
                Files.deleteIfExists(tmp);
            }
            written.add(target);
        }
        return written;
    }
}
