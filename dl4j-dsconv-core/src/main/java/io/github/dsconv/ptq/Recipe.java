package io.github.dsconv.ptq;

import java.util.ArrayList;
import java.util.List;

/**
 * Which calibration steps run after the conversion, each on the first so many unlabelled calibration images
 * (0 = the step is off). None of them is in the DSConv paper; docs/method.md states each one's math.
 *
 * <p>Order, fixed: the activation-weighted kernel fit (it changes how kernels are fitted, so it runs with the
 * conversion), then Hessian-aware rounding (re-chooses each integer kernel), then bias correction (removes the
 * expected output shift of the final kernels).
 *
 * @param weightedFitImages     images for the activation-weighted kernel fit
 * @param hessianRoundingImages images for Hessian-aware rounding (DSConv kernels only)
 * @param biasCorrectionImages  images for bias correction
 */
public record Recipe(int weightedFitImages, int hessianRoundingImages, int biasCorrectionImages) {

    /** Default number of calibration images: 512. */
    public static final int DEFAULT_IMAGES = 512;

    public Recipe {
        for (int n : new int[] {weightedFitImages, hessianRoundingImages, biasCorrectionImages}) {
            if (n < 0) {
                throw new IllegalArgumentException("calibration image counts must be >= 0, got " + n);
            }
        }
    }

    /** The paper's conversion alone: no calibration data. */
    public static Recipe plain() {
        return new Recipe(0, 0, 0);
    }

    /**
     * The best recipe measured (docs/results.md): Hessian-aware rounding then bias correction, both on {@code n}
     * images. For a method without Hessian-aware rounding (round-to-nearest) only bias correction.
     */
    public static Recipe calibrated(WeightMethod method, int n) {
        return new Recipe(0, method == WeightMethod.DSCONV ? n : 0, n);
    }

    /** Whether any step needs calibration images. */
    public boolean needsData() {
        return imagesNeeded() > 0;
    }

    /** The most images any step reads. */
    public int imagesNeeded() {
        return Math.max(weightedFitImages, Math.max(hessianRoundingImages, biasCorrectionImages));
    }

    /** e.g. {@code hessian-rounding(512) + bias-correction(512)}, or {@code plain}. */
    public String describe() {
        List<String> steps = new ArrayList<>();
        if (weightedFitImages > 0) {
            steps.add("weighted-fit(" + weightedFitImages + ")");
        }
        if (hessianRoundingImages > 0) {
            steps.add("hessian-rounding(" + hessianRoundingImages + ")");
        }
        if (biasCorrectionImages > 0) {
            steps.add("bias-correction(" + biasCorrectionImages + ")");
        }
        return steps.isEmpty() ? "plain" : String.join(" + ", steps);
    }
}
