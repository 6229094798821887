/** Reading and writing model files: DL4J ModelSerializer zips, written atomically, read with clear errors. */
package io.github.dsconv.io;
