/**
 * The network side of the bit-width search ({@link io.github.dsconv.search}): which convolutions share a bit
 * width ({@link io.github.dsconv.mixed.SearchLayers}), mixed-precision networks assembled exactly from one
 * calibrated run per bit width ({@link io.github.dsconv.mixed.BitWidthVariants}), the label-free fidelities
 * ({@link io.github.dsconv.mixed.AgreementFidelities}) and the greedy sensitivity baseline
 * ({@link io.github.dsconv.mixed.GreedySensitivity}). Depends on {@code convert}, {@code ptq}, {@code engine},
 * {@code eval}, {@code nn} and {@code search}; nothing in core depends on it.
 */
package io.github.dsconv.mixed;
