package io.github.dsconv.engine.graph;

import io.github.dsconv.engine.IntegerConvKernel;
import io.github.dsconv.layers.ConvGeometry;
import io.github.dsconv.layers.DSConvRuntime;

import java.util.Arrays;

/**
 * A DSConv layer on its {@link IntegerConvKernel}, reading the producer's buffer directly (no input copy) and writing
 * its output, with any batch normalization and ReLU the engine fused into it, into a new buffer; then the layer's
 * own activation ({@link ActivationStep#apply}). Bit for bit {@code DSConvRuntime.activate} with the same kernel.
 */
final class ConvStep implements Step {

    private final DSConvRuntime runtime;
    private final IntegerConvKernel kernel;
    private final ActivationStep activation;
    /** The geometry of the last input shape (computing it asks DL4J, so it is kept while the shape stays). */
    private long[] lastShape;
    private ConvGeometry lastGeometry;

    ConvStep(DSConvRuntime runtime, IntegerConvKernel kernel) {
        this.runtime = runtime;
        this.kernel = kernel;
        this.activation = ActivationStep.of(runtime.layerConf().getActivationFn());
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor in = inputs[0];
        if (in.shape().length != 4) {
            throw new IllegalArgumentException("DSConv layer '" + runtime.layerConf().getLayerName()
                    + "': input of shape " + Arrays.toString(in.shape()) + ", expected rank 4");
        }
        if (!Arrays.equals(in.shape(), lastShape)) {
            lastGeometry = ConvGeometry.of(runtime.layerConf(), in.shape());
            lastShape = in.shape().clone();
        }
        ConvGeometry geo = lastGeometry;
        long[] outShape = kernel.outputShape(geo);
        int len = Math.toIntExact((long) geo.batch() * geo.outPositions() * runtime.layerConf().getNOut());
        Tensor out = new Tensor(arena.take(len), outShape);
        kernel.forward(in.data(), geo, out.data());
        return activation == null ? out : activation.run(new Tensor[] {out}, arena);
    }

    @Override
    public String kind() {
        return "conv " + kernel.implementation()
                + (activation == null ? "" : " + " + activation.kind());
    }
}
