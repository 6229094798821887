package io.github.dsconv.convert;

/**
 * What conversion did to one convolution.
 *
 * @param name           layer (vertex) name
 * @param shape          kernel shape {@code [nOut, nIn, kH, kW]}
 * @param weightBits     weight bits
 * @param actBits        input activation bits (0 = float input)
 * @param blockSize      block size
 * @param sqnrDb         weight reconstruction SQNR in dB, with the scales at their stored precision
 * @param fp32Bytes      FP32 kernel bytes (4 a weight; the bias is the same either way and not counted)
 * @param dsconvBytes    stored kernel bytes: {@code q} packed at its bit width plus the scales at their precision
 * @param scalePrecision storage precision of the scales (FP16, or FP32 for the first convolution)
 */
public record LayerReport(String name, long[] shape, int weightBits, int actBits, int blockSize, double sqnrDb,
                          long fp32Bytes, long dsconvBytes, String scalePrecision) {
}
