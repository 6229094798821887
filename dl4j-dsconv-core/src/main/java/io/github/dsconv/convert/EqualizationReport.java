package io.github.dsconv.convert;

import java.util.List;
import java.util.Objects;

/**
 * What {@link CrossLayerEqualization} did: plain records of names and numbers, so the report serialises to JSON as
 * it stands.
 *
 * @param batchNormsFolded  BN layers folded into their convolution first (DFQ's first step), in network order
 * @param activationsFolded ReLU activation layers that became their convolution's activation by that folding
 * @param pairs             the equalised pairs, in topological order of their first convolution
 * @param skipped           every convolution that does not start a pair, with the reason (it may still be the
 *                          second layer of a pair)
 * @param sweeps            how many sweeps over the pairs ran (at least 1; more only while a chain of pairs moved)
 * @param absorbBias        whether bias absorption was asked for
 */
public record EqualizationReport(List<String> batchNormsFolded, List<String> activationsFolded, List<Pair> pairs,
                                 List<Skipped> skipped, int sweeps, boolean absorbBias) {

    public EqualizationReport {
        batchNormsFolded = List.copyOf(batchNormsFolded);
        activationsFolded = List.copyOf(activationsFolded);
        pairs = List.copyOf(pairs);
        skipped = List.copyOf(skipped);
        if (sweeps < 0) {
            throw new IllegalArgumentException("sweeps must be >= 0, got " + sweeps);
        }
    }

    /**
     * One equalised pair {@code first -> (activation) -> second}.
     *
     * @param first            the convolution whose output channels were divided by {@code s}
     * @param activationLayer  the separate activation layer between the two, or null (none, or folded)
     * @param second           the convolution whose input channels were multiplied by {@code s}
     * @param relu             whether a ReLU sits between (else the identity)
     * @param channels         the channels between the two
     * @param minScale         the smallest per-channel scale {@code s_i} (product over all sweeps)
     * @param maxScale         the largest per-channel scale {@code s_i}
     * @param channelsAbsorbed channels whose bias was absorbed into {@code second} (0 without absorption)
     * @param absorption       why no channel was absorbed ("off", "no batch norm folded into ...", "no ReLU
     *                         between", "... has no bias", "beta - 3|gamma| <= 0 in every channel"), or "absorbed"
     */
    public record Pair(String first, String activationLayer, String second, boolean relu, int channels,
                       double minScale, double maxScale, int channelsAbsorbed, String absorption) {
        public Pair {
            Objects.requireNonNull(first, "first");
            Objects.requireNonNull(second, "second");
            Objects.requireNonNull(absorption, "absorption");
            if (channels < 1) {
                throw new IllegalArgumentException("a pair needs at least one channel, got " + channels);
            }
            if (!(minScale > 0) || !(maxScale >= minScale) || Double.isInfinite(maxScale)) {
                throw new IllegalArgumentException("scales must be finite and 0 < min <= max, got [" + minScale
                        + ", " + maxScale + "] for " + first + " -> " + second);
            }
            if (channelsAbsorbed < 0 || channelsAbsorbed > channels) {
                throw new IllegalArgumentException("channelsAbsorbed " + channelsAbsorbed + " not in [0, "
                        + channels + "]");
            }
        }
    }

    /**
     * A convolution that does not start a pair.
     *
     * @param layer  the layer (vertex) name
     * @param reason why, in words
     */
    public record Skipped(String layer, String reason) {
        public Skipped {
            Objects.requireNonNull(layer, "layer");
            Objects.requireNonNull(reason, "reason");
        }
    }
}
