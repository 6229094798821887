package io.github.dsconv.engine.graph;

import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An activation function in place: DL4J's plain ReLU as libnd4j's {@code RectifiedLinear} computes it
 * ({@code x < 0 ? 0 : x}, so -0 and NaN pass unchanged), any other function through its ND4J implementation on a
 * copy (the same op DL4J runs, so the same bits).
 */
final class ActivationStep implements Step {

    private final IActivation fn;
    private final boolean relu;

    private ActivationStep(IActivation fn) {
        this.fn = fn;
        this.relu = fn instanceof ActivationReLU r && r.getMax() == null && r.getThreshold() == null
                && r.getNegativeSlope() == null;
    }

    /** True for DL4J's plain ReLU (no max, threshold or slope). */
    boolean isPlainRelu() {
        return relu;
    }

    /** The step for {@code fn}, or null for the identity. */
    static ActivationStep of(IActivation fn) {
        return fn == null || fn instanceof ActivationIdentity ? null : new ActivationStep(fn);
    }

    @Override
    public Tensor run(Tensor[] inputs, Arena arena) {
        Tensor t = inputs[0];
        float[] d = t.data();
        int n = t.length();
        if (relu) {
            Chunks.run(n, (from, to) -> {
                for (int i = from; i < to; i++) {
                    d[i] = d[i] < 0f ? 0f : d[i];
                }
            });
            return t;
        }
        INDArray a = fn.getActivation(t.toArray(), false);
        a.data().asNioFloat().get(d, 0, n);
        return t;
    }

    @Override
    public boolean inPlace() {
        return true;
    }

    @Override
    public String kind() {
        return relu ? "relu" : "activation " + fn + " (ND4J)";
    }
}
