/**
 * The DSConv layer for DL4J: {@link io.github.dsconv.layers.DSConvLayer} (configuration, a drop-in for
 * {@code ConvolutionLayer}), its parameter initializer and its runtime implementation.
 */
package io.github.dsconv.layers;
