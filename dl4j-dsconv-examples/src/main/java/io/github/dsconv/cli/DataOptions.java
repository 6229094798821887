package io.github.dsconv.cli;

import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.ImageSources;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import org.deeplearning4j.nn.api.Model;
import picocli.CommandLine.Option;

import java.io.IOException;

/**
 * {@code --data}: the labelled images a command evaluates on ({@code @Mixin}; the command also mixes in
 * {@link PreprocessingOptions}, shared with {@link CalibrationOptions}).
 */
final class DataOptions {

    @Option(names = "--data", defaultValue = FashionMnistSource.NAME, paramLabel = "fashion-mnist|DIR",
            description = "Images: fashion-mnist (its test split; default) or a folder with one subfolder per class "
                    + "(labels = sorted folder names).")
    String data;

    /** The source (Fashion-MNIST's test split or the folder), validated. */
    ImageSource open(PreprocessingOptions preprocessing) throws IOException {
        return ImageSources.open(data, FashionMnist.Split.TEST, preprocessing.preprocessing());
    }

    static InputSpec specOf(Model model, PreprocessingOptions p) {
        InputSpec spec = ModelInputs.of(model);
        int[] size = p.size();
        if (size != null) {
            if (size.length == 3 && size[2] != spec.channels()) {
                throw new IllegalArgumentException("--image-size " + p.imageSize + " has " + size[2] + " channels but "
                        + "the model takes " + spec.channels());
            }
            if (spec.hasSize() && (spec.height() != size[0] || spec.width() != size[1])) {
                throw new IllegalArgumentException("--image-size " + size[0] + "x" + size[1] + " differs from the "
                        + "model's input size " + spec.height() + "x" + spec.width());
            }
            spec = spec.withSize(size[0], size[1]);
        }
        return spec;
    }
}
