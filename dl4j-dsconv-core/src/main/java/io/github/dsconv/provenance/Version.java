package io.github.dsconv.provenance;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The library's version, read once from {@code dsconv-version.properties}, which Maven fills in from the project
 * version and the DL4J version of the build (a filtered resource of dl4j-dsconv-core). Nothing else in the code
 * spells a version out, so a release only has to change the poms.
 */
public final class Version {

    /** The library's name as it appears in provenance and {@code dsconv --version}. */
    public static final String NAME = "dl4j-dsconv";

    private static final String RESOURCE = "dsconv-version.properties";
    private static final String SNAPSHOT = "-SNAPSHOT";
    private static final Properties PROPS = load();

    private Version() {
    }

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException(RESOURCE + " is missing from the classpath");
            }
            p.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + RESOURCE, e);
        }
        for (String k : new String[] {"version", "deeplearning4j"}) {
            String v = p.getProperty(k);
            // an unfiltered copy (e.g. run from an IDE that skips Maven's resource filtering) must not leak into files
            if (v == null || v.isBlank() || v.contains("${")) {
                throw new IllegalStateException(RESOURCE + " has no " + k + " (not filtered by Maven?): " + v);
            }
        }
        return p;
    }

    /** The Maven project version of this build, e.g. {@code 0.1.0-SNAPSHOT}. */
    public static String project() {
        return PROPS.getProperty("version");
    }

    /**
     * The release this build is or leads up to: the project version without {@code -SNAPSHOT}, e.g.
     * {@code 0.1.0}. Provenance and {@code --version} record this, as they did when it was written by hand, so that
     * the packed format's manifest stays byte-identical between a snapshot build and its release.
     */
    public static String release() {
        String v = project();
        return v.endsWith(SNAPSHOT) ? v.substring(0, v.length() - SNAPSHOT.length()) : v;
    }

    /** The DeepLearning4j version the library is built against, e.g. {@code 1.0.0-M2.1}. */
    public static String deeplearning4j() {
        return PROPS.getProperty("deeplearning4j");
    }

    /** Library name and versions as provenance records them: {@code dl4j-dsconv 0.1.0 (deeplearning4j 1.0.0-M2.1)}. */
    public static String library() {
        return NAME + " " + release() + " (deeplearning4j " + deeplearning4j() + ")";
    }
}
