package io.github.dsconv.cli;

import io.github.dsconv.engine.EngineMode;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.Fp32Convolutions;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.eval.EvaluationResult;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelFiles;
import me.tongfei.progressbar.ProgressBar;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code dsconv evaluate}: top-1 on labelled images, and agreement with a reference model. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Top-1 accuracy on labelled images (the Fashion-MNIST test set, or --data DIR with one "
                + "subfolder per class); with --reference also top-1 agreement and logits SQNR against the reference"
                + " (e.g. the FP32 model), on the same images.")
final class EvaluateCommand implements Callable<Integer>, DeclaresFiles {

    @Option(names = "--model", required = true, description = "Model file to evaluate.")
    Path model;

    @Option(names = "--reference", description = "Reference model (e.g. the FP32 original).")
    Path reference;

    @Option(names = "--limit", defaultValue = "0", description = "Evaluate the first N images in the data's fixed "
            + "order (0 = all).")
    int limit;

    @Mixin
    DataOptions data = new DataOptions();

    @Mixin
    PreprocessingOptions preprocessing = new PreprocessingOptions();

    @Option(names = "--batch", defaultValue = "250", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--engine", defaultValue = "auto",
            description = "How the model's DSConv layers run: float (simulation), integer (int8 engine, spec section 3;"
                    + " the native fused kernel, else oneDNN, else plain Java) or auto (integer where the native kernel"
                    + " runs: bit-identical to the simulation and faster; else float). Default ${DEFAULT-VALUE}.")
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
     * @param data          what was read: the source, its image count and classes, and the preprocessing
     * @param classes       class names in label order
     * @param input         the input the model was given, e.g. {@code 32x32x3 NHWC}
     * @param fp32OneDnnLayers FP32 convolutions (of both models) run by oneDNN instead of DL4J's im2col
     * @param graphFallbacks the model's nodes DL4J ran rather than the engine's whole-graph plan ("name: reason";
     *                       null for float)
     */
    record Json(double top1, int images, Double agreement, Double logitsSqnrDb, String engine, String backend,
                int integerLayers, List<String> floatLayers, String data, List<String> classes, String input,
                int fp32OneDnnLayers, String kernel, String accumulation, List<String> graphFallbacks) {
    }

    @Override
    public void validate() {
        OptionChecks.range("--limit", limit, 0, Integer.MAX_VALUE);
        OptionChecks.range("--batch", batch, 1, 100_000);
    }

    @Override
    public void declare(io.github.dsconv.files.OutputSet.Builder files) {
        OptionChecks.modelInput(files, "--model", model);
        OptionChecks.modelInput(files, "--reference", reference);
        files.output("--json", json);
        OptionChecks.dataFolder(files, "--data", data.data);
    }

    @Override
    public Integer call() throws Exception {
        if (limit < 0) {
            throw new IllegalArgumentException("--limit must be >= 0, got " + limit);
        }
        if (batch <= 0 || batch > 100_000) {
            throw new IllegalArgumentException("--batch must be between 1 and 100000, got " + batch);
        }
        EngineMode mode = EngineMode.parse(engine).resolve();
        ImageSource source = data.open(preprocessing);
        if (!source.labelled()) {
            throw new IllegalArgumentException("evaluate needs labelled images, but " + data.data + " has no class "
                    + "subfolders");
        }
        Model m = ModelFiles.load(model);
        Model ref = reference == null ? null : ModelFiles.load(reference);
        InputSpec spec = source.resolve(DataOptions.specOf(m, preprocessing));
        for (Model x : ref == null ? List.of(m) : List.of(m, ref)) {
            int outputs = ModelInputs.outputs(x);
            if (outputs > 0 && outputs != source.classes().size()) {
                throw new IllegalArgumentException((x == m ? model : reference) + " has " + outputs + " outputs but "
                        + data.data + " has " + source.classes().size() + " classes");
            }
        }
        if (ref != null && !ModelInputs.of(ref).equals(ModelInputs.of(m))) {
            throw new IllegalArgumentException("--reference " + reference + " takes " + ModelInputs.of(ref).describe()
                    + " but --model " + model + " takes " + ModelInputs.of(m).describe());
        }
        // The deployment API (one replica: the loaded network itself, its DSConv layers on the integer engine).
        io.github.dsconv.inference.DsconvInference deployed = mode == EngineMode.INTEGER
                ? io.github.dsconv.inference.DsconvInference.of(m, 1) : null;
        EngineReport rep = deployed == null ? null : deployed.report();
        List<String> fallbacks = deployed == null ? null : deployed.fallbacks();
        // DL4J's own FP32 convolution is im2col-bound; oneDNN's gives the same results to float rounding, 4-6x faster.
        int onednn = Fp32Convolutions.enable(m) + (ref == null ? 0 : Fp32Convolutions.enable(ref));
        DataSetIterator it = source.batches(spec, batch, limit);
        int n = limit > 0 ? Math.min(limit, source.size()) : source.size();
        Outputs out;
        Outputs refOut = null;
        try (ProgressBar pb = Progress.bar("evaluate", (long) n * (ref == null ? 1 : 2))) {
            // The model through the deployment API's whole-graph plan when on the integer engine.
            List<java.util.function.UnaryOperator<org.nd4j.linalg.api.ndarray.INDArray>> fns = new java.util.ArrayList<>();
            fns.add(deployed != null ? deployed::logits : x -> Logits.of(m, x));
            if (ref != null) {
                fns.add(x -> Logits.of(ref, x));
            }
            List<Outputs> all = Outputs.collectLogits(fns, it, pb::stepBy);
            out = all.get(0);
            refOut = ref == null ? null : all.get(1);
        } finally {
            if (deployed != null) {
                deployed.close(); // the engine's native resources go with it
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
                    rep.kernel(), rep.accumulation().label(), rep.integerLayers().size(),
                    others.isEmpty() ? "" : "; not on integers: " + String.join(", ", others));
        }
        JsonOutput.write(json, new Json(r.top1(), r.images(), r.agreement(), r.logitsSqnrDb(), mode.label(),
                rep == null ? null : rep.backend().label(), rep == null ? 0 : rep.integerLayers().size(),
                rep == null ? null : rep.floatLayers(), source.describe(), source.classes(), spec.describe(), onednn,
                rep == null ? null : rep.kernel(), rep == null ? null : rep.accumulation().label(), fallbacks));
        return 0;
    }
}
