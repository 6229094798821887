package io.github.dsconv.quant;

/**
 * The baseline a user would otherwise pick: symmetric round-to-nearest weights with one fp32 scale per output
 * channel (or one per tensor), {@code scale = max|w| / (2^(b-1) - 1)},
 * {@code q = clamp(rint(w / scale), -(2^(b-1)-1), 2^(b-1)-1)}.
 *
 * <p>The result uses DSConv's layout for the given block size with the scale replicated over blocks and kernel
 * positions, so the same layer runs it (with the same block floating point activations); {@code storedScales}
 * counts the scales really stored (nOut or 1).
 */
public final class RoundToNearestQuantizer implements KernelQuantizer {

    /** Granularity of the scale. */
    public enum Granularity {
        /** One scale per output channel. */
        PER_CHANNEL("rtn-per-channel"),
        /** One scale for the whole kernel. */
        PER_TENSOR("rtn-per-tensor");

        private final String method;

        Granularity(String method) {
            this.method = method;
        }
    }

    private final Granularity granularity;

    public RoundToNearestQuantizer(Granularity granularity) {
        this.granularity = granularity;
    }

    @Override
    public String method() {
        return granularity.method;
    }

    @Override
    public boolean blockwise() {
        return false;
    }

    /** Symmetric: {@code [-(2^(bits-1) - 1), 2^(bits-1) - 1]}. */
    @Override
    public IntegerRange range(int bits) {
        return IntegerRange.symmetric(bits);
    }

    @Override
    public QuantizedKernel quantize(float[] w, KernelShape shape, int bits, int blockSize) {
        KernelQuantizer.requireBits(bits);
        KernelQuantizer.requireFinite(w, shape, "kernel");
        int qmax = (1 << (bits - 1)) - 1;
        int perOut = shape.nIn() * shape.spatial();
        float[] scales = new float[granularity == Granularity.PER_CHANNEL ? shape.nOut() : 1];
        for (int o = 0; o < shape.nOut(); o++) {
            int si = granularity == Granularity.PER_CHANNEL ? o : 0;
            for (int i = o * perOut; i < (o + 1) * perOut; i++) {
                scales[si] = Math.max(scales[si], Math.abs(w[i]));
            }
        }
        for (int i = 0; i < scales.length; i++) {
            scales[i] = scales[i] / qmax;
        }
        byte[] q = new byte[w.length];
        int perOutScales = new BlockLayout(shape.nIn(), blockSize).nBlocks() * shape.spatial();
        float[] alpha = new float[shape.nOut() * perOutScales];
        for (int o = 0; o < shape.nOut(); o++) {
            float scale = scales[granularity == Granularity.PER_CHANNEL ? o : 0];
            for (int i = o * perOut; i < (o + 1) * perOut; i++) {
                int v = scale == 0f ? 0 : (int) Math.rint(w[i] / scale);
                q[i] = (byte) Math.max(-qmax, Math.min(qmax, v));
            }
            java.util.Arrays.fill(alpha, o * perOutScales, (o + 1) * perOutScales, scale);
        }
        return new QuantizedKernel(shape, bits, blockSize, q, alpha, null, scales.length);
    }
}
