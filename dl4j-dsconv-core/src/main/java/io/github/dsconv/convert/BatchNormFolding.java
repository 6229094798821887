package io.github.dsconv.convert;

import io.github.dsconv.layers.DSConvLayer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
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
 * <p>Conditions, all checked (the conv -> BN -> ReLU structure is {@link BatchNormPattern}'s, shared with the
 * engine's fusion): the convolution is a plain {@code ConvolutionLayer} with the identity activation,
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
        Map<String, String> bnOfConv = new LinkedHashMap<>();
        List<String> relus = new ArrayList<>();
        // The graph's own order (as DSConvConverter walks it): the configuration's cached order may be absent.
        GraphIndices order = net.calculateIndices();
        List<String> names = new ArrayList<>();
        for (int idx : order.getTopologicalSortOrder()) {
            names.add(order.getIdxToName().get(idx));
        }
        // All matches first: folding removes only BN and ReLU vertices, never a convolution another match needs.
        for (BatchNormPattern.Match<String> m : BatchNormPattern.find(conf, names)) {
            Layer layer = ((LayerVertex) conf.getVertices().get(m.conv())).getLayerConf().getLayer();
            if (!foldable(m, layer, ((LayerVertex) conf.getVertices().get(m.batchNorm())).getLayerConf().getLayer())) {
                continue;
            }
            ConvolutionLayer conv = (ConvolutionLayer) layer;
            bnOfConv.put(m.conv(), m.batchNorm());
            if (m.relu() != null) {
                relus.add(m.relu());
                conv.setActivationFn(new ActivationReLU());
                bypass(conf, m.relu(), m.conv());
            }
            conv.setHasBias(true);
            bypass(conf, m.batchNorm(), m.conv());
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
        Map<Integer, BatchNormPattern.Match<Integer>> matchOf = new HashMap<>();
        for (BatchNormPattern.Match<Integer> m : BatchNormPattern.find(conf)) {
            if (foldable(m, conf.getConf(m.conv()).getLayer(), conf.getConf(m.batchNorm()).getLayer())) {
                matchOf.put(m.conv(), m);
            }
        }
        for (int i = 0; i < n; i++) {
            NeuralNetConfiguration c = conf.getConf(i);
            int newIndex = kept.size();
            kept.add(c);
            oldIndex.add(i);
            if (conf.getInputPreProcess(i) != null) {
                pre.put(newIndex, conf.getInputPreProcess(i));
            }
            BatchNormPattern.Match<Integer> m = matchOf.get(i);
            if (m != null) {
                // Layers i + 1 (the BN) and, with a ReLU, i + 2 are dropped.
                ConvolutionLayer conv = (ConvolutionLayer) c.getLayer();
                conv.setHasBias(true);
                bnOf.put(newIndex, m.batchNorm());
                bns.add(name(conf.getConf(m.batchNorm()).getLayer(), m.batchNorm()));
                i++;
                if (m.relu() != null) {
                    conv.setActivationFn(new ActivationReLU());
                    relus.add(name(conf.getConf(m.relu()).getLayer(), m.relu()));
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

    /**
     * Whether a {@link BatchNormPattern} match folds: the BN has no preprocessor and is not a network output, and
     * the layers are as the class comment says.
     */
    private static boolean foldable(BatchNormPattern.Match<?> m, Layer conv, Layer next) {
        if (m.batchNormPreProcessed() || m.batchNormOutput() || conv == null
                || conv.getClass() != ConvolutionLayer.class || conv instanceof DSConvLayer
                || !(next instanceof BatchNormalization bn)) {
            return false;
        }
        ConvolutionLayer c = (ConvolutionLayer) conv;
        IActivation a = c.getActivationFn();
        CNN2DFormat format = c.getCnn2dDataFormat() == null ? CNN2DFormat.NCHW : c.getCnn2dDataFormat();
        CNN2DFormat bnFormat = bn.getCnn2DFormat() == null ? CNN2DFormat.NCHW : bn.getCnn2DFormat();
        return (a == null || a instanceof ActivationIdentity) && bn.getNOut() == c.getNOut() && bnFormat == format;
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
