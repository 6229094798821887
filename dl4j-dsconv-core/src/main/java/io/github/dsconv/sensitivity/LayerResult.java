package io.github.dsconv.sensitivity;

import io.github.dsconv.convert.LayerSpec;

import java.util.Objects;

/**
 * The sensitivity of one convolution: the network with only this layer's weights quantized (its input float), and
 * with only this layer's input quantized (its weights FP32).
 *
 * @param layer       layer (vertex) name
 * @param order       position among the network's converted convolutions, in topological order from 0
 * @param spec        the bits and block size it was quantized with
 * @param weights     only its weights quantized
 * @param activations only its input quantized; null when the plan leaves its input float (the first convolution
 *                    without {@code quantizeNetworkInput}, or activation bits 0)
 */
public record LayerResult(String layer, int order, LayerSpec spec, Measurement weights, Measurement activations) {

    public LayerResult {
        Objects.requireNonNull(layer, "layer");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(weights, "weights");
    }

    /** The larger agreement loss of the two: what the layers are ranked by. */
    public double agreementLoss() {
        return Math.max(weights.agreementLoss(), activations == null ? 0 : activations.agreementLoss());
    }

    /** The smaller logits SQNR of the two (ties in agreement loss are ranked by it). */
    public double worstSqnrDb() {
        return Math.min(weights.logitsSqnrDb(), activations == null ? Double.POSITIVE_INFINITY
                : activations.logitsSqnrDb());
    }
}
