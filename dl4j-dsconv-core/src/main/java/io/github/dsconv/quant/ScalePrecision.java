package io.github.dsconv.quant;

/**
 * Storage precision of the float scales (alpha, beta, CDS). The reference stores alpha in fp16 except for
 * the first convolution, where fp16 "severely compromised" accuracy (spec section 1, Storage).
 */
public enum ScalePrecision {
    /** IEEE half precision, 2 bytes a value. Values are rounded to fp16 at conversion so simulation = deployment. */
    FP16(2),
    /** IEEE single precision, 4 bytes a value. */
    FP32(4);

    private final int bytes;

    ScalePrecision(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes one stored value takes. */
    public int bytes() {
        return bytes;
    }

    /** Rounds {@code v} in place to the nearest value representable at this precision (round half to even). */
    public void roundInPlace(float[] v) {
        if (this == FP32 || v == null) {
            return;
        }
        for (int i = 0; i < v.length; i++) {
            v[i] = Half.toFloat(Half.fromFloat(v[i]));
        }
    }
}
