package io.github.dsconv.convert;

import java.util.List;

/**
 * What a conversion did: one {@link LayerReport} per converted convolution, and the convolutions left in FP32
 * with the reason.
 *
 * @param method       weight quantizer name ({@code dsconv}, {@code rtn-per-channel}, ...)
 * @param converted    converted convolutions, in network order
 * @param skipped      convolutions left in FP32 (skipped by the plan or of an unsupported type)
 * @param seconds      wall time of the conversion
 */
public record ConversionReport(String method, List<LayerReport> converted, List<SkippedLayer> skipped,
                               double seconds) {

    /**
     * A convolution left alone.
     *
     * @param name      layer name
     * @param type      layer configuration class simple name
     * @param reason    why
     * @param fp32Bytes its kernel bytes (counted in the totals unchanged)
     */
    public record SkippedLayer(String name, String type, String reason, long fp32Bytes) {
    }

    public ConversionReport {
        converted = List.copyOf(converted);
        skipped = List.copyOf(skipped);
    }

    /** FP32 bytes of every convolution kernel of the network. */
    public long fp32WeightBytes() {
        return converted.stream().mapToLong(LayerReport::fp32Bytes).sum()
                + skipped.stream().mapToLong(SkippedLayer::fp32Bytes).sum();
    }

    /** Kernel bytes after conversion: DSConv layers as stored, skipped convolutions in FP32. */
    public long convertedWeightBytes() {
        return converted.stream().mapToLong(LayerReport::dsconvBytes).sum()
                + skipped.stream().mapToLong(SkippedLayer::fp32Bytes).sum();
    }

    /** A fixed-width text table, one row a layer. */
    public String toTable() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(java.util.Locale.ROOT, "%-16s %-16s %4s %4s %5s %9s %11s %11s%n", "layer", "shape",
                "W", "A", "B", "SQNR dB", "FP32 bytes", "DSConv B"));
        for (LayerReport r : converted) {
            long[] s = r.shape();
            sb.append(String.format(java.util.Locale.ROOT, "%-16s %-16s %4d %4d %5d %9.2f %11d %11d%n", r.name(),
                    s[0] + "x" + s[1] + "x" + s[2] + "x" + s[3], r.weightBits(), r.actBits(), r.blockSize(),
                    r.sqnrDb(), r.fp32Bytes(), r.dsconvBytes()));
        }
        for (SkippedLayer k : skipped) {
            sb.append(String.format(java.util.Locale.ROOT, "%-16s skipped (%s): %s%n", k.name(), k.type(), k.reason()));
        }
        sb.append(String.format(java.util.Locale.ROOT, "total conv weights: %d -> %d bytes (%.2fx smaller)%n",
                fp32WeightBytes(), convertedWeightBytes(), (double) fp32WeightBytes() / convertedWeightBytes()));
        return sb.toString();
    }
}
