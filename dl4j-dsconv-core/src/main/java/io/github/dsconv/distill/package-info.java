/**
 * Distillation-based adaptation of a DSConv network on unlabelled images: the FP32 network teaches its DSConv copy
 * (Hinton, Vinyals and Dean 2015, "Distilling the Knowledge in a Neural Network"; DSConv, ICCV 2019), training
 * only the float scales, biases and batch-norm affine parameters while the integer kernels stay fixed.
 */
package io.github.dsconv.distill;
