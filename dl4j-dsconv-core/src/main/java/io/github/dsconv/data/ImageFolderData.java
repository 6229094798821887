package io.github.dsconv.data;

import org.datavec.api.io.labels.ParentPathLabelGenerator;
import org.datavec.api.split.FileSplit;
import org.datavec.image.loader.NativeImageLoader;
import org.datavec.image.recordreader.ImageRecordReader;
import org.deeplearning4j.datasets.datavec.RecordReaderDataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.preprocessor.ImagePreProcessingScaler;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Images from a folder with one subfolder per class ({@code dir/cat/001.png}, {@code dir/dog/002.jpg}, ...), read
 * through DataVec, for the calibration and evaluation images users have of their own.
 *
 * <p>Each class's label is the index of its subfolder name among all subfolder names sorted in
 * {@link String#compareTo} order; a class subfolder without images keeps its label column. Images are read by
 * DataVec's {@link NativeImageLoader} (OpenCV): they are resized to the requested size and colour images come in
 * OpenCV's channel order, blue, green, red. Pixels are scaled from {@code [0, 255]} to {@code [0, 1]}.
 *
 * <p>Every image must sit directly in a class subfolder, because DataVec labels a file by its parent folder's name:
 * an image directly in {@code dir} or in a deeper folder would otherwise get a wrong label, so it is rejected.
 */
public final class ImageFolderData {

    private ImageFolderData() {
    }

    /**
     * Sorted class subfolder names of {@code dir}; their positions are the label indices.
     *
     * @param dir the dataset folder
     * @return the class names in label order
     * @throws IOException naming the folder when it does not exist, is not a directory or has no subfolders
     */
    public static List<String> classes(Path dir) throws IOException {
        requireDirectory(dir);
        List<String> names;
        try (Stream<Path> entries = Files.list(dir)) {
            names = entries.filter(Files::isDirectory)
                    .map(p -> p.getFileName().toString())
                    .sorted()
                    .collect(Collectors.toList());
        }
        if (names.isEmpty()) {
            throw new IOException("image folder " + dir.toAbsolutePath()
                    + " has no class subfolders: put each class's images in a subfolder named after the class");
        }
        return names;
    }

    /**
     * An iterator over every image of {@code dir} in an order shuffled by {@code seed}; each reset reshuffles.
     *
     * <p>The order is reproducible for the same seed and the same folder listing. The last batch may be smaller.
     *
     * @param dir       the dataset folder, one subfolder per class
     * @param height    image height after resizing, pixels
     * @param width     image width after resizing, pixels
     * @param channels  1 (grey), 3 (blue, green, red) or 4 (with alpha)
     * @param batchSize images per batch
     * @param seed      shuffling seed
     * @return batches of features {@code [b, channels, height, width]} (NCHW) in {@code [0, 1]} and one-hot labels
     *         {@code [b, classes(dir).size()]}; {@code getLabels()} gives the class names
     * @throws IOException naming the folder when it does not exist, is not a directory, has no class subfolders,
     *                     or has no images, or naming an image that is not directly in a class subfolder
     */
    public static DataSetIterator iterator(Path dir, int height, int width, int channels, int batchSize, long seed)
            throws IOException {
        if (height <= 0 || width <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + height + "x" + width);
        }
        if (channels != 1 && channels != 3 && channels != 4) {
            throw new IllegalArgumentException("channels must be 1, 3 or 4, got " + channels);
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        List<String> classes = classes(dir);
        Path root = dir.toAbsolutePath();
        List<Path> images = findImages(root);
        if (images.isEmpty()) {
            throw new IOException("image folder " + root + " has no images (" + String.join(", ", formats())
                    + ") in its class subfolders " + classes);
        }
        for (Path image : images) {
            if (!root.equals(image.getParent().getParent())) {
                throw new IOException("image " + image + " is not directly inside a class subfolder of " + root
                        + ": DataVec would label it '" + image.getParent().getFileName() + "'");
            }
        }
        ImageRecordReader reader = new ImageRecordReader(height, width, channels, new ParentPathLabelGenerator());
        reader.setLogLabelCountOnInit(false);
        reader.initialize(new FileSplit(root.toFile(), NativeImageLoader.ALLOWED_FORMATS, new Random(seed)));
        // DataVec infers the classes from the images it finds; pinning them keeps the label of every class
        // (and the one-hot width) fixed by the folder names even when a class subfolder is empty.
        reader.setLabels(new ArrayList<>(classes));
        DataSetIterator it = new RecordReaderDataSetIterator(reader, batchSize, 1, classes.size());
        it.setPreProcessor(new ImagePreProcessingScaler(0, 1));
        return it;
    }

    /** The files DataVec's {@link FileSplit} would pick up (its rule: the name ends with an allowed format). */
    private static List<Path> findImages(Path root) throws IOException {
        String[] formats = NativeImageLoader.ALLOWED_FORMATS;
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> {
                        String name = p.getFileName().toString();
                        for (String f : formats) {
                            if (name.endsWith(f)) {
                                return true;
                            }
                        }
                        return false;
                    })
                    .sorted()
                    .collect(Collectors.toList());
        }
    }

    private static List<String> formats() {
        List<String> lower = new ArrayList<>();
        for (String f : NativeImageLoader.ALLOWED_FORMATS) {
            if (f.equals(f.toLowerCase(java.util.Locale.ROOT))) {
                lower.add(f);
            }
        }
        return lower;
    }

    private static void requireDirectory(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            throw new IOException("image folder " + dir.toAbsolutePath() + " does not exist");
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("image folder " + dir.toAbsolutePath() + " is not a directory");
        }
    }
}
