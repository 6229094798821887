package io.github.dsconv.distill;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayer;
import org.deeplearning4j.nn.conf.layers.misc.FrozenLayerWithBackprop;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds the training copy of a DSConv student for distillation and copies parameters between networks.
 *
 * <p>The copy has the student's parameters and: DSConv layers with the unselected float groups frozen (zero
 * gradient) and Adam on the rest; batch norms as {@link FrozenStatsBatchNormalization} (trainable scale and shift
 * when {@link TrainableGroup#BN} is selected, else wrapped in {@link FrozenLayerWithBackprop}); every other
 * parameterised layer, including the classifier's dense weights, in {@link FrozenLayerWithBackprop}; the softmax
 * output layer split into that frozen dense layer (identity: it outputs the logits) and a {@link LossLayer} with
 * {@link DistillationLoss}. Regularization and dropout are removed, so that only the distillation objective moves
 * the trained parameters and nothing moves the frozen ones.
 */
final class TrainingNets {

    /** Name of the distillation loss vertex (a ComputationGraph) or layer (a MultiLayerNetwork). */
    static final String KD_LOSS = "distill_kd_loss";
    /** Suffix of a feature-matching loss vertex. */
    static final String FEATURE_LOSS_SUFFIX = "_distill_mse";

    private TrainingNets() {
    }

    /**
     * A training network and what it trains.
     *
     * @param net             the training copy (already initialised with the student's parameters)
     * @param logitsLayer     MLN: index of the frozen dense layer; CG: -1
     * @param logitsVertex    CG: name of the frozen dense vertex whose activation is the logits; MLN: null
     * @param trainableParams number of trained parameters per group (groups without any are absent)
     */
    record Built(Model net, int logitsLayer, String logitsVertex, Map<TrainableGroup, Long> trainableParams) {
        long totalTrainable() {
            return trainableParams.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    /**
     * Builds the training copy of {@code student}.
     *
     * @param featureShapes activation shape (batch dimension included) of each feature layer, in order
     */
    static Built build(Model student, DistillConfig cfg, Map<String, long[]> featureShapes) {
        // The training copies differ in structure (a loss layer appended vs. loss vertices added), so each kind is
        // built from its own DL4J configuration type.
        Network net = Network.of(student);
        if (!net.isGraph()) {
            if (!cfg.featureLayers().isEmpty()) {
                throw new IllegalArgumentException("feature distillation at named layers " + cfg.featureLayers()
                        + " needs a ComputationGraph student; this one is a MultiLayerNetwork (use logits only)");
            }
            return buildMln(net.multiLayer(), cfg);
        }
        return buildGraph(net.graph(), cfg, featureShapes);
    }

    private static Built buildMln(MultiLayerNetwork student, DistillConfig cfg) {
        MultiLayerConfiguration conf = student.getLayerWiseConfigurations().clone();
        conf.setIterationCount(0);
        conf.setEpochCount(0);
        List<NeuralNetConfiguration> confs = conf.getConfs();
        int last = confs.size() - 1;
        Map<TrainableGroup, Long> counts = new EnumMap<>(TrainableGroup.class);
        for (int i = 0; i < last; i++) {
            NeuralNetConfiguration nnc = confs.get(i);
            String name = nnc.getLayer().getLayerName() == null ? "layer" + i : nnc.getLayer().getLayerName();
            nnc.setLayer(adapt(nnc, name, student.getLayer(i).paramTable(), cfg, counts));
        }
        NeuralNetConfiguration outConf = confs.get(last);
        String outName = outConf.getLayer().getLayerName() == null ? "layer" + last
                : outConf.getLayer().getLayerName();
        outConf.setLayer(frozenLogits(outConf.getLayer(), outName));
        NeuralNetConfiguration lossConf = outConf.clone();
        lossConf.setLayer(kdLoss(cfg));
        confs.add(lossConf);
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        copyParams(student, net);
        return new Built(net, last, null, requireTrainable(counts, cfg));
    }

    private static Built buildGraph(ComputationGraph student, DistillConfig cfg, Map<String, long[]> featureShapes) {
        ComputationGraphConfiguration conf = student.getConfiguration().clone();
        if (conf.getNetworkInputs().size() != 1 || conf.getNetworkOutputs().size() != 1) {
            throw new IllegalArgumentException("only single-input, single-output graphs can be distilled, this one "
                    + "has " + conf.getNetworkInputs() + " -> " + conf.getNetworkOutputs());
        }
        String out = conf.getNetworkOutputs().get(0);
        Map<TrainableGroup, Long> counts = new EnumMap<>(TrainableGroup.class);
        NeuralNetConfiguration template = null;
        for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
            String name = e.getKey();
            GraphVertex v = e.getValue();
            if (v instanceof LayerVertex lv) {
                NeuralNetConfiguration nnc = lv.getLayerConf();
                template = nnc;
                nnc.setLayer(name.equals(out) ? frozenLogits(nnc.getLayer(), name)
                        : adapt(nnc, name, student.getLayer(name).paramTable(), cfg, counts));
            } else if (v.numParams(true) > 0) {
                throw new IllegalArgumentException("vertex '" + name + "' (" + v.getClass().getSimpleName()
                        + ") has parameters that distillation cannot freeze");
            }
        }
        Set<String> taken = new TreeSet<>(conf.getVertices().keySet());
        taken.addAll(conf.getNetworkInputs());
        List<String> outputs = new ArrayList<>();
        String kd = unique(KD_LOSS, taken);
        addVertex(conf, kd, template, kdLoss(cfg), out);
        outputs.add(kd);
        for (String f : cfg.featureLayers()) {
            if (!conf.getVertices().containsKey(f)) {
                throw new IllegalArgumentException("feature layer '" + f + "' is not a vertex of the student graph");
            }
            if (f.equals(out)) {
                throw new IllegalArgumentException("feature layer '" + f + "' is the output layer; its logits are "
                        + "already distilled");
            }
            String name = unique(f + FEATURE_LOSS_SUFFIX, taken);
            addVertex(conf, name, template, featureLoss(f, featureShapes.get(f), cfg.featureWeight()), f);
            outputs.add(name);
        }
        conf.setNetworkOutputs(outputs);
        conf.setIterationCount(0);
        conf.setEpochCount(0);
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        copyParams(student, net);
        return new Built(net, -1, out, requireTrainable(counts, cfg));
    }

    private static void addVertex(ComputationGraphConfiguration conf, String name, NeuralNetConfiguration template,
                                  Layer layer, String input) {
        NeuralNetConfiguration nnc = template.clone();
        layer.setLayerName(name);
        nnc.setLayer(layer);
        conf.getVertices().put(name, new LayerVertex(nnc, null));
        conf.getVertexInputs().put(name, new ArrayList<>(List.of(input)));
    }

    private static String unique(String base, Set<String> taken) {
        String name = base;
        for (int i = 2; taken.contains(name); i++) {
            name = base + i;
        }
        taken.add(name);
        return name;
    }

    /** The training version of one (non-output) layer. */
    private static Layer adapt(NeuralNetConfiguration nnc, String name, Map<String, INDArray> params,
                               DistillConfig cfg, Map<TrainableGroup, Long> counts) {
        Layer l = nnc.getLayer();
        if (l instanceof DSConvLayer ds) {
            DSConvLayer c = ds.clone();
            Set<String> frozen = new TreeSet<>();
            for (TrainableGroup g : TrainableGroup.values()) {
                for (String key : g.dsconvParams()) {
                    INDArray p = params.get(key);
                    if (p == null) {
                        continue;
                    }
                    long n = p.length();
                    if (cfg.trainable().contains(g)) {
                        counts.merge(g, n, Long::sum);
                    } else {
                        frozen.add(key);
                    }
                }
            }
            c.setFrozenParams(frozen);
            trainWith(c, cfg);
            return c;
        }
        if (l instanceof BatchNormalization bn) {
            FrozenStatsBatchNormalization c = FrozenStatsBatchNormalization.of(bn);
            c.setLayerName(name);
            trainWith(c, cfg);
            if (cfg.trainable().contains(TrainableGroup.BN) && !bn.isLockGammaBeta()) {
                counts.merge(TrainableGroup.BN, 2 * bn.getNOut(), Long::sum);
                return c;
            }
            return frozen(c, name);
        }
        Layer c = l.clone();
        c.setIDropout(null);
        if (c instanceof FrozenLayer || c instanceof FrozenLayerWithBackprop) {
            return c;
        }
        if (c.initializer().numParams(c) > 0) {
            return frozen(c, name);
        }
        return c;
    }

    private static void trainWith(BaseLayer l, DistillConfig cfg) {
        IUpdater adam = new Adam(cfg.learningRate());
        l.setIUpdater(adam);
        l.setBiasUpdater(adam.clone());
        l.setRegularization(new ArrayList<>());
        l.setRegularizationBias(new ArrayList<>());
        l.setWeightNoise(null);
        l.setIDropout(null);
    }

    private static Layer frozen(Layer l, String name) {
        l.setIDropout(null);
        if (l instanceof BaseLayer b) {
            // The wrapper zeroes the gradient, but DL4J's updater still reads the inner layer's updater and
            // regularization: NoOp and none keep the parameters bit-identical and allocate no updater state.
            b.setIUpdater(new NoOp());
            b.setBiasUpdater(new NoOp());
            b.setRegularization(new ArrayList<>());
            b.setRegularizationBias(new ArrayList<>());
            b.setWeightNoise(null);
        }
        FrozenLayerWithBackprop f = new FrozenLayerWithBackprop(l);
        f.setLayerName(name);
        return f;
    }

    /** The softmax output layer as a frozen identity dense layer: its activation is the student's logits. */
    private static Layer frozenLogits(Layer out, String name) {
        if (!(out instanceof OutputLayer o) || out.getClass() != OutputLayer.class) {
            throw new IllegalArgumentException("the output layer '" + name + "' is a " + out.getClass().getSimpleName()
                    + "; distillation needs a dense OutputLayer with a softmax activation");
        }
        if (!(o.getActivationFn() instanceof ActivationSoftmax)) {
            throw new IllegalArgumentException("the output layer '" + name + "' has activation " + o.getActivationFn()
                    + "; distillation needs a softmax classifier");
        }
        // The weight init only fills parameters that are overwritten with the student's right after init().
        DenseLayer d = new DenseLayer.Builder().nIn(o.getNIn()).nOut(o.getNOut()).hasBias(o.hasBias())
                .activation(Activation.IDENTITY).weightInit(WeightInit.ZERO).build();
        d.setLayerName(name);
        return frozen(complete(d), name);
    }

    private static Layer kdLoss(DistillConfig cfg) {
        LossLayer l = new LossLayer.Builder(new DistillationLoss(cfg.temperature())).activation(Activation.IDENTITY)
                .build();
        l.setLayerName(KD_LOSS);
        return complete(l);
    }

    /**
     * Fills what a network-level builder would have (updater, weight init, regularization) into a layer made here:
     * DL4J's JSON reader takes a layer without them for a legacy configuration and fails on checkpoints.
     */
    private static <L extends BaseLayer> L complete(L l) {
        if (l.getIUpdater() == null) {
            l.setIUpdater(new NoOp());
        }
        if (l.getBiasUpdater() == null) {
            l.setBiasUpdater(new NoOp());
        }
        if (l.getWeightInitFn() == null) {
            l.setWeightInitFn(WeightInit.ZERO.getWeightInitFunction());
        }
        if (l.getRegularization() == null) {
            l.setRegularization(new ArrayList<>());
        }
        if (l.getRegularizationBias() == null) {
            l.setRegularizationBias(new ArrayList<>());
        }
        return l;
    }

    /**
     * A mean-squared-error loss on a vertex's activation whose per-example score is {@code weight} times the mean
     * over all its elements. DL4J's MSE averages over the columns of the 2-d view and {@link CnnLossLayer} sums
     * over the {@code h*w} rows it makes of each example, so the weights divide by {@code h*w}. The 2-d view is the
     * same set of elements whatever the data format, so NCHW is used for the reshape in every case.
     */
    private static Layer featureLoss(String vertex, long[] shape, double weight) {
        if (shape == null) {
            throw new IllegalStateException("no activation shape for feature layer '" + vertex + "'");
        }
        if (shape.length == 2) {
            INDArray w = Nd4j.valueArrayOf(new long[] {1, shape[1]}, weight);
            return complete(new LossLayer.Builder(new LossMSE(w)).activation(Activation.IDENTITY).build());
        }
        if (shape.length == 4) {
            INDArray w = Nd4j.valueArrayOf(new long[] {1, shape[1]}, weight / (shape[2] * shape[3]));
            return complete(new CnnLossLayer.Builder(new LossMSE(w)).activation(Activation.IDENTITY)
                    .format(org.deeplearning4j.nn.conf.CNN2DFormat.NCHW).build());
        }
        throw new IllegalArgumentException("feature layer '" + vertex + "' has a rank-" + shape.length
                + " activation; only rank 2 (dense) and rank 4 (convolutional) are supported");
    }

    private static Map<TrainableGroup, Long> requireTrainable(Map<TrainableGroup, Long> counts, DistillConfig cfg) {
        if (counts.isEmpty()) {
            throw new IllegalArgumentException("nothing to train: the student has no parameters in the selected "
                    + "groups " + cfg.trainableNames() + " (is it a DSConv network? alpha is in every DSConv layer;"
                    + " beta needs a KDS bias, cds needs CDS, bias needs conv biases, bn needs batch norms)");
        }
        return new LinkedHashMap<>(counts);
    }

    /**
     * Copies every parameter of {@code to} from the layer of {@code from} with the same name (a multi-layer network's
     * unnamed layers are {@code layer<i>}); every parameterised layer of {@code to} must have its counterpart.
     */
    static void copyParams(Model from, Model to) {
        Network f = Network.of(from);
        Network t = Network.of(to);
        if (!f.kind().equals(t.kind())) {
            throw new IllegalArgumentException("cannot copy parameters from a " + from.getClass().getSimpleName()
                    + " to a " + to.getClass().getSimpleName());
        }
        for (Network.NamedLayer dst : t.layers()) {
            if (dst.layer().numParams() > 0) {
                org.deeplearning4j.nn.api.Layer src = f.layer(dst.name());
                if (src == null) {
                    throw new IllegalStateException("no source layer '" + dst.name() + "' to copy parameters from");
                }
                copyLayer(src, dst.layer(), "layer '" + dst.name() + "'");
            }
        }
    }

    private static void copyLayer(org.deeplearning4j.nn.api.Layer src, org.deeplearning4j.nn.api.Layer dst,
                                  String who) {
        Map<String, INDArray> s = src.paramTable();
        for (Map.Entry<String, INDArray> e : dst.paramTable().entrySet()) {
            INDArray v = s.get(e.getKey());
            if (v == null || v.length() != e.getValue().length()) {
                throw new IllegalStateException(who + ": parameter '" + e.getKey() + "' has no counterpart of "
                        + e.getValue().length() + " values");
            }
            dst.setParam(e.getKey(), v.reshape(e.getValue().shape()));
        }
    }
}
