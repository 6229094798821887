package io.github.dsconv.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Random;

/**
 * A {@link DataSetIterator} over a {@link DataSet} held in memory, in fixed order or shuffled each epoch with an
 * explicit seed (epoch {@code k} uses {@code seed + k}, so a run is reproducible).
 */
public final class InMemoryIterator implements DataSetIterator {

    private final DataSet data;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private int[] order;
    private int cursor;
    private int epoch;
    private DataSetPreProcessor preProcessor;

    /**
     * @param data      all examples
     * @param batchSize examples a batch (the last batch may be smaller)
     * @param shuffle   reshuffle at every reset
     * @param seed      shuffling seed
     */
    public InMemoryIterator(DataSet data, int batchSize, boolean shuffle, long seed) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be positive, got " + batchSize);
        }
        this.data = data;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        reset();
    }

    /** Fixed-order iterator. */
    public InMemoryIterator(DataSet data, int batchSize) {
        this(data, batchSize, false, 0);
    }

    @Override
    public DataSet next(int num) {
        int n = data.numExamples();
        int end = Math.min(n, cursor + num);
        int[] idx = new int[end - cursor];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = order == null ? cursor + i : order[cursor + i];
        }
        cursor = end;
        INDArray f = Nd4j.pullRows(data.getFeatures().reshape(n, -1), 1, idx)
                .reshape(batchShape(data.getFeatures(), idx.length));
        INDArray l = Nd4j.pullRows(data.getLabels(), 1, idx);
        DataSet ds = new DataSet(f, l);
        if (preProcessor != null) {
            preProcessor.preProcess(ds);
        }
        return ds;
    }

    private static long[] batchShape(INDArray features, int n) {
        long[] s = features.shape().clone();
        s[0] = n;
        return s;
    }

    @Override
    public int inputColumns() {
        return (int) (data.getFeatures().length() / data.numExamples());
    }

    @Override
    public int totalOutcomes() {
        return (int) data.getLabels().size(1);
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
        if (shuffle) {
            int n = data.numExamples();
            order = new int[n];
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            Random r = new Random(seed + epoch);
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            epoch++;
        }
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }

    @Override
    public boolean hasNext() {
        return cursor < data.numExamples();
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    /** Number of examples. */
    public int numExamples() {
        return data.numExamples();
    }
}
