package io.github.dsconv.calibrate;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where each tap of a DSConv layer's kernel reads its input, for an input of a given shape: the layer's own output
 * size and top-left padding rule ({@link DSConvRuntime#outputSize}, {@link DSConvRuntime#padding}, DL4J's), so
 * that calibrations that walk the input by hand see exactly the pixels the convolution does.
 *
 * @param nhwc     channels-last input
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
 * @param dilY     vertical dilation
 * @param dilX     horizontal dilation
 */
record ConvGeometry(boolean nhwc, int channels, int height, int width, int outH, int outW, int padTop, int padLeft,
                    int kh, int kw, int strideY, int strideX, int dilY, int dilX) {

    /** The geometry of layer {@code rt} on an input of shape {@code inShape} (rank 4, the layer's format). */
    static ConvGeometry of(DSConvRuntime rt, long[] inShape) {
        DSConvLayer lc = rt.layerConf();
        boolean nhwc = lc.getCnn2dDataFormat() == CNN2DFormat.NHWC;
        int c = Math.toIntExact(nhwc ? inShape[3] : inShape[1]);
        int h = Math.toIntExact(nhwc ? inShape[1] : inShape[2]);
        int w = Math.toIntExact(nhwc ? inShape[2] : inShape[3]);
        INDArray probe = Nd4j.zeros(DataType.FLOAT, nhwc ? new long[] {1, h, w, c} : new long[] {1, c, h, w});
        int[] out = rt.outputSize(probe);
        int[] pad = rt.padding(probe, out[0], out[1]);
        return new ConvGeometry(nhwc, c, h, w, out[0], out[1], pad[0], pad[1], lc.getKernelSize()[0],
                lc.getKernelSize()[1], lc.getStride()[0], lc.getStride()[1], lc.getDilation()[0],
                lc.getDilation()[1]);
    }

    /** Input row read by tap row {@code ky} at output row {@code oy} (outside {@code [0, height)} is padding). */
    int inputY(int oy, int ky) {
        return oy * strideY + ky * dilY - padTop;
    }

    /** Input column read by tap column {@code kx} at output column {@code ox}. */
    int inputX(int ox, int kx) {
        return ox * strideX + kx * dilX - padLeft;
    }

    /** Flat c-order index of {@code (img, channel, y, x)} in an input of this shape and format. */
    int index(int img, int channel, int y, int x) {
        return nhwc ? ((img * height + y) * width + x) * channels + channel
                : ((img * channels + channel) * height + y) * width + x;
    }

    /** Output positions per image. */
    int outPositions() {
        return outH * outW;
    }
}
