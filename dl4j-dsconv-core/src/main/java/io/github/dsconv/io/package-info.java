/**
 * Reading and writing model files: DL4J ModelSerializer zips and packed DSConv files, written atomically, read
 * with clear errors.
 */
package io.github.dsconv.io;
