package io.github.dsconv.examples;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.engine.EngineMode;
import io.github.dsconv.engine.Fp32Convolutions;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.inference.DsconvInference;
import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.provenance.Provenance;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.ptq.PtqResult;
import io.github.dsconv.ptq.Recipe;
import io.github.dsconv.ptq.WeightMethod;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

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
     * One conversion to evaluate.
     *
     * @param method     weight quantizer ({@code dsconv}, {@code dsconv-kds-bias} (DSConv with the KDS
     *                   shift beta), {@code dsconv-kds-clip} (KDS shift and per-block clipping search),
     *                   {@code dsconv-hr} (Hessian-aware rounding of the VQK integers, {@link HessianRounding}, on
     *                   {@link Variant#CALIBRATION_IMAGES} unlabelled training images),
     *                   {@code rtn-per-channel}, {@code rtn-per-tensor}); a DSConv method with the
     *                   suffix {@code -bc} is followed by bias correction on {@link Variant#CALIBRATION_IMAGES}
     *                   unlabelled training images
     * @param weightBits weight bits
     * @param blockSize  block size along input channels (DSConv weights and BFP activations alike)
     */
    public record Variant(String method, int weightBits, int blockSize) {

        /** DSConv with the per-block KDS shift beta (spec section 1, least squares with intercept). */
        public static final String DSCONV_KDS_BIAS = "dsconv-kds-bias";
        /**
         * DSConv with the KDS shift and the per-block clipping-ratio search: with the {@code -bc} suffix, every
         * calibration this project has that needs no training.
         */
        public static final String DSCONV_KDS_CLIP = "dsconv-kds-clip";
        /**
         * DSConv whose integers {@code q} are chosen by {@link HessianRounding} (each layer's output error on
         * unlabelled images, not the kernel's L2 error); the paper's VQK scales, no KDS shift, no clipping search.
         */
        public static final String DSCONV_HESSIAN = "dsconv-hr";
        /** Suffix of a DSConv method followed by {@link BiasCorrection} on unlabelled training images. */
        public static final String BIAS_CORRECTED = "-bc";
        /**
         * Unlabelled Fashion-MNIST training images (the first ones, features only) bias correction and the
         * Hessian-aware rounding use.
         */
        public static final int CALIBRATION_IMAGES = 512;

        public Variant {
            boolean corrected = method.endsWith(BIAS_CORRECTED);
            String base = corrected ? method.substring(0, method.length() - BIAS_CORRECTED.length()) : method;
            boolean known = List.of(QuantizeModel.METHODS).contains(base) || DSCONV_KDS_BIAS.equals(base)
                    || DSCONV_KDS_CLIP.equals(base) || DSCONV_HESSIAN.equals(base);
            if (!known || (corrected && !base.startsWith("dsconv"))) {
                throw new IllegalArgumentException("unknown method '" + method + "' (expected one of "
                        + String.join(", ", QuantizeModel.METHODS) + ", " + DSCONV_KDS_BIAS + ", " + DSCONV_KDS_CLIP
                        + ", " + DSCONV_HESSIAN + ", or a dsconv method + '" + BIAS_CORRECTED + "')");
            }
        }

        /** The weight quantizer's name for {@link QuantizeModel#quantizer}. */
        String quantizer() {
            return method.startsWith("dsconv") ? "dsconv" : method;
        }

        /** Whether the converted network's integers are re-chosen by {@link HessianRounding}. */
        boolean hessianRounded() {
            return method.startsWith(DSCONV_HESSIAN);
        }

        /** Whether the converted network is bias-corrected ({@link BiasCorrection}). */
        boolean biasCorrected() {
            return method.endsWith(BIAS_CORRECTED);
        }

        /**
         * A uniform plan at {@code spec}, with the KDS shift switched on for {@link #DSCONV_KDS_BIAS} methods and
         * the KDS shift and clipping search for {@link #DSCONV_KDS_CLIP} methods.
         */
        ConversionPlan plan(LayerSpec spec) {
            ConversionPlan plan = ConversionPlan.uniform(spec);
            if (method.startsWith(DSCONV_KDS_CLIP)) {
                return plan.withMethod(true, false, true);
            }
            return method.startsWith(DSCONV_KDS_BIAS) ? plan.withMethod(true, false, false) : plan;
        }
    }

    /**
     * Options.
     *
     * @param models   FP32 models to convert
     * @param variants conversions to evaluate, in order
     * @param actBits  BFP activation bits for every method
     * @param limit    test images ({@code <= 0}: all 10,000)
     * @param batch    evaluation batch size
     * @param plotDir  folder for the PNG plots (null: no plots)
     * @param byBytes  plot top-1 against weight bytes ({@code table-<arch>.png}) rather than against weight bits
     *                 ({@code demo-<arch>.png})
     * @param engine   how the converted models' DSConv layers run: the float simulation (default) or the integer
     *                 engine (spec section 3)
     */
    public record Options(List<Path> models, List<Variant> variants, int actBits, int limit, int batch,
                          Path plotDir, boolean byBytes, EngineMode engine, ImageSource data,
                          ImageSource calibration) {

        public Options {
            if (engine == null) {
                throw new IllegalArgumentException("engine is required");
            }
            if (data == null) {
                data = new FashionMnistSource(FashionMnist.Split.TEST, Preprocessing.defaults());
            }
            if (calibration == null && data instanceof FashionMnistSource) {
                calibration = new FashionMnistSource(FashionMnist.Split.TRAIN, Preprocessing.defaults());
            }
            if (!data.labelled()) {
                throw new IllegalArgumentException("the demo needs labelled images, but the data has no classes: "
                        + data.describe());
            }
            for (Variant v : variants) {
                if ((v.biasCorrected() || v.hessianRounded()) && calibration == null) {
                    throw new IllegalArgumentException("method " + v.method() + " needs calibration images: pass "
                            + "--calibration-data");
                }
            }
        }

        /** Options on Fashion-MNIST. */
        public Options(List<Path> models, List<Variant> variants, int actBits, int limit, int batch, Path plotDir,
                       boolean byBytes, EngineMode engine) {
            this(models, variants, actBits, limit, batch, plotDir, byBytes, engine, null, null);
        }

        /** Options on the float simulation. */
        public Options(List<Path> models, List<Variant> variants, int actBits, int limit, int batch, Path plotDir,
                       boolean byBytes) {
            this(models, variants, actBits, limit, batch, plotDir, byBytes, EngineMode.FLOAT);
        }
    }

    /** Every method at every bit width, one block size: the demo's grid, bit width first. */
    public static List<Variant> grid(List<String> methods, int[] weightBits, int blockSize) {
        List<Variant> v = new ArrayList<>();
        for (int bits : weightBits) {
            for (String m : methods) {
                v.add(new Variant(m, bits, blockSize));
            }
        }
        return v;
    }

    /**
     * The accuracy table's conversions (issue 3): DSConv at W8/W6/W5/W4/W3/W2 with B=32, DSConv at W4 and W3 with
     * B=16/64/128, DSConv followed by bias correction at W4/W3/W2 (B=32), DSConv with the KDS shift beta at W8-W2
     * (B=32), DSConv with the KDS shift, clipping search and bias correction ({@code dsconv-kds-clip-bc}) at
     * W4/W3/W2 (B=32), DSConv with the Hessian-aware rounding and bias correction ({@code dsconv-hr-bc}) at
     * W4/W3/W2 (B=32), and the round-to-nearest per-tensor and per-channel baselines at W8/W6/W5/W4/W3/W2. The
     * baselines' BFP activations use B=32 like DSConv's default.
     */
    public static List<Variant> tableVariants() {
        int[] bits = {8, 6, 5, 4, 3, 2};
        List<Variant> v = new ArrayList<>();
        for (int b : bits) {
            v.add(new Variant("dsconv", b, 32));
        }
        for (int b : new int[] {4, 3}) {
            for (int block : new int[] {16, 64, 128}) {
                v.add(new Variant("dsconv", b, block));
            }
        }
        for (int b : new int[] {4, 3, 2}) {
            v.add(new Variant("dsconv" + Variant.BIAS_CORRECTED, b, 32));
        }
        for (int b : bits) {
            v.add(new Variant(Variant.DSCONV_KDS_BIAS, b, 32));
        }
        for (int b : new int[] {4, 3, 2}) {
            v.add(new Variant(Variant.DSCONV_KDS_CLIP + Variant.BIAS_CORRECTED, b, 32));
        }
        for (int b : new int[] {4, 3, 2}) {
            v.add(new Variant(Variant.DSCONV_HESSIAN + Variant.BIAS_CORRECTED, b, 32));
        }
        for (String m : new String[] {"rtn-per-tensor", "rtn-per-channel"}) {
            for (int b : bits) {
                v.add(new Variant(m, b, 32));
            }
        }
        return v;
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
     * @param engine     how the DSConv layers ran ({@code float} or {@code integer})
     * @param backend    the integer engine's backend ({@code onednn} or {@code java}), null on the float simulation
     */
    public record Result(String dataset, int testImages, List<ModelResult> models, double seconds, String engine,
                         String backend) {
    }

    private Demo() {
    }

    /**
     * Reads the results back from a demo or table JSON: one run's, or several runs' merged by
     * {@code scripts/merge-tables.py} (fields other than {@link Result}'s are ignored). Lets the plots and the
     * Markdown table be redrawn from rows that came from different runs.
     *
     * @throws IllegalArgumentException if the file is missing, is not such JSON, or holds no models
     */
    public static Result readResult(Path file) throws IOException {
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new IllegalArgumentException("table JSON not found: " + file);
        }
        Result r;
        try {
            r = Json.MAPPER.copy().configure(
                    com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
                    .readValue(file.toFile(), Result.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IllegalArgumentException("not a demo/table JSON: " + file + " (" + e.getOriginalMessage()
                    + ")", e);
        }
        if (r == null || r.models() == null || r.models().isEmpty()) {
            throw new IllegalArgumentException("no models in " + file);
        }
        for (ModelResult m : r.models()) {
            if (m.arch() == null || m.results() == null) {
                throw new IllegalArgumentException(file + ": a model entry without \"arch\" or \"results\"");
            }
        }
        return r;
    }

    /** The default model path: under the project root given by {@code -Ddsconv.home}, else the working folder. */
    public static Path defaultModel() {
        String home = System.getProperty("dsconv.home");
        return home == null ? Paths.get(DEFAULT_MODEL) : Paths.get(home).resolve(DEFAULT_MODEL);
    }

    /** The small families' committed models, in table order. */
    public static final List<String> FAMILIES = List.of("resnet", "vgg", "googlenet", "densenet");

    /**
     * The committed models of the small families that exist under the project root ({@code -Ddsconv.home}, else
     * the working folder), in {@link #FAMILIES} order.
     *
     * @throws IllegalStateException when there is none
     */
    public static List<Path> committedModels() {
        Path root = defaultModel().getParent();
        List<Path> found = new ArrayList<>();
        for (String f : FAMILIES) {
            Path p = root.resolve("fmnist-" + f + ".zip");
            if (java.nio.file.Files.isRegularFile(p)) {
                found.add(p);
            }
        }
        if (found.isEmpty()) {
            throw new IllegalStateException("no committed models (fmnist-<family>.zip) in " + root.toAbsolutePath());
        }
        return found;
    }

    /** Number of evaluations the run will do (for progress bars): per model, FP32 plus one per method and bits. */
    public static int evaluations(Options o) {
        return o.models().size() * (1 + o.variants().size());
    }

    /**
     * Runs the demo.
     *
     * @param o        options
     * @param progress called with the images of each evaluated batch, may be null
     */
    public static Result run(Options o, IntConsumer progress) throws IOException {
        long t0 = System.nanoTime();
        List<ModelResult> models = new ArrayList<>();
        String backend = null;
        int images = 0;
        for (Path file : o.models()) {
            Model fp32 = ModelFiles.load(file);
            ModelChecks.requireFp32(fp32, file.toString(), "demo converts FP32 models");
            // DL4J's own FP32 convolution is im2col-bound; oneDNN's gives the same results to float rounding.
            Fp32Convolutions.enable(fp32);
            InputSpec input = o.data().resolve(ModelInputs.of(fp32));
            DataSetIterator data = o.data().cached(input, o.batch(), o.limit());
            INDArray calibration = null; // unlabelled calibration images, read when a variant needs them
            Outputs ref = Outputs.collect(fp32, data, progress);
            List<MethodResult> results = new ArrayList<>();
            long fp32Bytes = -1;
            for (Variant v : o.variants()) {
                LayerSpec spec = new LayerSpec(v.weightBits(), o.actBits(), v.blockSize());
                ConversionPlan plan = v.plan(spec);
                Recipe recipe = new Recipe(0, v.hessianRounded() ? Variant.CALIBRATION_IMAGES : 0,
                        v.biasCorrected() ? Variant.CALIBRATION_IMAGES : 0);
                if (recipe.needsData() && calibration == null) {
                    calibration = o.calibration().features(o.calibration().resolve(input),
                            Variant.CALIBRATION_IMAGES);
                }
                PostTrainingQuantizer.Builder ptq = PostTrainingQuantizer.builder().plan(plan)
                        .method(WeightMethod.parse(v.quantizer())).recipe(recipe);
                if (recipe.needsData()) {
                    ptq.calibrationData(calibration);
                }
                PtqResult c = ptq.build().quantize(fp32);
                Fp32Convolutions.enable(c.network());
                ConversionReport rep = c.report();
                boolean blockwise = c.method().quantizer(plan).blockwise();
                fp32Bytes = rep.fp32WeightBytes();
                Outputs out;
                if (o.engine() == EngineMode.INTEGER) {
                    // The deployment API on the converted network itself (one replica, its whole-graph plan).
                    try (DsconvInference deployed = DsconvInference.of(c.network(), 1)) {
                        backend = deployed.report().kernel();
                        out = Outputs.collectLogits(List.of(deployed::logits), data, progress).get(0);
                    }
                } else {
                    out = Outputs.collect(c.network(), data, progress);
                }
                // Free the converted network's native buffers now: ND4J releases them only when the garbage
                // collector finalises the arrays, and a table run converts 24 networks per model (an earlier run
                // grew to 6.8 GB resident this way).
                closeNetwork(c.network());
                double meanSqnr = rep.converted().stream().mapToDouble(LayerReport::sqnrDb).filter(Double::isFinite)
                        .average().orElse(Double.NaN);
                results.add(new MethodResult(v.method(), v.weightBits(), o.actBits(),
                        blockwise ? v.blockSize() : null, out.top1(), rep.convertedWeightBytes(),
                        out.agreement(ref), out.logitsSqnrDb(ref), meanSqnr));
            }
            images = ref.size();
            ModelResult mr = new ModelResult(Provenance.archOf(file), file.toString(), ref.top1(), fp32Bytes, results);
            models.add(mr);
            if (o.plotDir() != null) {
                if (o.byBytes()) {
                    plotBytes(mr, o.plotDir().resolve("table-" + mr.arch() + ".png"), title(o.data()));
                } else {
                    plot(mr, o.plotDir().resolve("demo-" + mr.arch() + ".png"), title(o.data()));
                }
            }
        }
        return new Result(o.data().name(), images, models, (System.nanoTime() - t0) / 1e9,
                o.engine().label(), backend);
    }

    private static void closeNetwork(Model net) {
        if (net instanceof org.deeplearning4j.nn.multilayer.MultiLayerNetwork mln) {
            mln.close();
        } else if (net instanceof org.deeplearning4j.nn.graph.ComputationGraph cg) {
            cg.close();
        }
    }

    private static String title(ImageSource data) {
        return data instanceof FashionMnistSource ? "Fashion-MNIST"
                : java.nio.file.Path.of(data.name()).getFileName().toString();
    }

    /** {@link #plot(ModelResult, Path, String)} on Fashion-MNIST. */
    public static void plot(ModelResult mr, Path png) throws IOException {
        plot(mr, png, "Fashion-MNIST");
    }

    /** Top-1 vs weight bits, one line per method, with the FP32 accuracy as a reference line. */
    public static void plot(ModelResult mr, Path png, String dataset) throws IOException {
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
        Plots.lines(png, dataset + " " + mr.arch() + ": top-1 vs weight bits (A8 BFP)", "weight bits",
                "top-1 (%)", series, Map.of("fp32", 100 * mr.fp32Top1()), "#");
    }

    /**
     * Top-1 vs convolution weight bytes (KiB), one line per method and block size (DSConv's B=32 line runs over all
     * bit widths; its other block sizes are short lines at W4 and W3), with the FP32 accuracy as a reference line.
     */
    public static void plotBytes(ModelResult mr, Path png) throws IOException {
        plotBytes(mr, png, "Fashion-MNIST");
    }

    /** {@link #plotBytes(ModelResult, Path)} with the dataset's name in the title. */
    public static void plotBytes(ModelResult mr, Path png, String dataset) throws IOException {
        Map<String, List<MethodResult>> byLine = new LinkedHashMap<>();
        for (MethodResult r : mr.results()) {
            String name = r.blockSize() == null ? r.method() : r.method() + " B=" + r.blockSize();
            byLine.computeIfAbsent(name, k -> new ArrayList<>()).add(r);
        }
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        for (Map.Entry<String, List<MethodResult>> e : byLine.entrySet()) {
            List<MethodResult> rs = e.getValue();
            double[] x = rs.stream().mapToDouble(r -> r.weightBytes() / 1024.0).toArray();
            double[] y = rs.stream().mapToDouble(r -> 100 * r.top1()).toArray();
            series.put(e.getKey(), List.of(x, y));
        }
        Plots.lines(png, dataset + " " + mr.arch() + ": top-1 vs conv weight bytes (A8 BFP)",
                "conv weight KiB (FP32: " + Math.round(mr.fp32WeightBytes() / 1024.0) + ")", "top-1 (%)", series,
                Map.of("fp32", 100 * mr.fp32Top1()), "#");
    }

    /**
     * A Markdown table for the README: one row per conversion, one column per model with top-1, its change from
     * FP32 in percentage points and the weight bytes as a fraction of FP32.
     */
    public static String markdown(Result r) {
        StringBuilder sb = new StringBuilder("| method | W | B |");
        StringBuilder rule = new StringBuilder("|---|---|---|");
        for (ModelResult m : r.models()) {
            sb.append(' ').append(m.arch()).append(" top-1 % (pp) | bytes |");
            rule.append("---|---|");
        }
        sb.append('\n').append(rule).append('\n');
        sb.append("| FP32 | 32 | |");
        for (ModelResult m : r.models()) {
            sb.append(String.format(Locale.ROOT, " %.2f | %d |", 100 * m.fp32Top1(), m.fp32WeightBytes()));
        }
        sb.append('\n');
        List<MethodResult> rows = r.models().isEmpty() ? List.of() : r.models().get(0).results();
        for (int i = 0; i < rows.size(); i++) {
            MethodResult x = rows.get(i);
            sb.append(String.format(Locale.ROOT, "| %s | %d | %s |", x.method(), x.weightBits(),
                    x.blockSize() == null ? "" : x.blockSize().toString()));
            for (ModelResult m : r.models()) {
                MethodResult y = m.results().get(i);
                sb.append(String.format(Locale.ROOT, " %.2f (%+.2f) | %.3f |", 100 * y.top1(),
                        100 * (y.top1() - m.fp32Top1()), (double) y.weightBytes() / m.fp32WeightBytes()));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** A text table: one row per bit width, one column pair (top-1, bytes) per method. */
    public static String table(Result r) {
        StringBuilder sb = new StringBuilder();
        for (ModelResult m : r.models()) {
            sb.append(String.format(Locale.ROOT, "%s (%s): FP32 top-1 %.2f%%, conv weights %d bytes, %d test images%n",
                    m.arch(), m.fp32Model(), 100 * m.fp32Top1(), m.fp32WeightBytes(), r.testImages()));
            sb.append(String.format(Locale.ROOT, "%-18s %4s %4s %4s %8s %8s %10s %9s%n", "method", "W", "A", "B",
                    "top-1 %", "delta pp", "bytes", "agree %"));
            for (MethodResult x : m.results()) {
                sb.append(String.format(Locale.ROOT, "%-18s %4d %4d %4s %8.2f %+8.2f %10d %9.2f%n", x.method(),
                        x.weightBits(), x.actBits(), x.blockSize() == null ? "-" : x.blockSize().toString(),
                        100 * x.top1(), 100 * (x.top1() - m.fp32Top1()),
                        x.weightBytes(), 100 * x.agreement()));
            }
        }
        return sb.toString();
    }
}
