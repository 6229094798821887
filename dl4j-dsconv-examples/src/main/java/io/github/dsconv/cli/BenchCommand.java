package io.github.dsconv.cli;

import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.engine.Backend;
import io.github.dsconv.examples.Bench;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv bench}: FP32 against the integer engine, end to end and per convolution (see {@link Bench}). */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Images/s of a model in FP32 and converted to DSConv on the integer engine (oneDNN or Java), "
                + "median of timed iterations after warm-up, end to end and per convolution.")
final class BenchCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", required = true,
            description = "resnet50, vgg16, vgg19, googlenet, densenet121 (full size, random init) or a model file.")
    String model;

    @Option(names = "--batch", defaultValue = "1,8", split = ",",
            description = "Batch sizes (default ${DEFAULT-VALUE}).")
    int[] batches;

    @Option(names = "--weight-bits", defaultValue = "4", description = "DSConv weight bits (default ${DEFAULT-VALUE}).")
    int weightBits;

    @Option(names = "--act-bits", defaultValue = "8", description = "BFP activation bits (default ${DEFAULT-VALUE}).")
    int actBits;

    @Option(names = "--block", defaultValue = "32", description = "Block size (default ${DEFAULT-VALUE}).")
    int block;

    @Option(names = "--iterations", defaultValue = "10",
            description = "Timed iterations per median, at least 10 (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--warmup", defaultValue = "3", description = "Untimed iterations first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--backend", description = "GEMM backend of the integer engine's fallback route: onednn or java; "
            + "given, the native fused kernel is not used (default: the native kernel where it loads, else oneDNN if "
            + "it loads, else Java).")
    String backend;

    @Option(names = "--no-per-layer", description = "Skip the per-convolution timings.")
    boolean noPerLayer;

    @Option(names = "--data", paramLabel = "fashion-mnist|DIR", description = "Images a model file is fed (the first "
            + "ones; default fashion-mnist's test split); zoo models get upsampled Fashion-MNIST images.")
    String data;

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--json", description = "Write the results (one object per batch size, in a list) to this file.")
    Path json;

    @Override
    public void validate() {
        OptionChecks.weightBits("--weight-bits", weightBits);
        OptionChecks.actBits("--act-bits", actBits);
        OptionChecks.block("--block", block);
        OptionChecks.eachInRange("--batch", java.util.Arrays.stream(batches).boxed().toList(), 1, 100_000);
        OptionChecks.range("--iterations", iterations, 1, 1_000_000);
        OptionChecks.range("--warmup", warmup, 0, 1_000_000);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        if (model != null && (model.contains("/") || model.contains(".") || java.nio.file.Files.exists(
                java.nio.file.Path.of(model)))) {
            files.input("--model", java.nio.file.Path.of(model)); // a file rather than a zoo name
        }
        files.output("--json", json);
        OptionChecks.dataFolder(files, "--data", data);
    }

    @Override
    public Integer call() throws Exception {
        Bench.Options o = new Bench.Options(model, batches, new LayerSpec(weightBits, actBits, block), iterations,
                warmup, backend == null ? null : Backend.parse(backend), !noPerLayer, data == null ? null
                : io.github.dsconv.data.ImageSources.open(data, io.github.dsconv.data.FashionMnist.Split.TEST,
                        preprocessing.preprocessing()));
        List<Bench.Result> results;
        try (ProgressBar pb = Progress.bar("bench", Bench.progressSteps(o))) {
            results = Bench.run(o, pb::stepBy);
        }
        for (Bench.Result r : results) {
            System.out.printf(Locale.ROOT, "%s batch %d: FP32 %.2f images/s, integer (%s) %.2f images/s, speedup "
                            + "%.2fx; conv weights %,d -> %,d bytes; max rel. error vs float simulation %.2e%n",
                    r.model(), r.batch(), r.fp32ImagesPerSec(), r.engine(), r.integerImagesPerSec(), r.speedup(),
                    r.fp32ConvWeightBytes(), r.integerConvWeightBytes(), r.maxRelErr());
            System.out.printf(Locale.ROOT, "  whole-graph plan (what DsconvInference deploys): %.2f images/s, %.2fx "
                            + "FP32; outputs vs layer by layer %.2e; %.0f%% of its time outside convolutions; run by "
                            + "DL4J: %s%n", r.graphImagesPerSec(), r.graphSpeedup(), r.graphMaxRelErr(),
                    100 * r.graphNonConvShare(), r.graphFallbacks());
            if (!Double.isNaN(r.fp32FoldedImagesPerSec())) {
                System.out.printf(Locale.ROOT, "  FP32 with %d BN folded into its convolutions: %.2f images/s "
                                + "(integer %.2fx that; folded logits vs unfolded %.2e)%n", r.foldedBatchNorms(),
                        r.fp32FoldedImagesPerSec(), r.speedupVsFolded(), r.foldedMaxRelErr());
            }
            System.out.printf(Locale.ROOT, "  FP32 with oneDNN convolutions (as evaluate runs it): %.2f images/s (%.2fx "
                    + "DL4J's; integer %.2fx that; logits vs DL4J %.2e)%n", r.fp32OneDnnImagesPerSec(),
                    r.fp32OneDnnSpeedup(), r.speedupVsOneDnn(), r.fp32OneDnnMaxRelErr());
            if (!r.layers().isEmpty()) {
                System.out.printf(Locale.ROOT, "  convolutions alone: FP32 %.1f ms, engine %.1f ms per batch (%d on "
                        + "integers, %s sums%s)%n", r.fp32ConvMs(), r.integerConvMs(), r.integerLayers(),
                        r.accumulation(), r.floatLayers().isEmpty() ? "" : "; not on integers: "
                                + String.join(", ", r.floatLayers()));
            }
        }
        JsonOutput.write(json, results);
        return 0;
    }
}
