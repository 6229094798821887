package io.github.dsconv.data;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.bytedeco.opencv.global.opencv_core.CV_16U;
import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_UNCHANGED;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;
import static org.bytedeco.opencv.global.opencv_imgproc.COLOR_BGRA2BGR;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.cvtColor;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * A folder of images as an {@link ImageSource}: either one subfolder per class ({@code dir/cat/001.jpg}; labels are
 * the sorted subfolder names' indices, as Keras' and PyTorch's image-folder readers do), or images directly in the
 * folder, unlabelled (for calibration and distillation).
 *
 * <p>Images (PNG, JPEG, BMP, TIFF, ... anything OpenCV decodes) are decoded from their bytes by OpenCV, so any file
 * name works. Colour images are handed over in RGB order by default ({@link ChannelOrder}); an alpha channel is
 * dropped; 16-bit images are scaled to 8 bits. An image is resized (bilinear, as DataVec does) to the model's input
 * size when the model fixes one, otherwise to the size of the folder's first image. A grey image for a colour
 * model, or a colour image for a grey model, is an error naming the file: a silent conversion would hide a folder
 * meant for another model.
 *
 * <p>Order: all images sorted by path, then shuffled once with a fixed seed ({@value #ORDER_SEED}), so that the
 * first n images of a class-sorted folder are a class-balanced sample and the same on every run.
 */
public final class ImageFolderSource implements ImageSource {

    /** The seed of the fixed image order. */
    public static final long ORDER_SEED = 42;
    /** File name endings read as images (lower case; matched case-insensitively). */
    public static final Set<String> EXTENSIONS = Set.of(".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp",
            ".pgm", ".ppm", ".pbm");

    private final Path root;
    private final List<String> classes;
    private final List<Path> images;
    private final int[] labels;
    private final Preprocessing preprocessing;

    private ImageFolderSource(Path root, List<String> classes, List<Path> images, int[] labels,
                              Preprocessing preprocessing) {
        this.root = root;
        this.classes = classes;
        this.images = images;
        this.labels = labels;
        this.preprocessing = preprocessing;
    }

    /**
     * Opens a folder: lists its images (nothing is decoded yet).
     *
     * @throws IOException naming the folder when it does not exist, is not a folder, holds no images, mixes images
     *                     with class subfolders, or has images deeper than one subfolder
     */
    public static ImageFolderSource open(Path dir, Preprocessing preprocessing) throws IOException {
        if (!Files.exists(dir)) {
            throw new IOException("image folder " + dir + " does not exist");
        }
        if (!Files.isDirectory(dir)) {
            throw new IOException("image folder " + dir + " is not a folder");
        }
        Path root = dir.toAbsolutePath().normalize();
        List<Path> all;
        try (Stream<Path> files = Files.walk(root)) {
            all = files.filter(Files::isRegularFile).filter(ImageFolderSource::isImage).sorted()
                    .collect(Collectors.toList());
        }
        if (all.isEmpty()) {
            throw new IOException("image folder " + dir + " has no images (" + String.join(", ",
                    EXTENSIONS.stream().sorted().toList()) + ")");
        }
        boolean direct = false;
        boolean nested = false;
        for (Path p : all) {
            Path parent = p.getParent();
            if (parent.equals(root)) {
                direct = true;
            } else if (parent.getParent().equals(root)) {
                nested = true;
            } else {
                throw new IOException("image " + p + " is more than one folder deep in " + dir
                        + ": put images in one subfolder per class, or all directly in the folder");
            }
        }
        if (direct && nested) {
            throw new IOException("image folder " + dir + " holds images both directly and in class subfolders: "
                    + "use one subfolder per class (labelled) or only images (unlabelled)");
        }
        List<String> classes = List.of();
        if (nested) {
            try (Stream<Path> entries = Files.list(root)) {
                classes = entries.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
            }
        }
        List<Path> order = new ArrayList<>(all);
        Collections.shuffle(order, new Random(ORDER_SEED));
        int[] labels = new int[order.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = nested ? classes.indexOf(order.get(i).getParent().getFileName().toString()) : -1;
        }
        return new ImageFolderSource(root, classes, List.copyOf(order), labels, preprocessing);
    }

    private static boolean isImage(Path p) {
        String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.startsWith(".")) {
            return false;
        }
        int dot = name.lastIndexOf('.');
        return dot >= 0 && EXTENSIONS.contains(name.substring(dot));
    }

    /** The folder. */
    public Path root() {
        return root;
    }

    @Override
    public String name() {
        return root.toString();
    }

    @Override
    public String describe() {
        return "image folder " + root + " (" + images.size() + " images, " + (classes.isEmpty() ? "unlabelled"
                : classes.size() + " classes") + "; " + preprocessing.describe() + ")";
    }

    @Override
    public List<String> classes() {
        return classes;
    }

    @Override
    public int size() {
        return images.size();
    }

    /** The images in the fixed order. */
    public List<Path> images() {
        return images;
    }

    @Override
    public DataSetIterator batches(InputSpec spec, int batchSize, int limit) throws IOException {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        preprocessing.requireChannels(spec.channels());
        InputSpec sized = resolve(spec);
        int n = limit <= 0 ? images.size() : Math.min(limit, images.size());
        return new Batches(sized, batchSize, n);
    }

    @Override
    public InputSpec resolve(InputSpec spec) throws IOException {
        if (spec.hasSize()) {
            return spec;
        }
        try (Mat first = decode(images.get(0))) {
            return spec.withSize(first.rows(), first.cols());
        }
    }

    /** Decodes one image to 8-bit, 1 or 3 channels (OpenCV's BGR order). */
    private static Mat decode(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IOException("cannot read image " + file + ": " + e.getMessage(), e);
        }
        Mat m;
        try (BytePointer data = new BytePointer(bytes); Mat buf = new Mat(1, bytes.length, CV_8UC1, data)) {
            m = imdecode(buf, IMREAD_UNCHANGED);
        }
        if (m == null || m.empty()) {
            throw new IOException("image " + file + " cannot be decoded (corrupt or not an image)");
        }
        if (m.depth() != CV_8U) {
            Mat eight = new Mat();
            m.convertTo(eight, CV_8U, m.depth() == CV_16U ? 1.0 / 257 : 1.0, 0);
            m.close();
            m = eight;
        }
        if (m.channels() == 4) {
            Mat bgr = new Mat();
            cvtColor(m, bgr, COLOR_BGRA2BGR);
            m.close();
            m = bgr;
        } else if (m.channels() != 1 && m.channels() != 3) {
            int c = m.channels();
            m.close();
            throw new IOException("image " + file + " has " + c + " channels; expected grey, RGB or RGBA");
        }
        return m;
    }

    /** Reads image {@code i} into {@code out} at {@code offset}, planar {@code [c][h][w]}, preprocessed. */
    private void read(int i, InputSpec spec, float[] out, int offset) throws IOException {
        Path file = images.get(i);
        Mat m = decode(file);
        try {
            if (m.channels() != spec.channels()) {
                throw new IOException("image " + file + " is " + (m.channels() == 1 ? "grey (1 channel)"
                        : "colour (3 channels)") + " but the model takes " + spec.channels() + " channel"
                        + (spec.channels() == 1 ? "" : "s") + ": convert the folder's images");
            }
            if (m.rows() != spec.height() || m.cols() != spec.width()) {
                Mat r = new Mat();
                resize(m, r, new Size(spec.width(), spec.height()), 0, 0, INTER_LINEAR);
                m.close();
                m = r;
            }
            int h = spec.height();
            int w = spec.width();
            int c = spec.channels();
            byte[] px = new byte[h * w * c];
            Mat cont = m.isContinuous() ? m : m.clone();
            cont.data().get(px);
            if (cont != m) {
                cont.close();
            }
            int plane = h * w;
            boolean rgb = preprocessing.channelOrder() == ChannelOrder.RGB;
            for (int ch = 0; ch < c; ch++) {
                // OpenCV decodes colour as B, G, R: channel ch of the output is source channel 2 - ch for RGB.
                int src = c == 3 && rgb ? 2 - ch : ch;
                int base = offset + ch * plane;
                for (int k = 0; k < plane; k++) {
                    out[base + k] = px[k * c + src] & 0xff;
                }
            }
            preprocessing.apply(out, offset, c, plane);
        } finally {
            m.close();
        }
    }

    /** Decodes batch by batch, so a large folder never sits in memory at once. */
    private final class Batches implements DataSetIterator {
        private final InputSpec spec;
        private final int batchSize;
        private final int n;
        private int cursor;
        private DataSetPreProcessor pre;

        Batches(InputSpec spec, int batchSize, int n) {
            this.spec = spec;
            this.batchSize = batchSize;
            this.n = n;
        }

        @Override
        public boolean hasNext() {
            return cursor < n;
        }

        @Override
        public DataSet next() {
            return next(batchSize);
        }

        @Override
        public DataSet next(int num) {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            int b = Math.min(num, n - cursor);
            int per = spec.channels() * spec.height() * spec.width();
            float[] f = new float[b * per];
            float[] y = classes.isEmpty() ? null : new float[b * classes.size()];
            for (int i = 0; i < b; i++) {
                try {
                    read(cursor + i, spec, f, i * per);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e.getMessage(), e);
                }
                if (y != null) {
                    y[i * classes.size() + labels[cursor + i]] = 1f;
                }
            }
            cursor += b;
            INDArray x = Nd4j.create(f, new long[] {b, spec.channels(), spec.height(), spec.width()}, 'c');
            if (spec.layout() == CNN2DFormat.NHWC) {
                x = x.permute(0, 2, 3, 1).dup('c');
            }
            DataSet d = new DataSet(x, y == null ? null : Nd4j.create(y, new long[] {b, classes.size()}, 'c'));
            if (pre != null) {
                pre.preProcess(d);
            }
            return d;
        }

        @Override
        public int inputColumns() {
            return spec.channels() * spec.height() * spec.width();
        }

        @Override
        public int totalOutcomes() {
            return classes.size();
        }

        @Override
        public boolean resetSupported() {
            return true;
        }

        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            cursor = 0;
        }

        @Override
        public int batch() {
            return batchSize;
        }

        @Override
        public void setPreProcessor(DataSetPreProcessor preProcessor) {
            this.pre = preProcessor;
        }

        @Override
        public DataSetPreProcessor getPreProcessor() {
            return pre;
        }

        @Override
        public List<String> getLabels() {
            return classes;
        }
    }
}
