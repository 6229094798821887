package io.github.dsconv.engine;

import io.github.dsconv.layers.DSConvLayer;
import org.deeplearning4j.nn.conf.CNN2DFormat;

/**
 * The geometry of one DSConv layer as the integer engine lays it out: channels, kernel, and the block layout of
 * the BFP mantissas ({@code cp} bytes per input position) and of the block products ({@code g} per output
 * position, in {@code (ky, kx, blk)} order).
 *
 * @param nIn     input channels
 * @param nOut    output channels
 * @param kh      kernel height
 * @param kw      kernel width
 * @param bs      the block size {@code B}
 * @param nb      blocks per input position
 * @param kb      bytes a block takes in the products: {@code B}, except for a layer whose channels fit in a single
 *                block narrower than {@code B} (a stem conv on 1-3 channels), where it is {@code nIn} rounded up to
 *                4: padding 3 channels to 32 made ResNet50's stem ten times the products it needs
 * @param cp      mantissa bytes per input position, {@code nb * kb}
 * @param g       block products per output position, {@code kh * kw * nb}
 * @param nhwc    true for NHWC activations, false for NCHW
 * @param actBits the bits of the BFP input
 */
record KernelShape(int nIn, int nOut, int kh, int kw, int bs, int nb, int kb, int cp, int g, boolean nhwc,
                   int actBits) {

    /** The shape of layer {@code lc}. */
    static KernelShape of(DSConvLayer lc) {
        int nIn = Math.toIntExact(lc.getNIn());
        int kh = lc.getKernelSize()[0];
        int kw = lc.getKernelSize()[1];
        int bs = lc.getBlockSize();
        int nb = lc.nBlocks();
        int kb = nb == 1 ? Math.min(bs, (nIn + 3) / 4 * 4) : bs;
        return new KernelShape(nIn, Math.toIntExact(lc.getNOut()), kh, kw, bs, nb, kb, nb * kb, kh * kw * nb,
                lc.getCnn2dDataFormat() == CNN2DFormat.NHWC, lc.getActBits());
    }

    /** Index of channel {@code c} at input position {@code pos} of image {@code img} in the layer's format. */
    int index(int img, int c, int pos, int spatial) {
        return nhwc ? (img * spatial + pos) * nIn + c : (img * nIn + c) * spatial + pos;
    }
}
