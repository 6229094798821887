package io.github.dsconv.layers;

import io.github.dsconv.quant.BlockFloatingPoint;
import io.github.dsconv.quant.BlockLayout;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.ScalePrecision;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.util.ValidationUtils;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.regularization.Regularization;

import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * DSConv: a quantized 2-D convolution usable wherever DL4J's {@link ConvolutionLayer} is.
 *
 * <p>Nascimento, Fawcett and Prisacariu, "DSConv: Efficient Convolution Operator", ICCV 2019. The kernel is an
 * integer tensor {@code q} (VQK, {@code weightBits} signed bits) times a float scale {@code alpha} per block of
 * {@code blockSize} input channels at each kernel position (KDS), optionally plus a per-block shift {@code beta}
 * (KDS bias) and a per-output-channel scale and shift (CDS):
 * <pre>
 *   W[o,c,y,x] = gamma[o] * (alpha[o,blk(c),y,x] * q[o,c,y,x] + beta[o,blk(c),y,x]) + delta[o]
 * </pre>
 * Inputs are quantized to block floating point with {@code actBits} total bits (spec section 2), with a
 * straight-through gradient. {@code q} is a parameter so that it is saved with the model, but it never receives a
 * gradient: training (e.g. distillation) changes only the float scales and the bias.
 *
 * <p>Parameters (c order): {@code q [nOut,nIn,kH,kW]}, {@code alpha [nOut,nBlocks,kH,kW]}, {@code beta} (same, if
 * {@code kdsBias}), {@code gamma [nOut]} and {@code delta [nOut]} (if {@code cds}), {@code b [nOut]} (if
 * {@code hasBias}). All options of {@link ConvolutionLayer} are inherited (kernel, stride, padding, dilation,
 * {@link ConvolutionMode} including {@code Same}, activation, bias, NCHW and NHWC).
 *
 * <p>Only the float scales are regularized-free: no L1/L2 applies to {@code q}, {@code alpha}, {@code beta} or
 * CDS; the bias takes the configured bias regularization.
 *
 * <p>{@link #getFrozenParams() Frozen parameters} (e.g. the groups a distillation run does not train) get a zero
 * gradient and no regularization, exactly like {@code q}, so every DL4J updater leaves them bit-identical.
 */
public class DSConvLayer extends ConvolutionLayer {

    /** Default weight bits. */
    public static final int DEFAULT_WEIGHT_BITS = 4;
    /** Default block size along input channels. */
    public static final int DEFAULT_BLOCK_SIZE = 32;
    /** Default activation bits (A8 block floating point). */
    public static final int DEFAULT_ACT_BITS = 8;

    /** Parameter keys that {@link #setFrozenParams(Set)} accepts. */
    private static final Set<String> FREEZABLE = new TreeSet<>(List.of(DSConvParamInitializer.Q_KEY,
            DSConvParamInitializer.ALPHA_KEY, DSConvParamInitializer.BETA_KEY, DSConvParamInitializer.GAMMA_KEY,
            DSConvParamInitializer.DELTA_KEY, DSConvParamInitializer.BIAS_KEY));

    private int weightBits = DEFAULT_WEIGHT_BITS;
    private int blockSize = DEFAULT_BLOCK_SIZE;
    private int actBits = DEFAULT_ACT_BITS;
    private boolean quantizeInput = true;
    private boolean unsignedActivations = false;
    private boolean kdsBias = false;
    private boolean cds = false;
    private ScalePrecision scalePrecision = ScalePrecision.FP16;
    private SortedSet<String> frozenParams = Collections.emptySortedSet();

    /** For JSON deserialization. */
    public DSConvLayer() {
    }

    protected DSConvLayer(Builder builder) {
        super(builder);
        this.cnn2dDataFormat = builder.dataFormat;
        this.weightBits = builder.weightBits;
        this.blockSize = builder.blockSize;
        this.actBits = builder.actBits;
        this.quantizeInput = builder.quantizeInput;
        this.unsignedActivations = builder.unsignedActivations;
        this.kdsBias = builder.kdsBias;
        this.cds = builder.cds;
        this.scalePrecision = builder.scalePrecision;
        setFrozenParams(builder.frozenParams);
        validate(getLayerName(), weightBits, blockSize, actBits);
    }

    /** Checks the DSConv options; messages name the layer. */
    static void validate(String layerName, int weightBits, int blockSize, int actBits) {
        String who = "DSConvLayer '" + (layerName == null ? "(unnamed)" : layerName) + "'";
        try {
            KernelQuantizer.requireBits(weightBits);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(who + ": " + e.getMessage());
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException(who + ": block size must be positive, got " + blockSize);
        }
        if (actBits != 0) {
            try {
                BlockFloatingPoint.mantissaBits(actBits);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(who + ": " + e.getMessage());
            }
        }
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        LayerValidation.assertNInNOutSet("DSConvLayer", getLayerName(), layerIndex, getNIn(), getNOut());
        validate(getLayerName(), weightBits, blockSize, actBits);
        if (convolutionMode == ConvolutionMode.Causal) {
            throw new IllegalArgumentException("DSConvLayer '" + getLayerName() + "': ConvolutionMode.Causal is for 1D"
                    + " convolutions and is not supported");
        }
        DSConvRuntime ret = new DSConvRuntime(conf, networkDataType);
        ret.setListeners(trainingListeners);
        ret.setIndex(layerIndex);
        ret.setParamsViewArray(layerParamsView);
        Map<String, INDArray> paramTable = initializer().init(conf, layerParamsView, initializeParams);
        ret.setParamTable(paramTable);
        ret.setConf(conf);
        return ret;
    }

    @Override
    public ParamInitializer initializer() {
        return DSConvParamInitializer.getInstance();
    }

    @Override
    public List<Regularization> getRegularizationByParam(String paramName) {
        if (DSConvParamInitializer.BIAS_KEY.equals(paramName) && !isFrozen(paramName)) {
            return regularizationBias;
        }
        return Collections.emptyList();
    }

    @Override
    public DSConvLayer clone() {
        return (DSConvLayer) super.clone();
    }

    /** Number of alpha blocks along the input channels, {@code ceil(nIn / blockSize)}. */
    public int nBlocks() {
        return new BlockLayout(Math.toIntExact(nIn), blockSize).nBlocks();
    }

    /** Weight bits of {@code q} (2 to 8). Defaults to 4. */
    public int getWeightBits() {
        return weightBits;
    }

    public void setWeightBits(int weightBits) {
        this.weightBits = weightBits;
    }

    /** Input channels per block of alpha (and per BFP activation block). Defaults to 32. */
    public int getBlockSize() {
        return blockSize;
    }

    public void setBlockSize(int blockSize) {
        this.blockSize = blockSize;
    }

    /** Total BFP activation bits including the sign, 0 for float inputs. Defaults to 8. */
    public int getActBits() {
        return actBits;
    }

    public void setActBits(int actBits) {
        this.actBits = actBits;
    }

    /** Whether this layer's input is quantized to BFP (when {@code actBits > 0}). Defaults to true. */
    public boolean isQuantizeInput() {
        return quantizeInput;
    }

    public void setQuantizeInput(boolean quantizeInput) {
        this.quantizeInput = quantizeInput;
    }

    /**
     * Whether BFP blocks of non-negative inputs are unsigned (one more mantissa bit; see
     * {@link BlockFloatingPoint#quantizeInPlace(double[], int, int, int, boolean, int, int, boolean)}). Defaults to
     * false (the reference: always signed).
     */
    public boolean isUnsignedActivations() {
        return unsignedActivations;
    }

    public void setUnsignedActivations(boolean unsignedActivations) {
        this.unsignedActivations = unsignedActivations;
    }

    /** Whether the per-block KDS shift {@code beta} is present. Defaults to false. */
    public boolean isKdsBias() {
        return kdsBias;
    }

    public void setKdsBias(boolean kdsBias) {
        this.kdsBias = kdsBias;
    }

    /** Whether the per-output-channel CDS scale and shift are present. Defaults to false. */
    public boolean isCds() {
        return cds;
    }

    public void setCds(boolean cds) {
        this.cds = cds;
    }

    /** Storage precision of alpha, beta and CDS in packed files and byte counts. Defaults to FP16. */
    public ScalePrecision getScalePrecision() {
        return scalePrecision;
    }

    public void setScalePrecision(ScalePrecision scalePrecision) {
        this.scalePrecision = scalePrecision;
    }

    /**
     * Float parameters held fixed in training: they get a zero gradient and no regularization, like {@code q}.
     * Names are parameter keys of {@link DSConvParamInitializer} ({@code alpha}, {@code beta}, {@code gamma},
     * {@code delta}, {@code b}; {@code q} is always frozen whether listed or not). Defaults to none.
     */
    public SortedSet<String> getFrozenParams() {
        return frozenParams;
    }

    /** Sets the frozen float parameters ({@code null} = none); unknown names are rejected. */
    public void setFrozenParams(Set<String> frozenParams) {
        TreeSet<String> s = new TreeSet<>(frozenParams == null ? Set.of() : frozenParams);
        for (String name : s) {
            if (!FREEZABLE.contains(name)) {
                throw new IllegalArgumentException("DSConvLayer '" + (getLayerName() == null ? "(unnamed)"
                        : getLayerName()) + "': unknown parameter '" + name + "' to freeze (expected some of "
                        + FREEZABLE + ")");
            }
        }
        this.frozenParams = Collections.unmodifiableSortedSet(s);
    }

    /** Whether a parameter is held fixed in training: {@code q} always, the others when listed as frozen. */
    public boolean isFrozen(String paramName) {
        return DSConvParamInitializer.Q_KEY.equals(paramName) || frozenParams.contains(paramName);
    }

    /** True when the input is quantized to block floating point. */
    public boolean quantizesActivations() {
        return actBits > 0 && quantizeInput;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof DSConvLayer that) || !super.equals(o)) {
            return false;
        }
        return weightBits == that.weightBits && blockSize == that.blockSize && actBits == that.actBits
                && quantizeInput == that.quantizeInput && unsignedActivations == that.unsignedActivations
                && kdsBias == that.kdsBias && cds == that.cds
                && scalePrecision == that.scalePrecision && frozenParams.equals(that.frozenParams);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), weightBits, blockSize, actBits, quantizeInput, unsignedActivations, kdsBias, cds,
                scalePrecision, frozenParams);
    }

    @Override
    public String toString() {
        return "DSConvLayer(" + getLayerName() + ", nIn=" + nIn + ", nOut=" + nOut + ", kernel="
                + java.util.Arrays.toString(kernelSize) + ", W" + weightBits + "A" + actBits + ", B=" + blockSize
                + (unsignedActivations ? ", unsignedAct" : "")
                + (kdsBias ? ", kdsBias" : "") + (cds ? ", cds" : "")
                + (frozenParams.isEmpty() ? "" : ", frozen=" + frozenParams) + ")";
    }

    /**
     * Copies every {@link ConvolutionLayer} option of {@code conv} into a DSConv builder (name, nIn/nOut, kernel,
     * stride, padding, dilation, mode, bias, activation, format, weight init, updaters, regularization, dropout).
     */
    public static Builder builderFrom(ConvolutionLayer conv) {
        Builder b = new Builder()
                .kernelSize(conv.getKernelSize().clone())
                .stride(conv.getStride().clone())
                .padding(conv.getPadding().clone())
                .dilation(conv.getDilation().clone())
                .hasBias(conv.hasBias())
                .dataFormat(conv.getCnn2dDataFormat() == null ? CNN2DFormat.NCHW : conv.getCnn2dDataFormat())
                .nIn(conv.getNIn())
                .nOut(conv.getNOut())
                .name(conv.getLayerName())
                .activation(conv.getActivationFn());
        b.convolutionMode(conv.getConvolutionMode());
        if (conv.getWeightInitFn() != null) {
            b.weightInit(conv.getWeightInitFn());
        }
        b.setBiasInit(conv.getBiasInit());
        b.setGainInit(conv.getGainInit());
        b.updater(conv.getIUpdater());
        b.biasUpdater(conv.getBiasUpdater());
        b.setRegularization(conv.getRegularization());
        b.setRegularizationBias(conv.getRegularizationBias());
        b.setIDropout(conv.getIDropout());
        b.setGradientNormalization(conv.getGradientNormalization());
        b.setGradientNormalizationThreshold(conv.getGradientNormalizationThreshold());
        return b;
    }

    /** Builder in the style of {@link ConvolutionLayer.Builder}, with the DSConv options added. */
    public static class Builder extends BaseConvBuilder<Builder> {

        private CNN2DFormat dataFormat = CNN2DFormat.NCHW;
        private int weightBits = DEFAULT_WEIGHT_BITS;
        private int blockSize = DEFAULT_BLOCK_SIZE;
        private int actBits = DEFAULT_ACT_BITS;
        private boolean quantizeInput = true;
        private boolean unsignedActivations = false;
        private boolean kdsBias = false;
        private boolean cds = false;
        private ScalePrecision scalePrecision = ScalePrecision.FP16;
        private Set<String> frozenParams = Set.of();

        public Builder(int... kernelSize) {
            super(kernelSize);
        }

        public Builder(int[] kernelSize, int[] stride) {
            super(kernelSize, stride);
        }

        public Builder(int[] kernelSize, int[] stride, int[] padding) {
            super(kernelSize, stride, padding);
        }

        public Builder() {
            super();
        }

        @Override
        protected boolean allowCausal() {
            return false;
        }

        /** Kernel height and width. */
        @Override
        public Builder kernelSize(int... kernelSize) {
            this.kernelSize = ValidationUtils.validate2NonNegative(kernelSize, false, "kernelSize");
            return this;
        }

        /** Stride. Defaults to 1x1. */
        @Override
        public Builder stride(int... stride) {
            this.stride = ValidationUtils.validate2NonNegative(stride, false, "stride");
            return this;
        }

        /** Padding (ignored in {@code Same} mode). Defaults to 0x0. */
        @Override
        public Builder padding(int... padding) {
            this.padding = ValidationUtils.validate2NonNegative(padding, false, "padding");
            return this;
        }

        /** Dilation. Defaults to 1x1. */
        @Override
        public Builder dilation(int... dilation) {
            this.dilation = ValidationUtils.validate2NonNegative(dilation, false, "dilation");
            return this;
        }

        /** NCHW (channels first, default) or NHWC. */
        public Builder dataFormat(CNN2DFormat format) {
            this.dataFormat = Objects.requireNonNull(format, "dataFormat");
            return this;
        }

        /** Bits of the integer kernel {@code q}, 2 to 8. Defaults to 4. */
        public Builder weightBits(int weightBits) {
            this.weightBits = weightBits;
            return this;
        }

        /** Input channels per block. Defaults to 32. */
        public Builder blockSize(int blockSize) {
            this.blockSize = blockSize;
            return this;
        }

        /** Total block floating point bits of the input, sign included (8 = A8); 0 turns BFP off. Defaults to 8. */
        public Builder actBits(int actBits) {
            this.actBits = actBits;
            return this;
        }

        /** Quantize this layer's input (e.g. off for the network's raw image input). Defaults to true. */
        public Builder quantizeInput(boolean quantizeInput) {
            this.quantizeInput = quantizeInput;
            return this;
        }

        /** Unsigned BFP blocks for non-negative inputs (one more mantissa bit). Defaults to false. */
        public Builder unsignedActivations(boolean unsignedActivations) {
            this.unsignedActivations = unsignedActivations;
            return this;
        }

        /** Add the per-block KDS shift {@code beta}. Defaults to false. */
        public Builder kdsBias(boolean kdsBias) {
            this.kdsBias = kdsBias;
            return this;
        }

        /** Add the per-output-channel CDS scale and shift. Defaults to false. */
        public Builder cds(boolean cds) {
            this.cds = cds;
            return this;
        }

        /** Storage precision of the scales. Defaults to FP16 (FP32 for a network's first convolution). */
        public Builder scalePrecision(ScalePrecision scalePrecision) {
            this.scalePrecision = Objects.requireNonNull(scalePrecision, "scalePrecision");
            return this;
        }

        /** Float parameters to hold fixed in training (see {@link DSConvLayer#getFrozenParams()}). Defaults to none. */
        public Builder frozenParams(String... names) {
            this.frozenParams = Set.of(names);
            return this;
        }

        @Override
        @SuppressWarnings("unchecked")
        public DSConvLayer build() {
            return new DSConvLayer(this);
        }
    }
}
