package io.github.dsconv.convert;

import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvParamInitializer;
import io.github.dsconv.layers.DSConvParams;
import io.github.dsconv.layers.HostCopies;
import io.github.dsconv.nn.Network;
import io.github.dsconv.nn.NetworkConfiguration;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.KernelShape;
import io.github.dsconv.quant.QuantizedKernel;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.quant.Sqnr;
import io.github.dsconv.quant.VqkQuantizer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rewriter: converts the convolutions of a trained network to {@link DSConvLayer}s.
 *
 * <p>Every layer whose configuration is exactly DL4J's {@link ConvolutionLayer} (NCHW or NHWC) becomes a DSConv
 * layer with the same geometry, activation and bias, and its kernel quantized by the {@link KernelQuantizer}
 * (DSConv's {@link VqkQuantizer} by default). Every other parameter (batch norm, dense, output layers) is
 * copied bit for bit, and residual adds, merges and pooling are untouched. Convolution subclasses DL4J has
 * (depthwise, separable, deconvolution, 1D, 3D) are left in FP32 and listed as skipped. The input network is
 * not modified.
 *
 * <p>The network's first convolution (first in topological order) keeps its scales in FP32 and quantizes the raw
 * network input only if the plan says so; every other layer stores its scales in FP16, and the in-memory scales
 * are rounded to that precision so that the network computes exactly what a packed file holds.
 *
 * <p>Before any work the network is checked ({@link #requireConvertible}): every parameter finite, no DSConv layer
 * already (a converted network is converted from its FP32 original, not again) and at least one ConvolutionLayer.
 */
public final class DSConvConverter {

    private final ConversionPlan plan;
    private final KernelQuantizer quantizer;
    /** Per-input-channel error weights by layer name (see {@link #withChannelWeights}); empty: unweighted. */
    private final Map<String, double[]> channelWeights;

    /** A converter with DSConv's quantizer configured by the plan. */
    public DSConvConverter(ConversionPlan plan) {
        this(plan, new VqkQuantizer(plan.kdsBias(), plan.clippingSearch()));
    }

    /** A converter with another kernel quantizer (e.g. a round-to-nearest baseline). */
    public DSConvConverter(ConversionPlan plan, KernelQuantizer quantizer) {
        this(plan, quantizer, Map.of());
    }

    private DSConvConverter(ConversionPlan plan, KernelQuantizer quantizer, Map<String, double[]> channelWeights) {
        this.plan = plan;
        this.quantizer = quantizer;
        this.channelWeights = Map.copyOf(channelWeights);
    }

    /**
     * This converter with each named layer's kernel fit weighting input channel {@code c}'s error by
     * {@code weights.get(layer)[c]} ({@link KernelQuantizer#quantize(float[], KernelShape, int, int, double[])}),
     * e.g. the FP32 network's input mean squares from {@code io.github.dsconv.calibrate.ChannelEnergy}. Layers
     * without an entry keep the unweighted fit.
     */
    public DSConvConverter withChannelWeights(Map<String, double[]> weights) {
        return new DSConvConverter(plan, quantizer, weights);
    }

    /** Whether the kernel quantizer is blockwise (its block size means something). */
    public boolean blockwise() {
        return quantizer.blockwise();
    }

    /** Converts any supported model (a {@code MultiLayerNetwork} or {@code ComputationGraph}). */
    public Converted<? extends Model> convert(Model model) {
        return convert(Network.of(model), Model.class);
    }

    /**
     * Checks that a network can be converted, before any work: initialised, every parameter finite
     * ({@link ModelChecks#requireFinite}), no DSConv layer yet and at least one ConvolutionLayer.
     *
     * @param source where the network came from, starting any message (a file name, or {@code model})
     * @throws IllegalArgumentException with one line naming the source and what is wrong
     */
    public static void requireConvertible(Model net, String source) {
        requireInitialized(net.params(), "network");
        ModelChecks.requireFinite(net, source);
        ModelChecks.requireFp32(net, source, "quantize needs the FP32 model it came from");
        ModelChecks.requireConvolutions(net, source);
    }

    /** Converts a {@link MultiLayerNetwork}. */
    public Converted<MultiLayerNetwork> convert(MultiLayerNetwork net) {
        return convert(Network.of(net), MultiLayerNetwork.class);
    }

    /** Converts a {@link ComputationGraph}. */
    public Converted<ComputationGraph> convert(ComputationGraph net) {
        return convert(Network.of(net), ComputationGraph.class);
    }

    /** Converts either kind: the converted network is of the source's kind, returned as a {@code type}. */
    private <M extends Model> Converted<M> convert(Network net, Class<M> type) {
        long t0 = System.nanoTime();
        requireConvertible(net.model(), "model");
        NetworkConfiguration conf = net.copyConfiguration();
        Map<String, NeuralNetConfiguration> layers = new LinkedHashMap<>();
        conf.layers().forEach(l -> layers.put(l.name(), l.conf()));
        List<Slot> slots = new ArrayList<>();
        for (String name : conf.topologicalOrder()) {
            NeuralNetConfiguration nnc = layers.get(name);
            if (nnc != null) {
                org.deeplearning4j.nn.api.Layer old = net.requireLayer(name);
                slots.add(new Slot(name, nnc, old.params(), param(old, "W"), param(old, "b")));
            } else if (net.vertexParams(name) != null) {
                slots.add(new Slot(name, null, net.vertexParams(name), null, null));
            }
        }
        Plan decided = decide(slots, conf);
        Network out = conf.build(fill(slots, decided, net.params().dataType()));
        return new Converted<>(type.cast(out.model()), decided.report(t0));
    }

    /** Clones a graph configuration keeping each merge vertex's axis ({@link NetworkConfiguration#copyOf}). */
    static ComputationGraphConfiguration cloneConfiguration(ComputationGraphConfiguration conf) {
        return NetworkConfiguration.copyOf(conf);
    }

    /**
     * A convolution a plan converts.
     *
     * @param name  layer (vertex) name; {@code layer<i>} for an unnamed layer of a MultiLayerNetwork
     * @param index layer index in a MultiLayerNetwork, -1 in a ComputationGraph
     * @param spec  its settings
     * @param first whether it is the network's first convolution (its input is the network input)
     */
    public record Target(String name, int index, LayerSpec spec, boolean first) {
    }

    /**
     * The convolutions this converter's plan converts in {@code model}, in topological order, decided exactly as
     * {@link #convert(Model)} decides them but without converting anything.
     *
     * @throws IllegalArgumentException when the plan does not fit the network ({@link #validate})
     */
    public List<Target> targets(Model model) {
        Network net = Network.of(model);
        List<Slot> slots = configurationSlots(net);
        validatePlan(slots, net.configuration());
        List<Target> out = new ArrayList<>();
        boolean first = true;
        for (int i = 0; i < slots.size(); i++) {
            Layer l = slots.get(i).layer();
            if (!(l instanceof ConvolutionLayer) || l instanceof DSConvLayer) {
                continue;
            }
            boolean isFirst = first;
            first = false;
            LayerSpec spec = l.getClass() == ConvolutionLayer.class ? plan.specFor(slots.get(i).name(), isFirst) : null;
            if (spec != null) {
                out.add(new Target(slots.get(i).name(), net.isGraph() ? -1 : i, spec, isFirst));
            }
        }
        return out;
    }

    /**
     * Checks this converter's plan against {@code model} without converting anything, as {@link #convert(Model)}
     * does first ({@link ConversionPlan#validateFor}): every layer the plan names must be a convertible convolution,
     * and with skipFirst an entry for the first convolution must skip it.
     *
     * @throws IllegalArgumentException naming the offending layer
     */
    public void validate(Model model) {
        Network net = Network.of(model);
        validatePlan(configurationSlots(net), net.configuration());
    }

    /** The layers of a network's configuration, in topological order, without parameters. */
    private static List<Slot> configurationSlots(Network net) {
        List<Slot> slots = new ArrayList<>();
        for (Network.LayerConfiguration l : net.layerConfigurations()) {
            slots.add(new Slot(l.name(), l.conf(), null, null, null));
        }
        return slots;
    }

    /** One parameterised layer of the source network, in parameter order. */
    private record Slot(String name, NeuralNetConfiguration conf, INDArray params, INDArray weight, INDArray bias) {
        Layer layer() {
            return conf == null ? null : conf.getLayer();
        }
    }

    /** A convolution to convert: its new configuration and what it is converted with. */
    private record Conversion(DSConvLayer layer, LayerSpec spec, ScalePrecision precision) {
    }

    /** The decisions (made from the configurations alone) and, once filled, the per-layer reports. */
    private final class Plan {
        final Map<String, Conversion> conversions = new LinkedHashMap<>();
        final List<LayerReport> converted = new ArrayList<>();
        final List<ConversionReport.SkippedLayer> skipped = new ArrayList<>();

        ConversionReport report(long t0) {
            return new ConversionReport(quantizer.method(), converted, skipped, (System.nanoTime() - t0) / 1e9);
        }
    }

    private Plan decide(List<Slot> slots, NetworkConfiguration graph) {
        validatePlan(slots, graph);
        Plan p = new Plan();
        boolean first = true;
        for (Slot s : slots) {
            Layer l = s.layer();
            if (!(l instanceof ConvolutionLayer conv) || l instanceof DSConvLayer) {
                continue;
            }
            boolean isFirst = first;
            first = false;
            long fp32Bytes = 4L * s.weight().length();
            if (l.getClass() != ConvolutionLayer.class) {
                p.skipped.add(new ConversionReport.SkippedLayer(s.name(), l.getClass().getSimpleName(),
                        "unsupported convolution type (only ConvolutionLayer is converted)", fp32Bytes));
                continue;
            }
            LayerSpec spec = plan.specFor(s.name(), isFirst);
            if (spec == null) {
                p.skipped.add(new ConversionReport.SkippedLayer(s.name(), l.getClass().getSimpleName(),
                        isFirst && plan.skipFirst() ? "first convolution skipped (skipFirst)" : "skipped by the plan",
                        fp32Bytes));
                continue;
            }
            ScalePrecision precision = isFirst ? ScalePrecision.FP32 : ScalePrecision.FP16;
            double ratio = fp32Bytes / (double) dsconvBytes(conv, spec, precision);
            if (!plan.layers().containsKey(s.name()) && ratio < plan.minCompression()) {
                p.skipped.add(new ConversionReport.SkippedLayer(s.name(), l.getClass().getSimpleName(),
                        String.format(java.util.Locale.ROOT, "DSConv would be only %.2fx smaller (minCompression %.2f)",
                                ratio, plan.minCompression()), fp32Bytes));
                continue;
            }
            DSConvLayer dl = DSConvLayer.builderFrom(conv)
                    .weightBits(spec.weightBits())
                    .blockSize(spec.blockSize())
                    .actBits(spec.actBits())
                    .quantizeInput(!isFirst || plan.quantizeNetworkInput())
                    .unsignedActivations(plan.unsignedActivations())
                    .kdsBias(quantizer.fitsShift())
                    .cds(plan.cds())
                    .scalePrecision(precision)
                    .build();
            s.conf().setLayer(dl);
            p.conversions.put(s.name(), new Conversion(dl, spec, precision));
        }
        return p;
    }

    /**
     * Allocates the converted network's flat parameter vector once and fills it layer by layer: converted
     * convolutions are quantized straight into their views, everything else is copied. Peak memory is the source
     * network, this vector and one layer's temporaries (each freed before the next layer), not a second copy of
     * every converted layer.
     */
    private INDArray fill(List<Slot> slots, Plan p, DataType type) {
        long total = 0;
        for (Slot s : slots) {
            Conversion c = p.conversions.get(s.name());
            total += c != null ? DSConvParamInitializer.getInstance().numParams(c.layer())
                    : s.params() == null ? 0 : s.params().length();
        }
        INDArray flat = Nd4j.create(type, 1, total);
        long off = 0;
        for (Slot s : slots) {
            Conversion c = p.conversions.get(s.name());
            long n = c != null ? DSConvParamInitializer.getInstance().numParams(c.layer())
                    : s.params() == null ? 0 : s.params().length();
            if (n == 0) {
                continue;
            }
            INDArray view = flat.get(NDArrayIndex.point(0), NDArrayIndex.interval(off, off + n));
            if (c != null) {
                convertLayer(s, c, view, p);
            } else {
                view.assign(s.params().reshape(n));
            }
            off += n;
        }
        return flat;
    }

    private void convertLayer(Slot s, Conversion c, INDArray target, Plan p) {
        String who = "layer '" + s.name() + "'";
        INDArray w = s.weight();
        KernelShape shape = KernelShape.of(w.shape());
        float[] wf = HostCopies.floats(w);
        LayerSpec spec = c.spec();
        QuantizedKernel qk;
        try {
            qk = quantizer.quantize(wf, shape, spec.weightBits(), spec.blockSize(), channelWeights.get(s.name()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(who + ": " + e.getMessage(), e);
        }
        ScalePrecision precision = c.precision();
        float[] alpha = qk.alpha().clone();
        float[] beta = qk.beta() == null ? null : qk.beta().clone();
        precision.roundInPlace(alpha);
        precision.roundInPlace(beta);
        QuantizedKernel stored = new QuantizedKernel(shape, qk.bits(), qk.blockSize(), qk.q(), alpha, beta,
                qk.storedScales());

        DSConvLayer dl = c.layer();
        float[] bias = dl.hasBias() ? HostCopies.floats(s.bias()) : null;
        DSConvParams.write(dl, DSConvParamInitializer.views(dl, target), stored, bias);
        p.converted.add(new LayerReport(s.name(), w.shape(), spec.weightBits(), spec.actBits(), spec.blockSize(),
                Sqnr.db(wf, stored.reconstruct()), 4L * shape.numel(), stored.storageBytes(precision),
                precision.name()));
    }

    /** Bytes of a convolution's DSConv form: packed q plus the stored scales (alpha, beta, CDS). */
    long dsconvBytes(ConvolutionLayer conv, LayerSpec spec, ScalePrecision precision) {
        long nOut = conv.getNOut();
        long nIn = conv.getNIn();
        long taps = (long) conv.getKernelSize()[0] * conv.getKernelSize()[1];
        long blocks = (nIn - 1) / spec.blockSize() + 1; // ceil(nIn / block) without overflow
        long scales = nOut * blocks * taps * (quantizer.fitsShift() ? 2 : 1) + (plan.cds() ? 2 * nOut : 0);
        return (nOut * nIn * taps * spec.weightBits() + 7) / 8 + scales * precision.bytes();
    }

    /**
     * Checks the plan against the network: {@link ConversionPlan#validateFor} with the network's convertible
     * convolutions, its first convolution (as {@link #decide} counts it) and every other layer, vertex and input.
     *
     * @param conf the network's configuration, for a graph's parameterless vertices and inputs
     */
    private void validatePlan(List<Slot> slots, NetworkConfiguration conf) {
        List<String> convs = new ArrayList<>();
        Map<String, String> others = new LinkedHashMap<>();
        String first = null;
        boolean seenFirst = false;
        for (Slot s : slots) {
            Layer l = s.layer();
            if (l != null && l.getClass() == ConvolutionLayer.class) {
                convs.add(s.name());
            } else if (l != null) {
                others.put(s.name(), l.getClass().getSimpleName());
            }
            if (!seenFirst && l instanceof ConvolutionLayer && !(l instanceof DSConvLayer)) {
                seenFirst = true;
                first = l.getClass() == ConvolutionLayer.class ? s.name() : null;
            }
        }
        conf.graphVertexTypes().forEach(others::putIfAbsent);
        plan.validateFor(convs, first, others);
    }

    /** A parameter of a layer, or null (parameterless layers throw on {@code getParam}). */
    private static INDArray param(org.deeplearning4j.nn.api.Layer layer, String key) {
        return layer.numParams() == 0 ? null : layer.paramTable().get(key);
    }

    private static void requireInitialized(INDArray params, String what) {
        if (params == null) {
            throw new IllegalArgumentException("the " + what + " is not initialised (call init() first)");
        }
    }
}
