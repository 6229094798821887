package io.github.dsconv.sensitivity;

import io.github.dsconv.convert.ActivationQuantization;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerOverride;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.ptq.Recipe;
import io.github.dsconv.ptq.WeightMethod;
import io.github.dsconv.quant.Sqnr;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * Per-layer quantization sensitivity of a trained network: for each convolution a {@link ConversionPlan} would
 * convert, the top-1 agreement with the FP32 network and the logits SQNR when only that layer's weights are
 * quantized (its input float: activation bits 0) and when only its input is rounded to block floating point (its
 * weights FP32, {@link ActivationQuantization}); plus the whole network with all weights, all inputs, and both.
 * Layers are ranked by the larger of their two agreement losses.
 *
 * <p>This is the one-layer-at-a-time analysis of mixed-precision work (e.g. Dong et al., "HAWQ", ICCV 2019, and
 * the per-layer studies in Nagel et al., "A White Paper on Neural Network Quantization", 2021), measured on the
 * network's outputs rather than estimated from a Hessian.
 *
 * <pre>{@code
 * SensitivityReport r = LayerSensitivity.builder()
 *         .plan(ConversionPlan.uniform(new LayerSpec(4, 8, 32)))
 *         .build()
 *         .analyse(fp32, source.batches(spec, 100, 1000), null);
 * }</pre>
 *
 * <p>Weight-quantized variants go through {@link PostTrainingQuantizer}: with calibration data each one runs the
 * default calibrated recipe ({@link Recipe#calibrated}), else the plain conversion. The images are read once and
 * kept in memory; the FP32 network is not modified. Labels are optional: agreement and SQNR need none.
 */
public final class LayerSensitivity {

    private final ConversionPlan plan;
    private final WeightMethod method;
    private final INDArray calibration;
    private final int batch;

    private LayerSensitivity(Builder b) {
        this.plan = b.plan;
        this.method = b.method;
        this.calibration = b.calibration;
        this.batch = b.batch;
    }

    /** A builder: plan {@link ConversionPlan#standard()}, method {@link WeightMethod#DSCONV}, no calibration. */
    public static Builder builder() {
        return new Builder();
    }

    /** The convolutions that will be measured, in topological order. */
    public List<DSConvConverter.Target> targets(Model fp32) {
        return new DSConvConverter(plan, method.quantizer(plan)).targets(fp32);
    }

    /** Forward passes over the data {@link #analyse} makes: FP32, two per planned layer, and three whole-network. */
    public int passes(Model fp32) {
        return 1 + 2 * targets(fp32).size() + 3;
    }

    /**
     * Measures every planned convolution.
     *
     * @param fp32     the trained network (not modified)
     * @param data     images in the network's input format (read once, from a reset); labels optional
     * @param progress called with a batch's size after each batch of each pass, may be null
     * @throws IllegalArgumentException when the plan converts no convolution, or the data is empty
     * @throws IOException              never for in-memory calibration data; declared for {@link PostTrainingQuantizer}
     */
    public SensitivityReport analyse(Model fp32, DataSetIterator data, IntConsumer progress) throws IOException {
        long t0 = System.nanoTime();
        Objects.requireNonNull(fp32, "fp32");
        List<DSConvConverter.Target> targets = targets(fp32);
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("the plan converts no convolution of this network");
        }
        Batches images = Batches.read(data);
        IntConsumer p = progress == null ? n -> { } : progress;
        List<INDArray> reference = images.logits(fp32, p);
        Double fp32Top1 = images.labelled() ? images.top1(reference) : null;

        List<LayerResult> layers = new ArrayList<>();
        for (int i = 0; i < targets.size(); i++) {
            DSConvConverter.Target t = targets.get(i);
            Set<String> one = Set.of(t.name());
            Measurement w = images.measure(weights(fp32, variant(targets, one, false)), reference, p);
            Measurement a = null;
            if (roundsInput(t)) {
                a = images.measure(ActivationQuantization.apply(fp32, variant(targets, one, true)), reference, p);
            } else {
                images.skip(p);
            }
            layers.add(new LayerResult(t.name(), i, t.spec(), w, a));
        }
        Set<String> all = new HashSet<>();
        targets.forEach(t -> all.add(t.name()));
        Measurement allWeights = images.measure(weights(fp32, variant(targets, all, false)), reference, p);
        Measurement allActivations = images.measure(ActivationQuantization.apply(fp32, plan), reference, p);
        Measurement both = images.measure(weights(fp32, plan), reference, p);

        layers.sort(Comparator.comparingDouble(LayerResult::agreementLoss).reversed()
                .thenComparingDouble(LayerResult::worstSqnrDb).thenComparingInt(LayerResult::order));
        return new SensitivityReport(plan, method.label(), recipe().describe(), images.size(), images.labelled(),
                fp32Top1, allWeights, allActivations, both, layers, (System.nanoTime() - t0) / 1e9);
    }

    /** The recipe of the weight-quantized variants. */
    public Recipe recipe() {
        return calibration == null ? Recipe.plain() : Recipe.calibrated(method, (int) calibration.size(0));
    }

    private boolean roundsInput(DSConvConverter.Target t) {
        return t.spec().actBits() > 0 && (!t.first() || plan.quantizeNetworkInput());
    }

    /**
     * The plan restricted to {@code chosen}: every other planned convolution skipped; the chosen ones keep their
     * settings, with float inputs (activation bits 0) unless {@code keepActivations}.
     */
    private ConversionPlan variant(List<DSConvConverter.Target> targets, Set<String> chosen, boolean keepActivations) {
        Map<String, LayerOverride> layers = new HashMap<>();
        plan.layers().forEach((name, o) -> {
            if (o.skip()) {
                layers.put(name, o);
            }
        });
        for (DSConvConverter.Target t : targets) {
            LayerSpec s = t.spec();
            layers.put(t.name(), chosen.contains(t.name())
                    ? new LayerOverride(false, s.weightBits(), keepActivations ? s.actBits() : 0, s.blockSize())
                    : LayerOverride.skipped());
        }
        return new ConversionPlan(plan.defaults(), layers, plan.skipFirst(), plan.quantizeNetworkInput(),
                plan.kdsBias(), plan.cds(), plan.clippingSearch());
    }

    private Model weights(Model fp32, ConversionPlan p) throws IOException {
        PostTrainingQuantizer.Builder b = PostTrainingQuantizer.builder().plan(p).method(method).batchSize(batch);
        if (calibration != null) {
            b.calibrationData(calibration);
        }
        return b.build().quantize(fp32).network();
    }

    /** The evaluation images, read once. */
    private record Batches(List<INDArray> features, List<int[]> labels) {

        static Batches read(DataSetIterator data) {
            Objects.requireNonNull(data, "data");
            if (data.resetSupported()) {
                data.reset();
            }
            List<INDArray> f = new ArrayList<>();
            List<int[]> l = new ArrayList<>();
            boolean labelled = true;
            while (data.hasNext()) {
                DataSet b = data.next();
                if (b.numExamples() == 0) {
                    continue;
                }
                f.add(b.getFeatures());
                labelled &= b.getLabels() != null;
                l.add(b.getLabels() == null ? null : b.getLabels().argMax(1).toIntVector());
            }
            if (f.isEmpty()) {
                throw new IllegalArgumentException("no images to measure on");
            }
            return new Batches(f, labelled ? l : null);
        }

        boolean labelled() {
            return labels != null;
        }

        int size() {
            return features.stream().mapToInt(x -> (int) x.size(0)).sum();
        }

        List<INDArray> logits(Model model, IntConsumer progress) {
            // DL4J's FP32 convolutions are im2col-bound; oneDNN's give the same results to float rounding, 4-6x faster.
            io.github.dsconv.engine.Fp32Convolutions.enable(model);
            List<INDArray> out = new ArrayList<>();
            for (INDArray x : features) {
                out.add(Logits.of(model, x).castTo(DataType.DOUBLE));
                progress.accept((int) x.size(0));
            }
            return out;
        }

        /** Reports a pass that is not made, so that progress still adds up. */
        void skip(IntConsumer progress) {
            features.forEach(x -> progress.accept((int) x.size(0)));
        }

        double top1(List<INDArray> logits) {
            int correct = 0;
            for (int b = 0; b < logits.size(); b++) {
                int[] pred = logits.get(b).argMax(1).toIntVector();
                int[] truth = labels.get(b);
                for (int i = 0; i < pred.length; i++) {
                    correct += pred[i] == truth[i] ? 1 : 0;
                }
            }
            return (double) correct / size();
        }

        Measurement measure(Model model, List<INDArray> reference, IntConsumer progress) {
            List<INDArray> logits = logits(model, progress);
            int same = 0;
            double signal = 0;
            double noise = 0;
            for (int b = 0; b < logits.size(); b++) {
                INDArray ref = reference.get(b);
                INDArray y = logits.get(b);
                if (!Arrays.equals(ref.shape(), y.shape())) {
                    throw new IllegalStateException("logits of shape " + Arrays.toString(y.shape())
                            + " against FP32 " + Arrays.toString(ref.shape()));
                }
                int[] a = y.argMax(1).toIntVector();
                int[] r = ref.argMax(1).toIntVector();
                for (int i = 0; i < a.length; i++) {
                    same += a[i] == r[i] ? 1 : 0;
                }
                double s = ref.norm2Number().doubleValue();
                double n = y.sub(ref).norm2Number().doubleValue();
                signal += s * s;
                noise += n * n;
            }
            return new Measurement((double) same / size(), Sqnr.db(signal, noise), labelled() ? top1(logits) : null);
        }
    }

    /** Builds a {@link LayerSensitivity}; every setter validates its argument. */
    public static final class Builder {
        private ConversionPlan plan = ConversionPlan.standard();
        private WeightMethod method = WeightMethod.DSCONV;
        private INDArray calibration;
        private int batch = 128;

        private Builder() {
        }

        /** Which convolutions are measured and at what bits. Defaults to {@link ConversionPlan#standard()}. */
        public Builder plan(ConversionPlan plan) {
            this.plan = Objects.requireNonNull(plan, "plan");
            return this;
        }

        /** How weights are quantized. Defaults to {@link WeightMethod#DSCONV}. */
        public Builder method(WeightMethod method) {
            this.method = Objects.requireNonNull(method, "method");
            return this;
        }

        /**
         * Unlabelled calibration images in the network's input format: every weight-quantized variant then runs
         * {@link Recipe#calibrated} on all of them. Defaults to none (plain conversion).
         */
        public Builder calibrationData(INDArray features) {
            Objects.requireNonNull(features, "features");
            if (features.rank() < 2 || features.size(0) <= 0) {
                throw new IllegalArgumentException("calibration data must be [n, ...] with n > 0, got shape "
                        + Arrays.toString(features.shape()));
            }
            this.calibration = features;
            return this;
        }

        /** Forward-pass batch size of the calibration steps. Defaults to 128. */
        public Builder batchSize(int batch) {
            if (batch <= 0) {
                throw new IllegalArgumentException("batch size must be positive, got " + batch);
            }
            this.batch = batch;
            return this;
        }

        /** The analyser. */
        public LayerSensitivity build() {
            return new LayerSensitivity(this);
        }
    }
}
