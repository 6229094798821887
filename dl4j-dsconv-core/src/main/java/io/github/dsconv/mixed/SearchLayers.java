package io.github.dsconv.mixed;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The positions a bit-width search assigns bits to: the convolutions a base plan converts, in topological order,
 * with convolutions that read the same tensor grouped into one position. NUQ (Finding Non-Uniform Quantization
 * Schemes using Multi-Task Gaussian Processes, ECCV 2020) gives a ResNet projection shortcut its block's bit
 * width; grouping by input does that (the shortcut reads the block's input, like the block's first convolution)
 * and also gives an Inception module's parallel 1x1 convolutions one width, as they sit at the same depth. The
 * group's leader is its convolution with the largest kernel (the main path), then the first in order.
 *
 * @param groups the positions, in the order of their leaders
 * @param fp32Left convolutions the base plan leaves in FP32 (skipped, or too small to compress): every searched
 *                 plan leaves them in FP32 too
 */
public record SearchLayers(List<Group> groups, List<String> fp32Left) {

    /**
     * One position.
     *
     * @param leader  the convolution that names the position
     * @param members every convolution taking this position's bits, leader first
     * @param weights kernel weights of all members (for the memory of a configuration)
     */
    public record Group(String leader, List<String> members, long weights) {
        public Group {
            members = List.copyOf(members);
        }
    }

    public SearchLayers {
        groups = List.copyOf(groups);
        fp32Left = List.copyOf(fp32Left);
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("no convolution to search bits for (the plan converts none)");
        }
    }

    /**
     * The positions of {@code fp32} under {@code base}: the convolutions a plain conversion with the base plan
     * actually converts (so layers left in FP32 by {@code skipFirst}, a skip entry or {@code minCompression} stay
     * out of the search and in FP32).
     */
    public static SearchLayers of(Model fp32, ConversionPlan base) {
        Converted<? extends Model> probe = new DSConvConverter(base).convert(fp32);
        List<LayerReport> converted = probe.report().converted();
        List<String> left = probe.report().skipped().stream().map(s -> s.name()).toList();
        Network net = Network.of(fp32);
        Map<String, List<String>> inputs = new LinkedHashMap<>();
        for (LayerReport r : converted) {
            inputs.put(r.name(), net.inputsOf(r.name()));
        }
        Map<String, List<LayerReport>> byInput = new LinkedHashMap<>();
        for (LayerReport r : converted) {
            List<String> in = inputs.get(r.name());
            String key = String.join(",", in);
            byInput.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
        }
        List<Group> groups = new ArrayList<>();
        Map<String, Integer> order = new LinkedHashMap<>();
        for (int i = 0; i < converted.size(); i++) {
            order.put(converted.get(i).name(), i);
        }
        for (List<LayerReport> same : byInput.values()) {
            LayerReport leader = same.get(0);
            for (LayerReport r : same) {
                if (taps(r) > taps(leader)) {
                    leader = r;
                }
            }
            List<String> members = new ArrayList<>();
            members.add(leader.name());
            long weights = 0;
            for (LayerReport r : same) {
                if (r != leader) {
                    members.add(r.name());
                }
                weights += Arrays.stream(r.shape()).reduce(1, (a, b) -> a * b);
            }
            groups.add(new Group(leader.name(), members, weights));
        }
        groups.sort((a, b) -> Integer.compare(order.get(a.leader()), order.get(b.leader())));
        return new SearchLayers(groups, left);
    }

    private static long taps(LayerReport r) {
        return r.shape()[2] * r.shape()[3];
    }

    /** Number of positions ({@code L} of the paper). */
    public int size() {
        return groups.size();
    }

    /** Kernel weights of each position. */
    public long[] weights() {
        return groups.stream().mapToLong(Group::weights).toArray();
    }

    /** Every converted convolution with the bits of its position. */
    public Map<String, Integer> bitsByLayer(int[] bits) {
        if (bits.length != groups.size()) {
            throw new IllegalArgumentException("expected " + groups.size() + " bit widths, got " + bits.length);
        }
        Map<String, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < bits.length; i++) {
            for (String l : groups.get(i).members()) {
                m.put(l, bits[i]);
            }
        }
        return m;
    }

    /**
     * The plan that gives each position its bits: {@code base} with a weight-bits entry for every converted
     * convolution (other settings of an existing entry kept) and a skip entry for every one left in FP32, so the
     * plan converts exactly the searched layers whatever the bits (an explicit entry is exempt from
     * {@code minCompression}, which depends on the bits).
     */
    public ConversionPlan plan(ConversionPlan base, int[] bits) {
        Map<String, io.github.dsconv.convert.LayerOverride> layers = new LinkedHashMap<>(base.layers());
        bitsByLayer(bits).forEach((name, b) -> {
            io.github.dsconv.convert.LayerOverride o = layers.get(name);
            layers.put(name, new io.github.dsconv.convert.LayerOverride(false, b, o == null ? null : o.actBits(),
                    o == null ? null : o.blockSize()));
        });
        for (String name : fp32Left) {
            layers.put(name, io.github.dsconv.convert.LayerOverride.skipped());
        }
        return base.withLayers(layers);
    }

    /** The leaders' names, in order. */
    public List<String> leaders() {
        return groups.stream().map(Group::leader).toList();
    }
}
