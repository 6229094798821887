package io.github.dsconv.ptq;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.RoundToNearestQuantizer;
import io.github.dsconv.quant.VqkQuantizer;

import java.util.Arrays;
import java.util.Locale;

/** How convolution kernels are quantized, by the name the command line uses. */
public enum WeightMethod {
    /** DSConv's VQK kernel with a KDS scale per block (Nascimento et al., ICCV 2019). The default. */
    DSCONV("dsconv"),
    /** Symmetric round-to-nearest with one scale per output channel (the usual int8 baseline). */
    RTN_PER_CHANNEL("rtn-per-channel"),
    /** Symmetric round-to-nearest with one scale per tensor. */
    RTN_PER_TENSOR("rtn-per-tensor");

    private final String label;

    WeightMethod(String label) {
        this.label = label;
    }

    /** The command-line name. */
    public String label() {
        return label;
    }

    /** The kernel quantizer, with the plan's KDS-shift and clipping-search switches for DSConv. */
    public KernelQuantizer quantizer(ConversionPlan plan) {
        return switch (this) {
            case DSCONV -> new VqkQuantizer(plan.kdsBias(), plan.clippingSearch());
            case RTN_PER_CHANNEL -> new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL);
            case RTN_PER_TENSOR -> new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_TENSOR);
        };
    }

    /**
     * The method a command-line name stands for.
     *
     * @throws IllegalArgumentException naming the value and the accepted names
     */
    public static WeightMethod parse(String name) {
        for (WeightMethod m : values()) {
            if (m.label.equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown method '" + name + "' (expected one of "
                + String.join(", ", Arrays.stream(values()).map(WeightMethod::label).toList()) + ")");
    }

    @Override
    public String toString() {
        return label.toLowerCase(Locale.ROOT);
    }
}
