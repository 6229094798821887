package io.github.dsconv.engine;

import io.github.dsconv.quant.BlockFloatingPoint;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import static io.github.dsconv.engine.Tiling.TILE_POSITIONS;
import static io.github.dsconv.engine.Tiling.ceilDiv;

/**
 * A layer's input as block floating point for the integer engine: int8 mantissas {@code [image][position][cp]}
 * (channels padded to the block layout with zeros) and one scale {@code 2^-shift} per block and position, in
 * parallel chunks, in Java or, on the native kernel's route, in C with the same steps.
 */
final class BfpInputQuantizer {

    /** Positions per run of the NCHW quantization's mantissa writes. */
    private static final int QUANTIZE_POSITIONS = 64;

    private final KernelShape shape;
    /** The native kernel's path on its route (the chunks are quantized by {@link NativeKernels#quantize}), else null. */
    private final NativeKernels.Path nativePath;

    BfpInputQuantizer(KernelShape shape, NativeKernels.Path nativePath) {
        this.shape = shape;
        this.nativePath = nativePath;
    }

    /** The values of {@code a} in c order as float, into {@code buf} if it is large enough (else a new array). */
    static float[] hostFloats(INDArray a, float[] buf) {
        int len = Math.toIntExact(a.length());
        float[] out = LayerBuffers.grow(buf, len);
        INDArray c = a.dataType() == DataType.FLOAT && a.ordering() == 'c' && !a.isView()
                && a.data().length() == len ? a : a.castTo(DataType.FLOAT).dup('c');
        c.data().asNioFloat().get(out, 0, len); // one copy for the usual contiguous float activations
        return out;
    }

    /**
     * Quantizes the input {@code x} of {@code n} images of {@code spatial} positions into {@code mant} and
     * {@code scale}, chunk by chunk on the workers (see {@link #quantize}).
     *
     * @return true if no mantissa is negative (after a ReLU none is, and the products can read the mantissas as
     *         uint8)
     */
    boolean quantizeAll(float[] x, int n, int spatial, byte[] mant, float[] scale) {
        int chunks = shape.nhwc() ? n * ceilDiv(spatial, TILE_POSITIONS) : n * shape.nb();
        boolean[] negative = new boolean[chunks];
        Workers.run(chunks, t -> negative[t] = quantize(x, t, spatial, mant, scale));
        boolean unsignedSrc = true;
        for (boolean neg : negative) {
            unsignedSrc &= !neg;
        }
        return unsignedSrc;
    }

    /**
     * Block floating point of the input with {@link BlockFloatingPoint}'s own steps (block exponent, mantissa shift,
     * {@code rint} and {@link BlockFloatingPoint#clampMantissa}; signed blocks only), into int8 mantissas and per-block scales {@code 2^-shift}: the
     * values {@link BlockFloatingPoint#quantizeInPlace} gives are exactly {@code mant * scale}. The product with
     * {@code 2^shift} is a plain multiply here (exact: for float input {@code 2^shift} is a normal double). Chunk
     * {@code t}: one {@code (image, block)} for NCHW, one image's run of
     * {@link Tiling#TILE_POSITIONS} positions for NHWC.
     *
     * @return true if a mantissa of the chunk is negative (after a ReLU none is, and the products can read the
     *         mantissas as uint8)
     */
    private boolean quantize(float[] x, int t, int spatial, byte[] mant, float[] scale) {
        boolean nhwc = shape.nhwc();
        int nIn = shape.nIn();
        int bs = shape.bs();
        int kb = shape.kb();
        int nb = shape.nb();
        int cp = shape.cp();
        int m = BlockFloatingPoint.mantissaBits(shape.actBits());
        if (nativePath != null) {
            // The same steps in C (NativeKernelsTest and the engine tests hold them bit-identical).
            if (!nhwc) {
                return NativeKernels.quantize(nativePath, false, x, mant, scale, t / nb, t % nb, t % nb + 1, spatial, nIn, bs, kb,
                        nb, m);
            }
            int perImage = ceilDiv(spatial, TILE_POSITIONS);
            int pos0 = (t % perImage) * TILE_POSITIONS;
            return NativeKernels.quantize(nativePath, true, x, mant, scale, t / perImage, pos0,
                    Math.min(spatial, pos0 + TILE_POSITIONS), spatial, nIn, bs, kb, nb, m);
        }
        double hi = BlockFloatingPoint.maxMantissa(m, false);
        double lo = -hi;
        boolean negative = false;
        if (!nhwc) {
            int img = t / nb;
            int blk = t % nb;
            int c0 = blk * bs;
            int c1 = c0 + Math.min(bs, nIn - c0);
            // The largest magnitude's bits: float magnitudes order as their bit patterns, so its exponent is the
            // largest exponent of the block's nonzero values (0: an all-zero block).
            int[] amax = new int[spatial];
            for (int c = c0; c < c1; c++) {
                maxAbsBits(x, (img * nIn + c) * spatial, amax, spatial);
            }
            double[] up = new double[spatial];
            for (int pos = 0; pos < spatial; pos++) {
                boolean empty = amax[pos] == 0;
                int shift = empty ? 0 : BlockFloatingPoint.mantissaShift(
                        BlockFloatingPoint.exponent(Float.intBitsToFloat(amax[pos])), m, false);
                up[pos] = empty ? 0 : Math.scalb(1.0, shift);
                scale[(img * spatial + pos) * nb + blk] = empty ? 0f : (float) Math.scalb(1.0, -shift);
            }
            // Runs of positions, so that the rows of mantissas written (stride cp) stay in L1 over the block.
            for (int p0 = 0; p0 < spatial; p0 += QUANTIZE_POSITIONS) {
                int p1 = Math.min(spatial, p0 + QUANTIZE_POSITIONS);
                for (int c = c1; c < c0 + kb; c++) {
                    for (int pos = p0; pos < p1; pos++) {
                        mant[(img * spatial + pos) * cp + c] = 0; // channels padding the last block
                    }
                }
                for (int c = c0; c < c1; c++) {
                    int base = (img * nIn + c) * spatial;
                    for (int pos = p0; pos < p1; pos++) {
                        // up = 0 for an all-zero block: mantissa 0.
                        double v = Math.rint(x[base + pos] * up[pos]); // as roundMantissa
                        negative |= v < 0;
                        mant[(img * spatial + pos) * cp + c] = (byte) BlockFloatingPoint.clampMantissa(v, lo, hi);
                    }
                }
            }
            return negative;
        }
        int perImage = ceilDiv(spatial, TILE_POSITIONS);
        int img = t / perImage;
        int pos0 = (t % perImage) * TILE_POSITIONS;
        int pos1 = Math.min(spatial, pos0 + TILE_POSITIONS);
        for (int pos = pos0; pos < pos1; pos++) {
            int row = img * spatial + pos;
            int base = row * nIn;
            for (int blk = 0; blk < nb; blk++) {
                int c0 = blk * bs;
                int c1 = c0 + Math.min(bs, nIn - c0);
                // BlockFloatingPoint.blockExponent's rule, inline: the call measured 20% slower here (JDK 17).
                int e = BlockFloatingPoint.EMPTY;
                for (int c = c0; c < c1; c++) {
                    float v = x[base + c];
                    if (v != 0) {
                        e = Math.max(e, BlockFloatingPoint.exponent(v));
                    }
                }
                if (e == BlockFloatingPoint.EMPTY) {
                    java.util.Arrays.fill(mant, row * cp + c0, row * cp + c0 + kb, (byte) 0); // all-zero block
                    scale[row * nb + blk] = 0f;
                    continue;
                }
                int shift = BlockFloatingPoint.mantissaShift(e, m, false);
                double up = Math.scalb(1.0, shift);
                for (int c = c0; c < c1; c++) {
                    double v = Math.rint(x[base + c] * up); // as roundMantissa
                    negative |= v < 0;
                    mant[row * cp + c] = (byte) BlockFloatingPoint.clampMantissa(v, lo, hi);
                }
                java.util.Arrays.fill(mant, row * cp + c1, row * cp + c0 + kb, (byte) 0); // padding channels
                scale[row * nb + blk] = (float) Math.scalb(1.0, -shift);
            }
        }
        return negative;
    }

    /** {@code amax[i] = max(amax[i], |x[base + i]| as bits)} for {@code i < n}. */
    private static void maxAbsBits(float[] x, int base, int[] amax, int n) {
        for (int i = 0; i < n; i++) {
            amax[i] = Math.max(amax[i], Float.floatToRawIntBits(x[base + i]) & 0x7fffffff);
        }
    }
}
