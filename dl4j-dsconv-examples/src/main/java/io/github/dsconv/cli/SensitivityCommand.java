package io.github.dsconv.cli;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.examples.Plots;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.provenance.Provenance;
import io.github.dsconv.sensitivity.LayerResult;
import io.github.dsconv.sensitivity.LayerSensitivity;
import io.github.dsconv.sensitivity.Measurement;
import io.github.dsconv.sensitivity.SensitivityReport;
import me.tongfei.progressbar.ProgressBar;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code dsconv sensitivity}: which convolutions' weights, and which inputs, cost the most when quantized alone. */
@Command(name = "sensitivity", mixinStandardHelpOptions = true,
        description = "Per-layer quantization sensitivity: for each convolution, top-1 agreement with the FP32 model "
                + "and logits SQNR when only its weights are quantized (inputs float) and when only its input is "
                + "rounded to block floating point (weights FP32); plus all weights, all inputs and both. Layers are "
                + "ranked by the larger agreement loss. Labels are optional (top-1 is reported when present).")
final class SensitivityCommand implements Callable<Integer>, DeclaresFiles {

    /** Version of the JSON this command writes. */
    static final int FORMAT_VERSION = 1;

    @Option(names = "--model", required = true, description = "The FP32 model.")
    Path model;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--limit", defaultValue = "1000", description = "Measure on the first N images in the data's "
            + "fixed order (0 = all; default ${DEFAULT-VALUE}).")
    int limit;

    @Option(names = "--weight-bits", defaultValue = "4", description = "Weight bits, 2-8 (default ${DEFAULT-VALUE}).")
    int weightBits;

    @Option(names = "--act-bits", defaultValue = "8", description = "Block floating point input bits, 2-16 "
            + "(default ${DEFAULT-VALUE}).")
    int actBits;

    @Option(names = "--block", defaultValue = "32", description = "Input channels per block (default "
            + "${DEFAULT-VALUE}).")
    int block;

    @Mixin
    CalibrationOptions calibrationOptions = new CalibrationOptions();

    @Option(names = "--batch", defaultValue = "100", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    @Option(names = "--plot", description = "Write a PNG bar chart of each layer's agreement loss (weights vs "
            + "inputs) to this file.")
    Path plot;

    /** One variant against FP32; {@code top1} null without labels. */
    record Row(double agreement, double agreementLossPp, Double logitsSqnrDb, Double top1) {
        static Row of(Measurement m) {
            return m == null ? null : new Row(m.agreement(), Math.round(1e6 * m.agreementLoss()) / 1e4, m.logitsSqnrDb(),
                    m.top1());
        }
    }

    /** A layer's result; {@code activations} null when its input stays float. */
    record LayerJson(int rank, String layer, int order, int weightBits, int actBits, int blockSize, Row weights,
                     Row activations) {
    }

    /** Whole-network rows. */
    record NetworkJson(Row weights, Row activations, Row both) {
    }

    /** The JSON result. */
    record Json(int formatVersion, String library, String model, String data, String input, int images,
                boolean labelled, int weightBits, int actBits, int blockSize, String method, String recipe,
                String calibrationData, Double fp32Top1, NetworkJson network, List<String> ranking,
                List<LayerJson> layers, double seconds, String rankedBy) {
    }

    @Override
    public void validate() {
        OptionChecks.weightBits("--weight-bits", weightBits);
        if (actBits == 0) {
            throw new IllegalArgumentException("--act-bits must be in [2, 16]: sensitivity measures the inputs too");
        }
        OptionChecks.actBits("--act-bits", actBits);
        OptionChecks.block("--block", block);
        OptionChecks.range("--limit", limit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--batch", batch, 1, 100_000);
        OptionChecks.range("--calibration-images", calibrationOptions.images, 1, 1_000_000);
        if (plot != null && !plot.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new IllegalArgumentException("--plot must name a .png file, got " + plot);
        }
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelInput(files, "--model", model);
        files.output("--json", json).output("--plot", plot);
        OptionChecks.dataFolder(files, "--data", data.data);
        OptionChecks.dataFolder(files, "--calibration-data", calibrationOptions.data);
    }

    @Override
    public Integer call() throws Exception {
        LayerSpec spec = new LayerSpec(weightBits, actBits, block);
        ImageSource source = data.open(preprocessing);
        ImageSource calibration = calibrationOptions.open(preprocessing);
        int calibrationImages = calibrationOptions.images;
        Model fp32 = ModelFiles.load(model);
        io.github.dsconv.io.ModelChecks.requireFp32(fp32, model.toString(), "sensitivity needs the FP32 model");
        io.github.dsconv.io.ModelChecks.requireConvolutions(fp32, model.toString());
        InputSpec input = source.resolve(DataOptions.specOf(fp32, preprocessing));
        int outputs = ModelInputs.outputs(fp32);
        if (source.labelled() && outputs > 0 && outputs != source.classes().size()) {
            throw new IllegalArgumentException(model + " has " + outputs + " outputs but " + data.data + " has "
                    + source.classes().size() + " classes");
        }
        LayerSensitivity.Builder b = LayerSensitivity.builder().plan(ConversionPlan.uniform(spec));
        String calibrationDescription = null;
        if (calibration != null) {
            INDArray x = calibration.features(calibration.resolve(input), calibrationImages);
            b.calibrationData(x);
            calibrationDescription = calibrationImages + " images of " + calibration.describe();
        }
        LayerSensitivity analyser = b.build();
        int n = limit > 0 ? Math.min(limit, source.size()) : source.size();
        SensitivityReport r;
        try (ProgressBar pb = Progress.bar("sensitivity", (long) n * analyser.passes(fp32))) {
            r = analyser.analyse(fp32, source.batches(input, batch, limit), pb::stepBy);
        }
        System.out.print(table(r));
        System.out.printf(Locale.ROOT, "%d images, %.1f s (%.1f images/s over %d passes)%n", r.images(), r.seconds(),
                r.images() * (double) analyser.passes(fp32) / r.seconds(), analyser.passes(fp32));
        Json j = json(r, source, input, calibrationDescription);
        JsonOutput.write(json, j);
        if (plot != null) {
            plot(r);
        }
        return 0;
    }

    private Json json(SensitivityReport r, ImageSource source, InputSpec input, String calibrationDescription) {
        List<LayerJson> layers = new ArrayList<>();
        for (int i = 0; i < r.layers().size(); i++) {
            LayerResult l = r.layers().get(i);
            layers.add(new LayerJson(i + 1, l.layer(), l.order(), l.spec().weightBits(), l.spec().actBits(),
                    l.spec().blockSize(), Row.of(l.weights()), Row.of(l.activations())));
        }
        return new Json(FORMAT_VERSION, Provenance.LIBRARY, model.toString(), source.describe(), input.describe(),
                r.images(), r.labelled(), weightBits, actBits, block, r.method(), r.recipe(), calibrationDescription,
                r.fp32Top1(), new NetworkJson(Row.of(r.allWeights()), Row.of(r.allActivations()), Row.of(r.both())),
                r.ranking(), layers, r.seconds(), "max(weights, activations) agreement loss, then min logits SQNR");
    }

    static String table(SensitivityReport r) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-4s %-22s %10s %9s %10s %9s%n", "rank", "layer", "W agree%",
                "W SQNR", "A agree%", "A SQNR"));
        for (int i = 0; i < r.layers().size(); i++) {
            LayerResult l = r.layers().get(i);
            sb.append(String.format(Locale.ROOT, "%-4d %-22s %s %s%n", i + 1, l.layer(), cells(l.weights()),
                    cells(l.activations())));
        }
        sb.append(String.format(Locale.ROOT, "%-27s %s%n", "all weights", cells(r.allWeights())));
        sb.append(String.format(Locale.ROOT, "%-27s %s%n", "all inputs", cells(r.allActivations())));
        sb.append(String.format(Locale.ROOT, "%-27s %s%n", "both", cells(r.both())));
        if (r.labelled()) {
            sb.append(String.format(Locale.ROOT, "top-1: FP32 %.2f%%, all weights %.2f%%, all inputs %.2f%%, both "
                    + "%.2f%%%n", 100 * r.fp32Top1(), 100 * r.allWeights().top1(), 100 * r.allActivations().top1(),
                    100 * r.both().top1()));
        }
        return sb.toString();
    }

    private static String cells(Measurement m) {
        if (m == null) {
            return String.format(Locale.ROOT, "%10s %9s", "-", "-");
        }
        String sqnr = Double.isInfinite(m.logitsSqnrDb()) ? "exact"
                : String.format(Locale.ROOT, "%.1f dB", m.logitsSqnrDb());
        return String.format(Locale.ROOT, "%10.2f %9s", 100 * m.agreement(), sqnr);
    }

    private void plot(SensitivityReport r) throws java.io.IOException {
        List<LayerResult> inOrder = new ArrayList<>(r.layers());
        inOrder.sort(Comparator.comparingInt(LayerResult::order));
        List<String> names = inOrder.stream().map(LayerResult::layer).toList();
        double[] w = inOrder.stream().mapToDouble(l -> 100 * l.weights().agreementLoss()).toArray();
        double[] a = inOrder.stream().mapToDouble(l -> l.activations() == null ? 0
                : 100 * l.activations().agreementLoss()).toArray();
        Map<String, double[]> series = new LinkedHashMap<>();
        series.put("W" + weightBits + " weights only", w);
        series.put("A" + actBits + " input only", a);
        String title = String.format(Locale.ROOT, "%s: agreement loss per layer, W%dA%d B%d (%d images; all: %.1f pp)",
                model.getFileName(), weightBits, actBits, block, r.images(), 100 * r.both().agreementLoss());
        Plots.bars(plot, title, "convolution (network order)", "top-1 agreement loss vs FP32 (pp)", names, series);
    }
}
