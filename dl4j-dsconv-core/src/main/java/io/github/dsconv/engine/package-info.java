/**
 * The integer inference engine (spec section 3): DSConv layers run as int8 x int8 -> int32 block products with one
 * float scale per block, through oneDNN ({@code org.bytedeco:dnnl}) or a plain-Java fallback.
 */
package io.github.dsconv.engine;
