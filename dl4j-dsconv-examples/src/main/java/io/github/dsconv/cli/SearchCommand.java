package io.github.dsconv.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.ImageSources;
import io.github.dsconv.examples.SearchModel;
import io.github.dsconv.files.OutputSet;
import io.github.dsconv.search.CurveKind;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv search}: one weight bit width per convolution (NUQ's multi-task Gaussian process search). */
@Command(name = "search", mixinStandardHelpOptions = true,
        description = "Search one weight bit width (2-8) per convolution with NUQ's multi-task Gaussian process "
                + "(ECCV 2020) on label-free fidelities (agreement with the FP32 model on unlabelled images); "
                + "write the plan for quantize --plan, compare with random search and greedy sensitivity at the "
                + "same budget, and judge on the --data test images.")
final class SearchCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", required = true, description = "The FP32 model.")
    Path model;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    CalibrationOptions calibration = new CalibrationOptions();

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--budget", defaultValue = "40", description = "Evaluations of the search, and of each "
            + "baseline (default ${DEFAULT-VALUE}).")
    int budget;

    @Option(names = "--curve", defaultValue = "bezier1", description = "bezier1 (default), bezier2, bezier3 or "
            + "chebyshev: the curve over depth the bits come from.")
    String curve;

    @Option(names = "--gp-mean", defaultValue = "per-task", paramLabel = "per-task|shared", description = "The "
            + "multi-task GP's constant mean: one per task (default; our cheap fidelities are biased copies of the "
            + "target) or one shared by all tasks (the NUQ reference code).")
    String gpMean;

    @Option(names = "--max-bytes", paramLabel = "B", description = "Largest conv weight bytes of the answer.")
    Long maxBytes;

    @Option(names = "--max-drop", paramLabel = "PP", description = "Largest drop of top-1 agreement with the FP32 "
            + "model on the scoring images, in points.")
    Double maxDrop;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--scoring-images", defaultValue = "1024", paramLabel = "N", description = "Unlabelled images "
            + "after the calibration images that score the target fidelity (default ${DEFAULT-VALUE}).")
    int scoringImages;

    @Option(names = "--cheap-images", defaultValue = "256", paramLabel = "N", description = "The first N scoring "
            + "images score the cheap fidelities (default ${DEFAULT-VALUE}).")
    int cheapImages;

    @Option(names = "--limit", defaultValue = "0", description = "Test images of --data to judge on (0 = all).")
    int limit;

    @Option(names = "--baselines", defaultValue = "random,greedy-sensitivity", split = ",",
            description = "Baselines at the same budget: random, greedy-sensitivity, single-task-gp, or none "
                    + "(default ${DEFAULT-VALUE}).")
    List<String> baselines;

    @Option(names = "--batch", defaultValue = "256", description = "Inference batch (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--out", required = true, description = "Plan file to write (reads back with quantize --plan).")
    Path out;

    @Option(names = "--checkpoint", description = "Evaluation log (default <out>.search-log.json).")
    Path checkpoint;

    @Option(names = "--resume", description = "Continue the search whose evaluation log is the checkpoint.")
    boolean resume;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    @Option(names = "--plot", description = "Write a Pareto PNG (agreement vs conv weight bytes) to this file.")
    Path plot;

    @Override
    public void validate() {
        OptionChecks.range("--budget", budget, 1, 10_000);
        CurveKind.parse(curve);
        taskMeans();
        if (maxBytes != null && maxDrop != null) {
            throw new IllegalArgumentException("--max-bytes and --max-drop exclude each other");
        }
        if (maxBytes != null) {
            OptionChecks.range("--max-bytes", maxBytes, 1, Long.MAX_VALUE);
        }
        if (maxDrop != null) {
            OptionChecks.range("--max-drop", maxDrop, 0, 100);
        }
        OptionChecks.range("--calibration-images", calibration.images, 1, 1_000_000);
        OptionChecks.range("--scoring-images", scoringImages, 1, 1_000_000);
        OptionChecks.range("--cheap-images", cheapImages, 1, scoringImages);
        OptionChecks.range("--limit", limit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--batch", batch, 1, 100_000);
        for (String b : baselines()) {
            if (!SearchModel.BASELINES.contains(b)) {
                throw new IllegalArgumentException("--baselines: unknown baseline '" + b + "' (expected "
                        + String.join(", ", SearchModel.BASELINES) + " or none)");
            }
        }
        if (plot != null && !plot.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new IllegalArgumentException("--plot must name a .png file, got " + plot);
        }
        if (calibration.data == null && !FashionMnistSource.NAME.equals(data.data)) {
            throw new IllegalArgumentException("search needs --calibration-data: unlabelled images, disjoint from the"
                    + " --data test images, to calibrate and score with");
        }
    }

    private boolean taskMeans() {
        return switch (gpMean) {
            case "per-task" -> true;
            case "shared" -> false;
            default -> throw new IllegalArgumentException("--gp-mean: unknown value '" + gpMean
                    + "' (expected per-task or shared)");
        };
    }

    private List<String> baselines() {
        return baselines.equals(List.of("none")) ? List.of() : baselines;
    }

    private Path checkpointFile() {
        return checkpoint != null ? checkpoint : SearchModel.checkpointFor(out);
    }

    @Override
    public void declare(OutputSet.Builder files) {
        OptionChecks.modelInput(files, "--model", model);
        files.output("--out", out).output("--json", json).output("--plot", plot);
        // The evaluation log is written as the search goes and kept whatever happens: a work file, like a
        // distillation checkpoint.
        Path log = checkpointFile().toAbsolutePath();
        files.workFolder("the folder of the evaluation log", log.getParent());
        OptionChecks.dataFolder(files, "--data", data.data);
        OptionChecks.dataFolder(files, "--calibration-data", calibration.data);
    }

    @Override
    public Integer call() throws Exception {
        ImageSource test = data.open(preprocessing);
        if (!test.labelled()) {
            throw new IllegalArgumentException("--data " + data.data + " must be labelled (one subfolder per class): "
                    + "it judges the answer");
        }
        ImageSource calib = calibration.data != null ? calibration.open(preprocessing)
                : ImageSources.open(FashionMnistSource.NAME, FashionMnist.Split.TRAIN, preprocessing.preprocessing());
        io.github.dsconv.data.InputSpec spec = preprocessing.imageSize == null ? null
                : DataOptions.specOf(io.github.dsconv.io.ModelFiles.load(model), preprocessing);
        SearchModel.Options o = new SearchModel.Options(model, test, calib, spec, budget, CurveKind.parse(curve),
                maxBytes, maxDrop, seed, calibration.images, scoringImages, cheapImages, limit, baselines(), out,
                checkpointFile(), resume, plot, batch, taskMeans());
        long evaluations = (long) budget * (1 + baselines().size()) + 7 * 3 + budget + 1 + baselines().size();
        ObjectNode r;
        try (ProgressBar pb = Progress.bar("search", evaluations)) {
            r = SearchModel.run(o, pb::stepBy);
        }
        JsonNode chosen = r.get("chosen");
        JsonNode t = r.get("test");
        System.out.printf(Locale.ROOT, "chosen bits %s: %,d conv weight bytes; test top-1 %.4f (FP32 %.4f), "
                        + "agreement %.4f%n", chosen.get("positions"), chosen.get("convWeightBytes").asLong(),
                chosen.get("top1").asDouble(), t.get("fp32Top1").asDouble(), chosen.get("agreement").asDouble());
        for (String u : List.of("uniform-w4", "uniform-w3")) {
            JsonNode n = t.get(u);
            System.out.printf(Locale.ROOT, "%s: %,d bytes, test top-1 %.4f, agreement %.4f%n", u,
                    n.get("convWeightBytes").asLong(), n.get("top1").asDouble(), n.get("agreement").asDouble());
        }
        for (JsonNode b : r.get("baselines")) {
            String m = b.get("method").asText();
            JsonNode n = t.get(m);
            System.out.printf(Locale.ROOT, "%s: score %.4f%s%n", m, b.get("score").asDouble(), n == null ? ""
                    : String.format(Locale.ROOT, ", %,d bytes, test top-1 %.4f", n.get("convWeightBytes").asLong(),
                    n.get("top1").asDouble()));
        }
        for (JsonNode f : r.get("fidelities")) {
            JsonNode secs = f.get("secondsPerEvaluation");
            System.out.printf(Locale.ROOT, "fidelity %s: %s an evaluation, rank correlation with the target "
                    + "%.3f%n", f.get("name").asText(), secs.isNull() ? "(all from the log)"
                    : String.format(Locale.ROOT, "%.2f s", secs.asDouble()),
                    f.get("rankCorrelationWithTarget").asDouble());
        }
        System.out.printf(Locale.ROOT, "wrote %s (%d evaluations, %.0f s)%n", out, r.get("evaluations").asInt(),
                r.get("seconds").asDouble());
        JsonOutput.write(json, r);
        return 0;
    }
}
