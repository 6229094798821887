package io.github.dsconv.convert;

import org.deeplearning4j.nn.api.Model;

/**
 * A converted network and the report of its conversion.
 *
 * @param network the new network (the input network is never modified)
 * @param report  what was converted and what it costs
 * @param <M>     {@code MultiLayerNetwork} or {@code ComputationGraph}
 */
public record Converted<M extends Model>(M network, ConversionReport report) {
}
