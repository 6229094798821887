/**
 * Full-size ImageNet CNNs by name: DL4J's own zoo models plus GoogLeNet and DenseNet-121, which DL4J's zoo lacks,
 * written with plain {@code ConvolutionLayer}s so the DSConv rewriter converts every convolution.
 */
package io.github.dsconv.zoo;
