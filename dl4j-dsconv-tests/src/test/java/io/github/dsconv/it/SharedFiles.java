package io.github.dsconv.it;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real pretrained models and CIFAR-10 images that sit in {@code ../shared} beside the project root on the
 * developers' and CI machines (never in the repository; a user's clone has no {@code ../shared}). Tests that need
 * them skip with a message saying what is missing.
 */
final class SharedFiles {

    private SharedFiles() {
    }

    /** The project root: the nearest folder upwards from the working directory holding {@code dsconv}. */
    static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("dsconv"))) {
            p = p.getParent();
        }
        return p == null ? Path.of("").toAbsolutePath() : p;
    }

    /** {@code ../shared/<relative>}, or the test is skipped when it is absent. */
    static Path require(String relative) {
        Path f = projectRoot().resolveSibling("shared").resolve(relative).normalize();
        Assumptions.assumeTrue(Files.exists(f), () -> "skipped: " + f + " is absent (real models and CIFAR-10 images "
                + "live in ../shared beside the project root on developer and CI machines, not in a clone)");
        return f;
    }

    /** The ResNet-20's preprocessing as command-line options. */
    static final String[] RESNET20_PREPROCESSING = {"--scale", "1/255", "--mean", "0.485,0.456,0.406", "--std",
        "0.229,0.224,0.225"};
}
