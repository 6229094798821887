/** The {@code ./dsconv} command line (picocli): one class a subcommand. */
package io.github.dsconv.cli;
