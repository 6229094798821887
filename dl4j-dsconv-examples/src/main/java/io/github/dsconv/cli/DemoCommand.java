package io.github.dsconv.cli;

import io.github.dsconv.examples.Demo;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code dsconv demo}: the main job (see {@link Demo}). */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Convert the committed small ResNet at W8/W6/W4/W3/W2 with DSConv and with round-to-nearest "
                + "per-channel weights (both A8 BFP), evaluate on the Fashion-MNIST test set, print a table, "
                + "write a PNG plot.")
final class DemoCommand implements Callable<Integer> {

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
            description = "Methods (default ${DEFAULT-VALUE}; also rtn-per-tensor).")
    List<String> methods;

    @Option(names = "--limit", defaultValue = "0", description = "Test images (0 = all 10,000).")
    int limit;

    @Option(names = "--batch", defaultValue = "500", description = "Evaluation batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--plot-dir", defaultValue = "demo-out", description = "Folder for the PNG plot "
            + "(default ${DEFAULT-VALUE}).")
    Path plotDir;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
        }
        List<Path> files = models == null || models.isEmpty() ? List.of(Demo.defaultModel()) : models;
        Demo.Options o = new Demo.Options(files, bits, actBits, block, methods, limit, batch, plotDir);
        for (String m : methods) {
            io.github.dsconv.examples.QuantizeModel.quantizer(m, io.github.dsconv.convert.ConversionPlan.standard());
        }
        int images = limit > 0 ? Math.min(limit, 10000) : 10000;
        Demo.Result r;
        try (ProgressBar pb = Progress.bar("demo", (long) images * Demo.evaluations(o))) {
            r = Demo.run(o, pb::stepBy);
        }
        System.out.print(Demo.table(r));
        System.out.println("plots in " + plotDir.toAbsolutePath() + "; " + String.format(java.util.Locale.ROOT,
                "%.0f s", r.seconds()));
        JsonOutput.write(json, r);
        return 0;
    }
}
