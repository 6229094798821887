/** Small CNN architectures for 28x28x1 inputs (Fashion-MNIST) built from the blocks of the full-size families. */
package io.github.dsconv.zoo.small;
