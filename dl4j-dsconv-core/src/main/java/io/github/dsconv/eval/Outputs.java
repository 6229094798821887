package io.github.dsconv.eval;

import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.function.UnaryOperator;

/**
 * A model's logits on a labelled set, kept so that several models can be compared with one reference run.
 *
 * @param logits {@code [n, classes]} float logits
 * @param labels true class of each example
 */
public record Outputs(INDArray logits, int[] labels) {

    /** Runs a model over every batch of {@code data} (reset first). */
    public static Outputs collect(Model model, DataSetIterator data, IntConsumer progress) {
        return collect(List.of(model), data, progress).get(0);
    }

    /**
     * Runs several models over every batch of {@code data} in one pass (reset first), so that images are read and
     * decoded once however many models see them.
     *
     * @param progress called with each batch's size once per model, may be null
     * @return one {@code Outputs} per model, in order
     */
    public static List<Outputs> collect(List<? extends Model> models, DataSetIterator data, IntConsumer progress) {
        List<UnaryOperator<INDArray>> logits = new ArrayList<>();
        for (Model m : models) {
            logits.add(x -> Logits.of(m, x));
        }
        return collectLogits(logits, data, progress);
    }

    /**
     * As {@link #collect(List, DataSetIterator, IntConsumer)} with each model given as its logits function (e.g.
     * {@code DsconvInference::logits}, which runs the engine's whole-graph plan).
     */
    public static List<Outputs> collectLogits(List<? extends UnaryOperator<INDArray>> models, DataSetIterator data,
                                              IntConsumer progress) {
        if (data.resetSupported()) {
            data.reset();
        }
        List<List<INDArray>> parts = new ArrayList<>();
        for (int m = 0; m < models.size(); m++) {
            parts.add(new ArrayList<>());
        }
        List<int[]> labels = new ArrayList<>();
        int n = 0;
        while (data.hasNext()) {
            DataSet b = data.next();
            if (b.getLabels() == null) {
                throw new IllegalArgumentException("evaluation needs labelled images (one subfolder per class)");
            }
            for (int m = 0; m < models.size(); m++) {
                INDArray logits = models.get(m).apply(b.getFeatures()).castTo(DataType.FLOAT);
                if (logits.size(1) != b.getLabels().size(1)) {
                    throw new IllegalArgumentException("the model has " + logits.size(1) + " outputs but the data "
                            + b.getLabels().size(1) + " classes");
                }
                parts.get(m).add(logits);
                if (progress != null) {
                    progress.accept(b.numExamples());
                }
            }
            labels.add(b.getLabels().argMax(1).toIntVector());
            n += b.numExamples();
        }
        if (n == 0) {
            throw new IllegalArgumentException("no examples to evaluate");
        }
        int[] all = new int[n];
        int off = 0;
        for (int[] l : labels) {
            System.arraycopy(l, 0, all, off, l.length);
            off += l.length;
        }
        List<Outputs> out = new ArrayList<>();
        for (List<INDArray> p : parts) {
            out.add(new Outputs(p.size() == 1 ? p.get(0) : Nd4j.vstack(p.toArray(new INDArray[0])), all));
        }
        return out;
    }

    /** Number of examples. */
    public int size() {
        return labels.length;
    }

    /** Predicted class of each example. */
    public int[] predictions() {
        return logits.argMax(1).toIntVector();
    }

    /** Top-1 accuracy. */
    public double top1() {
        int[] p = predictions();
        int correct = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] == labels[i]) {
                correct++;
            }
        }
        return (double) correct / p.length;
    }

    /** Fraction of examples where both models predict the same class. */
    public double agreement(Outputs reference) {
        requireSameSize(reference);
        int[] a = predictions();
        int[] b = reference.predictions();
        int same = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] == b[i]) {
                same++;
            }
        }
        return (double) same / a.length;
    }

    /** SQNR of these logits against the reference's, in dB, over all examples and classes. */
    public double logitsSqnrDb(Outputs reference) {
        requireSameSize(reference);
        double signal = reference.logits.castTo(DataType.DOUBLE).norm2Number().doubleValue();
        double noise = logits.castTo(DataType.DOUBLE).sub(reference.logits.castTo(DataType.DOUBLE))
                .norm2Number().doubleValue();
        return io.github.dsconv.quant.Sqnr.db(signal * signal, noise * noise);
    }

    private void requireSameSize(Outputs other) {
        if (other.size() != size()) {
            throw new IllegalArgumentException("outputs of " + size() + " and " + other.size() + " examples");
        }
    }
}
