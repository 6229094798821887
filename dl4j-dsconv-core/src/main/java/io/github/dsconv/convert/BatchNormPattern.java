package io.github.dsconv.convert;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.activations.impl.ActivationReLU;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The one matcher of "convolution, then batch normalization, then maybe a ReLU" in a network's configuration, for
 * {@link BatchNormFolding} (which folds BN into an FP32 convolution) and the integer engine's BN fusion
 * ({@code engine.BatchNormFusion}, which applies BN in a DSConv layer's output pass). Both read the same structure;
 * each then applies its own conditions on the layers and on the facts a {@link Match} reports.
 *
 * <p>A match: a layer (the convolution; which layers count is the caller's choice) that is not a network output
 * and has exactly one consumer, a {@link BatchNormalization} layer. The match's ReLU is the BN's only consumer when
 * that is a plain ReLU {@link ActivationLayer} ({@link #isPlainRelu}) without an input preprocessor and not a
 * network output; else there is none. A {@code MultiLayerNetwork} is the chain of its layers: layer {@code i}'s one
 * consumer is layer {@code i + 1}, and the last layer is the network output.
 */
public final class BatchNormPattern {

    /**
     * One convolution followed by batch normalization.
     *
     * @param conv                  the convolution
     * @param batchNorm             the BN layer, the convolution's only consumer
     * @param batchNormPreProcessed whether the BN layer has an input preprocessor
     * @param batchNormOutput       whether the BN layer is a network output
     * @param batchNormConsumers    how many inputs of other layers or vertices read the BN layer
     * @param relu                  the plain ReLU that is the BN's only consumer, or null
     * @param reluConsumers         how many inputs read the ReLU (0 without one)
     * @param <K>                   how a layer is named: a vertex name in a graph, a layer index in a
     *                              {@code MultiLayerNetwork}
     */
    public record Match<K>(K conv, K batchNorm, boolean batchNormPreProcessed, boolean batchNormOutput,
                           int batchNormConsumers, K relu, int reluConsumers) {
    }

    private BatchNormPattern() {
    }

    /**
     * The matches of a graph configuration, in the order of {@code order} (vertex names; a name that is not a
     * layer vertex, e.g. a network input, is skipped). A vertex that reads the same input twice counts twice.
     */
    public static List<Match<String>> find(ComputationGraphConfiguration conf, List<String> order) {
        Map<String, Layer> layers = new HashMap<>();
        Map<String, Boolean> pre = new HashMap<>();
        conf.getVertices().forEach((name, v) -> {
            if (v instanceof LayerVertex lv) {
                layers.put(name, lv.getLayerConf().getLayer());
                pre.put(name, lv.getPreProcessor() != null);
            }
        });
        Map<String, List<String>> consumers = new HashMap<>();
        conf.getVertexInputs().forEach((v, ins) -> ins.forEach(
                i -> consumers.computeIfAbsent(i, k -> new ArrayList<>()).add(v)));
        return matches(order, layers, consumers, pre, conf.getNetworkOutputs());
    }

    /** The matches of a {@code MultiLayerNetwork}'s configuration, by layer index, in layer order. */
    public static List<Match<Integer>> find(MultiLayerConfiguration conf) {
        int n = conf.getConfs().size();
        List<Integer> order = new ArrayList<>();
        Map<Integer, Layer> layers = new HashMap<>();
        Map<Integer, List<Integer>> consumers = new HashMap<>();
        Map<Integer, Boolean> pre = new HashMap<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
            layers.put(i, conf.getConf(i).getLayer());
            consumers.put(i, i + 1 < n ? List.of(i + 1) : List.of());
            pre.put(i, conf.getInputPreProcess(i) != null);
        }
        return matches(order, layers, consumers, pre, List.of(n - 1));
    }

    /** The matches walking {@code order}; {@code layers} holds every layer (a name without one is no layer). */
    private static <K> List<Match<K>> matches(List<K> order, Map<K, Layer> layers, Map<K, List<K>> consumers,
                                              Map<K, Boolean> preProcessed, List<K> outputs) {
        List<Match<K>> out = new ArrayList<>();
        for (K conv : order) {
            if (!layers.containsKey(conv) || outputs.contains(conv)) {
                continue;
            }
            List<K> next = consumers.getOrDefault(conv, List.of());
            if (next.size() != 1 || !(layers.get(next.get(0)) instanceof BatchNormalization)) {
                continue;
            }
            K bn = next.get(0);
            List<K> after = consumers.getOrDefault(bn, List.of());
            K relu = after.size() == 1 && isPlainRelu(layers.get(after.get(0)))
                    && !preProcessed.getOrDefault(after.get(0), false) && !outputs.contains(after.get(0))
                    ? after.get(0) : null;
            out.add(new Match<>(conv, bn, preProcessed.getOrDefault(bn, false), outputs.contains(bn), after.size(),
                    relu, relu == null ? 0 : consumers.getOrDefault(relu, List.of()).size()));
        }
        return out;
    }

    /**
     * A plain ReLU activation layer: DL4J's {@code ActivationReLU} without max, threshold or negative slope
     * (libnd4j's {@code RectifiedLinear}), which a convolution's activation or a fused output pass reproduces exactly.
     */
    public static boolean isPlainRelu(Layer l) {
        return l instanceof ActivationLayer a && a.getActivationFn() instanceof ActivationReLU r
                && r.getMax() == null && r.getThreshold() == null && r.getNegativeSlope() == null;
    }
}
