package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.ChannelEnergy;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.io.AtomicFiles;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.pack.PackedModelFormat;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.RoundToNearestQuantizer;
import io.github.dsconv.quant.VqkQuantizer;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
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
     * @param biasCorrect unlabelled Fashion-MNIST training images for {@link BiasCorrection} (0 = none)
     * @param weightedFit unlabelled Fashion-MNIST training images for the activation-weighted kernel fit
     *                    ({@link ChannelEnergy}, {@link DSConvConverter#withChannelWeights}; 0 = the paper's
     *                    unweighted fit)
     * @param hessianRound unlabelled Fashion-MNIST training images for the Hessian-aware rounding
     *                    ({@link HessianRounding}; 0 = the paper's VQK rounding)
     */
    public record Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                          Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch,
                          String paramsPrecision, int biasCorrect, int weightedFit, int hessianRound) {

        public Options {
            if (biasCorrect < 0 || biasCorrect > 60000) {
                throw new IllegalArgumentException("--bias-correct must be between 0 and 60000 images, got "
                        + biasCorrect);
            }
            if (weightedFit < 0 || weightedFit > 60000) {
                throw new IllegalArgumentException("--weighted-fit must be between 0 and 60000 images, got "
                        + weightedFit);
            }
            if (hessianRound < 0 || hessianRound > 60000) {
                throw new IllegalArgumentException("--hessian-round must be between 0 and 60000 images, got "
                        + hessianRound);
            }
            if (hessianRound > 0 && !"dsconv".equals(method)) {
                throw new IllegalArgumentException("--hessian-round applies to the dsconv method, not " + method);
            }
        }

        /** Options with the VQK rounding (no Hessian-aware rounding). */
        public Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                       Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch,
                       String paramsPrecision, int biasCorrect, int weightedFit) {
            this(in, out, weightBits, actBits, block, skipFirst, plan, method, kdsBias, cds, clipSearch,
                    paramsPrecision, biasCorrect, weightedFit, 0);
        }

        /** Options with the unweighted kernel fit. */
        public Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                       Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch,
                       String paramsPrecision, int biasCorrect) {
            this(in, out, weightBits, actBits, block, skipFirst, plan, method, kdsBias, cds, clipSearch,
                    paramsPrecision, biasCorrect, 0);
        }

        /** Options without bias correction. */
        public Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                       Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch,
                       String paramsPrecision) {
            this(in, out, weightBits, actBits, block, skipFirst, plan, method, kdsBias, cds, clipSearch,
                    paramsPrecision, 0);
        }

        /** Options without a params precision (the packed format's default, fp16). */
        public Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                       Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch) {
            this(in, out, weightBits, actBits, block, skipFirst, plan, method, kdsBias, cds, clipSearch, null);
        }
    }

    /**
     * What was written.
     *
     * @param out    converted model file
     * @param report conversion report
     * @param plan   the plan used
     * @param packed what the packed file holds, or null when the output is a ModelSerializer zip
     * @param hessianRounding per layer, the Hessian-aware rounding's outcome (empty when it was not asked for)
     */
    public record Result(Path out, ConversionReport report, ConversionPlan plan, Packed packed,
                         List<HessianRounding.LayerResult> hessianRounding) {

        /** Text table of the report. */
        public String table() {
            return report.toTable();
        }

        /** JSON summary: counts, bytes, time and per-layer rows. */
        public Summary json() {
            return new Summary(out.toString(), report.method(), report.converted().size() + report.skipped().size(),
                    report.converted().size(), report.fp32WeightBytes(), report.convertedWeightBytes(),
                    report.seconds(), plan.toJson(), report.converted(), report.skipped(), packed, hessianRounding);
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
     *                          the Hessian-aware one and which was kept; empty unless {@code --hessian-round}.
     *                          The {@code layers} rows describe the VQK kernels.
     */
    public record Summary(String out, String method, int convLayers, int replaced, long fp32WeightBytes,
                          long dsconvWeightBytes, double seconds, JsonNode plan, List<LayerReport> layers,
                          List<ConversionReport.SkippedLayer> skipped, Packed packed,
                          List<HessianRounding.LayerResult> hessianRounding) {
    }

    /**
     * The provenance file written beside a converted model.
     *
     * @param source  the FP32 model converted
     * @param library library version
     * @param created when
     * @param summary what was done
     */
    public record ConversionProvenance(String source, String library, String created, Summary summary) {
    }

    private QuantizeModel() {
    }

    /** The kernel quantizer for a method name and plan. */
    public static KernelQuantizer quantizer(String method, ConversionPlan plan) {
        return switch (method) {
            case "dsconv" -> new VqkQuantizer(plan.kdsBias(), plan.clippingSearch());
            case "rtn-per-channel" -> new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL);
            case "rtn-per-tensor" -> new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_TENSOR);
            default -> throw new IllegalArgumentException("unknown method '" + method + "' (expected one of "
                    + String.join(", ", METHODS) + ")");
        };
    }

    /** Builds the plan from a plan file (if any) and explicit options (which win). */
    public static ConversionPlan plan(Options o) throws IOException {
        ConversionPlan base = o.plan() == null ? ConversionPlan.standard() : ConversionPlan.read(o.plan());
        LayerSpec d = base.defaults();
        LayerSpec spec = new LayerSpec(o.weightBits() == null ? d.weightBits() : o.weightBits(),
                o.actBits() == null ? d.actBits() : o.actBits(), o.block() == null ? d.blockSize() : o.block());
        return base.withDefaults(spec).withSkipFirst(base.skipFirst() || o.skipFirst())
                .withMethod(base.kdsBias() || o.kdsBias(), base.cds() || o.cds(),
                        base.clippingSearch() || o.clipSearch());
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
     * Converts and writes; nothing is written if anything fails. An output named {@code *.dsconv.zip} gets the
     * packed format ({@link PackedModelFormat}) with the plan and source recorded, any other name a
     * ModelSerializer zip.
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
        Model model = ModelFiles.load(o.in());
        DSConvConverter converter = new DSConvConverter(plan, q);
        if (o.weightedFit() > 0) {
            // Features only: the labels of these training images are never read.
            INDArray images = FashionMnist.load(FashionMnist.Split.TRAIN, o.weightedFit()).getFeatures();
            converter = converter.withChannelWeights(ChannelEnergy.of(model, images, 128));
        }
        Converted<? extends Model> c = converter.convert(model);
        List<HessianRounding.LayerResult> rounding = List.of();
        if (o.hessianRound() > 0) {
            // Features only: the labels of these training images are never read.
            INDArray images = FashionMnist.load(FashionMnist.Split.TRAIN, o.hessianRound()).getFeatures();
            rounding = HessianRounding.apply(model, c.network(), images, 128, plan.clippingSearch());
        }
        if (o.biasCorrect() > 0) {
            // Features only: the labels of these training images are never read.
            INDArray images = FashionMnist.load(FashionMnist.Split.TRAIN, o.biasCorrect()).getFeatures();
            BiasCorrection.apply(model, c.network(), images, 128);
        }
        Packed packed = null;
        if (packedOut) {
            packed = Packed.of(PackedModelFormat.write(c.network(), o.out(), PackedModelFormat.Options.defaults()
                    .withParamsPrecision(pp).withPlan(plan).withSource(o.in().getFileName().toString())));
        } else {
            ModelFiles.save(c.network(), o.out(), false);
        }
        Result r = new Result(o.out(), c.report(), plan, packed, rounding);
        AtomicFiles.writeString(Provenance.fileOf(o.out()), Json.write(new ConversionProvenance(o.in().toString(),
                Provenance.LIBRARY, Instant.now().toString(), r.json())));
        return r;
    }
}
