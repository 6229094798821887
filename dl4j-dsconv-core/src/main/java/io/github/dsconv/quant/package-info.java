/**
 * Pure quantization math on plain arrays (no DL4J layer types): the DSConv variable quantized kernel and
 * kernel distribution shifter, block floating point activations, round-to-nearest baselines and error metrics.
 * Nascimento, Fawcett and Prisacariu, "DSConv: Efficient Convolution Operator", ICCV 2019 (arXiv:1901.01928);
 * docs/method.md sections 1 and 2 state the arithmetic as implemented.
 */
package io.github.dsconv.quant;
