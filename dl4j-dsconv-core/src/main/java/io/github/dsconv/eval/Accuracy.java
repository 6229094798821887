package io.github.dsconv.eval;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.function.IntConsumer;

/** Top-1 accuracy of a classifier over a labelled iterator. */
public final class Accuracy {

    private Accuracy() {
    }

    /**
     * Top-1 accuracy.
     *
     * @param model    the classifier
     * @param data     labelled batches (reset first)
     * @param progress called with the number of images of each finished batch (may be {@code null})
     */
    public static double top1(Model model, DataSetIterator data, IntConsumer progress) {
        data.reset();
        long correct = 0;
        long total = 0;
        while (data.hasNext()) {
            DataSet b = data.next();
            INDArray pred = Networks.output(model, b.getFeatures()).argMax(1);
            INDArray truth = b.getLabels().argMax(1);
            correct += pred.eq(truth).castTo(org.nd4j.linalg.api.buffer.DataType.INT).sumNumber().longValue();
            total += b.numExamples();
            if (progress != null) {
                progress.accept(b.numExamples());
            }
        }
        if (total == 0) {
            throw new IllegalArgumentException("no examples to evaluate");
        }
        return (double) correct / total;
    }
}
