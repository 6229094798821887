/**
 * The rewriter (model rewriting): {@link io.github.dsconv.convert.DSConvConverter} swaps every
 * {@code ConvolutionLayer} of a trained {@code MultiLayerNetwork} or {@code ComputationGraph} for a DSConv layer,
 * following a {@link io.github.dsconv.convert.ConversionPlan}, and reports what it did.
 */
package io.github.dsconv.convert;
