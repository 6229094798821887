package io.github.dsconv.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The CPU model and the instruction-set features that decide integer speed (AVX2, AVX-512, VNNI, AMX), read from
 * {@code /proc/cpuinfo} for the benchmark JSON: machines differ, so every speed figure carries them.
 *
 * @param model    the first processor's model name, or {@code os.arch} where {@code /proc/cpuinfo} is absent
 * @param features the relevant flags present, in a fixed order ({@code avx2, fma, avx512f, avx512bw,
 *                 avx512_vnni, avx_vnni, amx_int8})
 */
public record CpuFeatures(String model, List<String> features) {

    /** The flags reported, in this order. */
    static final List<String> RELEVANT = List.of("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni",
            "amx_int8");

    public CpuFeatures {
        features = List.copyOf(features);
    }

    /** This machine's (empty features when {@code /proc/cpuinfo} cannot be read). */
    public static CpuFeatures detect() {
        try {
            return parse(Files.readAllLines(Path.of("/proc/cpuinfo")));
        } catch (IOException | SecurityException e) {
            return new CpuFeatures(System.getProperty("os.arch", "unknown"), List.of());
        }
    }

    /** From the lines of a {@code /proc/cpuinfo}: the first {@code model name} and {@code flags}. */
    static CpuFeatures parse(List<String> lines) {
        String model = null;
        Set<String> flags = null;
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String key = line.substring(0, colon).trim();
            String value = line.substring(colon + 1).trim();
            if (model == null && key.equals("model name")) {
                model = value;
            } else if (flags == null && key.equals("flags")) {
                flags = Set.of(value.split("\\s+"));
            }
        }
        List<String> present = new ArrayList<>();
        for (String f : RELEVANT) {
            if (flags != null && flags.contains(f)) {
                present.add(f);
            }
        }
        return new CpuFeatures(model == null ? System.getProperty("os.arch", "unknown") : model, present);
    }
}
