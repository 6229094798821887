package io.github.dsconv.convert;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Cross-layer equalisation (CLE) with bias absorption, the data-free weight transform of M. Nagel, M. van Baalen,
 * T. Blankevoort, M. Welling, "Data-Free Quantization Through Weight Equalization and Bias Correction", ICCV 2019
 * (DFQ; arXiv:1906.04721), applied to an FP32 network before quantization. Spec: {@code docs/method.md}, section
 * "Cross-layer equalisation (DFQ)".
 *
 * <p><b>Steps.</b> (1) Batch normalization is folded into the convolution before it ({@link BatchNormFolding}, as
 * DFQ does first), keeping each folded BN's {@code gamma} and {@code beta}. (2) For every eligible pair
 * {@code conv1 -> f -> conv2}, with {@code f} the identity or a plain ReLU, and every channel {@code i} between
 * them (paper eq. 10-11):
 * <pre>
 *   r1_i = max |W1[i, :, :, :]|   (conv1's output channel i)
 *   r2_i = max |W2[:, i, :, :]|   (conv2's input channel i)
 *   s_i  = sqrt(r1_i r2_i) / r2_i
 *   W1[i] /= s_i,  b1[i] /= s_i,  W2[:, i] *= s_i
 * </pre>
 * after which both ranges equal {@code sqrt(r1_i r2_i)} (eq. 11). This is exact because {@code f(x / s) = f(x) / s}
 * for {@code s > 0} (the positive scaling equivariance of section 4.1). A channel with {@code r1_i = 0} or {@code r2_i = 0}
 * keeps {@code s_i = 1}. Where pairs chain ({@code conv1 -> conv2 -> conv3}) equalising one pair moves the other's
 * ranges, and the paper iterates "until convergence" (section 4.1): this class sweeps over all pairs in
 * topological order until no scale of a sweep differs from 1 by more than {@link Options#tolerance()}, at most
 * {@link Options#maxSweeps()} sweeps (defaults {@value #DEFAULT_TOLERANCE} and {@value #DEFAULT_MAX_SWEEPS}; a
 * network without chains stops after the second sweep, whose scales are all 1).
 * (3) Bias absorption ("absorbing high biases", section 4.1), only where a BN was folded into {@code conv1} (so that its
 * pre-activation is assumed {@code N(beta_i, gamma_i^2)}) and {@code f} is a ReLU: with {@code beta_i, gamma_i}
 * divided by the channel's total scale, {@code c_i = max(0, beta_i - 3 |gamma_i|)} (the paper writes
 * {@code gamma}, positive; a negative {@code gamma} gives the same spread),
 * {@code b1[i] -= c_i} and {@code b2[o] += c_i * sum_{ky,kx} W2[o, i, ky, kx]}. This is the paper's approximation:
 * exact only where the pre-activation of channel {@code i} is {@code >= c_i} (then {@code ReLU(x - c) = ReLU(x) - c})
 * and where conv2's window lies inside the input (a zero-padded tap reads 0 before and after absorption, but the
 * bias compensates it as if it read {@code -c_i}). All arithmetic is in double; parameters are stored at the
 * network's data type.
 *
 * <p><b>Eligible pairs</b>, all checked on the folded network: {@code conv1} is exactly DL4J's
 * {@code ConvolutionLayer} (not depthwise, separable, deconvolution or DSConv), its activation is the identity or a
 * plain ReLU, it is not a network output and its output has exactly one consumer; that consumer is either
 * {@code conv2} or an {@link ActivationLayer} with the identity or a plain ReLU (no preprocessor, not an output, one
 * consumer) whose consumer is {@code conv2}; {@code conv2} is exactly a {@code ConvolutionLayer} with that one input,
 * no input preprocessor, {@code nIn} equal to {@code conv1}'s {@code nOut} and the same data format. Everything else
 * is skipped and listed in the report with the reason: a branch or residual (two consumers, an add, a
 * concatenation), pooling, a dense layer, a non-homogeneous or clipped activation (ReLU6, a ReLU with max or
 * threshold, leaky ReLU, tanh, ...), depthwise or other convolution types. "Plain ReLU" is
 * {@link BatchNormPattern#isPlainRelu}'s: {@code ActivationReLU} without max, threshold or negative slope.
 *
 * <p>The input network is not modified. The result is a new network of the same kind computing the same function
 * (to float rounding; only approximately after bias absorption), without the folded BN and ReLU layers; every
 * convolution keeps its name. Inference only: no updater state.
 */
public final class CrossLayerEqualization {

    /** Default {@link Options#maxSweeps()}. */
    public static final int DEFAULT_MAX_SWEEPS = 20;
    /** Default {@link Options#tolerance()}: a sweep whose scales are all within this of 1 is the last. */
    public static final double DEFAULT_TOLERANCE = 1e-6;

    /**
     * What to do.
     *
     * @param absorbBias whether to absorb biases after equalising (DFQ section 4.1; default true)
     * @param maxSweeps  the most sweeps over all pairs (default {@value #DEFAULT_MAX_SWEEPS}; 1 = scale each pair
     *                   once, in topological order)
     * @param tolerance  stop after a sweep whose scales all satisfy {@code |s_i - 1| <= tolerance} (default
     *                   {@value #DEFAULT_TOLERANCE})
     */
    public record Options(boolean absorbBias, int maxSweeps, double tolerance) {
        /** Absorb biases, sweep until the scales stop moving. */
        public static final Options DEFAULT = new Options(true, DEFAULT_MAX_SWEEPS, DEFAULT_TOLERANCE);

        public Options {
            if (maxSweeps < 1) {
                throw new IllegalArgumentException("maxSweeps must be >= 1, got " + maxSweeps);
            }
            if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
                throw new IllegalArgumentException("tolerance must be finite and >= 0, got " + tolerance);
            }
        }

        /** These options with bias absorption on or off. */
        public Options withAbsorbBias(boolean absorb) {
            return new Options(absorb, maxSweeps, tolerance);
        }

        /** These options with at most {@code n} sweeps. */
        public Options withMaxSweeps(int n) {
            return new Options(absorbBias, n, tolerance);
        }
    }

    /** The three-sigma rule of DFQ's bias absorption: {@code c = max(0, beta - 3 |gamma|)}. */
    private static final double SIGMAS = 3.0;

    private CrossLayerEqualization() {
    }

    /** Equalises with {@link Options#DEFAULT}. */
    public static Equalized<? extends Model> equalize(Model fp32) {
        return equalize(fp32, Options.DEFAULT);
    }

    /** Equalises a graph with {@link Options#DEFAULT}. */
    public static Equalized<ComputationGraph> equalize(ComputationGraph fp32) {
        return equalize(fp32, Options.DEFAULT);
    }

    /** Equalises a multi-layer network with {@link Options#DEFAULT}. */
    public static Equalized<MultiLayerNetwork> equalize(MultiLayerNetwork fp32) {
        return equalize(fp32, Options.DEFAULT);
    }

    /**
     * Equalises a {@link MultiLayerNetwork} or {@link ComputationGraph}.
     *
     * @throws IllegalArgumentException for null, another model type or an uninitialised network
     */
    public static Equalized<? extends Model> equalize(Model fp32, Options options) {
        if (fp32 instanceof ComputationGraph cg) {
            return equalize(cg, options);
        }
        if (fp32 instanceof MultiLayerNetwork mln) {
            return equalize(mln, options);
        }
        throw new IllegalArgumentException("unsupported model type "
                + (fp32 == null ? "null" : fp32.getClass().getName())
                + " (expected MultiLayerNetwork or ComputationGraph)");
    }

    /** Equalises a graph. @throws IllegalArgumentException if it is not initialised */
    public static Equalized<ComputationGraph> equalize(ComputationGraph fp32, Options options) {
        return run(fp32, options);
    }

    /** Equalises a multi-layer network. @throws IllegalArgumentException if it is not initialised */
    public static Equalized<MultiLayerNetwork> equalize(MultiLayerNetwork fp32, Options options) {
        return run(fp32, options);
    }

    @SuppressWarnings("unchecked")
    private static <M extends Model> Equalized<M> run(M fp32, Options options) {
        if (fp32 == null) {
            throw new IllegalArgumentException("unsupported model type null"
                    + " (expected MultiLayerNetwork or ComputationGraph)");
        }
        if (options == null) {
            throw new IllegalArgumentException("options must not be null");
        }
        // DL4J throws a NullPointerException on an uninitialised network's params(); ask for its layers first.
        boolean initialised = fp32 instanceof MultiLayerNetwork m ? m.getLayers() != null
                : ((ComputationGraph) fp32).getVertices() != null;
        if (!initialised || fp32.params() == null) {
            throw new IllegalArgumentException("the network is not initialised (no parameters): call init() first");
        }
        Network source = Network.of(fp32);
        BatchNormFolding.Folded<? extends Model> folded = BatchNormFolding.fold(fp32);
        // DFQ reads each folded BN's gamma and beta as the per-channel std and mean of the pre-activation.
        Map<String, BnStats> statsOfConv = new HashMap<>();
        for (String bn : folded.batchNorms()) {
            statsOfConv.put(source.inputsOf(bn).get(0), BnStats.of(source.requireLayer(bn)));
        }
        Network net = Network.of(folded.network());

        List<Candidate> candidates = new ArrayList<>();
        List<EqualizationReport.Skipped> skipped = new ArrayList<>();
        for (Network.NamedLayer nl : net.layers()) {
            if (!(nl.layer().conf().getLayer() instanceof ConvolutionLayer)) {
                continue;
            }
            Object found = pairFrom(net, nl.name());
            if (found instanceof Candidate c) {
                candidates.add(c);
            } else {
                skipped.add(new EqualizationReport.Skipped(nl.name(), (String) found));
            }
        }

        Map<String, Kernel> kernels = new LinkedHashMap<>();
        for (Candidate c : candidates) {
            kernels.computeIfAbsent(c.first(), n -> new Kernel(net.requireLayer(n)));
            kernels.computeIfAbsent(c.second(), n -> new Kernel(net.requireLayer(n)));
        }
        // The total scale of every channel between each pair, over all sweeps.
        List<double[]> scales = new ArrayList<>();
        for (Candidate c : candidates) {
            double[] s = new double[kernels.get(c.first()).nOut];
            Arrays.fill(s, 1.0);
            scales.add(s);
        }
        int sweeps = 0;
        while (!candidates.isEmpty() && sweeps < options.maxSweeps()) {
            sweeps++;
            double moved = 0;
            for (int p = 0; p < candidates.size(); p++) {
                moved = Math.max(moved, equalise(kernels.get(candidates.get(p).first()),
                        kernels.get(candidates.get(p).second()), scales.get(p)));
            }
            if (moved <= options.tolerance()) {
                break;
            }
        }

        List<EqualizationReport.Pair> pairs = new ArrayList<>();
        for (int p = 0; p < candidates.size(); p++) {
            Candidate c = candidates.get(p);
            double[] s = scales.get(p);
            Kernel k1 = kernels.get(c.first());
            Kernel k2 = kernels.get(c.second());
            BnStats stats = statsOfConv.get(c.first());
            String absorption;
            int absorbed = 0;
            if (!options.absorbBias()) {
                absorption = "off";
            } else if (stats == null) {
                absorption = "no batch norm folded into " + c.first();
            } else if (!c.relu()) {
                absorption = "no ReLU between";
            } else if (k1.b == null) {
                absorption = c.first() + " has no bias";
            } else if (k2.b == null) {
                absorption = c.second() + " has no bias";
            } else {
                absorbed = absorb(k1, k2, stats, s);
                absorption = absorbed > 0 ? "absorbed" : "beta - 3|gamma| <= 0 in every channel";
            }
            pairs.add(new EqualizationReport.Pair(c.first(), c.activationLayer(), c.second(), c.relu(), s.length,
                    Arrays.stream(s).min().orElseThrow(), Arrays.stream(s).max().orElseThrow(), absorbed,
                    absorption));
        }
        kernels.values().forEach(Kernel::store);
        EqualizationReport report = new EqualizationReport(folded.batchNorms(), folded.activations(), pairs,
                skipped, sweeps, options.absorbBias());
        return new Equalized<>((M) folded.network(), report);
    }

    /**
     * One step of eq. 10-11 on a pair: scales every channel, multiplies it into {@code total} and returns the
     * largest {@code |s_i - 1|}.
     */
    private static double equalise(Kernel k1, Kernel k2, double[] total) {
        double moved = 0;
        for (int i = 0; i < k1.nOut; i++) {
            double r1 = k1.outRange(i);
            double r2 = k2.inRange(i);
            // A dead channel (all-zero weights on either side) has no range to balance.
            double s = r1 > 0 && r2 > 0 ? Math.sqrt(r1 * r2) / r2 : 1.0;
            k1.scaleOut(i, 1.0 / s);
            k2.scaleIn(i, s);
            total[i] *= s;
            moved = Math.max(moved, Math.abs(s - 1));
        }
        return moved;
    }

    /** DFQ's bias absorption (section 4.1) on an equalised pair; returns how many channels absorbed a bias. */
    private static int absorb(Kernel k1, Kernel k2, BnStats stats, double[] scale) {
        int absorbed = 0;
        for (int i = 0; i < k1.nOut; i++) {
            // The pre-activation of channel i was divided by scale[i], and so were its mean and std.
            double beta = stats.beta[i] / scale[i];
            double gamma = Math.abs(stats.gamma[i]) / scale[i];
            double c = Math.max(0, beta - SIGMAS * gamma);
            if (c <= 0) {
                continue;
            }
            absorbed++;
            k1.b[i] -= c;
            for (int o = 0; o < k2.nOut; o++) {
                k2.b[o] += c * k2.tapSum(o, i);
            }
        }
        return absorbed;
    }

    /**
     * The pair starting at convolution {@code name} of the folded network, or the reason there is none (a String).
     */
    private static Object pairFrom(Network net, String name) {
        Layer l1 = net.requireLayer(name).conf().getLayer();
        if (!plainConvolution(l1)) {
            return l1.getClass().getSimpleName() + " is not a plain ConvolutionLayer";
        }
        ConvolutionLayer conv1 = (ConvolutionLayer) l1;
        String act1 = homogeneous(conv1.getActivationFn());
        if (act1 == null) {
            return "activation " + conv1.getActivationFn() + " is not ReLU or identity (not scale-equivariant)";
        }
        if (net.outputNames().contains(name)) {
            return "network output";
        }
        List<String> next = net.consumersOf(name);
        if (next.size() != 1) {
            return "output read by " + next.size() + " consumers " + next + " (a branch)";
        }
        String second = next.get(0);
        String activationLayer = null;
        boolean relu = "relu".equals(act1);
        Layer l2 = layerConf(net, second);
        if (l2 instanceof ActivationLayer a) {
            String act = homogeneous(a.getActivationFn());
            if (act == null) {
                return "activation layer '" + second + "' is " + a.getActivationFn()
                        + ", not ReLU or identity (not scale-equivariant)";
            }
            if (net.preProcessor(second) != null) {
                return "activation layer '" + second + "' has an input preprocessor";
            }
            if (net.outputNames().contains(second)) {
                return "activation layer '" + second + "' is a network output";
            }
            List<String> after = net.consumersOf(second);
            if (after.size() != 1) {
                return "activation layer '" + second + "' is read by " + after.size() + " consumers " + after
                        + " (a branch)";
            }
            relu |= "relu".equals(act);
            activationLayer = second;
            second = after.get(0);
            l2 = layerConf(net, second);
        }
        if (!plainConvolution(l2)) {
            return "consumer '" + second + "' is " + describe(net, second, l2) + ", not a plain ConvolutionLayer";
        }
        ConvolutionLayer conv2 = (ConvolutionLayer) l2;
        if (net.preProcessor(second) != null) {
            return "consumer '" + second + "' has an input preprocessor";
        }
        if (net.inputsOf(second).size() != 1) {
            return "consumer '" + second + "' has " + net.inputsOf(second).size() + " inputs";
        }
        if (conv2.getNIn() != conv1.getNOut()) {
            return "channel counts differ: " + name + " nOut " + conv1.getNOut() + ", " + second + " nIn "
                    + conv2.getNIn();
        }
        if (format(conv1) != format(conv2)) {
            return "data formats differ: " + format(conv1) + " vs " + format(conv2) + " at " + second;
        }
        long[] w1 = net.requireLayer(name).getParam(ConvolutionParamInitializer.WEIGHT_KEY).shape();
        long[] w2 = net.requireLayer(second).getParam(ConvolutionParamInitializer.WEIGHT_KEY).shape();
        // DL4J 1.0.0-M2.1 keeps [nOut, nIn, kH, kW] in both data formats; anything else is not what this assumes.
        if (w1.length != 4 || w2.length != 4 || w1[0] != conv1.getNOut() || w2[1] != conv1.getNOut()) {
            return "unexpected kernel shapes " + Arrays.toString(w1) + " -> " + Arrays.toString(w2);
        }
        return new Candidate(name, activationLayer, second, relu);
    }

    private static boolean plainConvolution(Layer l) {
        return l != null && l.getClass() == ConvolutionLayer.class && !(l instanceof DSConvLayer);
    }

    /** "relu" for a plain ReLU, "identity" for the identity (or none), else null. */
    private static String homogeneous(IActivation a) {
        if (a == null || a instanceof ActivationIdentity) {
            return "identity";
        }
        if (a instanceof ActivationReLU r && r.getMax() == null && r.getThreshold() == null
                && r.getNegativeSlope() == null) {
            return "relu";
        }
        return null;
    }

    private static CNN2DFormat format(ConvolutionLayer c) {
        return c.getCnn2dDataFormat() == null ? CNN2DFormat.NCHW : c.getCnn2dDataFormat();
    }

    /** The layer configuration of {@code name}, or null for a graph vertex without a layer. */
    private static Layer layerConf(Network net, String name) {
        org.deeplearning4j.nn.api.Layer l = net.layer(name);
        return l == null ? null : l.conf().getLayer();
    }

    private static String describe(Network net, String name, Layer l) {
        if (l != null) {
            return l.getClass().getSimpleName();
        }
        if (net.isGraph() && net.graph().getConfiguration().getVertices().get(name) != null) {
            return net.graph().getConfiguration().getVertices().get(name).getClass().getSimpleName();
        }
        return "not a layer";
    }

    /** An eligible pair before scaling. */
    private record Candidate(String first, String activationLayer, String second, boolean relu) {
    }

    /** A folded BN's gamma and beta, in double. */
    private record BnStats(double[] gamma, double[] beta) {
        static BnStats of(org.deeplearning4j.nn.api.Layer bn) {
            BatchNormalization c = (BatchNormalization) bn.conf().getLayer();
            int n = (int) c.getNOut();
            if (c.isLockGammaBeta()) {
                double[] g = new double[n];
                double[] b = new double[n];
                Arrays.fill(g, c.getGamma());
                Arrays.fill(b, c.getBeta());
                return new BnStats(g, b);
            }
            return new BnStats(bn.getParam(BatchNormalizationParamInitializer.GAMMA).castTo(DataType.DOUBLE)
                    .dup().data().asDouble(),
                    bn.getParam(BatchNormalizationParamInitializer.BETA).castTo(DataType.DOUBLE).dup().data()
                            .asDouble());
        }
    }

    /**
     * A convolution's kernel {@code [nOut, nIn, kH, kW]} and bias in double, written back to the layer's
     * parameters (views of the new network's flat vector) by {@link #store}.
     */
    private static final class Kernel {
        final INDArray weightParam;
        final INDArray biasParam;
        final long[] shape;
        final int nOut;
        final int nIn;
        final int taps;
        final double[] w;
        final double[] b;

        Kernel(org.deeplearning4j.nn.api.Layer layer) {
            weightParam = layer.getParam(ConvolutionParamInitializer.WEIGHT_KEY);
            biasParam = layer.paramTable().get(ConvolutionParamInitializer.BIAS_KEY);
            shape = weightParam.shape();
            nOut = (int) shape[0];
            nIn = (int) shape[1];
            taps = (int) (shape[2] * shape[3]);
            w = weightParam.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            b = biasParam == null ? null : biasParam.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        }

        /** {@code max |W[o, :, :, :]|}. */
        double outRange(int o) {
            double m = 0;
            for (int j = o * nIn * taps, end = j + nIn * taps; j < end; j++) {
                m = Math.max(m, Math.abs(w[j]));
            }
            return m;
        }

        /** {@code max |W[:, c, :, :]|}. */
        double inRange(int c) {
            double m = 0;
            for (int o = 0; o < nOut; o++) {
                for (int j = (o * nIn + c) * taps, end = j + taps; j < end; j++) {
                    m = Math.max(m, Math.abs(w[j]));
                }
            }
            return m;
        }

        /** Output channel {@code o} (weights and bias) times {@code f}. */
        void scaleOut(int o, double f) {
            for (int j = o * nIn * taps, end = j + nIn * taps; j < end; j++) {
                w[j] *= f;
            }
            if (b != null) {
                b[o] *= f;
            }
        }

        /** Input channel {@code c} times {@code f}. */
        void scaleIn(int c, double f) {
            for (int o = 0; o < nOut; o++) {
                for (int j = (o * nIn + c) * taps, end = j + taps; j < end; j++) {
                    w[j] *= f;
                }
            }
        }

        /** {@code sum_{ky,kx} W[o, c, ky, kx]}. */
        double tapSum(int o, int c) {
            double sum = 0;
            for (int j = (o * nIn + c) * taps, end = j + taps; j < end; j++) {
                sum += w[j];
            }
            return sum;
        }

        void store() {
            weightParam.assign(Nd4j.create(w, shape, 'c').castTo(weightParam.dataType()));
            if (b != null) {
                biasParam.assign(Nd4j.create(b, biasParam.shape(), 'c').castTo(biasParam.dataType()));
            }
        }
    }
}
