package io.github.dsconv.cli;

import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.ImageSources;
import io.github.dsconv.ptq.Recipe;
import picocli.CommandLine.Option;

import java.io.IOException;

/**
 * {@code --calibration-data} and {@code --calibration-images} ({@code @Mixin}; the command also mixes in
 * {@link PreprocessingOptions}, which apply to the calibration images as to {@code --data}).
 */
final class CalibrationOptions {

    @Option(names = "--calibration-data", paramLabel = "fashion-mnist|DIR", description = "Unlabelled calibration "
            + "images: fashion-mnist (its training split) or a folder (images, or one subfolder per class; labels are"
            + " never read). With it, the default recipe is Hessian-aware rounding + bias correction.")
    String data;

    @Option(names = "--calibration-images", defaultValue = "" + Recipe.DEFAULT_IMAGES, paramLabel = "N",
            description = "Calibration images to use, the first N in the folder's fixed order (default "
                    + "${DEFAULT-VALUE}).")
    int images;

    /** The source, or null when {@code --calibration-data} was not given. */
    ImageSource open(PreprocessingOptions preprocessing) throws IOException {
        if (images <= 0 || images > 1_000_000) {
            throw new IllegalArgumentException("--calibration-images must be between 1 and 1000000, got " + images);
        }
        return data == null ? null : ImageSources.open(data, FashionMnist.Split.TRAIN, preprocessing.preprocessing());
    }
}
