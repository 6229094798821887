/**
 * JMH microbenchmarks of single ResNet50 convolution shapes (FP32 DL4J against the integer engine); not JUnit tests,
 * so the build never runs them.
 */
package io.github.dsconv.bench;
