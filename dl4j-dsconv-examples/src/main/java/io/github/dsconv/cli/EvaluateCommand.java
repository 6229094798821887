package io.github.dsconv.cli;

import io.github.dsconv.engine.EngineMode;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.eval.EvaluationResult;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelFiles;
import me.tongfei.progressbar.ProgressBar;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv evaluate}: top-1 on the Fashion-MNIST test set, and agreement with a reference model. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Top-1 accuracy on the Fashion-MNIST test set; with --reference also top-1 agreement and "
                + "logits SQNR against the reference (e.g. the FP32 model).")
final class EvaluateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "Model file to evaluate.")
    Path model;

    @Option(names = "--reference", description = "Reference model (e.g. the FP32 original).")
    Path reference;

    @Option(names = "--limit", defaultValue = "0", description = "Evaluate the first N test images (0 = all 10,000).")
    int limit;

    @Option(names = "--batch", defaultValue = "250", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--engine", defaultValue = "float",
            description = "How the model's DSConv layers run: float (simulation) or integer (int8 engine, spec section 3;"
                    + " oneDNN if it loads, else plain Java). Default ${DEFAULT-VALUE}.")
    String engine;

    @Option(names = "--json", description = "Write the result as JSON to this file.")
    Path json;

    /**
     * The JSON result: {@link EvaluationResult}'s fields plus how the DSConv layers ran.
     *
     * @param engine        {@code float} or {@code integer}
     * @param backend       integer backend that ran ({@code onednn} or {@code java}), null for float
     * @param integerLayers DSConv layers on the integer engine (0 for float)
     * @param floatLayers   DSConv layers left on the float simulation under {@code --engine integer}
     */
    record Json(double top1, int images, Double agreement, Double logitsSqnrDb, String engine, String backend,
                int integerLayers, List<String> floatLayers) {
    }

    @Override
    public Integer call() throws Exception {
        EngineMode mode = EngineMode.parse(engine);
        Model m = ModelFiles.load(model);
        EngineReport rep = mode == EngineMode.INTEGER ? IntegerEngine.enable(m) : null;
        Model ref = reference == null ? null : ModelFiles.load(reference);
        DataSetIterator data = TestData.fashionMnistTest(limit, batch);
        int n = ((io.github.dsconv.data.InMemoryIterator) data).numExamples();
        Outputs out;
        Outputs refOut = null;
        try (ProgressBar pb = Progress.bar("evaluate", (long) n * (ref == null ? 1 : 2))) {
            out = Outputs.collect(m, data, pb::stepBy);
            if (ref != null) {
                refOut = Outputs.collect(ref, data, pb::stepBy);
            }
        }
        EvaluationResult r = EvaluationResult.of(out, refOut);
        System.out.printf(Locale.ROOT, "top-1 %.4f on %d images%s%n", r.top1(), r.images(),
                r.agreement() == null ? "" : String.format(Locale.ROOT,
                        "; agreement with reference %.4f, logits SQNR %.2f dB", r.agreement(), r.logitsSqnrDb()));
        if (rep != null) {
            List<String> others = new java.util.ArrayList<>();
            for (String l : rep.floatLayers()) {
                others.add(l + (rep.doubleLayers().contains(l) ? " (direct double convolution)"
                        : rep.fp32Layers().contains(l) ? " (FP32 oneDNN convolution)" : " (float simulation)"));
            }
            System.out.printf(Locale.ROOT, "integer engine (%s, %s sums): %d DSConv layers on integers%s%n",
                    rep.backend().label(), rep.accumulation().label(), rep.integerLayers().size(),
                    others.isEmpty() ? "" : "; not on integers: " + String.join(", ", others));
        }
        JsonOutput.write(json, new Json(r.top1(), r.images(), r.agreement(), r.logitsSqnrDb(), mode.label(),
                rep == null ? null : rep.backend().label(), rep == null ? 0 : rep.integerLayers().size(),
                rep == null ? null : rep.floatLayers()));
        return 0;
    }
}
