package io.github.dsconv.quant;

import java.util.Objects;

/**
 * A convolution kernel as DSConv stores it: the integer kernel {@code q} (VQK) and the per-block float scales
 * {@code alpha} (KDS) with an optional per-block shift {@code beta}.
 *
 * <p>{@code q} has the kernel's shape {@code [nOut, nIn, kH, kW]} (c order) and values in
 * {@code [-2^(bits-1), 2^(bits-1)-1]}; {@code alpha} and {@code beta} have shape {@code [nOut, nBlocks, kH, kW]}.
 * Baselines that are not blockwise (round-to-nearest) use the same layout with replicated scales and say how
 * many distinct scales they really store in {@code storedScales}.
 *
 * @param shape        kernel shape
 * @param bits         weight bit width of {@code q}
 * @param blockSize    input channels per block of {@code alpha}
 * @param q            integer kernel, one signed value a byte
 * @param alpha        per-block scales, {@code [nOut, nBlocks, kH, kW]}
 * @param beta         per-block shifts (same shape as alpha), or {@code null} when the KDS bias is off
 * @param storedScales how many float scale values a file must hold (alpha plus beta for DSConv)
 */
public record QuantizedKernel(KernelShape shape, int bits, int blockSize, byte[] q, float[] alpha, float[] beta,
                              long storedScales) {

    public QuantizedKernel {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(q, "q");
        Objects.requireNonNull(alpha, "alpha");
        if (bits < 1 || bits > 8) {
            throw new IllegalArgumentException("bits must be in [1, 8], got " + bits);
        }
        if (q.length != shape.numel()) {
            throw new IllegalArgumentException("q has " + q.length + " values, kernel " + shape + " needs " + shape.numel());
        }
        int nScales = shape.nOut() * new BlockLayout(shape.nIn(), blockSize).nBlocks() * shape.spatial();
        if (alpha.length != nScales) {
            throw new IllegalArgumentException("alpha has " + alpha.length + " values, expected " + nScales);
        }
        if (beta != null && beta.length != nScales) {
            throw new IllegalArgumentException("beta has " + beta.length + " values, expected " + nScales);
        }
    }

    /** The block layout of the input channels. */
    public BlockLayout layout() {
        return new BlockLayout(shape.nIn(), blockSize);
    }

    /** Bytes of {@code q} packed at its bit width (exact packing: {@code ceil(numel * bits / 8)}). */
    public long packedQBytes() {
        return ((long) shape.numel() * bits + 7) / 8;
    }

    /** Storage bytes of this kernel: packed {@code q} plus the stored scales at the given precision. */
    public long storageBytes(ScalePrecision precision) {
        return packedQBytes() + storedScales * precision.bytes();
    }

    /** The float kernel this represents: {@code alpha * q + beta}, shape {@code [nOut, nIn, kH, kW]}. */
    public float[] reconstruct() {
        float[] w = new float[q.length];
        BlockLayout layout = layout();
        int nb = layout.nBlocks();
        int sp = shape.spatial();
        for (int o = 0; o < shape.nOut(); o++) {
            for (int c = 0; c < shape.nIn(); c++) {
                int blk = layout.blockOf(c);
                for (int s = 0; s < sp; s++) {
                    int wi = (o * shape.nIn() + c) * sp + s;
                    int ai = (o * nb + blk) * sp + s;
                    float v = alpha[ai] * q[wi];
                    w[wi] = beta == null ? v : v + beta[ai];
                }
            }
        }
        return w;
    }
}
