package io.github.dsconv.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ImageFolderData} on small PNGs written into a temporary folder. Each image is one flat colour, so every
 * pixel of a loaded image tells which class folder it came from and how the channels were ordered and scaled.
 */
class ImageFolderDataTest {

    /** 1/255 steps are exact enough in float32; 1e-6 covers the division. */
    private static final double PIXEL_TOL = 1e-6;

    private static void png(Path file, int r, int g, int b) throws IOException {
        BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                img.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(img, "png", file.toFile()), "no PNG writer");
    }

    /**
     * Two classes named so that sorting matters ("zebra" would be first in creation order, "apple" is first
     * sorted): apple images are pure red with a little blue, zebra images are green.
     */
    private static Path twoClasses(Path dir) throws IOException {
        for (int i = 0; i < 3; i++) {
            png(dir.resolve("zebra").resolve("z" + i + ".png"), 0, 255, 0);
            png(dir.resolve("apple").resolve("a" + i + ".png"), 255, 0, 51);
        }
        return dir;
    }

    private static List<DataSet> all(DataSetIterator it) {
        List<DataSet> batches = new ArrayList<>();
        while (it.hasNext()) {
            batches.add(it.next());
        }
        return batches;
    }

    @Test
    void classesAreTheSortedSubfolderNames(@TempDir Path dir) throws IOException {
        twoClasses(dir);
        Files.writeString(dir.resolve("README.txt"), "not a class");
        assertEquals(List.of("apple", "zebra"), ImageFolderData.classes(dir));
    }

    @Test
    void batchesAreNchwScaledToTheUnitRangeWithOneHotLabelsOfTheirFolder(@TempDir Path dir) throws IOException {
        twoClasses(dir);
        DataSetIterator it = ImageFolderData.iterator(dir, 8, 8, 3, 4, 1);
        assertEquals(List.of("apple", "zebra"), it.getLabels());
        List<DataSet> batches = all(it);
        assertEquals(2, batches.size(), "6 images in batches of 4");
        assertArrayEquals(new long[] {4, 3, 8, 8}, batches.get(0).getFeatures().shape());
        assertArrayEquals(new long[] {2, 3, 8, 8}, batches.get(1).getFeatures().shape());
        int[] perClass = new int[2];
        for (DataSet ds : batches) {
            INDArray f = ds.getFeatures();
            INDArray y = ds.getLabels();
            assertEquals(2, y.size(1));
            for (int i = 0; i < ds.numExamples(); i++) {
                int label = y.getFloat(i, 0) == 1f ? 0 : 1;
                assertEquals(1.0, y.getRow(i).sumNumber().doubleValue(), 0, "one-hot row");
                perClass[label]++;
                // NativeImageLoader gives OpenCV's channel order: blue, green, red.
                double[] expectedBgr = label == 0
                        ? new double[] {51 / 255.0, 0, 1}  // apple: r 255, g 0, b 51
                        : new double[] {0, 1, 0};          // zebra: g 255
                for (int c = 0; c < 3; c++) {
                    assertEquals(expectedBgr[c], f.getDouble(i, c, 0, 0), PIXEL_TOL, "image " + i + " channel " + c);
                    assertEquals(expectedBgr[c], f.getDouble(i, c, 7, 5), PIXEL_TOL, "image " + i + " channel " + c);
                }
            }
            assertTrue(f.minNumber().doubleValue() >= 0 && f.maxNumber().doubleValue() <= 1, "range [0, 1]");
        }
        assertArrayEquals(new int[] {3, 3}, perClass);
    }

    @Test
    void greyscaleAndResizingFollowTheRequestedShape(@TempDir Path dir) throws IOException {
        twoClasses(dir);
        DataSet ds = ImageFolderData.iterator(dir, 4, 6, 1, 10, 1).next();
        assertArrayEquals(new long[] {6, 1, 4, 6}, ds.getFeatures().shape());
        assertArrayEquals(new long[] {6, 2}, ds.getLabels().shape());
        assertTrue(ds.getFeatures().maxNumber().doubleValue() <= 1);
        assertTrue(ds.getFeatures().minNumber().doubleValue() > 0, "no class is black");
    }

    @Test
    void orderIsReproducibleForASeed(@TempDir Path dir) throws IOException {
        for (int i = 0; i < 6; i++) {
            // Six shades of grey: the first pixel identifies the image.
            png(dir.resolve(i % 2 == 0 ? "even" : "odd").resolve(i + ".png"), 40 * i, 40 * i, 40 * i);
        }
        assertEquals(order(dir, 99), order(dir, 99));
    }

    private static List<Integer> order(Path dir, long seed) throws IOException {
        List<Integer> ids = new ArrayList<>();
        for (DataSet ds : all(ImageFolderData.iterator(dir, 8, 8, 1, 2, seed))) {
            for (int i = 0; i < ds.numExamples(); i++) {
                ids.add((int) Math.round(ds.getFeatures().getDouble(i, 0, 0, 0) * 255 / 40));
            }
        }
        assertEquals(List.of(0, 1, 2, 3, 4, 5), ids.stream().sorted().toList(), "every image once");
        return ids;
    }

    @Test
    void anEmptyClassFolderKeepsItsLabelColumn(@TempDir Path dir) throws IOException {
        twoClasses(dir);
        Files.createDirectories(dir.resolve("mango")); // sorts between apple and zebra, holds nothing
        DataSet ds = ImageFolderData.iterator(dir, 8, 8, 3, 6, 1).next();
        assertEquals(List.of("apple", "mango", "zebra"), ImageFolderData.classes(dir));
        assertArrayEquals(new long[] {6, 3}, ds.getLabels().shape());
        assertEquals(0.0, ds.getLabels().getColumn(1).sumNumber().doubleValue(), 0, "nothing is a mango");
        for (int i = 0; i < 6; i++) {
            boolean green = ds.getFeatures().getDouble(i, 1, 0, 0) > 0.5;
            assertEquals(1f, ds.getLabels().getFloat(i, green ? 2 : 0), 0f, "image " + i);
        }
    }

    @Test
    void clearErrorsNameTheFolder(@TempDir Path dir) throws IOException {
        Path missing = dir.resolve("nope");
        IOException e = assertThrows(IOException.class, () -> ImageFolderData.iterator(missing, 8, 8, 3, 2, 1));
        assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains("nope"), e.getMessage());
        assertTrue(Files.notExists(missing), "DataVec's FileSplit would have created it as a file");

        Path file = Files.writeString(dir.resolve("file.txt"), "x");
        e = assertThrows(IOException.class, () -> ImageFolderData.classes(file));
        assertTrue(e.getMessage().contains("not a directory") && e.getMessage().contains("file.txt"), e.getMessage());

        Path flat = dir.resolve("flat");
        png(flat.resolve("lonely.png"), 1, 2, 3);
        e = assertThrows(IOException.class, () -> ImageFolderData.iterator(flat, 8, 8, 3, 2, 1));
        assertTrue(e.getMessage().contains("no class subfolders") && e.getMessage().contains("flat"), e.getMessage());

        Path empty = dir.resolve("empty");
        Files.createDirectories(empty.resolve("cats"));
        Files.writeString(empty.resolve("cats").resolve("notes.txt"), "no pictures");
        e = assertThrows(IOException.class, () -> ImageFolderData.iterator(empty, 8, 8, 3, 2, 1));
        assertTrue(e.getMessage().contains("no images") && e.getMessage().contains("empty"), e.getMessage());
    }

    @Test
    void imagesOutsideAClassSubfolderAreRejected(@TempDir Path dir) throws IOException {
        twoClasses(dir);
        png(dir.resolve("stray.png"), 1, 2, 3);
        IOException e = assertThrows(IOException.class, () -> ImageFolderData.iterator(dir, 8, 8, 3, 2, 1));
        assertTrue(e.getMessage().contains("stray.png"), e.getMessage());

        Files.delete(dir.resolve("stray.png"));
        png(dir.resolve("apple").resolve("2023").resolve("deep.png"), 1, 2, 3);
        e = assertThrows(IOException.class, () -> ImageFolderData.iterator(dir, 8, 8, 3, 2, 1));
        assertTrue(e.getMessage().contains("deep.png"), e.getMessage());
    }

    @Test
    void rejectsBadArguments(@TempDir Path dir) throws IOException {
        twoClasses(dir);
        assertThrows(IllegalArgumentException.class, () -> ImageFolderData.iterator(dir, 0, 8, 3, 2, 1));
        assertThrows(IllegalArgumentException.class, () -> ImageFolderData.iterator(dir, 8, 8, 2, 2, 1));
        assertThrows(IllegalArgumentException.class, () -> ImageFolderData.iterator(dir, 8, 8, 3, 0, 1));
    }
}
