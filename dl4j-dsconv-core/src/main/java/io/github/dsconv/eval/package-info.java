/** Evaluation: top-1 accuracy, agreement with a reference model and logits SQNR, over any DL4J model. */
package io.github.dsconv.eval;
