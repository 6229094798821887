package io.github.dsconv.ptq;

import io.github.dsconv.calibrate.AdaRound;
import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.convert.EqualizationReport;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import org.deeplearning4j.nn.api.Model;

import java.util.List;

/**
 * What {@link PostTrainingQuantizer#quantize} made.
 *
 * @param network          the converted, calibrated network
 * @param report           the conversion report (per layer; describes the kernels before calibration)
 * @param plan             the plan used
 * @param method           the weight method
 * @param recipe           the calibration recipe that ran
 * @param calibrationData  what the calibration images were, or null when none were read
 * @param equalization     cross-layer equalisation's report, or null when it did not run
 * @param hessianRounding  per layer, Hessian-aware rounding's outcome (empty when it did not run)
 * @param adaRound         per layer, AdaRound's outcome (empty when it did not run)
 * @param biasCorrections  per layer, bias correction's outcome (empty when it did not run)
 * @param seconds          wall time of conversion and calibration
 */
public record PtqResult(Model network, ConversionReport report, ConversionPlan plan, WeightMethod method,
                        Recipe recipe, String calibrationData, EqualizationReport equalization,
                        List<HessianRounding.LayerResult> hessianRounding, List<AdaRound.LayerResult> adaRound,
                        List<BiasCorrection.Correction> biasCorrections, double seconds) {
    public PtqResult {
        hessianRounding = List.copyOf(hessianRounding);
        adaRound = List.copyOf(adaRound);
        biasCorrections = List.copyOf(biasCorrections);
    }
}
