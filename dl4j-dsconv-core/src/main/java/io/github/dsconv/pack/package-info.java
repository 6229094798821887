/**
 * The packed DSConv model file ({@code *.dsconv.zip}, spec section 1, Storage): {@code q} at its bit width, scales
 * and other parameters in fp16 or fp32, a checksummed manifest; read back into a DL4J network.
 *
 * <p>{@link io.github.dsconv.pack.PackedModelFormat} is the entry point; behind it {@code PackedContainer} (zip,
 * marker, manifest, checksums), {@code ParamCodec} (value encodings) and {@code PackedLayout} (DL4J's flat
 * parameter vector) each hold one concern. The package writes through {@code files} and knows nothing of
 * {@code io} (which uses it) or {@code convert} (a plan is recorded as the JSON the caller hands over).
 */
package io.github.dsconv.pack;
