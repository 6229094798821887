package io.github.dsconv.data;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The IDX reader on tiny synthetic files (so it runs everywhere), plus the real test split when Debian's
 * {@code dataset-fashion-mnist} is installed.
 */
class FashionMnistTest {

    private static final int PIXELS = FashionMnist.SIDE * FashionMnist.SIDE;

    /** An IDX file: magic, dimensions, then the payload, all big-endian as the format says. */
    private static byte[] idx(int magic, int[] dims, byte[] payload) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(magic);
            for (int d : dims) {
                out.writeInt(d);
            }
            out.write(payload);
        }
        return bytes.toByteArray();
    }

    private static void write(Path file, byte[] content) throws IOException {
        if (file.toString().endsWith(".gz")) {
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(file))) {
                out.write(content);
            }
        } else {
            Files.write(file, content);
        }
    }

    /** Image {@code i} has every pixel equal to {@code 100 * i + pixel % 7}, so pixels and images are tellable. */
    private static byte[] images(int n) {
        byte[] img = new byte[n * PIXELS];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < PIXELS; p++) {
                img[i * PIXELS + p] = (byte) Math.min(255, 100 * i + p % 7);
            }
        }
        return img;
    }

    private static void writeSplit(Path dir, String prefix, byte[] labels, boolean gzip) throws IOException {
        String ext = gzip ? ".gz" : "";
        write(dir.resolve(prefix + "-labels-idx1-ubyte" + ext), idx(2049, new int[] {labels.length}, labels));
        write(dir.resolve(prefix + "-images-idx3-ubyte" + ext),
                idx(2051, new int[] {labels.length, 28, 28}, images(labels.length)));
    }

    private static void assertSynthetic(DataSet ds, byte[] labels) {
        int n = labels.length;
        assertArrayEquals(new long[] {n, 1, 28, 28}, ds.getFeatures().shape());
        assertArrayEquals(new long[] {n, 10}, ds.getLabels().shape());
        float[] f = ds.getFeatures().reshape(n, PIXELS).toFloatMatrix()[n - 1];
        // Pixel / 255, float32: tolerance 1e-7 covers the division's rounding.
        assertEquals(Math.min(255, 100 * (n - 1) + 5) / 255f, f[5], 1e-7);
        assertEquals(Math.min(255, 100 * (n - 1)) / 255f, f[7], 1e-7);
        INDArray y = ds.getLabels();
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 10; k++) {
                assertEquals(k == labels[i] ? 1f : 0f, y.getFloat(i, k), 0f, "label row " + i);
            }
        }
    }

    @Test
    void readsPlainAndGzippedIdxFiles(@TempDir Path dir) throws IOException {
        byte[] test = {0, 9, 3};
        byte[] train = {7, 1};
        writeSplit(dir, "t10k", test, true);
        writeSplit(dir, "train", train, false);
        assertSynthetic(FashionMnist.load(dir, FashionMnist.Split.TEST, 0), test);
        assertSynthetic(FashionMnist.load(dir, FashionMnist.Split.TRAIN, 0), train);
        // Image 2 is 200 + p % 7 capped at 255: pixel 6 is 206, pixel 0 is 200.
        DataSet ds = FashionMnist.load(dir, FashionMnist.Split.TEST, 0);
        assertEquals(206 / 255f, ds.getFeatures().getFloat(2, 0, 0, 6), 1e-7);
    }

    @Test
    void limitKeepsTheFirstImages(@TempDir Path dir) throws IOException {
        writeSplit(dir, "t10k", new byte[] {4, 5, 6}, false);
        DataSet ds = FashionMnist.load(dir, FashionMnist.Split.TEST, 2);
        assertEquals(2, ds.numExamples());
        assertEquals(1f, ds.getLabels().getFloat(1, 5), 0f);
        assertEquals(100 / 255f, ds.getFeatures().getFloat(1, 0, 0, 0), 1e-7);
    }

    @Test
    void missingFilesSayHowToInstallTheData(@TempDir Path dir) {
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST, 0));
        assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
        assertTrue(e.getMessage().contains("FASHION_MNIST_DIR"), e.getMessage());
        assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
    }

    @Test
    void badMagicIsRejected(@TempDir Path dir) throws IOException {
        writeSplit(dir, "t10k", new byte[] {1}, false);
        // An image file where the label file should be: magic 2051 instead of 2049.
        write(dir.resolve("t10k-labels-idx1-ubyte"), idx(2051, new int[] {1}, new byte[] {1}));
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST, 0));
        assertTrue(e.getMessage().contains("magic"), e.getMessage());
    }

    @Test
    void truncatedFileIsRejected(@TempDir Path dir) throws IOException {
        byte[] labels = {1, 2};
        writeSplit(dir, "t10k", labels, true);
        // The header promises 2 images but only 1.5 follow.
        byte[] shortPayload = Arrays.copyOf(images(2), PIXELS + PIXELS / 2);
        write(dir.resolve("t10k-images-idx3-ubyte.gz"), idx(2051, new int[] {2, 28, 28}, shortPayload));
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST, 0));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void labelOutOfRangeIsRejected(@TempDir Path dir) throws IOException {
        writeSplit(dir, "t10k", new byte[] {3, 10}, false);
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST, 0));
        assertTrue(e.getMessage().contains("label 10"), e.getMessage());
    }

    @Test
    void imageAndLabelCountsMustMatch(@TempDir Path dir) throws IOException {
        writeSplit(dir, "t10k", new byte[] {3, 4}, false);
        write(dir.resolve("t10k-labels-idx1-ubyte"), idx(2049, new int[] {3}, new byte[] {3, 4, 5}));
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir, FashionMnist.Split.TEST, 0));
        assertTrue(e.getMessage().contains("3 labels"), e.getMessage());
    }

    @Test
    void realTestSplitHasTenThousandBalancedImagesInTheUnitRange() throws IOException {
        Path debian = Paths.get(FashionMnist.DEBIAN_DIR);
        assumeTrue(Files.isDirectory(debian), "dataset-fashion-mnist is not installed");
        DataSet ds = FashionMnist.load(debian, FashionMnist.Split.TEST, 0);
        assertEquals(10000, ds.numExamples());
        assertArrayEquals(new long[] {10000, 1, 28, 28}, ds.getFeatures().shape());
        double[] perClass = ds.getLabels().sum(0).toDoubleVector();
        for (int k = 0; k < 10; k++) {
            assertEquals(1000, perClass[k], 0, "class " + k);
        }
        // One-hot: every row sums to exactly 1.
        assertEquals(10000, ds.getLabels().sumNumber().doubleValue(), 0);
        assertEquals(0.0, ds.getFeatures().minNumber().doubleValue(), 0);
        assertEquals(1.0, ds.getFeatures().maxNumber().doubleValue(), 0);
    }

    @Test
    void systemPropertyNamesTheFolderWhenTheEnvironmentDoesNot() {
        assumeTrue(System.getenv(FashionMnist.ENV_VAR) == null, FashionMnist.ENV_VAR + " is set here");
        String before = System.getProperty(FashionMnist.PROPERTY);
        try {
            System.setProperty(FashionMnist.PROPERTY, "/some/where");
            assertEquals(Paths.get("/some/where"), FashionMnist.defaultDir());
            System.clearProperty(FashionMnist.PROPERTY);
            assertEquals(Paths.get(FashionMnist.DEBIAN_DIR), FashionMnist.defaultDir());
        } finally {
            if (before == null) {
                System.clearProperty(FashionMnist.PROPERTY);
            } else {
                System.setProperty(FashionMnist.PROPERTY, before);
            }
        }
    }

    /**
     * {@link InMemoryIterator}, which serves the loaded Fashion-MNIST arrays (kept in this file with the loader
     * it serves). Example {@code i} has every feature equal to {@code i} and label {@code i % 3}, so a batch row
     * says which example it is and whether its label travelled with it.
     */
    @Nested
    class InMemoryIteratorTests {

        private DataSet numbered(int n) {
            float[] f = new float[n * 4];
            float[] y = new float[n * 3];
            for (int i = 0; i < n; i++) {
                Arrays.fill(f, i * 4, i * 4 + 4, i);
                y[i * 3 + i % 3] = 1f;
            }
            return new DataSet(Nd4j.create(f, new long[] {n, 1, 2, 2}, 'c'), Nd4j.create(y, new long[] {n, 3}, 'c'));
        }

        /** Example ids of one pass, checking batch shapes and that labels stayed with their features. */
        private List<Integer> epoch(InMemoryIterator it, int batch, int n) {
            List<Integer> ids = new ArrayList<>();
            while (it.hasNext()) {
                DataSet ds = it.next();
                int rows = ds.numExamples();
                assertEquals(Math.min(batch, n - ids.size()), rows, "batch size");
                assertArrayEquals(new long[] {rows, 1, 2, 2}, ds.getFeatures().shape());
                for (int r = 0; r < rows; r++) {
                    int id = (int) ds.getFeatures().getFloat(r, 0, 1, 1);
                    assertEquals(1f, ds.getLabels().getFloat(r, id % 3), 0f, "label of example " + id);
                    ids.add(id);
                }
            }
            return ids;
        }

        private static List<Integer> sorted(List<Integer> ids) {
            List<Integer> s = new ArrayList<>(ids);
            Collections.sort(s);
            return s;
        }

        private static List<Integer> range(int n) {
            List<Integer> r = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                r.add(i);
            }
            return r;
        }

        @Test
        void fixedOrderBatchesCoverEveryExampleOnceInOrder() {
            InMemoryIterator it = new InMemoryIterator(numbered(10), 3);
            assertEquals(range(10), epoch(it, 3, 10)); // batches of 3, 3, 3, 1
            it.reset();
            assertEquals(range(10), epoch(it, 3, 10));
            assertEquals(4, it.inputColumns());
            assertEquals(3, it.totalOutcomes());
            assertEquals(10, it.numExamples());
        }

        @Test
        void shuffledBatchesCoverEveryExampleExactlyOnce() {
            InMemoryIterator it = new InMemoryIterator(numbered(10), 4, true, 42);
            for (int e = 0; e < 3; e++) {
                assertEquals(range(10), sorted(epoch(it, 4, 10)), "epoch " + e);
                it.reset();
            }
        }

        @Test
        void shuffleIsReproducibleForASeedAndChangesBetweenEpochs() {
            // With 20 examples two independent shuffles coincide with probability 1/20!, and the seeds are fixed,
            // so the inequalities below are deterministic facts about these seeds, not luck.
            InMemoryIterator a = new InMemoryIterator(numbered(20), 6, true, 7);
            InMemoryIterator b = new InMemoryIterator(numbered(20), 6, true, 7);
            List<Integer> a0 = epoch(a, 6, 20);
            assertEquals(a0, epoch(b, 6, 20), "same seed, same first epoch");
            assertNotEquals(range(20), a0, "shuffled");
            a.reset();
            b.reset();
            List<Integer> a1 = epoch(a, 6, 20);
            assertEquals(a1, epoch(b, 6, 20), "same seed, same second epoch");
            assertNotEquals(a0, a1, "a new order every epoch");
            assertNotEquals(a0, epoch(new InMemoryIterator(numbered(20), 6, true, 8), 6, 20), "seed matters");
        }

        @Test
        void preProcessorRunsOnEveryBatch() {
            InMemoryIterator it = new InMemoryIterator(numbered(5), 2);
            it.setPreProcessor(ds -> ds.getFeatures().addi(100));
            float sum = 0;
            while (it.hasNext()) {
                DataSet ds = it.next();
                assertTrue(ds.getFeatures().minNumber().floatValue() >= 100);
                sum += ds.getFeatures().sumNumber().floatValue();
            }
            // (0 + 1 + 2 + 3 + 4 + 5 * 100) * 4 features
            assertEquals(2040f, sum, 0f);
        }

        @Test
        void rejectsANonPositiveBatchSize() {
            assertThrows(IllegalArgumentException.class, () -> new InMemoryIterator(numbered(2), 0));
        }
    }
}
