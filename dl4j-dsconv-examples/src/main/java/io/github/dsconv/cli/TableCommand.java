package io.github.dsconv.cli;

import io.github.dsconv.examples.Demo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code dsconv table}: the accuracy table of issue 3 for every committed small family (see
 * {@link Demo#tableVariants()}), with one PNG per family of top-1 against convolution weight bytes.
 */
@Command(name = "table", mixinStandardHelpOptions = true,
        description = "Accuracy table of the committed small models (resnet, vgg, googlenet, densenet): FP32; DSConv "
                + "W8/W6/W5/W4/W3/W2 (B=32) and W4/W3 at B=16/64/128; DSConv + bias correction (dsconv-bc) at "
                + "W4-W2; "
                + "DSConv with the KDS shift (dsconv-kds-bias) at W8-W2 (B=32); the KDS shift, clipping search and bias "
                + "correction together (dsconv-kds-clip-bc) at W4-W2; RTN per-tensor and per-channel at W8-W2; all A8 "
                + "BFP, on the Fashion-MNIST test set. One PNG per family: top-1 vs weight bytes.")
final class TableCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", split = ",",
            description = "FP32 model(s) (default: every committed models/fmnist-<family>.zip).")
    List<Path> models;

    @Option(names = "--act-bits", defaultValue = "8", description = "BFP activation bits (default ${DEFAULT-VALUE}).")
    int actBits;

    @Option(names = "--limit", defaultValue = "0", description = "Test images (0 = all 10,000).")
    int limit;

    @Option(names = "--batch", defaultValue = "500", description = "Evaluation batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--plot-dir", defaultValue = "demo-out", description = "Folder for the PNG plots "
            + "(default ${DEFAULT-VALUE}).")
    Path plotDir;

    @Option(names = "--methods", split = ",", description = "Only these methods' rows (default: all of "
            + "dsconv, dsconv-bc, dsconv-kds-bias, dsconv-kds-clip-bc, dsconv-hr-bc, rtn-per-tensor, rtn-per-channel).")
    List<String> methods;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    CalibrationOptions calibration = new CalibrationOptions();

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Option(names = "--markdown", description = "Write the README's Markdown table to this file.")
    Path markdown;

    @Option(names = "--from-json", paramLabel = "FILE", description = "Evaluate nothing: redraw the plots (one "
            + "table-<family>.png per model in --plot-dir) and --markdown from this table JSON, e.g. docs/table.json "
            + "merged from several runs.")
    Path fromJson;

    @Override
    public void validate() {
        OptionChecks.actBits("--act-bits", actBits);
        OptionChecks.range("--limit", limit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--batch", batch, 1, 100_000);
        OptionChecks.range("--calibration-images", calibration.images, 1, 1_000_000);
        if (fromJson != null && json != null) {
            throw new IllegalArgumentException("--json and --from-json exclude each other (nothing is evaluated)");
        }
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        if (models != null) {
            models.forEach(m -> OptionChecks.modelInput(files, "--model", m));
        }
        files.input("--from-json", fromJson).outputFolder("--plot-dir", plotDir).output("--json", json)
                .output("--markdown", markdown);
        OptionChecks.dataFolder(files, "--data", data.data);
        OptionChecks.dataFolder(files, "--calibration-data", calibration.data);
    }

    @Override
    public Integer call() throws Exception {
        if (fromJson != null) {
            return redraw();
        }
        List<Path> files = models == null || models.isEmpty() ? Demo.committedModels() : models;
        List<Demo.Variant> variants = Demo.tableVariants();
        if (methods != null && !methods.isEmpty()) {
            List<String> known = variants.stream().map(Demo.Variant::method).distinct().toList();
            for (String m : methods) {
                if (!known.contains(m)) {
                    throw new IllegalArgumentException("unknown --methods entry '" + m + "' (expected one of "
                            + String.join(", ", known) + ")");
                }
            }
            variants = variants.stream().filter(v -> methods.contains(v.method())).toList();
        }
        return DemoCommand.run("table", new Demo.Options(files, variants, actBits, limit, batch, plotDir,
                true, io.github.dsconv.engine.EngineMode.AUTO.resolve(), data.open(preprocessing),
                calibration.open(preprocessing)), json, markdown);
    }

    private int redraw() throws java.io.IOException {
        Demo.Result r = Demo.readResult(fromJson);
        java.nio.file.Files.createDirectories(plotDir);
        for (Demo.ModelResult m : r.models()) {
            Path png = plotDir.resolve("table-" + m.arch() + ".png");
            Demo.plotBytes(m, png);
            System.out.println("wrote " + png);
        }
        if (markdown != null) {
            io.github.dsconv.files.AtomicFiles.writeString(markdown, Demo.markdown(r));
            System.out.println("wrote " + markdown);
        }
        return 0;
    }
}
