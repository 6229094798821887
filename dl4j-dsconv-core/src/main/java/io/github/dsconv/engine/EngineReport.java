package io.github.dsconv.engine;

import java.util.List;

/**
 * What {@link IntegerEngine#enable} did to a network.
 *
 * @param backend                which backend runs the integer layers
 * @param integerLayers          names of the DSConv layers on the integer engine
 * @param floatLayers            names of the DSConv layers left on the float simulation (e.g. a first convolution
 *                               whose input is not block floating point)
 * @param fp32ConvWeightBytes    4 bytes per kernel weight of every convolution (DSConv or not): the FP32 model's
 * @param integerConvWeightBytes resident kernel bytes on the integer engine: for each integer layer its
 *                               {@link IntegerConvKernel#weightBytes()} ({@code q} bit-packed at the weight bits,
 *                               block-padded, plus alpha, beta, CDS and bias at the fp16/fp32/fp64 precision held),
 *                               the FP32 effective kernel of float-simulated layers and the FP32 kernels of
 *                               unconverted convolutions (per-thread unpacking scratch is not counted)
 */
public record EngineReport(Backend backend, List<String> integerLayers, List<String> floatLayers,
                           long fp32ConvWeightBytes, long integerConvWeightBytes) {

    public EngineReport {
        if (backend == null) {
            throw new IllegalArgumentException("backend is required");
        }
        integerLayers = List.copyOf(integerLayers);
        floatLayers = List.copyOf(floatLayers);
    }
}
