/**
 * Pure quantization math on plain arrays (no DL4J layer types): the DSConv variable quantized kernel and
 * kernel distribution shifter, block floating point activations, round-to-nearest baselines and error metrics.
 * See {@code DSCONV-SPEC.md} sections 1 and 2.
 */
package io.github.dsconv.quant;
