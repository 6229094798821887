/**
 * Reading and writing model files: DL4J ModelSerializer zips and packed DSConv files, loaded and saved with
 * one-line errors, and the checks a loaded model must pass ({@link io.github.dsconv.io.ModelChecks}).
 *
 * <p>This package sits above {@code pack} (it picks the packed format by name or content) and writes through
 * {@code files} (atomically, and within a run's output set); neither of those imports it.
 */
package io.github.dsconv.io;
