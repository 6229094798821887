package io.github.dsconv.cli;

import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.files.OutputSet;

import java.nio.file.Path;
import java.util.Collection;

/** Range checks of option values, each failing with one line that names the option and the value. */
final class OptionChecks {

    private OptionChecks() {
    }

    /** {@code min <= value <= max}, else an error naming the option. */
    static void range(String option, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(option + " must be between " + min + " and " + max + ", got " + value);
        }
    }

    /** A finite number in {@code [min, max]}. */
    static void range(String option, double value, double min, double max) {
        if (!(value >= min && value <= max)) {
            throw new IllegalArgumentException(option + " must be a number between " + min + " and " + max + ", got "
                    + value);
        }
    }

    /** Weight bits 2-8 (null = not given). */
    static void weightBits(String option, Integer bits) {
        if (bits != null) {
            range(option, bits, 2, 8);
        }
    }

    /** BFP activation bits: 0 (off) or 2-16 (null = not given). */
    static void actBits(String option, Integer bits) {
        if (bits != null && bits != 0 && (bits < 2 || bits > 16)) {
            throw new IllegalArgumentException(option + " must be 0 (off) or between 2 and 16, got " + bits);
        }
    }

    /** A block size 1-{@value LayerSpec#MAX_BLOCK_SIZE} (null = not given). */
    static void block(String option, Integer block) {
        if (block != null) {
            range(option, block, 1, LayerSpec.MAX_BLOCK_SIZE);
        }
    }

    /** Every entry of a list option in range, and the list not empty. */
    static void eachInRange(String option, Collection<Integer> values, long min, long max) {
        if (values == null || values.isEmpty()) {
            throw new IllegalArgumentException(option + " needs at least one value");
        }
        for (int v : values) {
            range(option, v, min, max);
        }
    }

    /** Declares a model file the run reads, and its provenance file when it has one (read for its architecture). */
    static void modelInput(OutputSet.Builder files, String option, Path model) {
        if (model != null) {
            files.input(option, model).inputIfExists("the provenance file of " + option,
                    io.github.dsconv.provenance.Provenance.fileOf(model));
        }
    }

    /** Declares a model file the run writes and the provenance file written beside it. */
    static void modelOutput(OutputSet.Builder files, String option, Path model) {
        if (model != null) {
            files.output(option, model).output("the provenance file of " + option,
                    io.github.dsconv.provenance.Provenance.fileOf(model));
        }
    }

    /** Declares an image source option that names a folder (not {@value FashionMnistSource#NAME}) as an input. */
    static void dataFolder(OutputSet.Builder files, String option, String data) {
        if (data != null && !data.isBlank() && !FashionMnistSource.NAME.equals(data)) {
            files.inputFolder(option, Path.of(data));
        }
    }
}
