/**
 * All-or-nothing output files: {@link io.github.dsconv.files.AtomicFiles} writes every file to a temporary beside
 * its target and moves it into place, and {@link io.github.dsconv.files.OutputSet} stages a run's outputs so they
 * appear together when it succeeds, or not at all.
 *
 * <p>This is the lowest file layer of the library and depends on no other package of it: every writer (model
 * files in {@code io}, the packed format in {@code pack}, provenance files in {@code provenance}, checkpoints,
 * reports) goes through it, so it must sit below all of them. It used to live in {@code io}, which also holds
 * {@code ModelFiles}; since {@code ModelFiles} loads and saves packed files and {@code pack} writes through
 * {@code AtomicFiles}, that made {@code io} and {@code pack} import each other. With the atomic writes here the
 * order is {@code files} &lt; {@code pack} &lt; {@code io}.
 */
package io.github.dsconv.files;
