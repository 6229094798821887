package io.github.dsconv.sensitivity;

/**
 * One partly quantized network measured against the FP32 network on the same images.
 *
 * @param agreement    fraction of images where its top-1 class equals the FP32 network's, in [0, 1]
 * @param logitsSqnrDb SQNR of its logits against the FP32 logits, in dB ({@code +Infinity} when equal)
 * @param top1         top-1 accuracy, or null when the images have no labels
 */
public record Measurement(double agreement, double logitsSqnrDb, Double top1) {

    public Measurement {
        if (!(agreement >= 0 && agreement <= 1)) {
            throw new IllegalArgumentException("agreement must be in [0, 1], got " + agreement);
        }
        if (Double.isNaN(logitsSqnrDb)) {
            throw new IllegalArgumentException("logits SQNR is NaN");
        }
        if (top1 != null && !(top1 >= 0 && top1 <= 1)) {
            throw new IllegalArgumentException("top-1 must be in [0, 1], got " + top1);
        }
    }

    /** {@code 1 - agreement}: the fraction of FP32 decisions this quantization changes. */
    public double agreementLoss() {
        return 1 - agreement;
    }
}
