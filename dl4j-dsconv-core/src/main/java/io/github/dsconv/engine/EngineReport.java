package io.github.dsconv.engine;

import java.util.List;

/**
 * What {@link IntegerEngine#enable} did to a network.
 *
 * @param backend                which backend runs the integer layers
 * @param integerLayers          names of the DSConv layers on the integer engine
 * @param floatLayers            names of the DSConv layers not on integer products: left on the float simulation
 *                               (e.g. a first convolution whose input is not block floating point), or an image
 *                               stem run as a direct convolution in double or FP32 (those also in
 *                               {@code doubleLayers} or {@code fp32Layers}; see {@link EngineOptions.Stem})
 * @param doubleLayers           the layers of {@code floatLayers} run as a direct double convolution of their block
 *                               floating point input (the float simulation's arithmetic, in Java); their kernel
 *                               counts 8 bytes a weight in {@code integerConvWeightBytes}
 * @param fp32Layers             the layers of {@code floatLayers} run as an FP32 oneDNN convolution of their block
 *                               floating point input; their kernel counts 4 bytes a weight
 * @param fp32ConvWeightBytes    4 bytes per kernel weight of every convolution (DSConv or not): the FP32 model's
 * @param integerConvWeightBytes resident kernel bytes on the integer engine: for each integer layer its
 *                               {@link IntegerConvKernel#weightBytes()} ({@code q} bit-packed at the weight bits,
 *                               block-padded, plus alpha, beta, CDS and bias at the fp16/fp32/fp64 precision held),
 *                               the FP32 effective kernel of float-simulated layers and the FP32 kernels of
 *                               unconverted convolutions (per-thread unpacking scratch is not counted)
 * @param accumulation           how the integer layers sum their scaled block products
 * @param fusedBatchNorms        BatchNormalization layers (and ReLU activation layers right after them) applied in the
 *                               output pass of the engine layer before them
 *                               ({@link BatchNormFusion}); their vertices are bypassed until
 *                               {@link IntegerEngine#disable}
 * @param unfusedBatchNorms      "name: reason" for BatchNormalization layers right after an engine layer that stay
 *                               DL4J layers
 * @param kernel                 what runs the integer layers' block products: {@code native-fused:<path>} (the
 *                               {@link NativeKernels native fused kernel} and its CPU path), {@code onednn-gemm} or
 *                               {@code java-gemm} (batched GEMMs then a Java epilogue)
 */
public record EngineReport(Backend backend, List<String> integerLayers, List<String> floatLayers,
                           List<String> doubleLayers, List<String> fp32Layers, long fp32ConvWeightBytes,
                           long integerConvWeightBytes, Accumulation accumulation, List<String> fusedBatchNorms,
                           List<String> unfusedBatchNorms, String kernel) {

    public EngineReport {
        if (backend == null) {
            throw new IllegalArgumentException("backend is required");
        }
        if (accumulation == null) {
            throw new IllegalArgumentException("accumulation is required");
        }
        if (kernel == null) {
            throw new IllegalArgumentException("kernel is required");
        }
        integerLayers = List.copyOf(integerLayers);
        floatLayers = List.copyOf(floatLayers);
        doubleLayers = List.copyOf(doubleLayers);
        fp32Layers = List.copyOf(fp32Layers);
        fusedBatchNorms = List.copyOf(fusedBatchNorms);
        unfusedBatchNorms = List.copyOf(unfusedBatchNorms);
    }
}
