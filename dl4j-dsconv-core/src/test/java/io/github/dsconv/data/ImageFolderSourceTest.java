package io.github.dsconv.data;

import org.deeplearning4j.nn.conf.CNN2DFormat;
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
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ImageFolderSource} on small images written into a temporary folder. Each image is one flat colour, so
 * every pixel of a loaded image tells which class folder it came from and how channels were ordered and scaled.
 */
class ImageFolderSourceTest {

    private static final double PIXEL_TOL = 1e-6;
    /** JPEG is lossy; flat colours survive within a few grey levels. */
    private static final double JPEG_TOL = 4.0 / 255;

    private static final InputSpec RGB_NCHW = new InputSpec(3, 8, 8, CNN2DFormat.NCHW);

    private static void image(Path file, String format, int type, int r, int g, int b) throws IOException {
        BufferedImage img = new BufferedImage(8, 8, type);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                if (type == BufferedImage.TYPE_BYTE_GRAY) {
                    img.getRaster().setSample(x, y, 0, r); // setRGB would apply a colour-space conversion
                } else {
                    img.setRGB(x, y, (r << 16) | (g << 8) | b);
                }
            }
        }
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(img, format, file.toFile()), "no " + format + " writer");
    }

    /** "zebra" is created first but sorts second: apple images are red with a little blue, zebra images green. */
    private static Path twoClasses(Path dir, String format) throws IOException {
        for (int i = 0; i < 3; i++) {
            image(dir.resolve("zebra").resolve("z" + i + "." + format), format, BufferedImage.TYPE_INT_RGB, 0, 255, 0);
            image(dir.resolve("apple").resolve("a" + i + "." + format), format, BufferedImage.TYPE_INT_RGB, 255, 0,
                    51);
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

    /** Checks every image's first and last pixel against its class colour (r, g, b in 0..255), NCHW or NHWC. */
    private static void assertColours(List<DataSet> batches, double[][] rgbByClass, boolean bgr, boolean nhwc,
                                      double scale, double tol) {
        int[] perClass = new int[rgbByClass.length];
        for (DataSet ds : batches) {
            INDArray f = ds.getFeatures();
            for (int i = 0; i < ds.numExamples(); i++) {
                int label = ds.getLabels().getRow(i).argMax().getInt(0);
                perClass[label]++;
                for (int c = 0; c < 3; c++) {
                    double expected = rgbByClass[label][bgr ? 2 - c : c] * scale;
                    double first = nhwc ? f.getDouble(i, 0, 0, c) : f.getDouble(i, c, 0, 0);
                    double last = nhwc ? f.getDouble(i, 7, 5, c) : f.getDouble(i, c, 7, 5);
                    assertEquals(expected, first, tol, "image " + i + " channel " + c);
                    assertEquals(expected, last, tol, "image " + i + " channel " + c);
                }
            }
        }
        for (int n : perClass) {
            assertEquals(3, n);
        }
    }

    @Test
    void classesAreTheSortedSubfolderNamesAndLabelsFollowThem(@TempDir Path dir) throws IOException {
        twoClasses(dir, "png");
        Files.writeString(dir.resolve("zebra").resolve("notes.txt"), "not an image");
        ImageFolderSource s = ImageFolderSource.open(dir, Preprocessing.defaults());
        assertEquals(List.of("apple", "zebra"), s.classes());
        assertEquals(6, s.size());
        assertTrue(s.labelled());
    }

    @Test
    void pngBatchesAreRgbNchwScaledWithOneHotLabels(@TempDir Path dir) throws IOException {
        twoClasses(dir, "png");
        DataSetIterator it = ImageFolderSource.open(dir, Preprocessing.defaults()).batches(RGB_NCHW, 4, 0);
        List<DataSet> batches = all(it);
        assertEquals(2, batches.size(), "6 images in batches of 4");
        assertArrayEquals(new long[] {4, 3, 8, 8}, batches.get(0).getFeatures().shape());
        assertArrayEquals(new long[] {2, 2}, batches.get(1).getLabels().shape());
        assertColours(batches, new double[][] {{255, 0, 51}, {0, 255, 0}}, false, false, 1 / 255.0, PIXEL_TOL);
    }

    @Test
    void bgrOrderNhwcLayoutAndJpegFiles(@TempDir Path dir) throws IOException {
        twoClasses(dir, "jpg");
        Preprocessing bgr = Preprocessing.defaults().withChannelOrder(ChannelOrder.BGR);
        InputSpec nhwc = new InputSpec(3, 8, 8, CNN2DFormat.NHWC);
        List<DataSet> batches = all(ImageFolderSource.open(dir, bgr).batches(nhwc, 6, 0));
        assertArrayEquals(new long[] {6, 8, 8, 3}, batches.get(0).getFeatures().shape());
        assertColours(batches, new double[][] {{255, 0, 51}, {0, 255, 0}}, true, true, 1 / 255.0, JPEG_TOL);
    }

    @Test
    void meanStdAndScaleAreAppliedPerChannel(@TempDir Path dir) throws IOException {
        twoClasses(dir, "png");
        Preprocessing p = Preprocessing.defaults().withScale("1").withMean(10f, 20f, 30f).withStd(2f, 4f, 8f);
        DataSet ds = ImageFolderSource.open(dir, p).batches(RGB_NCHW, 6, 0).next();
        for (int i = 0; i < 6; i++) {
            boolean apple = ds.getLabels().getDouble(i, 0) == 1;
            // apple (255, 0, 51): (255-10)/2, (0-20)/4, (51-30)/8
            double[] expected = apple ? new double[] {122.5, -5, 2.625} : new double[] {-5, 58.75, -3.75};
            for (int c = 0; c < 3; c++) {
                assertEquals(expected[c], ds.getFeatures().getDouble(i, c, 3, 3), 1e-5);
            }
        }
    }

    @Test
    void greyImagesForAGreyModelAndResizingToTheModelSize(@TempDir Path dir) throws IOException {
        for (int i = 0; i < 4; i++) {
            image(dir.resolve(i % 2 == 0 ? "dark" : "light").resolve(i + ".png"), "png",
                    BufferedImage.TYPE_BYTE_GRAY, 60 + 100 * (i % 2), 60 + 100 * (i % 2), 60 + 100 * (i % 2));
        }
        DataSet ds = ImageFolderSource.open(dir, Preprocessing.defaults())
                .batches(new InputSpec(1, 4, 6, CNN2DFormat.NCHW), 10, 0).next();
        assertArrayEquals(new long[] {4, 1, 4, 6}, ds.getFeatures().shape());
        for (int i = 0; i < 4; i++) {
            double expected = ds.getLabels().getDouble(i, 0) == 1 ? 60 / 255.0 : 160 / 255.0;
            assertEquals(expected, ds.getFeatures().getDouble(i, 0, 2, 5), PIXEL_TOL, "flat colour survives resizing");
        }
    }

    @Test
    void aModelWithoutASizeTakesTheFirstImagesSize(@TempDir Path dir) throws IOException {
        twoClasses(dir, "png");
        ImageFolderSource s = ImageFolderSource.open(dir, Preprocessing.defaults());
        InputSpec any = new InputSpec(3, 0, 0, CNN2DFormat.NHWC);
        assertEquals(new InputSpec(3, 8, 8, CNN2DFormat.NHWC), s.resolve(any));
        assertArrayEquals(new long[] {6, 8, 8, 3}, s.features(any, 6).shape());
    }

    @Test
    void anUnlabelledFolderGivesFeaturesWithoutLabels(@TempDir Path dir) throws IOException {
        for (int i = 0; i < 5; i++) {
            image(dir.resolve(i + ".png"), "png", BufferedImage.TYPE_INT_RGB, 10 * i, 0, 0);
        }
        ImageFolderSource s = ImageFolderSource.open(dir, Preprocessing.defaults());
        assertTrue(s.classes().isEmpty());
        DataSet ds = s.batches(RGB_NCHW, 5, 0).next();
        assertNull(ds.getLabels());
        assertArrayEquals(new long[] {3, 3, 8, 8}, s.features(RGB_NCHW, 3).shape());
    }

    @Test
    void orderIsFixedAndTheFirstImagesMixClasses(@TempDir Path dir) throws IOException {
        for (int c = 0; c < 4; c++) {
            for (int i = 0; i < 10; i++) {
                image(dir.resolve("c" + c).resolve(i + ".png"), "png", BufferedImage.TYPE_INT_RGB, 20 * c, 0, 0);
            }
        }
        ImageFolderSource a = ImageFolderSource.open(dir, Preprocessing.defaults());
        ImageFolderSource b = ImageFolderSource.open(dir, Preprocessing.defaults());
        assertEquals(a.images(), b.images());
        DataSet first = a.batches(RGB_NCHW, 8, 8).next();
        long classes = java.util.stream.IntStream.range(0, 8).map(i -> first.getLabels().getRow(i).argMax().getInt(0))
                .distinct().count();
        assertTrue(classes >= 2, "the first 8 of a class-sorted folder come from several classes, got " + classes);
    }

    @Test
    void badFoldersAndImagesAreNamed(@TempDir Path dir) throws IOException {
        IOException missing = assertThrows(IOException.class,
                () -> ImageFolderSource.open(dir.resolve("nope"), Preprocessing.defaults()));
        assertTrue(missing.getMessage().contains("nope"));
        Files.createDirectories(dir.resolve("empty").resolve("cls"));
        IOException empty = assertThrows(IOException.class,
                () -> ImageFolderSource.open(dir.resolve("empty"), Preprocessing.defaults()));
        assertTrue(empty.getMessage().contains("no images"), empty.getMessage());
        Path mixed = twoClasses(dir.resolve("mixed"), "png");
        image(mixed.resolve("loose.png"), "png", BufferedImage.TYPE_INT_RGB, 1, 2, 3);
        assertThrows(IOException.class, () -> ImageFolderSource.open(mixed, Preprocessing.defaults()));
        Path deep = dir.resolve("deep");
        image(deep.resolve("a").resolve("b").resolve("x.png"), "png", BufferedImage.TYPE_INT_RGB, 1, 2, 3);
        assertThrows(IOException.class, () -> ImageFolderSource.open(deep, Preprocessing.defaults()));
        Path file = Files.writeString(dir.resolve("file.txt"), "x");
        assertThrows(IOException.class, () -> ImageFolderSource.open(file, Preprocessing.defaults()));
    }

    @Test
    void corruptImagesAndChannelMismatchesNameTheFile(@TempDir Path dir) throws IOException {
        Path good = twoClasses(dir.resolve("good"), "png");
        ImageFolderSource s = ImageFolderSource.open(good, Preprocessing.defaults());
        DataSetIterator grey = s.batches(new InputSpec(1, 8, 8, CNN2DFormat.NCHW), 6, 0);
        Exception mismatch = assertThrows(RuntimeException.class, grey::next);
        assertTrue(mismatch.getMessage().contains(".png") && mismatch.getMessage().contains("1 channel"),
                mismatch.getMessage());
        Path bad = twoClasses(dir.resolve("bad"), "png");
        Files.write(bad.resolve("apple").resolve("broken.png"), new byte[] {1, 2, 3, 4});
        DataSetIterator it = ImageFolderSource.open(bad, Preprocessing.defaults()).batches(RGB_NCHW, 7, 0);
        Exception corrupt = assertThrows(RuntimeException.class, it::next);
        assertTrue(corrupt.getMessage().contains("broken.png"), corrupt.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ImageFolderSource.open(good,
                Preprocessing.defaults().withMean(0.1f, 0.2f)).batches(RGB_NCHW, 2, 0));
    }
}
