package io.github.dsconv.data;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * Fashion-MNIST as an {@link ImageSource}: 28x28 grey images of 10 classes, from {@link FashionMnist}'s IDX files,
 * in the files' order. With the default {@link Preprocessing} (pixel / 255) and an NCHW model the features are
 * exactly {@link FashionMnist#load}'s.
 */
public final class FashionMnistSource implements ImageSource {

    /** The name {@code --data} and {@code --calibration-data} take for this source. */
    public static final String NAME = "fashion-mnist";

    private final FashionMnist.Split split;
    private final Preprocessing preprocessing;

    /**
     * @param split         the training split (for calibration) or the test split (for evaluation)
     * @param preprocessing how raw pixels become inputs (the channel order has no effect on grey images)
     */
    public FashionMnistSource(FashionMnist.Split split, Preprocessing preprocessing) {
        this.split = split;
        this.preprocessing = preprocessing;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String describe() {
        return "fashion-mnist " + split.name().toLowerCase(java.util.Locale.ROOT) + " split (" + size()
                + " images, 10 classes; " + preprocessing.describe() + ")";
    }

    @Override
    public List<String> classes() {
        return Arrays.asList(FashionMnist.CLASS_NAMES);
    }

    @Override
    public int size() {
        return split == FashionMnist.Split.TRAIN ? 60_000 : 10_000;
    }

    @Override
    public InputSpec resolve(InputSpec spec) {
        return spec.hasSize() ? spec : spec.withSize(FashionMnist.SIDE, FashionMnist.SIDE);
    }

    @Override
    public DataSetIterator batches(InputSpec spec, int batchSize, int limit) throws IOException {
        if (spec.channels() != 1) {
            throw new IllegalArgumentException("Fashion-MNIST images are grey (1 channel) but the model takes "
                    + spec.channels() + " channels: pass --data with a folder of colour images");
        }
        if (spec.hasSize() && (spec.height() != FashionMnist.SIDE || spec.width() != FashionMnist.SIDE)) {
            throw new IllegalArgumentException("Fashion-MNIST images are 28x28 but the model takes " + spec.height()
                    + "x" + spec.width() + ": pass --data with a folder of images");
        }
        preprocessing.requireChannels(1);
        DataSet d = FashionMnist.load(split, limit);
        if (!preprocessing.equals(Preprocessing.defaults().withChannelOrder(preprocessing.channelOrder()))) {
            // Back to raw bytes (exact: p / 255f * 255 rounds to p), then the requested preprocessing.
            float[] f = d.getFeatures().data().asFloat();
            for (int i = 0; i < f.length; i++) {
                f[i] = Math.round(f[i] * 255f);
            }
            preprocessing.apply(f, 0, 1, f.length);
            d = new DataSet(org.nd4j.linalg.factory.Nd4j.create(f, d.getFeatures().shape(), 'c'), d.getLabels());
        }
        if (spec.layout() == CNN2DFormat.NHWC) {
            INDArray nhwc = d.getFeatures().permute(0, 2, 3, 1).dup('c');
            d = new DataSet(nhwc, d.getLabels());
        }
        InMemoryIterator it = new InMemoryIterator(d, batchSize);
        return it;
    }
}
