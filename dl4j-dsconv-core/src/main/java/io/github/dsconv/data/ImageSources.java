package io.github.dsconv.data;

import java.io.IOException;
import java.nio.file.Path;

/** Opens the image source a command line names: {@value FashionMnistSource#NAME} or a folder. */
public final class ImageSources {

    private ImageSources() {
    }

    /**
     * The source {@code name} stands for.
     *
     * @param name          {@value FashionMnistSource#NAME} or a folder path
     * @param split         which Fashion-MNIST split the name {@value FashionMnistSource#NAME} means
     * @param preprocessing how raw pixels become inputs
     * @throws IOException naming the folder when it cannot be used
     */
    public static ImageSource open(String name, FashionMnist.Split split, Preprocessing preprocessing)
            throws IOException {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("data must be '" + FashionMnistSource.NAME + "' or an image folder");
        }
        if (FashionMnistSource.NAME.equals(name)) {
            return new FashionMnistSource(split, preprocessing);
        }
        return ImageFolderSource.open(Path.of(name), preprocessing);
    }
}
