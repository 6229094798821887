package io.github.dsconv.cli;

import io.github.dsconv.engine.EngineMode;
import io.github.dsconv.examples.Demo;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code dsconv demo}: the main job (see {@link Demo}). */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Convert the committed small ResNet at W8/W6/W4/W3/W2 with DSConv and with round-to-nearest "
                + "per-channel weights (both A8 BFP), evaluate on the Fashion-MNIST test set, print a table, "
                + "write a PNG plot.")
final class DemoCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", description = "FP32 model(s) (default: the committed " + Demo.DEFAULT_MODEL + ").",
            split = ",")
    List<Path> models;

    @Option(names = "--bits", defaultValue = "8,6,4,3,2", split = ",",
            description = "Weight bit widths (default ${DEFAULT-VALUE}).")
    int[] bits;

    @Option(names = "--act-bits", defaultValue = "8", description = "BFP activation bits (default ${DEFAULT-VALUE}).")
    int actBits;

    @Option(names = "--block", defaultValue = "32", description = "DSConv block size (default ${DEFAULT-VALUE}).")
    int block;

    @Option(names = "--methods", defaultValue = "dsconv,rtn-per-channel", split = ",",
            description = "Methods (default ${DEFAULT-VALUE}; also rtn-per-tensor, dsconv-kds-bias, dsconv-kds-clip; "
                    + "a dsconv method + -bc adds bias correction).")
    List<String> methods;

    @Option(names = "--limit", defaultValue = "0", description = "Test images (0 = all 10,000).")
    int limit;

    @Option(names = "--batch", defaultValue = "500", description = "Evaluation batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--plot-dir", defaultValue = "demo-out", description = "Folder for the PNG plot "
            + "(default ${DEFAULT-VALUE}).")
    Path plotDir;

    @Option(names = "--engine", defaultValue = "auto",
            description = "How the converted models' DSConv layers run: float (simulation), integer (int8 engine, "
                    + "spec section 3; the native fused kernel, else oneDNN, else plain Java) or auto (integer where the "
                    + "native kernel runs: bit-identical to the simulation and faster; else float). "
                    + "Default ${DEFAULT-VALUE}.")
    String engine;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    CalibrationOptions calibration = new CalibrationOptions();

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Option(names = "--all", description = "Run the full accuracy table instead (same as `dsconv table`): every "
            + "committed small family, DSConv W8-W2 and B=16/64/128, RTN per-tensor and per-channel.")
    boolean all;

    @Override
    public void validate() {
        OptionChecks.eachInRange("--bits", java.util.Arrays.stream(bits).boxed().toList(), 2, 8);
        OptionChecks.actBits("--act-bits", actBits);
        OptionChecks.block("--block", block);
        OptionChecks.range("--limit", limit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--batch", batch, 1, 100_000);
        OptionChecks.range("--calibration-images", calibration.images, 1, 1_000_000);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        if (models != null) {
            models.forEach(m -> OptionChecks.modelInput(files, "--model", m));
        }
        files.outputFolder("--plot-dir", plotDir).output("--json", json);
        OptionChecks.dataFolder(files, "--data", data.data);
        OptionChecks.dataFolder(files, "--calibration-data", calibration.data);
    }

    @Override
    public Integer call() throws Exception {
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
        }
        EngineMode mode = EngineMode.parse(engine).resolve();
        if (all) {
            List<Path> files = models == null || models.isEmpty() ? Demo.committedModels() : models;
            return run("table", new Demo.Options(files, Demo.tableVariants(), actBits, limit, batch, plotDir, true,
                    mode, data.open(preprocessing), calibration.open(preprocessing)), json, null);
        }
        List<Path> files = models == null || models.isEmpty() ? List.of(Demo.defaultModel()) : models;
        // Demo.grid validates the method names (Demo.Variant) before any model is loaded.
        return run("demo", new Demo.Options(files, Demo.grid(methods, bits, block), actBits, limit, batch, plotDir,
                false, mode, data.open(preprocessing), calibration.open(preprocessing)), json, null);
    }

    /** Runs a demo or table with a progress bar, prints the text table and writes the JSON (and Markdown). */
    static int run(String name, Demo.Options o, Path json, Path markdown) throws java.io.IOException {
        for (Path m : o.models()) {
            if (!java.nio.file.Files.isRegularFile(m)) {
                throw new IllegalArgumentException("model file not found: " + m);
            }
        }
        int images = o.limit() > 0 ? Math.min(o.limit(), o.data().size()) : o.data().size();
        Demo.Result r;
        try (ProgressBar pb = Progress.bar(name, (long) images * Demo.evaluations(o))) {
            r = Demo.run(o, pb::stepBy);
        }
        System.out.print(Demo.table(r));
        System.out.println("DSConv layers ran on the " + (r.backend() == null ? "float simulation"
                : "integer engine (" + r.backend() + ")"));
        if (o.plotDir() != null) {
            System.out.println("plots in " + o.plotDir().toAbsolutePath());
        }
        System.out.println(String.format(java.util.Locale.ROOT, "%.0f s", r.seconds()));
        JsonOutput.write(json, r);
        if (markdown != null) {
            io.github.dsconv.files.AtomicFiles.writeString(markdown, Demo.markdown(r));
        }
        return 0;
    }
}
