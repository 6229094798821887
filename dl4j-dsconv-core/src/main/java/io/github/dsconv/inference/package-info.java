/**
 * Deployment: {@link io.github.dsconv.inference.DsconvInference} loads a packed {@code *.dsconv.zip} (or any model
 * file this project reads), puts its DSConv layers on the integer engine and serves {@code output} calls from
 * concurrent threads.
 */
package io.github.dsconv.inference;
