package io.github.dsconv.convert;

import io.github.dsconv.layers.DSConvLayer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.util.GraphIndices;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Folds inference-time batch normalization into the FP32 {@link ConvolutionLayer} before it, the standard
 * deployment step (Jacob et al., CVPR 2018, section 3.2; the first step of DFQ, Nagel et al., ICCV 2019): with
 * {@code s[o] = gamma[o] / sqrt(var[o] + eps)},
 * {@code W'[o,...] = W[o,...] * s[o]} and {@code b'[o] = (b[o] - mean[o]) * s[o] + beta[o]}, computed in double and
 * stored at the network's data type. A plain ReLU {@link ActivationLayer} right after a folded BN becomes the
 * convolution's own activation. The result is a new network without those BN (and ReLU) layers; the input network
 * is not changed. Inference only: the folded network has no BN to train and no updater state.
 *
 * <p>Not bit-identical to the unfolded network (the per-channel product is rounded once more); differences are at
 * float rounding level. DSConv layers are never folded into (their {@code q} is fixed): the integer engine applies
 * BN in its output pass instead ({@code engine.BatchNormFusion}), exactly as DL4J would.
 *
 * <p>Used by {@code dsconv bench} as the fair FP32 baseline for the integer engine, which fuses BN too.
 *
 * <p>Conditions, all checked: the convolution is a plain {@code ConvolutionLayer} with the identity activation,
 * exactly one consumer (the BN) and is not a network output; the BN has no input preprocessor, the convolution's
 * channels and data format and is not a network output. A ReLU ({@code ActivationReLU} without max, threshold or
 * slope) is folded when it is the BN's only consumer, has no preprocessor and is not a network output.
 */
public final class BatchNormFolding {

    /**
     * A folded network.
     *
     * @param network     the new network
     * @param batchNorms  BN layers folded, in network order
     * @param activations ReLU activation layers that became their convolution's activation
     */
    public record Folded<T extends Model>(T network, List<String> batchNorms, List<String> activations) {
        public Folded {
            batchNorms = List.copyOf(batchNorms);
            activations = List.copyOf(activations);
        }
    }

    private BatchNormFolding() {
    }

    /** Folds a {@link ComputationGraph} or {@link MultiLayerNetwork}. */
    public static Folded<? extends Model> fold(Model model) {
        if (model instanceof ComputationGraph cg) {
            return fold(cg);
        }
        if (model instanceof MultiLayerNetwork mln) {
            return fold(mln);
        }
        throw new IllegalArgumentException("unsupported model type "
                + (model == null ? "null" : model.getClass().getName())
                + " (expected MultiLayerNetwork or ComputationGraph)");
    }

    /** Folds every eligible BN (and ReLU) of a graph into the convolution before it. */
    public static Folded<ComputationGraph> fold(ComputationGraph net) {
        ComputationGraphConfiguration conf = DSConvConverter.cloneConfiguration(net.getConfiguration());
        Map<String, List<String>> inputs = conf.getVertexInputs();
        Map<String, List<String>> consumers = new HashMap<>();
        inputs.forEach((v, ins) -> ins.forEach(i -> consumers.computeIfAbsent(i, k -> new ArrayList<>()).add(v)));
        List<String> outputs = conf.getNetworkOutputs();

        Map<String, String> bnOfConv = new LinkedHashMap<>();
        List<String> relus = new ArrayList<>();
        // The graph's own order (as DSConvConverter walks it): the configuration's cached order may be absent.
        GraphIndices order = net.calculateIndices();
        for (int idx : order.getTopologicalSortOrder()) {
            String name = order.getIdxToName().get(idx);
            if (!(conf.getVertices().get(name) instanceof LayerVertex cv) || outputs.contains(name)) {
                continue;
            }
            List<String> next = consumers.getOrDefault(name, List.of());
            if (next.size() != 1 || outputs.contains(next.get(0))
                    || !(conf.getVertices().get(next.get(0)) instanceof LayerVertex bv)
                    || bv.getPreProcessor() != null
                    || !foldable(cv.getLayerConf().getLayer(), bv.getLayerConf().getLayer())) {
                continue;
            }
            String bn = next.get(0);
            bnOfConv.put(name, bn);
            List<String> after = consumers.getOrDefault(bn, List.of());
            if (after.size() == 1 && !outputs.contains(after.get(0))
                    && conf.getVertices().get(after.get(0)) instanceof LayerVertex av && av.getPreProcessor() == null
                    && plainRelu(av.getLayerConf().getLayer())) {
                relus.add(after.get(0));
                ((ConvolutionLayer) cv.getLayerConf().getLayer()).setActivationFn(new ActivationReLU());
                bypass(conf, after.get(0), name);
            }
            ((ConvolutionLayer) cv.getLayerConf().getLayer()).setHasBias(true);
            bypass(conf, bn, name);
        }
        // DL4J caches the topological order in the configuration; it must be recomputed without the removed vertices.
        conf.setTopologicalOrder(null);
        conf.setTopologicalOrderStr(null);
        ComputationGraph out = new ComputationGraph(conf);
        out.init();
        for (org.deeplearning4j.nn.api.Layer l : out.getLayers()) {
            String name = l.conf().getLayer().getLayerName();
            copyParams(net.getLayer(name), l, bnOfConv.containsKey(name)
                    ? (org.deeplearning4j.nn.layers.normalization.BatchNormalization) net.getLayer(bnOfConv.get(name))
                    : null);
        }
        for (String name : conf.getVertices().keySet()) {
            if (!(conf.getVertices().get(name) instanceof LayerVertex) && out.getVertex(name).numParams() > 0) {
                out.getVertex(name).params().assign(net.getVertex(name).params());
            }
        }
        return new Folded<>(out, new ArrayList<>(bnOfConv.values()), relus);
    }

    /** Folds every eligible BN (and ReLU) of a {@link MultiLayerNetwork} into the convolution before it. */
    public static Folded<MultiLayerNetwork> fold(MultiLayerNetwork net) {
        MultiLayerConfiguration src = net.getLayerWiseConfigurations();
        MultiLayerConfiguration conf = src.clone();
        int n = conf.getConfs().size();
        List<NeuralNetConfiguration> kept = new ArrayList<>();
        Map<Integer, InputPreProcessor> pre = new HashMap<>();
        List<Integer> oldIndex = new ArrayList<>();
        Map<Integer, Integer> bnOf = new HashMap<>(); // new conv index -> old BN index
        List<String> bns = new ArrayList<>();
        List<String> relus = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            NeuralNetConfiguration c = conf.getConf(i);
            int newIndex = kept.size();
            kept.add(c);
            oldIndex.add(i);
            if (conf.getInputPreProcess(i) != null) {
                pre.put(newIndex, conf.getInputPreProcess(i));
            }
            if (i + 1 < n - 1 && conf.getInputPreProcess(i + 1) == null
                    && foldable(c.getLayer(), conf.getConf(i + 1).getLayer())) {
                ConvolutionLayer conv = (ConvolutionLayer) c.getLayer();
                conv.setHasBias(true);
                bnOf.put(newIndex, i + 1);
                bns.add(name(conf.getConf(i + 1).getLayer(), i + 1));
                i++;
                if (i + 1 < n - 1 && conf.getInputPreProcess(i + 1) == null
                        && plainRelu(conf.getConf(i + 1).getLayer())) {
                    conv.setActivationFn(new ActivationReLU());
                    relus.add(name(conf.getConf(i + 1).getLayer(), i + 1));
                    i++;
                }
            }
        }
        conf.setConfs(kept);
        conf.setInputPreProcessors(pre);
        MultiLayerNetwork out = new MultiLayerNetwork(conf);
        out.init();
        for (int j = 0; j < kept.size(); j++) {
            Integer bn = bnOf.get(j);
            copyParams(net.getLayer(oldIndex.get(j)), out.getLayer(j), bn == null ? null
                    : (org.deeplearning4j.nn.layers.normalization.BatchNormalization) net.getLayer(bn));
        }
        return new Folded<>(out, bns, relus);
    }

    private static String name(Layer l, int index) {
        return l.getLayerName() == null ? "layer" + index : l.getLayerName();
    }

    private static boolean foldable(Layer conv, Layer next) {
        if (conv == null || conv.getClass() != ConvolutionLayer.class || conv instanceof DSConvLayer
                || !(next instanceof BatchNormalization bn)) {
            return false;
        }
        ConvolutionLayer c = (ConvolutionLayer) conv;
        IActivation a = c.getActivationFn();
        CNN2DFormat format = c.getCnn2dDataFormat() == null ? CNN2DFormat.NCHW : c.getCnn2dDataFormat();
        CNN2DFormat bnFormat = bn.getCnn2DFormat() == null ? CNN2DFormat.NCHW : bn.getCnn2DFormat();
        return (a == null || a instanceof ActivationIdentity) && bn.getNOut() == c.getNOut() && bnFormat == format;
    }

    private static boolean plainRelu(Layer l) {
        return l instanceof ActivationLayer a && a.getActivationFn() instanceof ActivationReLU r
                && r.getMax() == null && r.getThreshold() == null && r.getNegativeSlope() == null;
    }

    /** Removes vertex {@code removed} from a graph configuration; its consumers read {@code source} instead. */
    private static void bypass(ComputationGraphConfiguration conf, String removed, String source) {
        conf.getVertices().remove(removed);
        conf.getVertexInputs().remove(removed);
        conf.getVertexInputs().replaceAll((v, ins) -> new ArrayList<>(
                ins.stream().map(i -> i.equals(removed) ? source : i).toList()));
    }

    /** Copies {@code from}'s parameters into {@code to}, folding {@code bn} into the weights and bias if given. */
    private static void copyParams(org.deeplearning4j.nn.api.Layer from, org.deeplearning4j.nn.api.Layer to,
                                   org.deeplearning4j.nn.layers.normalization.BatchNormalization bn) {
        Map<String, INDArray> target = to.paramTable();
        if (bn == null) {
            target.forEach((k, p) -> p.assign(from.getParam(k)));
            return;
        }
        INDArray w = from.getParam(ConvolutionParamInitializer.WEIGHT_KEY).castTo(DataType.DOUBLE).dup();
        long nOut = w.size(0);
        INDArray b = from.paramTable().containsKey(ConvolutionParamInitializer.BIAS_KEY)
                ? from.getParam(ConvolutionParamInitializer.BIAS_KEY).castTo(DataType.DOUBLE).reshape(nOut)
                : Nd4j.zeros(DataType.DOUBLE, nOut);
        BatchNormalization c = bn.layerConf();
        INDArray mean = vec(bn.getParam(BatchNormalizationParamInitializer.GLOBAL_MEAN), nOut);
        INDArray var;
        if (c.isUseLogStd()) {
            INDArray log10s = vec(bn.getParam(BatchNormalizationParamInitializer.GLOBAL_LOG_STD), nOut);
            var = Transforms.pow(Nd4j.valueArrayOf(log10s.shape(), 10.0,
                    DataType.DOUBLE), log10s);
            var.muli(var);
        } else {
            var = vec(bn.getParam(BatchNormalizationParamInitializer.GLOBAL_VAR), nOut);
        }
        INDArray gamma = c.isLockGammaBeta() ? Nd4j.valueArrayOf(new long[] {nOut}, c.getGamma(), DataType.DOUBLE)
                : vec(bn.getParam(BatchNormalizationParamInitializer.GAMMA), nOut);
        INDArray beta = c.isLockGammaBeta() ? Nd4j.valueArrayOf(new long[] {nOut}, c.getBeta(), DataType.DOUBLE)
                : vec(bn.getParam(BatchNormalizationParamInitializer.BETA), nOut);
        INDArray s = gamma.div(Transforms.sqrt(var.add(c.getEps()), false));
        for (long o = 0; o < nOut; o++) {
            w.slice(o).muli(s.getDouble(o));
        }
        INDArray folded = b.sub(mean).muli(s).addi(beta);
        INDArray tw = target.get(ConvolutionParamInitializer.WEIGHT_KEY);
        INDArray tb = target.get(ConvolutionParamInitializer.BIAS_KEY);
        tw.assign(w.castTo(tw.dataType()));
        tb.assign(folded.reshape(tb.shape()).castTo(tb.dataType()));
    }

    private static INDArray vec(INDArray p, long n) {
        return p.castTo(DataType.DOUBLE).dup().reshape(n);
    }
}
