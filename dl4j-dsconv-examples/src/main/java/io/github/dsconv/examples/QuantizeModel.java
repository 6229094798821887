package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.io.AtomicFiles;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.RoundToNearestQuantizer;
import io.github.dsconv.quant.VqkQuantizer;
import org.deeplearning4j.nn.api.Model;

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
     */
    public record Options(Path in, Path out, Integer weightBits, Integer actBits, Integer block, boolean skipFirst,
                          Path plan, String method, boolean kdsBias, boolean cds, boolean clipSearch) {
    }

    /**
     * What was written.
     *
     * @param out    converted model file
     * @param report conversion report
     * @param plan   the plan used
     */
    public record Result(Path out, ConversionReport report, ConversionPlan plan) {

        /** Text table of the report. */
        public String table() {
            return report.toTable();
        }

        /** JSON summary: counts, bytes, time and per-layer rows. */
        public Summary json() {
            return new Summary(out.toString(), report.method(), report.converted().size() + report.skipped().size(),
                    report.converted().size(), report.fp32WeightBytes(), report.convertedWeightBytes(),
                    report.seconds(), plan.toJson(), report.converted(), report.skipped());
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
     */
    public record Summary(String out, String method, int convLayers, int replaced, long fp32WeightBytes,
                          long dsconvWeightBytes, double seconds, JsonNode plan, List<LayerReport> layers,
                          List<ConversionReport.SkippedLayer> skipped) {
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

    /** Converts and writes; nothing is written if anything fails. */
    public static Result run(Options o) throws IOException {
        ConversionPlan plan = plan(o);
        KernelQuantizer q = quantizer(o.method(), plan);
        Model model = ModelFiles.load(o.in());
        Converted<? extends Model> c = new DSConvConverter(plan, q).convert(model);
        ModelFiles.save(c.network(), o.out(), false);
        Result r = new Result(o.out(), c.report(), plan);
        AtomicFiles.writeString(Provenance.fileOf(o.out()), Json.write(new ConversionProvenance(o.in().toString(),
                Provenance.LIBRARY, Instant.now().toString(), r.json())));
        return r;
    }
}
