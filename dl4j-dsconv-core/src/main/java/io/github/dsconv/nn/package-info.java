/**
 * One facade, {@link io.github.dsconv.nn.Network}, for what differs between DL4J's {@code MultiLayerNetwork} and
 * {@code ComputationGraph}: layers in order, a layer's inputs and consumers, feed-forward to a layer, copies,
 * parameter views and the configuration. Every other package goes through it instead of switching on the type.
 * It depends on DL4J only, on nothing of this project, so any package may use it.
 */
package io.github.dsconv.nn;
