/** Datasets: Fashion-MNIST from Debian's IDX files, and image folders (one subfolder a class) through DataVec. */
package io.github.dsconv.data;
