package io.github.dsconv.layers;

import io.github.dsconv.quant.BlockFloatingPoint;
import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Conv2D;
import org.nd4j.linalg.api.ops.impl.layers.convolution.Conv2DDerivative;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;

import static io.github.dsconv.layers.DSConvParamInitializer.ALPHA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.BETA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.BIAS_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.DELTA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.GAMMA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.Q_KEY;

/**
 * Runtime of {@link DSConvLayer}: block floating point on the input, then a float convolution with the effective
 * kernel {@code gamma * (alpha * q + beta) + delta} through libnd4j's {@code conv2d} / {@code conv2d_bp} ops.
 *
 * <p>Inference ({@code activate(false, ...)}) computes the convolution in double, from the double BFP input and the
 * effective kernel evaluated in double (where {@code alpha * q} is exact), and rounds the result once to the layer's
 * data type: the FP32 rounding of the exact sum, independent of summation order, so that the integer engine (spec
 * section 3), which sums the same terms in another order, reproduces it bit for bit almost always. (In float, the
 * two orders differ by an ulp here and there, and a BFP rounding of the next layer can turn that into a mantissa
 * step.) Training passes run in the layer's data type.
 *
 * <p>The effective kernel is rebuilt for every training pass; for inference it is built once and cached until
 * the parameters are set again or a backward pass runs (after which an updater may change them). Code that
 * edits the parameter arrays in place by other means must call {@link #invalidateCache()}.
 *
 * <p>Backward pass: the BFP quantizer is straight-through, so the input gradient is the convolution's; the kernel
 * gradient {@code dW} is reduced to the float parameters ({@code dalpha = sum_blk gamma dW q},
 * {@code dbeta = sum_blk gamma dW}, {@code dgamma = sum dW (alpha q + beta)}, {@code ddelta = sum dW}) and
 * {@code q} gets a zero gradient, so every DL4J updater leaves it bit-identical; so do the parameters the layer
 * configuration lists as {@link DSConvLayer#getFrozenParams() frozen}.
 */
public class DSConvRuntime extends BaseLayer<DSConvLayer> {

    /** libnd4j weight format 1: {@code [oC, iC, kH, kW]}, DL4J's own layout. */
    private static final int WEIGHT_FORMAT_OIYX = 1;

    private transient INDArray cachedKernel;
    private transient INDArray cachedKernelDouble;
    private transient INDArray blockMatrix;
    /** Builds the inference kernel of the integer engine; null when the float simulation runs. */
    private transient Function<DSConvRuntime, InferenceKernel> kernelFactory;
    private transient InferenceKernel inferenceKernel;

    public DSConvRuntime(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    public Type type() {
        return Type.CONVOLUTIONAL;
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }

    @Override
    public boolean hasBias() {
        return layerConf().hasBias();
    }

    /** Drops the cached effective kernel; call after editing parameter arrays in place. */
    public void invalidateCache() {
        cachedKernel = null;
        cachedKernelDouble = null;
        // An integer kernel holds its own prepared copy of q and the scales; it is rebuilt from the new values.
        inferenceKernel = null;
    }

    /**
     * Routes inference ({@code activate(false, ...)}) through kernels built by {@code factory} from this runtime's
     * current parameters (rebuilt after any parameter change); {@code null} restores the float simulation.
     * Training passes always run the float simulation.
     */
    public void setInferenceKernelFactory(Function<DSConvRuntime, InferenceKernel> factory) {
        this.kernelFactory = factory;
        this.inferenceKernel = null;
    }

    /** The inference kernel in use (built now if needed), or {@code null} when the float simulation runs. */
    public InferenceKernel inferenceKernel() {
        Function<DSConvRuntime, InferenceKernel> f = kernelFactory;
        if (f == null) {
            return null;
        }
        InferenceKernel k = inferenceKernel;
        if (k == null) {
            k = f.apply(this);
            inferenceKernel = k;
        }
        return k;
    }

    @Override
    public void setParam(String key, INDArray val) {
        super.setParam(key, val);
        invalidateCache();
    }

    @Override
    public void setParams(INDArray params) {
        super.setParams(params);
        invalidateCache();
    }

    @Override
    public void setParamsViewArray(INDArray params) {
        super.setParamsViewArray(params);
        invalidateCache();
    }

    @Override
    public void setParamTable(Map<String, INDArray> paramTable) {
        super.setParamTable(paramTable);
        invalidateCache();
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        applyDropOutIfNecessary(training, workspaceMgr);
        InferenceKernel k = training ? null : inferenceKernel();
        if (k != null) {
            validateInput(input);
            return layerConf().getActivationFn().getActivation(k.preOutput(input, workspaceMgr), false);
        }
        if (!training) {
            // Inference accumulates in double and rounds once to the layer's type (see the class doc).
            INDArray x = quantizedInput(DataType.DOUBLE);
            INDArray z;
            try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                INDArray bias = layerConf().hasBias() ? getParam(BIAS_KEY).castTo(DataType.DOUBLE) : null;
                z = convolve(x, inferenceKernelDouble(), bias, null, null);
            }
            z = workspaceMgr.castTo(ArrayType.ACTIVATIONS, dataType, z, false);
            return layerConf().getActivationFn().getActivation(z, false);
        }
        INDArray x = quantizedInput(dataType);
        INDArray z = convolve(x, effectiveKernel(training), workspaceMgr, ArrayType.ACTIVATIONS);
        return layerConf().getActivationFn().getActivation(z, training);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        invalidateCache();
        DSConvLayer lc = layerConf();
        INDArray x = quantizedInput(dataType);
        INDArray w = effectiveKernel(true);
        if (epsilon.dataType() != dataType) {
            epsilon = epsilon.castTo(dataType);
        }
        INDArray z = convolve(x, w, workspaceMgr, ArrayType.BP_WORKING_MEM);
        INDArray delta = lc.getActivationFn().backprop(z, epsilon).getFirst();

        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray gradKernel = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType, w.shape(), 'c');
        INDArray gradBias = lc.hasBias() ? gradientViews.get(BIAS_KEY) : null;
        ConvGeometry geo = geometry(x);
        int[] pad = {geo.padTop(), geo.padLeft()};
        OpContext ctx = Nd4j.getExecutioner().buildContext();
        try {
            ctx.setIArguments(convArgs(pad));
            INDArray[] in = gradBias == null ? new INDArray[] {x, w, delta}
                    : new INDArray[] {x, w, getParam(BIAS_KEY), delta};
            INDArray[] out = gradBias == null ? new INDArray[] {gradInput, gradKernel}
                    : new INDArray[] {gradInput, gradKernel, gradBias};
            for (int i = 0; i < in.length; i++) {
                ctx.setInputArray(i, in[i]);
            }
            for (int i = 0; i < out.length; i++) {
                ctx.setOutputArray(i, out[i]);
            }
            Nd4j.exec(new Conv2DDerivative(), ctx);
        } finally {
            closeQuietly(ctx);
        }

        Gradient g = new DefaultGradient();
        for (Map.Entry<String, INDArray> e : kernelParamGradients(gradKernel).entrySet()) {
            g.setGradientFor(e.getKey(), e.getValue());
        }
        if (gradBias != null) {
            g.setGradientFor(BIAS_KEY, gradBias);
        }
        // Frozen float parameters (DSConvLayer#getFrozenParams, e.g. groups a distillation run does not train) get
        // a zero gradient like q, so that any updater leaves them bit-identical.
        for (Map.Entry<String, INDArray> e : g.gradientForVariable().entrySet()) {
            if (lc.isFrozen(e.getKey())) {
                e.getValue().assign(0);
            }
        }
        INDArray epsOut = backpropDropOutIfPresent(gradInput);
        return new Pair<>(g, epsOut);
    }

    /** Writes the kernel parameters' gradients into their views and returns them in parameter order. */
    private Map<String, INDArray> kernelParamGradients(INDArray gradKernel) {
        DSConvLayer lc = layerConf();
        Map<String, INDArray> out = new java.util.LinkedHashMap<>();
        INDArray q = getParam(Q_KEY);
        long nOut = q.size(0);
        INDArray gInner = gradKernel;
        if (lc.isCds()) {
            INDArray inner = expand(getParam(ALPHA_KEY)).muli(q);
            if (lc.isKdsBias()) {
                inner.addi(expand(getParam(BETA_KEY)));
            }
            INDArray g2 = gradKernel.reshape('c', nOut, -1);
            gradientViews.get(GAMMA_KEY).assign(g2.mul(inner.reshape('c', nOut, -1)).sum(1).reshape(nOut));
            gradientViews.get(DELTA_KEY).assign(g2.sum(1).reshape(nOut));
            gInner = g2.mulColumnVector(getParam(GAMMA_KEY).reshape(nOut, 1)).reshape('c', gradKernel.shape());
        }
        INDArray qGrad = gradientViews.get(Q_KEY).assign(0);
        out.put(Q_KEY, qGrad);
        out.put(ALPHA_KEY, gradientViews.get(ALPHA_KEY).assign(reduce(gInner.mul(q))));
        if (lc.isKdsBias()) {
            out.put(BETA_KEY, gradientViews.get(BETA_KEY).assign(reduce(gInner)));
        }
        if (lc.isCds()) {
            out.put(GAMMA_KEY, gradientViews.get(GAMMA_KEY));
            out.put(DELTA_KEY, gradientViews.get(DELTA_KEY));
        }
        return out;
    }

    /** The network input to this layer, as block floating point when enabled (a new array of type {@code type}). */
    private INDArray quantizedInput(DataType type) {
        DSConvLayer lc = layerConf();
        INDArray x = input.castTo(dataType);
        validateInput(x);
        if (!lc.quantizesActivations()) {
            return x.castTo(type);
        }
        boolean nhwc = lc.getCnn2dDataFormat() == CNN2DFormat.NHWC;
        long[] s = x.shape();
        int n = Math.toIntExact(s[0]);
        int c = Math.toIntExact(nhwc ? s[3] : s[1]);
        int spatial = Math.toIntExact(nhwc ? s[1] * s[2] : s[2] * s[3]);
        double[] v = x.dup('c').data().asDouble();
        BlockFloatingPoint.quantizeInPlace(v, n, c, spatial, nhwc, lc.getBlockSize(), lc.getActBits(),
                lc.isUnsignedActivations());
        return Nd4j.create(v, s, 'c').castTo(type);
    }

    private void validateInput(INDArray x) {
        DSConvLayer lc = layerConf();
        if (x.rank() != 4) {
            throw new DL4JInvalidInputException("DSConvLayer '" + lc.getLayerName() + "': expected rank 4 input "
                    + lc.getCnn2dDataFormat().dimensionNames() + ", got shape " + Arrays.toString(x.shape()));
        }
        int dim = lc.getCnn2dDataFormat() == CNN2DFormat.NHWC ? 3 : 1;
        if (x.size(dim) != lc.getNIn()) {
            throw new DL4JInvalidInputException("DSConvLayer '" + lc.getLayerName() + "': input has " + x.size(dim)
                    + " channels in " + lc.getCnn2dDataFormat() + " shape " + Arrays.toString(x.shape())
                    + ", layer expects nIn=" + lc.getNIn());
        }
    }

    /** Forward convolution into a new array of the given workspace type. */
    private INDArray convolve(INDArray x, INDArray w, LayerWorkspaceMgr mgr, ArrayType type) {
        return convolve(x, w, layerConf().hasBias() ? getParam(BIAS_KEY) : null, mgr, type);
    }

    /**
     * Forward convolution in {@code x}'s data type; into a new array of the given workspace type, or a detached one
     * when {@code mgr} is null.
     */
    private INDArray convolve(INDArray x, INDArray w, INDArray bias, LayerWorkspaceMgr mgr, ArrayType type) {
        DSConvLayer lc = layerConf();
        CNN2DFormat f = lc.getCnn2dDataFormat();
        ConvGeometry g = geometry(x);
        long nOut = lc.getNOut();
        long[] outShape = f == CNN2DFormat.NCHW ? new long[] {x.size(0), nOut, g.outH(), g.outW()}
                : new long[] {x.size(0), g.outH(), g.outW(), nOut};
        INDArray out = mgr == null ? Nd4j.createUninitialized(x.dataType(), outShape, 'c')
                : mgr.createUninitialized(type, x.dataType(), outShape, 'c');
        int[] pad = {g.padTop(), g.padLeft()};
        OpContext ctx = Nd4j.getExecutioner().buildContext();
        try {
            ctx.setIArguments(convArgs(pad));
            ctx.setInputArray(0, x);
            ctx.setInputArray(1, w);
            if (bias != null) {
                ctx.setInputArray(2, bias);
            }
            ctx.setOutputArray(0, out);
            Nd4j.exec(new Conv2D(), ctx);
        } finally {
            closeQuietly(ctx);
        }
        return out;
    }

    /** The convolution's geometry on input {@code x} (rank 4, the layer's format): DL4J's own rule. */
    public ConvGeometry geometry(INDArray x) {
        return ConvGeometry.of(layerConf(), x);
    }

    private long[] convArgs(int[] pad) {
        DSConvLayer lc = layerConf();
        int[] k = lc.getKernelSize();
        int[] s = lc.getStride();
        int[] d = lc.getDilation();
        return new long[] {k[0], k[1], s[0], s[1], pad[0], pad[1], d[0], d[1],
            lc.getConvolutionMode() == ConvolutionMode.Same ? 1 : 0,
            lc.getCnn2dDataFormat() == CNN2DFormat.NCHW ? 0 : 1, WEIGHT_FORMAT_OIYX};
    }

    /**
     * The effective float kernel {@code [nOut, nIn, kH, kW]}. Built outside any workspace; cached for inference.
     */
    public INDArray effectiveKernel(boolean training) {
        INDArray cached = cachedKernel;
        if (!training && cached != null) {
            return cached;
        }
        DSConvLayer lc = layerConf();
        INDArray w;
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            INDArray q = getParam(Q_KEY);
            w = expand(getParam(ALPHA_KEY)).muli(q);
            if (lc.isKdsBias()) {
                w.addi(expand(getParam(BETA_KEY)));
            }
            if (lc.isCds()) {
                long nOut = q.size(0);
                INDArray w2 = w.reshape('c', nOut, -1);
                w2.muliColumnVector(getParam(GAMMA_KEY).reshape(nOut, 1));
                w2.addiColumnVector(getParam(DELTA_KEY).reshape(nOut, 1));
            }
        }
        if (!training) {
            cachedKernel = w;
        }
        return w;
    }

    /**
     * The effective kernel in double, {@code gamma * (alpha * q + beta) + delta} evaluated in double (exact for
     * {@code alpha * q}), cached for inference.
     */
    private INDArray inferenceKernelDouble() {
        INDArray cached = cachedKernelDouble;
        if (cached != null) {
            return cached;
        }
        DSConvLayer lc = layerConf();
        double[] q = getParam(Q_KEY).dup('c').data().asDouble();
        double[] alpha = getParam(ALPHA_KEY).dup('c').data().asDouble();
        double[] beta = lc.isKdsBias() ? getParam(BETA_KEY).dup('c').data().asDouble() : null;
        double[] gamma = lc.isCds() ? getParam(GAMMA_KEY).dup('c').data().asDouble() : null;
        double[] delta = lc.isCds() ? getParam(DELTA_KEY).dup('c').data().asDouble() : null;
        long[] shape = getParam(Q_KEY).shape();
        int nOut = (int) shape[0];
        int nIn = (int) shape[1];
        int kk = (int) (shape[2] * shape[3]);
        int nb = lc.nBlocks();
        double[] w = new double[q.length];
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                int blk = c / lc.getBlockSize();
                for (int k = 0; k < kk; k++) {
                    int i = (o * nIn + c) * kk + k;
                    int j = (o * nb + blk) * kk + k;
                    double v = alpha[j] * q[i] + (beta == null ? 0 : beta[j]);
                    w[i] = gamma == null ? v : gamma[o] * v + delta[o];
                }
            }
        }
        try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
            cached = Nd4j.create(w, shape, 'c');
        }
        cachedKernelDouble = cached;
        return cached;
    }

    /** Block-to-channel one-hot matrix {@code E [nBlocks, nIn]}, {@code E[b,c] = 1} iff channel c is in block b. */
    private INDArray blockMatrix() {
        INDArray e = blockMatrix;
        if (e == null || e.dataType() != dataType) {
            DSConvLayer lc = layerConf();
            int nIn = Math.toIntExact(lc.getNIn());
            int nb = lc.nBlocks();
            try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                e = Nd4j.zeros(dataType, nb, nIn);
                for (int c = 0; c < nIn; c++) {
                    e.putScalar(c / lc.getBlockSize(), c, 1.0);
                }
            }
            blockMatrix = e;
        }
        return e;
    }

    /** Per-block values {@code [nOut, nBlocks, kH, kW]} broadcast to every channel: {@code [nOut, nIn, kH, kW]}. */
    private INDArray expand(INDArray perBlock) {
        long[] s = perBlock.shape();
        long nIn = layerConf().getNIn();
        INDArray rows = perBlock.permute(0, 2, 3, 1).dup('c').reshape('c', s[0] * s[2] * s[3], s[1]);
        return rows.mmul(blockMatrix()).reshape('c', s[0], s[2], s[3], nIn).permute(0, 3, 1, 2).dup('c');
    }

    /** Sums a full-kernel array {@code [nOut, nIn, kH, kW]} over each block: {@code [nOut, nBlocks, kH, kW]}. */
    private INDArray reduce(INDArray full) {
        long[] s = full.shape();
        int nb = layerConf().nBlocks();
        INDArray rows = full.permute(0, 2, 3, 1).dup('c').reshape('c', s[0] * s[2] * s[3], s[1]);
        return rows.mmul(blockMatrix().transpose()).reshape('c', s[0], s[2], s[3], nb).permute(0, 3, 1, 2).dup('c');
    }

    private static void closeQuietly(OpContext ctx) {
        try {
            ctx.close();
        } catch (Exception ignored) {
            // Releasing a native op context cannot fail in a way the caller could act on.
        }
    }

    @Override
    public void clearNoiseWeightParams() {
        // DSConv does not support weight noise.
    }
}
