package io.github.dsconv.inference;

/**
 * What a {@link DsconvInference} holds resident, in bytes.
 *
 * @param parameterBytes    DL4J's flat parameter vector of one replica (DL4J keeps every parameter, {@code q}
 *                          included, as a float; the engine does not read it at inference, but DL4J owns it)
 * @param engineWeightBytes the integer engine's own weights of one replica
 *                          ({@link io.github.dsconv.engine.EngineReport#integerConvWeightBytes()}: the native
 *                          kernel's int8 layout or the bit-packed {@code q}, plus scales; FP32 kernels of layers
 *                          not on integers)
 * @param replicas          network replicas (one per concurrent caller)
 */
public record MemoryFootprint(long parameterBytes, long engineWeightBytes, int replicas) {

    /** {@code replicas * (parameterBytes + engineWeightBytes)}; activations come on top, per call. */
    public long totalBytes() {
        return (long) replicas * (parameterBytes + engineWeightBytes);
    }
}
