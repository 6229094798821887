/** Runnable examples; each exposes a method returning a result record so tests can run it with tiny limits. */
package io.github.dsconv.examples;
