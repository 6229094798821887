/**
 * Calibration on unlabelled images after conversion, each step improving a converted network without labels:
 * {@link io.github.dsconv.calibrate.BiasCorrection} (DFQ-style removal of the expected output shift that
 * quantizing a kernel causes), {@link io.github.dsconv.calibrate.HessianRounding} (re-rounding every layer's
 * kernel for its output error, solved per layer by {@code quant.HessianRoundingSolver}) and
 * {@link io.github.dsconv.calibrate.ChannelEnergy} (per-channel input energies for the weighted scale fit); with
 * the helpers they share to run a network and collect a layer's inputs ({@code LayerInputs}, {@code NetworkLayers},
 * {@code ConvGeometry}).
 */
package io.github.dsconv.calibrate;
