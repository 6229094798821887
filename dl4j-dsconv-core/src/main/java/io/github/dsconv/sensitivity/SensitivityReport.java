package io.github.dsconv.sensitivity;

import io.github.dsconv.convert.ConversionPlan;

import java.util.List;
import java.util.Objects;

/**
 * What {@link LayerSensitivity#analyse} measured.
 *
 * @param plan           the plan whose convolutions were measured (bits, block size)
 * @param method         weight method label, e.g. {@code dsconv}
 * @param recipe         calibration recipe of every weight-quantized variant, e.g. {@code plain}; activation-only
 *                       variants have no weights to calibrate
 * @param images         images measured on
 * @param labelled       whether the images had labels (then every {@link Measurement#top1()} is set)
 * @param fp32Top1       the FP32 network's top-1, or null without labels
 * @param allWeights     every planned layer's weights quantized, every input float
 * @param allActivations every planned layer's input quantized, every weight FP32
 * @param both           the plan's full conversion
 * @param layers         one result per planned convolution, most sensitive first (by
 *                       {@link LayerResult#agreementLoss()}, then by {@link LayerResult#worstSqnrDb()})
 * @param seconds        wall time
 */
public record SensitivityReport(ConversionPlan plan, String method, String recipe, int images, boolean labelled,
                                Double fp32Top1, Measurement allWeights, Measurement allActivations, Measurement both,
                                List<LayerResult> layers, double seconds) {

    public SensitivityReport {
        Objects.requireNonNull(plan, "plan");
        layers = List.copyOf(layers);
        if (labelled != (fp32Top1 != null)) {
            throw new IllegalArgumentException("fp32Top1 must be given exactly when the images are labelled");
        }
    }

    /** Layer names, most sensitive first. */
    public List<String> ranking() {
        return layers.stream().map(LayerResult::layer).toList();
    }
}
