package io.github.dsconv.distill;

import io.github.dsconv.layers.DSConvParamInitializer;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Parameter groups that distillation (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network") may
 * train in a DSConv (ICCV 2019) student; each is switchable. The integer kernel {@code q} is never trained. By
 * default every group is trained ({@link #ALL}).
 */
public enum TrainableGroup {
    /** KDS per-block scales {@code alpha} of DSConv layers. */
    ALPHA("alpha", DSConvParamInitializer.ALPHA_KEY),
    /** KDS per-block shifts {@code beta} of DSConv layers (present when converted with a KDS bias). */
    BETA("beta", DSConvParamInitializer.BETA_KEY),
    /** CDS per-output-channel scale {@code gamma} and shift {@code delta} (present when converted with CDS). */
    CDS("cds", DSConvParamInitializer.GAMMA_KEY, DSConvParamInitializer.DELTA_KEY),
    /** Convolution biases {@code b} of DSConv layers. */
    BIAS("bias", DSConvParamInitializer.BIAS_KEY),
    /** Batch-norm scale and shift (gamma, beta); the running statistics stay fixed. */
    BN("bn");

    /** Every group. */
    public static final Set<TrainableGroup> ALL = Set.copyOf(EnumSet.allOf(TrainableGroup.class));

    private final String cliName;
    private final List<String> dsconvParams;

    TrainableGroup(String cliName, String... dsconvParams) {
        this.cliName = cliName;
        this.dsconvParams = List.of(dsconvParams);
    }

    /** The name on the command line ({@code alpha}, {@code beta}, {@code cds}, {@code bias}, {@code bn}). */
    public String cliName() {
        return cliName;
    }

    /** DSConv parameter keys of this group (empty for {@link #BN}). */
    public List<String> dsconvParams() {
        return dsconvParams;
    }

    /** The group of a command-line name, case-insensitively. */
    public static TrainableGroup of(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (TrainableGroup g : values()) {
            if (g.cliName.equals(n)) {
                return g;
            }
        }
        throw new IllegalArgumentException("unknown trainable group '" + name + "' (expected some of "
                + String.join(",", names(ALL)) + ")");
    }

    /** Parses a comma-separated list such as {@code alpha,cds,bn}; it must name at least one group. */
    public static Set<TrainableGroup> parse(String csv) {
        EnumSet<TrainableGroup> out = EnumSet.noneOf(TrainableGroup.class);
        if (csv != null) {
            for (String part : csv.split(",")) {
                if (!part.isBlank()) {
                    out.add(of(part));
                }
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no trainable group given (expected some of "
                    + String.join(",", names(ALL)) + ")");
        }
        return Set.copyOf(out);
    }

    /** Command-line names of groups in declaration order. */
    public static List<String> names(Set<TrainableGroup> groups) {
        List<String> out = new ArrayList<>();
        for (TrainableGroup g : values()) {
            if (groups.contains(g)) {
                out.add(g.cliName);
            }
        }
        return out;
    }
}
