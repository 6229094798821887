package io.github.dsconv.layers;

import io.github.dsconv.quant.BlockFloatingPoint;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Objects;

/**
 * Rounds a convolution's input to block floating point and leaves its weights alone: the activation half of a
 * DSConv layer ({@link BlockFloatingPoint}, the same rounding as {@link DSConvRuntime}) in front of any layer, e.g.
 * an FP32 {@code ConvolutionLayer} in a sensitivity analysis. Backward is straight-through. An existing preprocessor
 * of the layer ({@code inner}) runs first.
 */
public class BlockFloatingPointPreProcessor implements InputPreProcessor {

    private int actBits;
    private int blockSize;
    private CNN2DFormat format = CNN2DFormat.NCHW;
    private InputPreProcessor inner;

    /** For JSON deserialization. */
    public BlockFloatingPointPreProcessor() {
    }

    /**
     * @param actBits   total BFP bits, sign included, 2 to 16
     * @param blockSize channels per block, positive
     * @param format    where the channels are: NCHW or NHWC
     * @param inner     a preprocessor to run first, or null
     */
    public BlockFloatingPointPreProcessor(int actBits, int blockSize, CNN2DFormat format, InputPreProcessor inner) {
        BlockFloatingPoint.mantissaBits(actBits);
        if (blockSize <= 0) {
            throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        }
        this.actBits = actBits;
        this.blockSize = blockSize;
        this.format = Objects.requireNonNull(format, "format");
        this.inner = inner;
    }

    @Override
    public INDArray preProcess(INDArray input, int miniBatchSize, LayerWorkspaceMgr workspaceMgr) {
        INDArray x = inner == null ? input : inner.preProcess(input, miniBatchSize, workspaceMgr);
        if (x.rank() != 4) {
            throw new IllegalArgumentException("block floating point input: expected a rank 4 " + format
                    + " activation, got shape " + Arrays.toString(x.shape()));
        }
        boolean nhwc = format == CNN2DFormat.NHWC;
        long[] s = x.shape();
        double[] v = x.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        BlockFloatingPoint.quantizeInPlace(v, Math.toIntExact(s[0]), Math.toIntExact(nhwc ? s[3] : s[1]),
                Math.toIntExact(nhwc ? s[1] * s[2] : s[2] * s[3]), nhwc, blockSize, actBits);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), s, 'c');
        return out.assign(Nd4j.create(v, s, 'c').castTo(x.dataType()));
    }

    @Override
    public INDArray backprop(INDArray output, int miniBatchSize, LayerWorkspaceMgr workspaceMgr) {
        return inner == null ? output : inner.backprop(output, miniBatchSize, workspaceMgr);
    }

    @Override
    public BlockFloatingPointPreProcessor clone() {
        return new BlockFloatingPointPreProcessor(actBits, blockSize, format, inner == null ? null : inner.clone());
    }

    @Override
    public InputType getOutputType(InputType inputType) {
        return inner == null ? inputType : inner.getOutputType(inputType);
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArray(INDArray maskArray, MaskState currentMaskState,
                                                          int minibatchSize) {
        return inner == null ? new Pair<>(maskArray, currentMaskState)
                : inner.feedForwardMaskArray(maskArray, currentMaskState, minibatchSize);
    }

    /** Total BFP bits including the sign. */
    public int getActBits() {
        return actBits;
    }

    public void setActBits(int actBits) {
        this.actBits = actBits;
    }

    /** Channels per block. */
    public int getBlockSize() {
        return blockSize;
    }

    public void setBlockSize(int blockSize) {
        this.blockSize = blockSize;
    }

    /** Channel layout of the input. Defaults to NCHW. */
    public CNN2DFormat getFormat() {
        return format;
    }

    public void setFormat(CNN2DFormat format) {
        this.format = format;
    }

    /** The preprocessor that runs first, or null. */
    public InputPreProcessor getInner() {
        return inner;
    }

    public void setInner(InputPreProcessor inner) {
        this.inner = inner;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BlockFloatingPointPreProcessor p && p.actBits == actBits && p.blockSize == blockSize
                && p.format == format && Objects.equals(p.inner, inner);
    }

    @Override
    public int hashCode() {
        return Objects.hash(actBits, blockSize, format, inner);
    }

    @Override
    public String toString() {
        return "BlockFloatingPointPreProcessor(A" + actBits + ", B=" + blockSize + ", " + format
                + (inner == null ? "" : ", then " + inner) + ")";
    }
}
