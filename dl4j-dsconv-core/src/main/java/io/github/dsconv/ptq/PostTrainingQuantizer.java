package io.github.dsconv.ptq;

import io.github.dsconv.calibrate.AdaRound;
import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.ChannelEnergy;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.CrossLayerEqualization;
import io.github.dsconv.convert.EqualizationReport;
import io.github.dsconv.convert.Equalized;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.distill.UnlabelledImages;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.util.List;
import java.util.Objects;

/**
 * Post-training quantization of a trained network in one call: DSConv conversion (Nascimento et al., ICCV 2019)
 * with a {@link ConversionPlan}, then the calibration {@link Recipe} on unlabelled images. The FP32 network is not
 * modified.
 *
 * <pre>{@code
 * PtqResult r = PostTrainingQuantizer.builder()
 *         .plan(ConversionPlan.standard())                     // W4 A8 B32
 *         .calibrationData(ImageFolderSource.open(dir, Preprocessing.defaults()), 512)
 *         .build()
 *         .quantize(fp32);
 * }</pre>
 *
 * <p>Defaults: plan {@link ConversionPlan#standard()}, method {@link WeightMethod#DSCONV}, batch 128; the recipe is
 * {@link Recipe#calibrated} on all calibration images when calibration data is given, else {@link Recipe#plain()}.
 * The labels of calibration data are never read.
 */
public final class PostTrainingQuantizer {

    private final ConversionPlan plan;
    private final WeightMethod method;
    private final Recipe recipe;
    private final CalibrationData data;
    private final int batch;

    private PostTrainingQuantizer(Builder b) {
        this.plan = b.plan;
        this.method = b.method;
        this.data = b.data;
        this.batch = b.batch;
        this.recipe = b.recipe != null ? b.recipe
                : data == null ? Recipe.plain() : Recipe.calibrated(method, data.count());
    }

    /** A builder with the defaults above. */
    public static Builder builder() {
        return new Builder();
    }

    /** The recipe this quantizer runs. */
    public Recipe recipe() {
        return recipe;
    }

    /** The plan. */
    public ConversionPlan plan() {
        return plan;
    }

    /** The weight method. */
    public WeightMethod method() {
        return method;
    }

    /**
     * Converts {@code fp32} and runs the recipe on the converted copy.
     *
     * @throws IOException              when calibration images cannot be read
     * @throws IllegalArgumentException when the network, plan or data do not fit (naming the layer or source); the
     *                                  network is checked first ({@link DSConvConverter#requireConvertible}), so a
     *                                  non-finite parameter or an already converted network costs no data reading
     */
    public PtqResult quantize(Model fp32) throws IOException {
        long t0 = System.nanoTime();
        DSConvConverter.requireConvertible(fp32, "model");
        KernelQuantizer quantizer = method.quantizer(plan);
        DSConvConverter converter = new DSConvConverter(plan, quantizer);
        converter.validate(fp32); // a plan that does not fit the network fails before any image is read
        // Equalisation first: the equalised network computes the same function and is every later step's FP32
        // reference (its BN are folded, so the converted network has none either).
        EqualizationReport equalization = null;
        Model reference = fp32;
        if (recipe.equalize()) {
            Equalized<? extends Model> e = CrossLayerEqualization.equalize(fp32);
            reference = e.network();
            equalization = e.report();
            converter.validate(reference);
        }
        INDArray images = null;
        String description = null;
        if (recipe.needsData()) {
            if (data == null) {
                throw new IllegalArgumentException("recipe " + recipe.describe() + " needs calibration data");
            }
            images = data.images(reference, recipe.imagesNeeded());
            description = data.describe();
        }
        if (recipe.weightedFitImages() > 0) {
            converter = converter.withChannelWeights(ChannelEnergy.of(reference, first(images,
                    recipe.weightedFitImages()), batch));
        }
        Converted<? extends Model> c = converter.convert(reference);
        List<HessianRounding.LayerResult> hessian = List.of();
        List<AdaRound.LayerResult> adaRound = List.of();
        if (recipe.rounding() == Rounding.HESSIAN) {
            hessian = HessianRounding.apply(reference, c.network(), first(images, recipe.roundingImages()), batch,
                    plan.clippingSearch(), false, quantizer);
        } else if (recipe.rounding() == Rounding.ADAROUND) {
            adaRound = AdaRound.apply(reference, c.network(), first(images, recipe.roundingImages()), batch,
                    quantizer, recipe.adaRound(), recipe.adaRoundQuantizedInputs());
        }
        List<BiasCorrection.Correction> corrections = List.of();
        if (recipe.biasCorrectionImages() > 0) {
            corrections = BiasCorrection.apply(reference, c.network(), first(images, recipe.biasCorrectionImages()),
                    batch);
        }
        return new PtqResult(c.network(), c.report(), plan, method, recipe, description, equalization, hessian,
                adaRound, corrections, (System.nanoTime() - t0) / 1e9);
    }

    private static INDArray first(INDArray images, int n) {
        return n >= images.size(0) ? images : images.get(NDArrayIndex.interval(0, n));
    }

    /** Where the calibration images come from. */
    private interface CalibrationData {
        INDArray images(Model fp32, int n) throws IOException;

        int count();

        String describe();
    }

    /** Builds a {@link PostTrainingQuantizer}; every setter validates its argument. */
    public static final class Builder {
        private ConversionPlan plan = ConversionPlan.standard();
        private WeightMethod method = WeightMethod.DSCONV;
        private Recipe recipe;
        private CalibrationData data;
        private int batch = 128;
        private InputSpec inputSpec;

        private Builder() {
        }

        /** The conversion plan (bits, block size, skips). Defaults to {@link ConversionPlan#standard()}. */
        public Builder plan(ConversionPlan plan) {
            this.plan = Objects.requireNonNull(plan, "plan");
            return this;
        }

        /** The weight method. Defaults to {@link WeightMethod#DSCONV}. */
        public Builder method(WeightMethod method) {
            this.method = Objects.requireNonNull(method, "method");
            return this;
        }

        /** The calibration recipe. Defaults to {@link Recipe#calibrated} with data, {@link Recipe#plain()} without. */
        public Builder recipe(Recipe recipe) {
            this.recipe = Objects.requireNonNull(recipe, "recipe");
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

        /**
         * The first {@code n} images of {@code source}, read in the layout and size the network takes.
         */
        public Builder calibrationData(ImageSource source, int n) {
            Objects.requireNonNull(source, "source");
            requirePositive(n);
            if (n > source.size()) {
                throw new IllegalArgumentException(source.describe() + " has " + source.size()
                        + " images, fewer than the " + n + " calibration images asked for");
            }
            this.data = new CalibrationData() {
                @Override
                public INDArray images(Model fp32, int k) throws IOException {
                    InputSpec spec = inputSpec != null ? inputSpec : ModelInputs.of(fp32);
                    return source.features(source.resolve(spec), k);
                }

                @Override
                public int count() {
                    return n;
                }

                @Override
                public String describe() {
                    return n + " images of " + source.describe();
                }
            };
            return this;
        }

        /**
         * The input calibration images from an {@link ImageSource} are handed over as. Defaults to
         * {@link ModelInputs#of} the network (give one when the network does not fix its input size).
         */
        public Builder inputSpec(InputSpec spec) {
            this.inputSpec = Objects.requireNonNull(spec, "spec");
            return this;
        }

        /** Calibration images already in the network's input format, {@code [n, ...]}. */
        public Builder calibrationData(INDArray features) {
            Objects.requireNonNull(features, "features");
            requirePositive((int) features.size(0));
            this.data = new CalibrationData() {
                @Override
                public INDArray images(Model fp32, int k) {
                    return first(features, k);
                }

                @Override
                public int count() {
                    return (int) features.size(0);
                }

                @Override
                public String describe() {
                    return features.size(0) + " images given as an array " + java.util.Arrays.toString(
                            features.shape());
                }
            };
            return this;
        }

        /** The features of the first {@code n} examples of a user's iterator (labels are not read). */
        public Builder calibrationData(DataSetIterator iterator, int n) {
            Objects.requireNonNull(iterator, "iterator");
            requirePositive(n);
            INDArray x = UnlabelledImages.from(iterator, n);
            if (x.size(0) < n) {
                throw new IllegalArgumentException("the iterator gave " + x.size(0) + " images, fewer than the " + n
                        + " calibration images asked for");
            }
            return calibrationData(x);
        }

        /** The quantizer. */
        public PostTrainingQuantizer build() {
            if (recipe != null && recipe.needsData() && data == null) {
                throw new IllegalArgumentException("recipe " + recipe.describe() + " needs calibration data");
            }
            if (recipe != null && data != null && recipe.imagesNeeded() > data.count()) {
                throw new IllegalArgumentException("recipe " + recipe.describe() + " needs "
                        + recipe.imagesNeeded() + " calibration images, the data has " + data.count());
            }
            return new PostTrainingQuantizer(this);
        }

        private static void requirePositive(int n) {
            if (n <= 0) {
                throw new IllegalArgumentException("number of calibration images must be positive, got " + n);
            }
        }
    }
}
