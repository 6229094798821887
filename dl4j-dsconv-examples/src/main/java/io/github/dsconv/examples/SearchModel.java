package io.github.dsconv.examples;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.InputSpec;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.engine.Fp32Convolutions;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.files.AtomicFiles;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.mixed.AgreementFidelities;
import io.github.dsconv.mixed.BitWidthVariants;
import io.github.dsconv.mixed.GreedySensitivity;
import io.github.dsconv.mixed.SearchLayers;
import io.github.dsconv.ptq.Recipe;
import io.github.dsconv.ptq.WeightMethod;
import io.github.dsconv.search.BitSearch;
import io.github.dsconv.search.CurveKind;
import io.github.dsconv.search.Decision;
import io.github.dsconv.search.DecisionRule;
import io.github.dsconv.search.Evaluator;
import io.github.dsconv.search.History;
import io.github.dsconv.search.MultiTaskGp;
import io.github.dsconv.search.SearchConfig;
import io.github.dsconv.search.Step;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.IntConsumer;

/**
 * {@code dsconv search}: one weight bit width per convolution by the multi-task Gaussian process search of NUQ
 * (Finding Non-Uniform Quantization Schemes using Multi-Task Gaussian Processes, ECCV 2020) on label-free
 * fidelities ({@link AgreementFidelities}), with random search, a single-task GP and greedy sensitivity as
 * baselines at the same evaluation budget, and the answer judged on labelled test images the search never saw.
 *
 * <p>Images: the unlabelled calibration source gives the first {@code calibrationImages} images to calibrate and
 * the next {@code scoringImages} to score configurations; the test source ({@code --data}) only judges the
 * results. Every evaluation is appended to a checkpoint file as it happens; a resumed run replays them, so it is
 * the run that was interrupted (evaluations are deterministic, and so is every strategy for its seed).
 */
public final class SearchModel {

    /** Baselines {@link #run} knows. */
    public static final List<String> BASELINES = List.of("random", "greedy-sensitivity", "single-task-gp");

    /**
     * Options.
     *
     * @param model             the FP32 model file
     * @param test              labelled test images (judge only)
     * @param calibration       unlabelled images to calibrate and score with
     * @param inputSpec         input the model takes (null = from the model)
     * @param budget            evaluations per strategy
     * @param curve             curve family
     * @param maxBytes          limit on conv weight bytes (null = none)
     * @param maxDropPp         limit on the agreement drop in points, from 100% (null = none)
     * @param seed              seed
     * @param calibrationImages calibration images
     * @param scoringImages     images of the target fidelity
     * @param cheapImages       images of the cheap fidelities
     * @param testLimit         test images (0 = all)
     * @param baselines         baselines to run (subset of {@link #BASELINES})
     * @param plan              plan file to write
     * @param checkpoint        evaluation log (resumable)
     * @param resume            continue the run in {@code checkpoint}
     * @param plot              Pareto PNG (null = none)
     * @param batch             inference batch
     * @param taskMeans         the multi-task GP's constant mean per task (else one shared, the reference's)
     */
    public record Options(Path model, ImageSource test, ImageSource calibration, InputSpec inputSpec, int budget,
                          CurveKind curve, Long maxBytes, Double maxDropPp, long seed, int calibrationImages,
                          int scoringImages, int cheapImages, int testLimit, List<String> baselines, Path plan,
                          Path checkpoint, boolean resume, Path plot, int batch, boolean taskMeans) {
    }

    /**
     * Batch of the calibration passes: {@code quantize}'s default, so that {@code quantize --plan} with the same
     * calibration images reproduces the searched networks bit for bit (sums over other batch sizes round
     * differently).
     */
    static final int CALIBRATION_BATCH = 128;

    private SearchModel() {
    }

    /** The checkpoint file for a plan file, unless one is given. */
    public static Path checkpointFor(Path plan) {
        return plan.resolveSibling(plan.getFileName() + ".search-log.json");
    }

    /**
     * Runs the search and its baselines, writes the plan, the checkpoint and the plot, and returns the JSON result.
     *
     * @param progress called once per evaluation
     */
    public static ObjectNode run(Options o, IntConsumer progress) throws IOException {
        long t0 = System.nanoTime();
        for (String b : o.baselines()) {
            if (!BASELINES.contains(b)) {
                throw new IllegalArgumentException("unknown baseline '" + b + "' (expected " + String.join(", ",
                        BASELINES) + ")");
            }
        }
        if (!o.resume() && Files.exists(o.checkpoint())) {
            throw new IOException("checkpoint " + o.checkpoint() + " already holds a search; pass --resume to continue"
                    + " it, or remove it");
        }
        Model fp32 = ModelFiles.load(o.model());
        DSConvConverter.requireConvertible(fp32, o.model().toString());
        InputSpec spec = o.calibration().resolve(o.inputSpec() != null ? o.inputSpec() : ModelInputs.of(fp32));
        int c = o.calibrationImages();
        INDArray all = o.calibration().features(spec, c + o.scoringImages());
        // Copies, not views: batches sliced from a row-range view of a view came out empty (rank 0) in the
        // calibration passes with ND4J 1.0.0-M2.1.
        INDArray calib = all.get(NDArrayIndex.interval(0, c)).dup();
        INDArray scoring = all.get(NDArrayIndex.interval(c, c + o.scoringImages())).dup();

        ConversionPlan base = ConversionPlan.standard();
        SearchLayers layers = SearchLayers.of(fp32, base);
        WeightMethod method = WeightMethod.DSCONV;
        BitWidthVariants plain = new BitWidthVariants(fp32, layers, base, method, Recipe.plain(), null,
                CALIBRATION_BATCH);
        // Bytes: the search counts sum(weights * bits) / 8; the scales and the FP32-left convolutions add a constant
        // (up to one byte of rounding a layer), read from the plain runs' reports, to give conv weight bytes.
        long[][] table = plain.bytesTable();
        long[] weights = layers.weights();
        long fp32Left = plain.fp32LeftBytes();
        double offset = Double.POSITIVE_INFINITY; // the smallest: the search's limit is lenient by < 1 byte a layer,
        for (int b = 2; b <= 8; b++) {            // and the answer is then checked in exact bytes
            int[] u = uniform(layers.size(), b);
            offset = Math.min(offset, exactBytes(table, u, fp32Left) - SearchConfig.bytes(u, weights));
        }
        DecisionRule rule = DecisionRule.defaults();
        if (o.maxBytes() != null) {
            long w2 = exactBytes(table, uniform(layers.size(), 2), fp32Left);
            if (o.maxBytes() < w2) {
                throw new IllegalArgumentException("--max-bytes " + o.maxBytes() + " is below uniform W2 (" + w2
                        + " conv weight bytes): no configuration fits");
            }
            rule = rule.withMaxBytes(o.maxBytes() - offset);
        }
        if (o.maxDropPp() != null) {
            rule = rule.withMaxDrop(1.0, o.maxDropPp() / 100);
        }
        Recipe recipe = Recipe.calibrated(method, c);
        BitWidthVariants calibrated = new BitWidthVariants(fp32, layers, base, method, recipe, calib,
                CALIBRATION_BATCH);
        calibrated.prepare(null); // the recipe once per bit width, before any evaluation is timed
        double prepareSeconds = (System.nanoTime() - t0) / 1e9;
        AgreementFidelities fidelities = new AgreementFidelities(plain, calibrated, scoring, o.cheapImages(),
                o.batch());

        SearchConfig config = SearchConfig.builder(layers.size(), fidelities.tasks()).curve(o.curve())
                .layerWeights(weights).budget(o.budget()).seed(o.seed()).rule(rule)
                .verifySteps(verifySteps(o.budget()))
                .fit(MultiTaskGp.FitOptions.defaults().withTaskMeans(o.taskMeans())).build();

        SearchLog log = SearchLog.open(o.checkpoint(), o.resume(), fingerprint(o, layers));
        Evaluator ev = log.around(fidelities, progress);

        long tSearch = System.nanoTime();
        History history = BitSearch.multiTask(config).run(ev);
        // The GP's own pick (the paper's rule) is reported; the answer is the best measured configuration, which
        // includes the GP's best predictions thanks to the verification steps.
        Decision.Choice gpPick = BitSearch.multiTask(config).decide(history).best().orElse(null);
        Decision decision = BitSearch.multiTask(config).decideMeasured(history);
        Decision.Choice best = decision.ranked().stream()
                .filter(ch -> o.maxBytes() == null || exactBytes(table, ch.bits(), fp32Left) <= o.maxBytes())
                .findFirst().orElseThrow(() -> new IllegalStateException("no configuration meets the constraints"));
        int[] chosen = best.bits();
        int target = config.targetTask();
        // The chosen configuration is usually a GP prediction never evaluated: measure it once on the target, so
        // that every strategy's answer is compared on the same footing (observed value minus the same penalty).
        double chosenObserved = ev.evaluate(target, chosen);
        double searchSeconds = (System.nanoTime() - tSearch) / 1e9;

        Map<String, Baseline> baselines = new LinkedHashMap<>();
        Map<String, Double> baselineSeconds = new LinkedHashMap<>();
        for (String name : o.baselines()) {
            long tb = System.nanoTime();
            baselines.put(name, switch (name) {
                case "random" -> fromHistory(BitSearch.random(config), ev);
                case "single-task-gp" -> fromHistory(BitSearch.singleTask(config), ev);
                default -> fromGreedy(GreedySensitivity.run(ev, config, null));
            });
            baselineSeconds.put(name, (System.nanoTime() - tb) / 1e9);
        }
        List<int[]> uniforms = new ArrayList<>();
        for (int b = 2; b <= 8; b++) {
            uniforms.add(uniform(layers.size(), b));
        }
        // Rank correlation of each fidelity with the target, over the uniform configurations and every
        // configuration the search evaluated on the target.
        List<int[]> common = new ArrayList<>(uniforms);
        for (Step s : history.steps()) {
            if (s.task() == target && common.stream().noneMatch(x -> Arrays.equals(x, s.bits()))) {
                common.add(s.bits());
            }
        }
        double[][] values = new double[config.tasks().size()][common.size()];
        for (int t = 0; t < values.length; t++) {
            for (int k = 0; k < common.size(); k++) {
                values[t][k] = ev.evaluate(t, common.get(k));
            }
        }

        // Judge on the labelled test images.
        Map<String, int[]> judged = new LinkedHashMap<>();
        judged.put("chosen", chosen);
        judged.put("uniform-w4", uniform(layers.size(), 4));
        judged.put("uniform-w3", uniform(layers.size(), 3));
        baselines.forEach((k, v) -> {
            if (v.bits() != null) {
                judged.put(k, v.bits());
            }
        });
        Fp32Convolutions.enable(fp32);
        var testIt = o.test().batches(o.test().resolve(spec), o.batch(), o.testLimit());
        Outputs fp32Out = Outputs.collect(fp32, testIt, null);
        Map<String, double[]> test = new LinkedHashMap<>(); // name -> {top1, agreement}
        for (Map.Entry<String, int[]> e : judged.entrySet()) {
            Model net = calibrated.assemble(e.getValue()).network();
            IntegerEngine.enable(net);
            Fp32Convolutions.enable(net);
            Outputs out = Outputs.collect(net, testIt, null);
            test.put(e.getKey(), new double[] {out.top1(), out.agreement(fp32Out)});
        }

        // The plan file.
        ConversionPlan chosenPlan = layers.plan(base, chosen);
        AtomicFiles.writeString(o.plan(), Json.write(chosenPlan.toJson()));
        if (o.plot() != null) {
            plot(o.plot(), history, target, table, fp32Left, uniforms, values[target], chosen, baselines, log);
        }

        // The JSON (the contract, plus more fields).
        ObjectNode j = Json.MAPPER.createObjectNode();
        j.put("model", o.model().toString());
        j.put("layers", layers.size());
        j.put("evaluations", history.size());
        j.put("seconds", (System.nanoTime() - t0) / 1e9);
        j.put("prepareSeconds", prepareSeconds);
        j.put("searchSeconds", searchSeconds);
        j.put("curve", o.curve().name().toLowerCase(Locale.ROOT));
        j.put("gpMean", o.taskMeans() ? "per-task" : "shared");
        j.put("seed", o.seed());
        j.put("budget", o.budget());
        j.put("calibrationData", c + " images of " + o.calibration().describe() + ", then " + o.scoringImages()
                + " scoring images");
        j.put("testData", o.test().describe() + (o.testLimit() > 0 ? " (first " + o.testLimit() + ")" : ""));
        ArrayNode fid = j.putArray("fidelities");
        double[] secs = fidelities.meanSeconds();
        for (int t = 0; t < config.tasks().size(); t++) {
            ObjectNode f = fid.addObject();
            f.put("name", config.tasks().get(t).name());
            f.put("cost", config.tasks().get(t).cost());
            if (Double.isFinite(secs[t])) {
                f.put("secondsPerEvaluation", secs[t]);
            } else {
                f.putNull("secondsPerEvaluation"); // every evaluation of this task came from the log
            }
            f.put("images", fidelities.fidelities().get(t).images());
            f.put("rankCorrelationWithTarget", spearman(values[t], values[target]));
            f.put("evaluationsBySearch", history.count(t));
        }
        ObjectNode cj = choiceJson(layers, chosen, table, fp32Left, best.score(), test.get("chosen"), best.value());
        cj.put("scoringAgreement", chosenObserved);
        cj.put("measuredScore", chosenObserved - config.rule().penalty(chosen, weights));
        cj.put("chosenBy", "measured score among the configurations evaluated on the target (the last "
                + config.verifySteps() + " evaluations measured the GP's best predictions)");
        j.set("chosen", cj);
        if (gpPick != null) {
            ObjectNode g = j.putObject("gpPrediction");
            g.set("bits", bitsJson(layers, gpPick.bits()));
            g.put("predictedScore", gpPick.score());
            g.put("predictedScoringAgreement", gpPick.value());
            g.put("measuredScore", ev.evaluate(target, gpPick.bits()) - config.rule().penalty(gpPick.bits(),
                    weights));
        }
        ArrayNode uni = j.putArray("uniform");
        for (int b = 2; b <= 8; b++) {
            int[] u = uniform(layers.size(), b);
            ObjectNode n = uni.addObject();
            n.put("weightBits", b);
            n.put("convWeightBytes", exactBytes(table, u, fp32Left));
            n.put("agreement", ev.evaluate(target, u));
            n.put("agreementOn", "scoring images");
        }
        ObjectNode tj = j.putObject("test");
        tj.put("fp32Top1", fp32Out.top1());
        tj.put("images", fp32Out.size());
        test.forEach((k, v) -> {
            ObjectNode n = tj.putObject(k);
            n.put("top1", v[0]);
            n.put("agreement", v[1]);
            n.put("convWeightBytes", exactBytes(table, judged.get(k), fp32Left));
            // The decision rule's score on images no strategy chose on: every strategy's "measuredScore" is the
            // best of the configurations it measured on the same scoring images, so it is biased upwards, the more
            // so the more configurations it measured there (random and greedy: all of theirs; the search: its
            // target-task ones). This one is not.
            n.put("heldOutScore", v[1] - config.rule().penalty(judged.get(k), weights));
        });
        ArrayNode bj = j.putArray("baselines");
        baselines.forEach((k, v) -> {
            ObjectNode n = bj.addObject();
            n.put("method", k);
            n.put("score", v.score());
            n.put("value", v.value());
            n.put("evaluations", v.evaluations());
            n.put("seconds", baselineSeconds.get(k));
            if (v.bits() != null) {
                n.set("bits", bitsJson(layers, v.bits()));
                n.put("convWeightBytes", exactBytes(table, v.bits(), fp32Left));
                // Random and greedy report observed values; a GP's answer may be a prediction: measure it.
                double observed = ev.evaluate(target, v.bits());
                n.put("scoringAgreement", observed);
                n.put("measuredScore", observed - config.rule().penalty(v.bits(), weights));
            }
        });
        Baseline random = baselines.get("random");
        if (random != null && Double.isFinite(random.score())) {
            // "Reaches random search's best": the first target-task evaluation whose observed score (value minus
            // the decision rule's penalty) is at least the best score random search observed in its whole budget.
            ObjectNode r = j.putObject("reachRandomBest");
            r.put("randomBestScore", random.score());
            putReach(r, "multiTask", history, target, random.score(), config.rule(), weights);
            Baseline single = baselines.get("single-task-gp");
            if (single != null) {
                putReach(r, "singleTaskGp", single.history(), target, random.score(), config.rule(), weights);
            }
        }
        ArrayNode hj = j.putArray("history");
        for (Step s : history.steps()) {
            ObjectNode n = hj.addObject();
            n.put("step", s.step());
            n.put("task", config.tasks().get(s.task()).name());
            n.set("bits", bitsJson(layers, s.bits()));
            n.put("value", s.value());
            ArrayNode th = n.putArray("theta");
            for (double x : s.theta()) {
                th.add(x);
            }
        }
        j.put("plan", o.plan().toString());
        j.put("quantizeCommand", "./dsconv quantize --in " + o.model() + " --plan " + o.plan()
                + " --calibration-data " + o.calibration().name() + " --calibration-images " + c
                + " --out MODEL.dsconv.zip");
        return j;
    }

    /**
     * Evaluations at the end of a GP strategy's budget that measure its best predictions: 3 from a budget of 12,
     * 1 from 4, else none (a tenth to a quarter of the budget).
     */
    static int verifySteps(int budget) {
        return budget >= 12 ? 3 : budget >= 4 ? 1 : 0;
    }

    /** A baseline's answer: its best configuration by the decision rule, and its history (null for greedy). */
    private record Baseline(int[] bits, double value, double score, int evaluations, History history) {
    }

    private static Baseline fromHistory(BitSearch s, Evaluator ev) {
        History h = s.run(ev);
        Decision d = s.decideMeasured(h);
        return d.best().map(b -> new Baseline(b.bits(), b.value(), b.score(), h.size(), h))
                .orElse(new Baseline(null, Double.NaN, Double.NaN, h.size(), h));
    }

    private static Baseline fromGreedy(List<GreedySensitivity.Evaluated> evaluated) {
        return GreedySensitivity.best(evaluated).map(b -> new Baseline(b.bits(), b.value(), b.score(),
                evaluated.size(), null)).orElse(new Baseline(null, Double.NaN, Double.NaN, evaluated.size(), null));
    }

    /**
     * Counts a strategy's evaluations up to the first target-task observation scoring at least {@code goal}:
     * {@code <prefix>TargetEvaluations} and {@code <prefix>Evaluations} (all tasks), null when never reached.
     */
    static void putReach(ObjectNode n, String prefix, History h, int target, double goal, DecisionRule rule,
                         long[] weights) {
        Integer[] reach = reach(h, target, goal, rule, weights);
        if (reach == null) {
            n.putNull(prefix + "TargetEvaluations");
            n.putNull(prefix + "Evaluations");
        } else {
            n.put(prefix + "TargetEvaluations", reach[0]);
            n.put(prefix + "Evaluations", reach[1]);
        }
    }

    /** {target evaluations, all evaluations} up to the first target observation scoring at least goal, or null. */
    static Integer[] reach(History h, int target, double goal, DecisionRule rule, long[] weights) {
        int onTarget = 0;
        int all = 0;
        for (Step s : h.steps()) {
            all++;
            if (s.task() == target) {
                onTarget++;
                if (rule.feasible(s.value(), SearchConfig.bytes(s.bits(), weights))
                        && s.value() - rule.penalty(s.bits(), weights) >= goal - 1e-12) {
                    return new Integer[] {onTarget, all};
                }
            }
        }
        return null;
    }

    private static ObjectNode choiceJson(SearchLayers layers, int[] bits, long[][] table, long fp32Left, double score,
                                         double[] test, double predicted) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.set("bits", bitsJson(layers, bits));
        n.put("convWeightBytes", exactBytes(table, bits, fp32Left));
        n.put("score", score);
        n.put("agreement", test[1]);
        n.put("top1", test[0]);
        n.put("predictedScoringAgreement", predicted);
        ArrayNode pos = n.putArray("positions");
        for (int b : bits) {
            pos.add(b);
        }
        return n;
    }

    /** Every converted convolution with its bits. */
    private static ObjectNode bitsJson(SearchLayers layers, int[] bits) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        layers.bitsByLayer(bits).forEach(n::put);
        return n;
    }

    static int[] uniform(int l, int b) {
        int[] u = new int[l];
        Arrays.fill(u, b);
        return u;
    }

    static long exactBytes(long[][] table, int[] bits, long fp32Left) {
        long sum = fp32Left;
        for (int i = 0; i < bits.length; i++) {
            sum += table[i][bits[i]];
        }
        return sum;
    }

    /** Spearman's rank correlation (ties get their average rank); NaN when either side is constant. */
    static double spearman(double[] a, double[] b) {
        return a.length < 2 ? Double.NaN
                : new org.apache.commons.math3.stat.correlation.SpearmansCorrelation().correlation(a, b);
    }

    private static Map<String, String> fingerprint(Options o, SearchLayers layers) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("model", o.model().toAbsolutePath().normalize().toString());
        f.put("calibration", o.calibration().describe());
        f.put("calibrationImages", Integer.toString(o.calibrationImages()));
        f.put("scoringImages", Integer.toString(o.scoringImages()));
        f.put("cheapImages", Integer.toString(o.cheapImages()));
        f.put("layers", String.join(",", layers.leaders()));
        return f;
    }

    private static void plot(Path file, History history, int target, long[][] table, long fp32Left,
                             List<int[]> uniforms, double[] uniformValues, int[] chosen,
                             Map<String, Baseline> baselines, SearchLog log) throws IOException {
        Map<String, List<double[]>> series = new LinkedHashMap<>();
        double[] ux = new double[uniforms.size()];
        double[] uy = new double[uniforms.size()];
        for (int k = 0; k < uniforms.size(); k++) {
            ux[k] = exactBytes(table, uniforms.get(k), fp32Left);
            uy[k] = uniformValues[k];
        }
        series.put("uniform W2-W8", List.of(ux, uy));
        List<double[]> pts = new ArrayList<>();
        for (Map.Entry<String, Double> e : log.values(target).entrySet()) {
            int[] bits = SearchLog.parseBits(e.getKey());
            pts.add(new double[] {exactBytes(table, bits, fp32Left), e.getValue()});
        }
        series.put("every configuration evaluated on the target", columns(pts));
        for (Map.Entry<String, Baseline> b : baselines.entrySet()) {
            if (b.getValue().bits() != null) {
                series.put(b.getKey(), columns(List.of(new double[] {exactBytes(table, b.getValue().bits(), fp32Left),
                        log.values(target).getOrDefault(SearchLog.key(b.getValue().bits()), b.getValue().value())})));
            }
        }
        series.put("chosen", columns(List.of(new double[] {exactBytes(table, chosen, fp32Left),
                log.values(target).getOrDefault(SearchLog.key(chosen), Double.NaN)})));
        Plots.scatter(file, "bit-width search: agreement with FP32 on the scoring images vs conv weight bytes",
                "conv weight bytes", "top-1 agreement with FP32", series, Set.of("uniform W2-W8"));
    }

    private static List<double[]> columns(List<double[]> points) {
        double[] x = new double[points.size()];
        double[] y = new double[points.size()];
        for (int i = 0; i < points.size(); i++) {
            x[i] = points.get(i)[0];
            y[i] = points.get(i)[1];
        }
        return List.of(x, y);
    }
}
