package io.github.dsconv.distill;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * Gathers the unlabelled images that distillation (Hinton et al. 2015, "Distilling the Knowledge in a Neural
 * Network") of a DSConv (ICCV 2019) student trains on: features only. From a {@link DataSetIterator} only
 * {@code getFeatures()} is called, so its labels (if any) never reach the training.
 */
public final class UnlabelledImages {

    private UnlabelledImages() {
    }

    /**
     * The features of every batch, stacked.
     *
     * @param data  batches; their labels are ignored (reset first when supported)
     * @param limit at most this many images (the first ones); {@code <= 0} for all
     * @return {@code [n, ...]} float features, c order
     */
    public static INDArray from(DataSetIterator data, int limit) {
        if (data.resetSupported()) {
            data.reset();
        }
        List<INDArray> parts = new ArrayList<>();
        long n = 0;
        while (data.hasNext() && (limit <= 0 || n < limit)) {
            INDArray f = data.next().getFeatures();
            n += add(parts, f, limit, n);
        }
        return stack(parts);
    }

    /** The features of every batch of a plain iterator of feature arrays, stacked (at most {@code limit}). */
    public static INDArray from(Iterator<INDArray> features, int limit) {
        List<INDArray> parts = new ArrayList<>();
        long n = 0;
        while (features.hasNext() && (limit <= 0 || n < limit)) {
            n += add(parts, features.next(), limit, n);
        }
        return stack(parts);
    }

    private static long add(List<INDArray> parts, INDArray f, int limit, long sofar) {
        long take = f.size(0);
        if (limit > 0 && sofar + take > limit) {
            take = limit - sofar;
            f = f.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, take));
        }
        // A copy: some iterators reuse their batch buffers.
        parts.add(f.castTo(DataType.FLOAT).dup('c'));
        return take;
    }

    private static INDArray stack(List<INDArray> parts) {
        if (parts.isEmpty()) {
            throw new IllegalArgumentException("no unlabelled images to distill on");
        }
        return parts.size() == 1 ? parts.get(0) : Nd4j.concat(0, parts.toArray(new INDArray[0]));
    }
}
