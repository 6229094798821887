/** Per-layer sensitivity: how much each convolution's quantized weights, and its quantized input, alone cost. */
package io.github.dsconv.sensitivity;
