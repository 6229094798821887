/**
 * Provenance: how a model file was made ({@link io.github.dsconv.provenance.Provenance}, the
 * {@code <model>.provenance.json} files and the fields a packed manifest records) and the library version it
 * names ({@link io.github.dsconv.provenance.Version}, filled in by Maven). A low layer: it writes through
 * {@code files} and is used by {@code pack}, {@code convert} (a plan is {@link io.github.dsconv.provenance.Recordable})
 * and the examples.
 */
package io.github.dsconv.provenance;
