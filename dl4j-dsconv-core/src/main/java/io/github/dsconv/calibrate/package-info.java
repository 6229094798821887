/**
 * Calibration on unlabelled images after conversion: {@link io.github.dsconv.calibrate.BiasCorrection} (DFQ-style
 * removal of the expected output shift that quantizing a kernel causes).
 */
package io.github.dsconv.calibrate;
