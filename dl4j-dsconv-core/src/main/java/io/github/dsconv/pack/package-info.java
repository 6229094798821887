/**
 * The packed DSConv model file ({@code *.dsconv.zip}, spec section 1, Storage): {@code q} at its bit width, scales
 * and other parameters in fp16 or fp32, a checksummed manifest; read back into a DL4J network.
 */
package io.github.dsconv.pack;
