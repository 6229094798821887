package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;

/**
 * The operands of a tile's block products: for each {@code (g, p)} of a batch of block products the input block's
 * mantissas (the GEMM's rows), its scale and its mantissa sum, and the batch's weight matrices unpacked from their
 * bit-packed form.
 */
final class TileGather {

    private final KernelShape shape;
    /** {@code q} as {@code [g][B][nOut]}, or null on the native kernel's route (which holds its own layout). */
    private final PackedWeights q;
    /**
     * 2 when each block's mantissas enter the GEMM twice against {@code q = q1 + q2} with {@code |q1|, |q2| <= 64}
     * (for oneDNN without VNNI, see {@link IntegerConvKernel}), else 1.
     */
    private final int kRep;

    TileGather(KernelShape shape, PackedWeights q, int kRep) {
        this.shape = shape;
        this.q = q;
        this.kRep = kRep;
    }

    /**
     * Of output positions {@code [p0, p0 + pc)}: the image, and the input row and column under the kernel's
     * top-left tap (outside the input for padding).
     */
    static void positions(int p0, int pc, ConvGeometry geo, int[] pImg, int[] pY, int[] pX) {
        int oh = geo.outH();
        int ow = geo.outW();
        for (int pi = 0; pi < pc; pi++) {
            int p = p0 + pi;
            pImg[pi] = p / (oh * ow);
            pY[pi] = geo.inputY((p / ow) % oh, 0);
            pX[pi] = geo.inputX(p % ow, 0);
        }
    }

    /**
     * Weight matrices {@code [g0, g0 + gc)} as int8 into {@code dst}: {@code [gc][B][nOut]}, or with {@code kRep = 2}
     * {@code [gc][2B][nOut]} with rows {@code floor(q/2)} then {@code q - floor(q/2)}.
     */
    void unpackWeights(int g0, int gc, byte[] dst) {
        if (kRep == 1) {
            q.unpack(g0, gc, dst, 0);
            return;
        }
        int rows = shape.kb() * shape.nOut();
        for (int gi = 0; gi < gc; gi++) {
            int second = (2 * gi + 1) * rows;
            q.unpack(g0 + gi, 1, dst, second);
            for (int i = 0; i < rows; i++) {
                int v = dst[second + i];
                int q1 = Math.floorDiv(v, 2);
                dst[second - rows + i] = (byte) q1;
                dst[second + i] = (byte) (v - q1);
            }
        }
    }

    /** Copies each {@code (g, p)} block of mantissas (zeros outside the input) with its scale and sum. */
    void gather(int g0, int gc, int pc, int[] pImg, int[] pY, int[] pX, ConvGeometry geo, byte[] mant,
                float[] scale, byte[] src, float[] sc, int[] msum) {
        int nb = shape.nb();
        int kw = shape.kw();
        int kb = shape.kb();
        int cp = shape.cp();
        int h = geo.height();
        int wd = geo.width();
        int dh = geo.dilY();
        int dw = geo.dilX();
        for (int gi = 0; gi < gc; gi++) {
            int gg = g0 + gi;
            int blk = gg % nb;
            int kk = gg / nb;
            int ky = kk / kw;
            int kx = kk % kw;
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                int iy = pY[pi] + ky * dh;
                int ix = pX[pi] + kx * dw;
                int dst = row * kb * kRep;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                    java.util.Arrays.fill(src, dst, dst + kb * kRep, (byte) 0);
                    sc[row] = 0f;
                    if (msum != null) {
                        msum[row] = 0;
                    }
                    continue;
                }
                int at = (pImg[pi] * h + iy) * wd + ix;
                System.arraycopy(mant, at * cp + blk * kb, src, dst, kb);
                if (kRep == 2) {
                    System.arraycopy(mant, at * cp + blk * kb, src, dst + kb, kb);
                }
                sc[row] = scale[at * nb + blk];
                if (msum != null) {
                    int sum = 0;
                    for (int c = 0; c < kb; c++) {
                        sum += src[dst + c];
                    }
                    msum[row] = sum;
                }
            }
        }
    }
}
