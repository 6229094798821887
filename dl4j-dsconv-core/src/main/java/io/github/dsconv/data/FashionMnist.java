package io.github.dsconv.data;

import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) read from the IDX files that Debian's
 * {@code dataset-fashion-mnist} package installs in {@value #DEBIAN_DIR}.
 *
 * <p>The folder is, in order: an explicit path, the {@value #ENV_VAR} environment variable, the
 * {@value #PROPERTY} system property, then the Debian folder. Files may be gzipped ({@code *.gz}) or not.
 * Images become {@code [n, 1, 28, 28]} floats in {@code [0, 1]} (pixel / 255); labels are one-hot over 10 classes.
 */
public final class FashionMnist {

    /** Where Debian's package installs the files. */
    public static final String DEBIAN_DIR = "/usr/share/datasets/fashion-mnist";
    /** Environment variable naming another folder. */
    public static final String ENV_VAR = "FASHION_MNIST_DIR";
    /** System property naming another folder. */
    public static final String PROPERTY = "dsconv.fashionMnistDir";
    /** Number of classes. */
    public static final int CLASSES = 10;
    /** Image side in pixels. */
    public static final int SIDE = 28;
    /** Class names in label order. */
    public static final String[] CLASS_NAMES = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
        "Shirt", "Sneaker", "Bag", "Ankle boot"};

    /** Which split. */
    public enum Split {
        /** 60,000 training images. */
        TRAIN("train"),
        /** 10,000 test images. */
        TEST("t10k");

        private final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }
    }

    private FashionMnist() {
    }

    /** The data folder from the environment variable, the system property or Debian's default. */
    public static Path defaultDir() {
        String env = System.getenv(ENV_VAR);
        if (env != null && !env.isBlank()) {
            return Paths.get(env);
        }
        String prop = System.getProperty(PROPERTY);
        if (prop != null && !prop.isBlank()) {
            return Paths.get(prop);
        }
        return Paths.get(DEBIAN_DIR);
    }

    /** Loads a split from the default folder. */
    public static DataSet load(Split split, int limit) throws IOException {
        return load(defaultDir(), split, limit);
    }

    /**
     * Loads a split.
     *
     * @param dir   folder holding the four IDX files
     * @param split train or test
     * @param limit at most this many images (the first ones); {@code <= 0} for all
     * @return features {@code [n,1,28,28]} in [0,1] and one-hot labels {@code [n,10]}
     * @throws IOException with a message saying how to install the data when the files are absent
     */
    public static DataSet load(Path dir, Split split, int limit) throws IOException {
        Path images = find(dir, split.prefix + "-images-idx3-ubyte");
        Path labels = find(dir, split.prefix + "-labels-idx1-ubyte");
        byte[] lab = readIdx(labels, 2049, 1);
        byte[] img = readIdx(images, 2051, 3, SIDE, SIDE);
        int n = lab.length;
        if (img.length != n * SIDE * SIDE) {
            throw new IOException(images + ": holds " + img.length / (SIDE * SIDE) + " images but " + labels
                    + " holds " + n + " labels");
        }
        if (limit > 0) {
            n = Math.min(n, limit);
        }
        float[] f = new float[n * SIDE * SIDE];
        for (int i = 0; i < f.length; i++) {
            f[i] = (img[i] & 0xff) / 255f;
        }
        float[] y = new float[n * CLASSES];
        for (int i = 0; i < n; i++) {
            int k = lab[i] & 0xff;
            if (k >= CLASSES) {
                throw new IOException(labels + ": label " + k + " at index " + i + " is not in [0, 9]");
            }
            y[i * CLASSES + k] = 1f;
        }
        return new DataSet(Nd4j.create(f, new long[] {n, 1, SIDE, SIDE}, 'c'),
                Nd4j.create(y, new long[] {n, CLASSES}, 'c'));
    }

    private static Path find(Path dir, String base) throws IOException {
        for (String name : new String[] {base + ".gz", base}) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IOException("Fashion-MNIST file " + base + "[.gz] not found in " + dir
                + ": install it with 'sudo apt-get install dataset-fashion-mnist' or set " + ENV_VAR
                + " to a folder holding the IDX files");
    }

    /** Reads an IDX file's payload after checking its magic number and dimensions. */
    static byte[] readIdx(Path file, int magic, int dims, int... trailing) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
             InputStream in = file.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
             DataInputStream data = new DataInputStream(in)) {
            int m = data.readInt();
            if (m != magic) {
                throw new IOException(file + ": not an IDX file of rank " + dims + " (magic " + m + ", expected "
                        + magic + ")");
            }
            long count = 1;
            for (int d = 0; d < dims; d++) {
                int size = data.readInt();
                if (size <= 0) {
                    throw new IOException(file + ": bad dimension " + size);
                }
                int t = d - (dims - trailing.length);
                if (t >= 0 && size != trailing[t]) {
                    throw new IOException(file + ": dimension " + d + " is " + size + ", expected " + trailing[t]);
                }
                count *= size;
            }
            if (count > Integer.MAX_VALUE) {
                throw new IOException(file + ": too large (" + count + " values)");
            }
            byte[] out = new byte[(int) count];
            data.readFully(out);
            return out;
        } catch (EOFException e) {
            throw new IOException(file + ": truncated IDX file", e);
        } catch (java.util.zip.ZipException e) {
            throw new IOException(file + ": corrupt gzip data (" + e.getMessage() + ")", e);
        }
    }
}
