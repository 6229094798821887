package io.github.dsconv.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Images for evaluation and calibration, handed over in the layout, size and channels a model takes
 * ({@link InputSpec}) after the source's {@link Preprocessing}.
 *
 * <p>Every command and API that reads images (evaluation, calibration, bias correction, Hessian rounding, weighted
 * fit, distillation, the table) takes one of these: {@link FashionMnistSource} (the embedded default) or
 * {@link ImageFolderSource} (a user's folder, labelled by subfolder or unlabelled). The order of the images is
 * fixed, so "the first n" is the same set on every run.
 */
public interface ImageSource {

    /** A short name: {@code fashion-mnist} or the folder's path. */
    String name();

    /** What is read, e.g. {@code image folder /data/test (10 classes, 10000 images; scale 1/255, RGB)}. */
    String describe();

    /** Class names in label order; empty when the source has no labels. */
    List<String> classes();

    /** Whether the images have labels. */
    default boolean labelled() {
        return !classes().isEmpty();
    }

    /** Number of images available. */
    int size();

    /**
     * {@code spec} with a size when it has none: the size the images will be handed over at (for a folder, its
     * first image's). The default returns {@code spec}.
     */
    default InputSpec resolve(InputSpec spec) throws IOException {
        return spec;
    }

    /**
     * Batches of the first {@code limit} images (all when {@code limit <= 0}), in a fixed order, resettable.
     *
     * @param spec      what the model takes (channels and layout; the size when the model fixes it)
     * @param batchSize images a batch (the last may be smaller)
     * @param limit     number of images, {@code <= 0} for all
     * @return features in {@code spec}'s layout and one-hot labels over {@link #classes()} (null labels when the
     *         source is unlabelled)
     * @throws IOException naming the file or folder that cannot be read or does not fit {@code spec}
     */
    DataSetIterator batches(InputSpec spec, int batchSize, int limit) throws IOException;

    /**
     * Like {@link #batches}, but decoded once and held in memory when the images take at most
     * {@value #CACHE_BYTES} bytes as floats, so that several passes (one per model compared) decode once.
     */
    default DataSetIterator cached(InputSpec spec, int batchSize, int limit) throws IOException {
        InputSpec s = resolve(spec);
        long n = limit <= 0 ? size() : Math.min(limit, size());
        if (n * s.channels() * s.height() * s.width() * 4L > CACHE_BYTES) {
            return batches(s, batchSize, limit);
        }
        DataSetIterator it = batches(s, 1024, limit);
        List<DataSet> parts = new ArrayList<>();
        while (it.hasNext()) {
            parts.add(it.next());
        }
        DataSet all = parts.size() == 1 ? parts.get(0) : DataSet.merge(parts);
        return new InMemoryIterator(all, batchSize);
    }

    /** Largest image set {@link #cached} holds in memory: 1 GiB. */
    long CACHE_BYTES = 1L << 30;

    /**
     * The first {@code n} images as one array, features only (labels, if any, are not read): calibration data.
     *
     * @throws IllegalArgumentException when the source has fewer than {@code n} images
     */
    default INDArray features(InputSpec spec, int n) throws IOException {
        if (n <= 0) {
            throw new IllegalArgumentException("number of images must be positive, got " + n);
        }
        if (n > size()) {
            throw new IllegalArgumentException(describe() + " has " + size() + " images, fewer than the " + n
                    + " asked for");
        }
        DataSetIterator it = batches(spec, Math.min(n, 256), n);
        List<INDArray> parts = new ArrayList<>();
        while (it.hasNext()) {
            DataSet b = it.next();
            parts.add(b.getFeatures());
        }
        return parts.size() == 1 ? parts.get(0) : Nd4j.concat(0, parts.toArray(new INDArray[0]));
    }
}
