package io.github.dsconv.ptq;

import io.github.dsconv.quant.AdaRoundSolver;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Which steps run around the conversion, each calibration step on the first so many unlabelled calibration
 * images (0 = the step is off). None of them is in the DSConv paper; docs/method.md states each one's math.
 *
 * <p>Order, fixed:
 * <ol>
 *   <li>cross-layer equalisation of the FP32 network (data-free; DFQ, Nagel et al., ICCV 2019), which then is the
 *   FP32 reference of every later step;</li>
 *   <li>the conversion, with the activation-weighted kernel fit if asked for (it changes how kernels are
 *   fitted);</li>
 *   <li>the rounding: nearest (as converted), Hessian-aware, or AdaRound (re-chooses each integer kernel);</li>
 *   <li>bias correction (removes the expected output shift of the final kernels).</li>
 * </ol>
 *
 * @param equalize              cross-layer equalisation before the conversion
 * @param weightedFitImages     images for the activation-weighted kernel fit
 * @param rounding              how the integers are chosen
 * @param roundingImages        images for the rounding; 0 exactly when {@code rounding} is {@link Rounding#NEAREST}
 * @param adaRound              AdaRound's settings (used when {@code rounding} is {@link Rounding#ADAROUND})
 * @param adaRoundQuantizedInputs AdaRound learns from the quantized network's inputs (the paper's asymmetric
 *                              reconstruction) instead of the FP32 network's
 * @param biasCorrectionImages  images for bias correction
 */
public record Recipe(boolean equalize, int weightedFitImages, Rounding rounding, int roundingImages,
                     AdaRoundSolver.Options adaRound, boolean adaRoundQuantizedInputs, int biasCorrectionImages) {

    /** Default number of calibration images: 512. */
    public static final int DEFAULT_IMAGES = 512;

    public Recipe {
        Objects.requireNonNull(rounding, "rounding");
        Objects.requireNonNull(adaRound, "adaRound");
        for (int n : new int[] {weightedFitImages, roundingImages, biasCorrectionImages}) {
            if (n < 0) {
                throw new IllegalArgumentException("calibration image counts must be >= 0, got " + n);
            }
        }
        if ((rounding == Rounding.NEAREST) != (roundingImages == 0)) {
            throw new IllegalArgumentException("rounding " + rounding + " with " + roundingImages + " images: "
                    + "nearest rounding reads no images, the others need some");
        }
    }

    /**
     * The three counts of earlier versions: the activation-weighted fit, Hessian-aware rounding (0 = nearest) and
     * bias correction; no equalisation.
     */
    public Recipe(int weightedFitImages, int hessianRoundingImages, int biasCorrectionImages) {
        this(false, weightedFitImages, hessianRoundingImages > 0 ? Rounding.HESSIAN : Rounding.NEAREST,
                hessianRoundingImages, AdaRoundSolver.Options.defaults(), false, biasCorrectionImages);
    }

    /** The paper's conversion alone: no calibration data. */
    public static Recipe plain() {
        return new Recipe(0, 0, 0);
    }

    /**
     * The best recipe measured (docs/results.md): Hessian-aware rounding then bias correction, both on {@code n}
     * images. DSConv re-fits its block scales during the rounding; the other methods keep their grid.
     */
    public static Recipe calibrated(WeightMethod method, int n) {
        Objects.requireNonNull(method, "method");
        return new Recipe(0, n, n);
    }

    /** This recipe with another rounding on {@code images} images (0 for {@link Rounding#NEAREST}). */
    public Recipe withRounding(Rounding r, int images) {
        return new Recipe(equalize, weightedFitImages, r, r == Rounding.NEAREST ? 0 : images, adaRound,
                adaRoundQuantizedInputs, biasCorrectionImages);
    }

    /** This recipe with other AdaRound settings. */
    public Recipe withAdaRound(AdaRoundSolver.Options options, boolean quantizedInputs) {
        return new Recipe(equalize, weightedFitImages, rounding, roundingImages, options, quantizedInputs,
                biasCorrectionImages);
    }

    /** This recipe with cross-layer equalisation on or off. */
    public Recipe withEqualize(boolean on) {
        return new Recipe(on, weightedFitImages, rounding, roundingImages, adaRound, adaRoundQuantizedInputs,
                biasCorrectionImages);
    }

    /** Images of Hessian-aware rounding, 0 when the rounding is another. */
    public int hessianRoundingImages() {
        return rounding == Rounding.HESSIAN ? roundingImages : 0;
    }

    /** Images of AdaRound, 0 when the rounding is another. */
    public int adaRoundImages() {
        return rounding == Rounding.ADAROUND ? roundingImages : 0;
    }

    /** Whether any step needs calibration images. */
    public boolean needsData() {
        return imagesNeeded() > 0;
    }

    /** The most images any step reads. */
    public int imagesNeeded() {
        return Math.max(weightedFitImages, Math.max(roundingImages, biasCorrectionImages));
    }

    /**
     * e.g. {@code hessian-rounding(512) + bias-correction(512)},
     * {@code equalize + adaround(512, 2000 iterations) + bias-correction(512)}, or {@code plain}.
     */
    public String describe() {
        List<String> steps = new ArrayList<>();
        if (equalize) {
            steps.add("equalize");
        }
        if (weightedFitImages > 0) {
            steps.add("weighted-fit(" + weightedFitImages + ")");
        }
        if (rounding == Rounding.HESSIAN) {
            steps.add("hessian-rounding(" + roundingImages + ")");
        } else if (rounding == Rounding.ADAROUND) {
            steps.add("adaround(" + roundingImages + ", " + adaRound.iterations() + " iterations"
                    + (adaRoundQuantizedInputs ? ", quantized inputs" : "") + ")");
        }
        if (biasCorrectionImages > 0) {
            steps.add("bias-correction(" + biasCorrectionImages + ")");
        }
        return steps.isEmpty() ? "plain" : String.join(" + ", steps);
    }
}
