package io.github.dsconv.layers;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where each tap of a 2D convolution reads its input, for an input of a given shape: the one place that applies
 * DL4J's output size and padding rule ({@code ConvolutionUtils.getOutputSize}, with its validation, and in
 * {@link ConvolutionMode#Same} mode {@code getSameModeTopLeftPadding}: the configured padding is ignored and any odd
 * padding goes to the bottom and right). The float simulation ({@link DSConvRuntime}), the integer engine and its
 * oneDNN convolutions and the calibrations that walk the input by hand all take their geometry from here, so they
 * see exactly the pixels DL4J's own convolution does.
 *
 * @param nhwc     channels-last input
 * @param batch    images in the input
 * @param channels input channels
 * @param height   input height
 * @param width    input width
 * @param outH     output height
 * @param outW     output width
 * @param padTop   padding above the input
 * @param padLeft  padding left of the input
 * @param kh       kernel height
 * @param kw       kernel width
 * @param strideY  vertical stride
 * @param strideX  horizontal stride
 * @param dilY     vertical dilation (1 = dense, DL4J's convention)
 * @param dilX     horizontal dilation
 */
public record ConvGeometry(boolean nhwc, int batch, int channels, int height, int width, int outH, int outW,
                           int padTop, int padLeft, int kh, int kw, int strideY, int strideX, int dilY, int dilX) {

    /** The geometry of convolution layer {@code conf} (a DSConv layer or DL4J's own) on {@code input}. */
    public static ConvGeometry of(ConvolutionLayer conf, INDArray input) {
        return of(conf.getKernelSize(), conf.getStride(), conf.getPadding(), conf.getDilation(),
                conf.getConvolutionMode(), conf.getCnn2dDataFormat(), input);
    }

    /**
     * The geometry of convolution layer {@code conf} on an input of shape {@code inShape} (rank 4, the layer's
     * format), for callers that hold only the shape.
     */
    public static ConvGeometry of(ConvolutionLayer conf, long[] inShape) {
        return of(conf.getKernelSize(), conf.getStride(), conf.getPadding(), conf.getDilation(),
                conf.getConvolutionMode(), conf.getCnn2dDataFormat(), inShape);
    }

    /**
     * As {@link #of(int[], int[], int[], int[], ConvolutionMode, CNN2DFormat, INDArray)} on an input of shape
     * {@code inShape} (rank 4, in {@code format}): for a pooling window as well as a convolution.
     */
    public static ConvGeometry of(int[] kernel, int[] stride, int[] padding, int[] dilation, ConvolutionMode mode,
                                  CNN2DFormat format, long[] inShape) {
        boolean nhwc = format == CNN2DFormat.NHWC;
        // DL4J's rule reads only the spatial sizes of its input array: a one-channel probe is enough.
        long h = nhwc ? inShape[1] : inShape[2];
        long w = nhwc ? inShape[2] : inShape[3];
        INDArray probe = Nd4j.zeros(DataType.FLOAT, nhwc ? new long[] {1, h, w, 1} : new long[] {1, 1, h, w});
        ConvGeometry g = of(kernel, stride, padding, dilation, mode, format, probe);
        return new ConvGeometry(g.nhwc, Math.toIntExact(inShape[0]), Math.toIntExact(nhwc ? inShape[3] : inShape[1]),
                g.height, g.width, g.outH, g.outW, g.padTop, g.padLeft, g.kh, g.kw, g.strideY, g.strideX, g.dilY,
                g.dilX);
    }

    /**
     * The geometry of a convolution given by its parts (as DL4J passes them to a {@code ConvolutionHelper}) on
     * {@code input}; {@code padding} is ignored in {@code Same} mode. A null format means NCHW.
     *
     * @throws org.deeplearning4j.exception.DL4JInvalidInputException  if the kernel does not fit the input
     * @throws org.deeplearning4j.exception.DL4JInvalidConfigException in {@code Strict} mode when the stride does
     *                                                                  not divide the input evenly
     */
    public static ConvGeometry of(int[] kernel, int[] stride, int[] padding, int[] dilation, ConvolutionMode mode,
                                  CNN2DFormat format, INDArray input) {
        boolean nhwc = format == CNN2DFormat.NHWC;
        boolean same = mode == ConvolutionMode.Same;
        int n = Math.toIntExact(input.size(0));
        int c = Math.toIntExact(input.size(nhwc ? 3 : 1));
        int h = Math.toIntExact(input.size(nhwc ? 1 : 2));
        int w = Math.toIntExact(input.size(nhwc ? 2 : 3));
        int[] out = ConvolutionUtils.getOutputSize(input, kernel, stride, same ? null : padding, mode, dilation,
                nhwc ? CNN2DFormat.NHWC : CNN2DFormat.NCHW);
        int[] pad = same ? ConvolutionUtils.getSameModeTopLeftPadding(out, new int[] {h, w}, kernel, stride, dilation)
                : padding;
        return new ConvGeometry(nhwc, n, c, h, w, out[0], out[1], pad[0], pad[1], kernel[0], kernel[1], stride[0],
                stride[1], dilation[0], dilation[1]);
    }

    /** Input row read by tap row {@code ky} at output row {@code oy} (outside {@code [0, height)} is padding). */
    public int inputY(int oy, int ky) {
        return oy * strideY + ky * dilY - padTop;
    }

    /** Input column read by tap column {@code kx} at output column {@code ox}. */
    public int inputX(int ox, int kx) {
        return ox * strideX + kx * dilX - padLeft;
    }

    /**
     * Padding below the input: whatever the output size needs, {@code (outH - 1) * strideY + (kh - 1) * dilY + 1
     * - height - padTop} (DL4J's Same mode may pad one more at the bottom than at the top; in {@code Truncate} mode
     * it may be negative: rows the convolution never reads).
     */
    public int padBottom() {
        return Math.toIntExact((long) (outH - 1) * strideY + (long) (kh - 1) * dilY + 1 - height - padTop);
    }

    /** Padding right of the input, as {@link #padBottom()}. */
    public int padRight() {
        return Math.toIntExact((long) (outW - 1) * strideX + (long) (kw - 1) * dilX + 1 - width - padLeft);
    }

    /** Flat c-order index of {@code (img, channel, y, x)} in an input of this shape and format. */
    public int index(int img, int channel, int y, int x) {
        return nhwc ? ((img * height + y) * width + x) * channels + channel
                : ((img * channels + channel) * height + y) * width + x;
    }

    /** Output positions per image. */
    public int outPositions() {
        return outH * outW;
    }

    /** Input positions per image. */
    public int inPositions() {
        return height * width;
    }
}
