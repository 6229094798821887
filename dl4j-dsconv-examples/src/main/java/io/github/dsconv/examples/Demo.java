package io.github.dsconv.examples;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelFiles;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.DataSet;

import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * The main job: convert a trained small ResNet at several weight bit widths with DSConv and with the baseline a
 * user would otherwise pick (symmetric round-to-nearest, one scale per output channel), both with the same A8 BFP
 * activations, and evaluate everything on the Fashion-MNIST test set.
 */
public final class Demo {

    /** The committed model the demo uses by default, relative to the project root. */
    public static final String DEFAULT_MODEL = "models/fmnist-resnet.zip";

    /**
     * Options.
     *
     * @param models     FP32 models to convert
     * @param weightBits weight bit widths to try
     * @param actBits    BFP activation bits for every method
     * @param blockSize  DSConv block size
     * @param methods    weight quantizers ({@code dsconv}, {@code rtn-per-channel}, {@code rtn-per-tensor})
     * @param limit      test images ({@code <= 0}: all 10,000)
     * @param batch      evaluation batch size
     * @param plotDir    folder for the PNG plots (null: no plots)
     */
    public record Options(List<Path> models, int[] weightBits, int actBits, int blockSize, List<String> methods,
                          int limit, int batch, Path plotDir) {
    }

    /**
     * One converted model's accuracy.
     *
     * @param method       weight quantizer
     * @param weightBits   weight bits
     * @param actBits      activation bits
     * @param blockSize    block size (blockwise methods only)
     * @param top1         top-1 accuracy (fraction)
     * @param weightBytes  convolution weight bytes as stored
     * @param agreement    top-1 agreement with the FP32 model
     * @param logitsSqnrDb logits SQNR against the FP32 model (dB)
     * @param meanLayerSqnrDb mean weight-reconstruction SQNR over the converted layers (dB), leaving out layers
     *                        represented exactly (infinite SQNR, e.g. a 1-channel first layer with FP32 scales)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record MethodResult(String method, int weightBits, int actBits, Integer blockSize, double top1,
                               long weightBytes, double agreement, double logitsSqnrDb, double meanLayerSqnrDb) {
    }

    /**
     * Results for one FP32 model.
     *
     * @param arch            architecture
     * @param fp32Model       path of the FP32 model file used
     * @param fp32Top1        its top-1 accuracy
     * @param fp32WeightBytes its convolution weight bytes (4 a weight)
     * @param results         one entry per method and bit width
     */
    public record ModelResult(String arch, String fp32Model, double fp32Top1, long fp32WeightBytes,
                              List<MethodResult> results) {
    }

    /**
     * The whole run.
     *
     * @param dataset    dataset name
     * @param testImages test images evaluated
     * @param models     per-model results
     * @param seconds    wall time
     */
    public record Result(String dataset, int testImages, List<ModelResult> models, double seconds) {
    }

    private Demo() {
    }

    /** The default model path: under the project root given by {@code -Ddsconv.home}, else the working folder. */
    public static Path defaultModel() {
        String home = System.getProperty("dsconv.home");
        return home == null ? Paths.get(DEFAULT_MODEL) : Paths.get(home).resolve(DEFAULT_MODEL);
    }

    /** Number of evaluations the run will do (for progress bars): per model, FP32 plus one per method and bits. */
    public static int evaluations(Options o) {
        return o.models().size() * (1 + o.weightBits().length * o.methods().size());
    }

    /**
     * Runs the demo.
     *
     * @param o        options
     * @param progress called with the images of each evaluated batch, may be null
     */
    public static Result run(Options o, IntConsumer progress) throws IOException {
        long t0 = System.nanoTime();
        DataSet test = FashionMnist.load(FashionMnist.Split.TEST, o.limit());
        InMemoryIterator data = new InMemoryIterator(test, o.batch());
        List<ModelResult> models = new ArrayList<>();
        for (Path file : o.models()) {
            Model fp32 = ModelFiles.load(file);
            Outputs ref = Outputs.collect(fp32, data, progress);
            List<MethodResult> results = new ArrayList<>();
            long fp32Bytes = -1;
            for (int bits : o.weightBits()) {
                for (String method : o.methods()) {
                    ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(bits, o.actBits(), o.blockSize()));
                    DSConvConverter conv = new DSConvConverter(plan, QuantizeModel.quantizer(method, plan));
                    Converted<? extends Model> c = conv.convert(fp32);
                    ConversionReport rep = c.report();
                    fp32Bytes = rep.fp32WeightBytes();
                    Outputs out = Outputs.collect(c.network(), data, progress);
                    double meanSqnr = rep.converted().stream().mapToDouble(LayerReport::sqnrDb).filter(Double::isFinite)
                            .average().orElse(Double.NaN);
                    results.add(new MethodResult(method, bits, o.actBits(),
                            conv.blockwise() ? o.blockSize() : null, out.top1(), rep.convertedWeightBytes(),
                            out.agreement(ref), out.logitsSqnrDb(ref), meanSqnr));
                }
            }
            ModelResult mr = new ModelResult(Provenance.archOf(file), file.toString(), ref.top1(), fp32Bytes, results);
            models.add(mr);
            if (o.plotDir() != null) {
                plot(mr, o.plotDir().resolve("demo-" + mr.arch() + ".png"));
            }
        }
        return new Result("fashion-mnist", test.numExamples(), models, (System.nanoTime() - t0) / 1e9);
    }

    /** Top-1 vs weight bits, one line per method, with the FP32 accuracy as a reference line. */
    public static void plot(ModelResult mr, Path png) throws IOException {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        Map<String, List<MethodResult>> byMethod = new LinkedHashMap<>();
        for (MethodResult r : mr.results()) {
            byMethod.computeIfAbsent(r.method(), k -> new ArrayList<>()).add(r);
        }
        for (Map.Entry<String, List<MethodResult>> e : byMethod.entrySet()) {
            List<MethodResult> rs = e.getValue();
            double[] x = rs.stream().mapToDouble(MethodResult::weightBits).toArray();
            double[] y = rs.stream().mapToDouble(r -> 100 * r.top1()).toArray();
            series.put(e.getKey(), List.of(x, y));
        }
        Plots.lines(png, "Fashion-MNIST " + mr.arch() + ": top-1 vs weight bits (A8 BFP)", "weight bits",
                "top-1 (%)", series, Map.of("fp32", 100 * mr.fp32Top1()), "#");
    }

    /** A text table: one row per bit width, one column pair (top-1, bytes) per method. */
    public static String table(Result r) {
        StringBuilder sb = new StringBuilder();
        for (ModelResult m : r.models()) {
            sb.append(String.format(Locale.ROOT, "%s (%s): FP32 top-1 %.2f%%, conv weights %d bytes, %d test images%n",
                    m.arch(), m.fp32Model(), 100 * m.fp32Top1(), m.fp32WeightBytes(), r.testImages()));
            sb.append(String.format(Locale.ROOT, "%-18s %4s %4s %8s %8s %10s %9s%n", "method", "W", "A", "top-1 %",
                    "delta pp", "bytes", "agree %"));
            for (MethodResult x : m.results()) {
                sb.append(String.format(Locale.ROOT, "%-18s %4d %4d %8.2f %+8.2f %10d %9.2f%n", x.method(),
                        x.weightBits(), x.actBits(), 100 * x.top1(), 100 * (x.top1() - m.fp32Top1()),
                        x.weightBytes(), 100 * x.agreement()));
            }
        }
        return sb.toString();
    }
}
