package io.github.dsconv.cli;

import io.github.dsconv.files.OutputSet;

/**
 * A command that names every file it reads and writes. {@link DsconvCli} calls {@link #validate()} and
 * {@link #declare} before the command runs, so that a bad option value, an output that is also an input, or an
 * unwritable destination is refused before any work; it commits the outputs only when the command succeeds (see
 * {@link OutputSet}).
 */
interface DeclaresFiles {

    /** Checks option values (ranges, lists, combinations); throws {@link IllegalArgumentException} naming one. */
    default void validate() {
    }

    /** Declares the command's input and output files (null options are ignored by the builder). */
    void declare(OutputSet.Builder files);
}
