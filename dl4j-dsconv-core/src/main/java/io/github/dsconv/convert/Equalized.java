package io.github.dsconv.convert;

import org.deeplearning4j.nn.api.Model;

import java.util.Objects;

/**
 * A network after {@link CrossLayerEqualization} and the report of what was equalised.
 *
 * @param network the new network, of the input's kind (the input network is never modified)
 * @param report  the equalised pairs and the skipped convolutions, with reasons
 * @param <M>     {@code MultiLayerNetwork} or {@code ComputationGraph}
 */
public record Equalized<M extends Model>(M network, EqualizationReport report) {
    public Equalized {
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(report, "report");
    }
}
