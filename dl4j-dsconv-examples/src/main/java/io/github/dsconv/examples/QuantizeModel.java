package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.ChannelEnergy;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.pack.PackedModelFormat;
import io.github.dsconv.provenance.Provenance;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.ptq.PtqResult;
import io.github.dsconv.ptq.Recipe;
import io.github.dsconv.ptq.Rounding;
import io.github.dsconv.quant.AdaRoundSolver;
import io.github.dsconv.calibrate.AdaRound;
import io.github.dsconv.convert.EqualizationReport;
import io.github.dsconv.ptq.WeightMethod;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.ScalePrecision;
import org.deeplearning4j.nn.api.Model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Loads an FP32 model, converts it with a plan and saves it with a provenance file. */
public final class QuantizeModel {

    /** Weight quantizers by CLI name. */
    public static final String[] METHODS = {"dsconv", "rtn-per-channel", "rtn-per-tensor"};

    /**
     * Options; {@code null} numbers mean "the plan's value, or the default W4A8 B32".
     *
     * @param in         FP32 model
     * @param out        converted model to write
     * @param weightBits weight bits or null
     * @param actBits    activation bits or null
     * @param block      block size or null
     * @param skipFirst  leave the first convolution in FP32
     * @param plan       plan file or null
     * @param method     weight quantizer name
     * @param kdsBias    fit the KDS shift
     * @param cds        add CDS
     * @param clipSearch search clipping ratios
     * @param paramsPrecision precision of the non-convolution parameters in a packed output ({@code *.dsconv.zip}):
     *                   {@code fp16} or {@code fp32}, or null for the default fp16; an error for other outputs
     * @param biasCorrect calibration images for {@link BiasCorrection} (0 = none, unless the default recipe runs)
     * @param weightedFit calibration images for the activation-weighted kernel fit ({@link ChannelEnergy}; 0 = the
     *                    paper's unweighted fit)
     * @param hessianRound calibration images for the Hessian-aware rounding ({@link HessianRounding}; 0 = the
     *                    paper's VQK rounding)
     * @param calibration unlabelled calibration images, or null. When it is given and none of the three counts
     *                    above is, the default recipe ({@link Recipe#calibrated}) runs on {@code calibrationImages};
     *                    when a count is given without it, the images are Fashion-MNIST's training split
     * @param calibrationImages images the default recipe reads
     * @param inputSpec   the input the calibration images are handed over as, or null for {@link ModelInputs#of}
     * @param minCompression leave in FP32 a convolution DSConv would shrink less than this many times, or null for
     *                    the plan's value ({@link ConversionPlan#DEFAULT_MIN_COMPRESSION} without a plan)
     * @param unsignedActivations unsigned BFP blocks for non-negative inputs (or the plan's setting)
     * @param rounding    {@code nearest}, {@code hessian} or {@code adaround}, or null: the rounding of the recipe
     *                    ({@link #recipe()} says how it combines with the counts above)
     * @param adaRoundIterations AdaRound's iterations per layer
     * @param adaRoundQuantizedInputs AdaRound learns from the quantized network's inputs (the paper's asymmetric
     *                    reconstruction)
     * @param equalize    cross-layer equalisation before the conversion
     */
    public record Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                          Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch,
                          String paramsPrecision, int biasCorrect, int weightedFit, int hessianRound,
                          ImageSource calibration, int calibrationImages, InputSpec inputSpec, Double minCompression,
                          boolean unsignedActivations, String rounding, int adaRoundIterations,
                          boolean adaRoundQuantizedInputs, boolean equalize) {

        public Options {
            for (int n : new int[] {biasCorrect, weightedFit, hessianRound}) {
                if (n < 0 || n > 1_000_000) {
                    throw new IllegalArgumentException("--bias-correct, --weighted-fit and --hessian-round must be "
                            + "between 0 and 1000000 images, got " + n);
                }
            }
            if (rounding != null) {
                Rounding r = Rounding.parse(rounding);
                if (hessianRound > 0 && r != Rounding.HESSIAN) {
                    throw new IllegalArgumentException("--hessian-round N is --rounding hessian on N images; it "
                            + "cannot go with --rounding " + rounding);
                }
            }
            if (adaRoundIterations < 1 || adaRoundIterations > 1_000_000) {
                throw new IllegalArgumentException("--adaround-iterations must be between 1 and 1000000, got "
                        + adaRoundIterations);
            }
            if (calibrationImages <= 0) {
                throw new IllegalArgumentException("--calibration-images must be positive, got " + calibrationImages);
            }
            if (minCompression != null && (!(minCompression >= 0) || minCompression > 1000)) {
                throw new IllegalArgumentException("--min-compression must be between 0 and 1000, got "
                        + minCompression);
            }
        }

        /** Options without calibration data (Fashion-MNIST for any calibration count given). */
        public Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                       Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch,
                       String paramsPrecision, int biasCorrect, int weightedFit, int hessianRound) {
            this(in, out, weightBits, actBits, block, skipFirst, plan, method, kdsBias, cds, clipSearch,
                    paramsPrecision, biasCorrect, weightedFit, hessianRound, null, Recipe.DEFAULT_IMAGES, null, null,
                    false, null, AdaRoundSolver.Options.DEFAULT_ITERATIONS, false, false);
        }

        /**
         * The calibration recipe these options ask for. Counts given ({@code --bias-correct}, {@code --weighted-fit},
         * {@code --hessian-round}): exactly those steps, with {@code --rounding} (if given) on the
         * {@code --hessian-round} images or else on {@code calibrationImages}. No counts: with {@code --rounding},
         * that rounding then bias correction on {@code calibrationImages}; without it, the default
         * ({@link Recipe#calibrated}) when calibration data is given, else the plain conversion. Equalisation is
         * added on top.
         */
        public Recipe recipe() {
            Recipe r;
            Rounding chosen = rounding == null ? null : Rounding.parse(rounding);
            if (biasCorrect > 0 || weightedFit > 0 || hessianRound > 0) {
                r = new Recipe(weightedFit, hessianRound, biasCorrect);
                if (chosen != null) {
                    r = r.withRounding(chosen, hessianRound > 0 ? hessianRound : calibrationImages);
                }
            } else if (chosen != null) {
                r = new Recipe(0, 0, calibrationImages).withRounding(chosen, calibrationImages);
            } else {
                r = calibration == null ? Recipe.plain() : Recipe.calibrated(WeightMethod.parse(method),
                        calibrationImages);
            }
            return r.withAdaRound(AdaRoundSolver.Options.defaults().withIterations(adaRoundIterations),
                    adaRoundQuantizedInputs).withEqualize(equalize);
        }
    }

    /**
     * What was written.
     *
     * @param out    converted model file
     * @param report conversion report
     * @param plan   the plan used
     * @param packed what the packed file holds, or null when the output is a ModelSerializer zip
     * @param ptq    the post-training quantization's outcome (recipe, calibration data, per-layer results)
     */
    public record Result(Path out, ConversionReport report, ConversionPlan plan, Packed packed, PtqResult ptq) {

        /** Text table of the report. */
        public String table() {
            return report.toTable();
        }

        /** JSON summary: counts, bytes, time and per-layer rows. */
        public Summary json() {
            return new Summary(out.toString(), report.method(), report.converted().size() + report.skipped().size(),
                    report.converted().size(), report.fp32WeightBytes(), report.convertedWeightBytes(),
                    ptq.seconds(), plan.toJson(), report.converted(), report.skipped(), packed, ptq.hessianRounding(),
                    ptq.recipe().describe(), ptq.calibrationData(), ptq.biasCorrections(), ptq.adaRound(),
                    ptq.equalization(), ptq.recipe().rounding().label());
        }
    }

    /**
     * Sizes of a packed output.
     *
     * @param fileBytes           the file's size
     * @param convWeightBytes     convolution kernel bytes inside (q packed, scales), before zip compression
     * @param fp32ConvWeightBytes the same kernels in FP32
     * @param otherParamBytes     every other parameter's bytes inside, before zip compression
     * @param paramsPrecision     precision of the other parameters
     */
    public record Packed(long fileBytes, long convWeightBytes, long fp32ConvWeightBytes, long otherParamBytes,
                         String paramsPrecision) {

        static Packed of(PackedModelFormat.Written w) {
            return new Packed(w.fileBytes(), w.convWeightBytes(), w.fp32ConvWeightBytes(), w.otherParamBytes(),
                    w.manifest().paramsPrecision());
        }

        /** One line for the console. */
        public String line() {
            return String.format(java.util.Locale.ROOT, "packed (%s params): %d bytes on disk, conv weights %d bytes"
                    + " (FP32 %d, %.2fx smaller), other params %d bytes", paramsPrecision.toLowerCase(
                    java.util.Locale.ROOT), fileBytes, convWeightBytes, fp32ConvWeightBytes,
                    (double) fp32ConvWeightBytes / convWeightBytes, otherParamBytes);
        }
    }

    /**
     * The machine-readable result of a conversion.
     *
     * @param out               converted model file
     * @param method            weight quantizer
     * @param convLayers        convolutions in the network
     * @param replaced          convolutions converted
     * @param fp32WeightBytes   FP32 convolution kernel bytes
     * @param dsconvWeightBytes convolution kernel bytes after conversion, as stored
     * @param seconds           conversion time
     * @param plan              the plan used
     * @param layers            per converted layer
     * @param skipped           convolutions left in FP32
     * @param packed            sizes of the packed output, or null for a ModelSerializer zip
     * @param hessianRounding   per layer, output SQNR (dB, on the calibration images) of the VQK kernel and of
     *                          the Hessian-aware one and which was kept; empty unless Hessian-aware rounding ran.
     *                          The {@code layers} rows describe the VQK kernels.
     * @param recipe            the calibration recipe that ran ({@code plain} for none)
     * @param calibrationData   what the calibration images were, or null when none were read
     * @param biasCorrections   per layer, what bias correction changed (empty unless it ran)
     * @param adaRound          per layer, AdaRound's outcome: output SQNR of nearest rounding and of AdaRound,
     *                          weights flipped, which was kept, seconds (empty unless it ran)
     * @param equalization      cross-layer equalisation's pairs and skipped layers, or null when it did not run
     * @param rounding          the recipe's rounding: {@code nearest}, {@code hessian} or {@code adaround}
     */
    public record Summary(String out, String method, int convLayers, int replaced, long fp32WeightBytes,
                          long dsconvWeightBytes, double seconds, JsonNode plan, List<LayerReport> layers,
                          List<ConversionReport.SkippedLayer> skipped, Packed packed,
                          List<HessianRounding.LayerResult> hessianRounding, String recipe, String calibrationData,
                          List<BiasCorrection.Correction> biasCorrections, List<AdaRound.LayerResult> adaRound,
                          EqualizationReport equalization, String rounding) {
    }

    private QuantizeModel() {
    }

    /** The kernel quantizer for a method name and plan. */
    public static KernelQuantizer quantizer(String method, ConversionPlan plan) {
        return WeightMethod.parse(method).quantizer(plan);
    }

    /**
     * Builds the plan from a plan file (if any) and explicit options (which win). A value out of range is an error
     * naming its option ({@code --block: block size must be in [1, 65536], got 2147483647}). Whether the plan fits
     * the model (its layer names; {@code --skip-first} against an entry for the first convolution) is checked when
     * the model is converted ({@link io.github.dsconv.convert.DSConvConverter#validate}).
     */
    public static ConversionPlan plan(Options o) throws IOException {
        ConversionPlan base = o.plan() == null ? ConversionPlan.standard() : ConversionPlan.read(o.plan());
        LayerSpec d = base.defaults();
        LayerSpec spec = new LayerSpec(option("--weight-bits", o.weightBits(), d.weightBits(),
                LayerSpec::requireWeightBits), option("--act-bits", o.actBits(), d.actBits(), LayerSpec::requireActBits),
                option("--block", o.block(), d.blockSize(), LayerSpec::requireBlockSize));
        ConversionPlan p = base.withDefaults(spec).withSkipFirst(base.skipFirst() || o.skipFirst())
                .withMethod(base.kdsBias() || o.kdsBias(), base.cds() || o.cds(),
                        base.clippingSearch() || o.clipSearch())
                .withUnsignedActivations(base.unsignedActivations() || o.unsignedActivations());
        if (o.minCompression() == null) {
            return p;
        }
        try {
            return p.withMinCompression(o.minCompression());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--min-compression: " + e.getMessage(), e);
        }
    }

    /** An integer option's value (checked, the error naming the option), or the plan's value when not given. */
    private static int option(String name, Integer value, int planValue, java.util.function.IntConsumer check) {
        if (value == null) {
            return planValue;
        }
        try {
            check.accept(value);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
        return value;
    }

    /** The params precision named by {@code fp16} / {@code fp32} (case-insensitive), or fp16 for null. */
    public static ScalePrecision paramsPrecision(String name) {
        if (name == null) {
            return ScalePrecision.FP16;
        }
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "fp16" -> ScalePrecision.FP16;
            case "fp32" -> ScalePrecision.FP32;
            default -> throw new IllegalArgumentException("unknown params precision '" + name
                    + "' (expected fp16 or fp32)");
        };
    }

    /**
     * Converts and writes; nothing is written if anything fails. The input must be an FP32 model with at least one
     * ConvolutionLayer and only finite parameters ({@link DSConvConverter#requireConvertible}). An output named
     * {@code *.dsconv.zip} gets the packed format ({@link PackedModelFormat}) with the plan and source recorded,
     * any other name a ModelSerializer zip.
     */
    public static Result run(Options o) throws IOException {
        ConversionPlan plan = plan(o);
        KernelQuantizer q = quantizer(o.method(), plan);
        boolean packedOut = PackedModelFormat.hasPackedSuffix(o.out());
        ScalePrecision pp = paramsPrecision(o.paramsPrecision());
        if (o.paramsPrecision() != null && !packedOut) {
            throw new IllegalArgumentException("--params-precision applies to packed outputs (*"
                    + PackedModelFormat.SUFFIX + "), not " + o.out().getFileName());
        }
        Recipe recipe = o.recipe();
        Model model = ModelFiles.load(o.in());
        // Refuse a DSConv model (re-quantizing it would only rewrite its manifest) or one with nothing to convert.
        DSConvConverter.requireConvertible(model, o.in().toString());
        if (o.plan() != null) {
            try { // a plan entry for a layer this network lacks: name the plan file, not just "plan"
                new DSConvConverter(plan).validate(model);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(o.plan() + ": " + e.getMessage().replaceFirst("^plan: ", ""), e);
            }
        }
        PostTrainingQuantizer.Builder b = PostTrainingQuantizer.builder().plan(plan)
                .method(WeightMethod.parse(o.method())).recipe(recipe);
        if (recipe.needsData()) {
            ImageSource source = o.calibration() != null ? o.calibration()
                    : new FashionMnistSource(FashionMnist.Split.TRAIN, Preprocessing.defaults());
            b.calibrationData(source, recipe.imagesNeeded());
            if (o.inputSpec() != null) {
                b.inputSpec(o.inputSpec());
            }
        }
        PtqResult ptq = b.build().quantize(model);
        Converted<? extends Model> c = new Converted<>(ptq.network(), ptq.report());
        Packed packed = null;
        if (packedOut) {
            packed = Packed.of(PackedModelFormat.write(c.network(), o.out(), PackedModelFormat.Options.defaults()
                    .withParamsPrecision(pp).withPlan(plan).withSource(o.in().getFileName().toString())));
        } else {
            ModelFiles.save(c.network(), o.out(), false);
        }
        Result r = new Result(o.out(), c.report(), plan, packed, ptq);
        Provenance.record().source(o.in().toString()).stamp().set("summary", Json.MAPPER.valueToTree(r.json()))
                .writeFor(o.out());
        return r;
    }
}
