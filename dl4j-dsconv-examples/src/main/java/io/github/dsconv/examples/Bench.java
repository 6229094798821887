package io.github.dsconv.examples;

import io.github.dsconv.convert.BatchNormFolding;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.FashionMnistSource;
import io.github.dsconv.data.ImageSource;
import io.github.dsconv.data.ModelInputs;
import io.github.dsconv.data.Preprocessing;
import io.github.dsconv.engine.Fp32Convolutions;
import io.github.dsconv.engine.Backend;
import io.github.dsconv.engine.CpuFeatures;
import io.github.dsconv.engine.EngineOptions;
import io.github.dsconv.engine.EngineReport;
import io.github.dsconv.engine.IntegerEngine;
import io.github.dsconv.engine.graph.ExecutionPlan;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.nn.Network;
import io.github.dsconv.zoo.ZooModels;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * {@code dsconv bench}: images per second of a network in FP32 (DL4J as is) and converted to DSConv on the integer
 * engine (spec section 3), in one process, end to end and per convolution, as the median of timed iterations after
 * warm-up. The networks compared are warmed up first and then timed in turn, one pass of each per round, so that JIT
 * warm-up and machine drift fall on all of them alike. The integer network's logits are compared with the float
 * simulation of the same DSConv network ({@link Result#maxRelErr()}).
 */
public final class Bench {

    /** Fewest timed iterations a run may use (the median of at least 10, issue 5). */
    public static final int MIN_ITERATIONS = 10;

    /**
     * Options.
     *
     * @param model      {@code resnet50}, {@code vgg16}, {@code vgg19}, {@code googlenet}, {@code densenet121}
     *                   (full size, random init, seed 42) or a model file (FP32, or already DSConv)
     * @param batches    batch sizes, each measured separately
     * @param spec       DSConv conversion of an FP32 model (default W4 A8 B32)
     * @param iterations timed iterations per measurement (at least {@value #MIN_ITERATIONS}; default 10)
     * @param warmup     untimed iterations first (default 3)
     * @param backend    integer backend, or null for {@link IntegerEngine#defaultBackend()}
     * @param perLayer   also time every convolution on its own (default true)
     * @param data       images for a model file, read in the layout the model takes (null: Fashion-MNIST's test
     *                   split); zoo models always get upsampled Fashion-MNIST images
     */
    public record Options(String model, int[] batches, LayerSpec spec, int iterations, int warmup, Backend backend,
                          boolean perLayer, ImageSource data) {

        /** Options on Fashion-MNIST images. */
        public Options(String model, int[] batches, LayerSpec spec, int iterations, int warmup, Backend backend,
                       boolean perLayer) {
            this(model, batches, spec, iterations, warmup, backend, perLayer, null);
        }

        public Options {
            if (model == null || model.isBlank()) {
                throw new IllegalArgumentException("--model is required");
            }
            if (batches == null || batches.length == 0) {
                throw new IllegalArgumentException("--batch needs at least one batch size");
            }
            for (int b : batches) {
                if (b < 1) {
                    throw new IllegalArgumentException("--batch sizes must be positive, got " + b);
                }
            }
            if (iterations < MIN_ITERATIONS) {
                throw new IllegalArgumentException("--iterations must be at least " + MIN_ITERATIONS + ", got "
                        + iterations);
            }
            if (warmup < 0) {
                throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
            }
        }
    }

    /**
     * One convolution's median time per batch.
     *
     * @param name      layer name
     * @param fp32Ms    FP32 (DL4J {@code ConvolutionLayer}, or the float simulation for a DSConv input model)
     * @param integerMs on the integer engine (the float simulation for a layer the engine cannot run)
     * @param integer   whether the layer ran on the integer engine
     */
    public record LayerTime(String name, double fp32Ms, double integerMs, boolean integer) {
    }

    /**
     * One batch size's measurement; the first nine fields are the JSON contract.
     *
     * @param model                  model name or file
     * @param batch                  batch size
     * @param fp32ImagesPerSec       FP32 network, end to end (median)
     * @param integerImagesPerSec    DSConv network on the integer engine, end to end (median)
     * @param speedup                {@code integerImagesPerSec / fp32ImagesPerSec}
     * @param fp32ConvWeightBytes    4 bytes per convolution weight
     * @param integerConvWeightBytes resident convolution weights on the integer engine
     *                               ({@link io.github.dsconv.engine.EngineReport#integerConvWeightBytes()}): DSConv
     *                               {@code q} bit-packed at the weight bits (channels padded to whole blocks) plus
     *                               alpha, beta, CDS and bias at the precision held (fp16 for converted layers' scales,
     *                               else fp32), FP32 kernels of convolutions not on the engine; not the per-thread
     *                               int8 scratch the weights are unpacked into per GEMM
     * @param maxRelErr              {@code max over images ||z_int - z_sim||_inf / ||z_sim||_inf} on the logits, against
     *                               the float simulation of the same DSConv network
     * @param engine                 backend that ran: {@code onednn} or {@code java}
     * @param fp32Baseline           what the FP32 side is: {@code dl4j-fp32}, or {@code float-simulation} for a
     *                               model file that is already DSConv
     * @param spec                   DSConv conversion used (null for a DSConv input model)
     * @param iterations             timed iterations per median
     * @param warmup                 untimed iterations
     * @param integerLayers          convolutions on the integer engine
     * @param floatLayers            DSConv layers left on the float simulation
     * @param fp32ConvMs             sum of the per-layer FP32 medians (ms per batch), or NaN without per-layer
     * @param integerConvMs          sum of the per-layer integer medians
     * @param layers                 per convolution, in network order (empty without per-layer timing)
     * @param inputs                 description of the input images
     * @param threads                available processors
     * @param accumulation           how the integer layers summed their scaled block products ({@code float} or
     *                               {@code double}, see {@link io.github.dsconv.engine.Accumulation})
     * @param doubleLayers           the layers of {@code floatLayers} that ran as a direct double convolution of their
     *                               block floating point input (an image stem; the float simulation's arithmetic), not
     *                               on integers
     * @param fp32Layers             the layers of {@code floatLayers} that ran as an FP32 oneDNN convolution of their
     *                               block floating point input (an image stem), not on integers
     * @param fusedBatchNorms        BatchNormalization layers (and ReLU activation layers right after them) the integer
     *                               engine applied in its convolutions' output pass
     *                               ({@link io.github.dsconv.engine.BatchNormFusion}); the FP32 baseline runs DL4J's own
     *                               BatchNormalization, so part of {@code speedup} is this fusion. The per-layer
     *                               {@code integerMs} of a layer whose BatchNormalization is fused includes it.
     * @param unfusedBatchNorms      "name: reason" for BatchNormalization layers after an engine layer left to DL4J
     * @param fp32FoldedImagesPerSec the FP32 network with its BatchNormalization (and the ReLU after it) folded into
     *                               the convolutions ({@link BatchNormFolding}), end to end (median): the standard FP32
     *                               deployment, so the baseline that isolates what integer arithmetic buys; NaN (null in
     *                               the JSON) for a model file that is already DSConv
     * @param speedupVsFolded        {@code integerImagesPerSec / fp32FoldedImagesPerSec}
     * @param foldedBatchNorms       BatchNormalization layers folded in that baseline
     * @param foldedMaxRelErr        the folded FP32 network's logits against the unfolded one's (same measure as
     *                               {@code maxRelErr}; folding rounds once more, so not zero)
     * @param fp32OneDnnImagesPerSec the FP32 network with its DL4J convolutions run by oneDNN
     *                               ({@link Fp32Convolutions}, what {@code evaluate} uses), end to end (median)
     * @param fp32OneDnnSpeedup      {@code fp32OneDnnImagesPerSec / fp32ImagesPerSec}
     * @param fp32OneDnnMaxRelErr    its logits against DL4J's FP32 ones
     * @param speedupVsOneDnn        {@code integerImagesPerSec / fp32OneDnnImagesPerSec}
     * @param kernel                 what ran the integer block products ({@link EngineReport#kernel()})
     * @param cpuModel               the CPU's model name
     * @param cpuFeatures            its integer-relevant features ({@link CpuFeatures}: avx2, avx512f, avx512_vnni...)
     * @param engineNonConvShare     the share of the integer network's end-to-end time not spent in its convolutions
     *                               ({@code 1 - integerConvMs / (1000 * batch / integerImagesPerSec)}; the per-layer
     *                               times are measured separately, so it is an estimate; NaN (null) with
     *                               {@code --no-per-layer})
     * @param graphImagesPerSec      the same integer network run as one {@link ExecutionPlan} (whole-graph execution:
     *                               activations in plain buffers from input to logits, adds, concatenations, pooling
     *                               and unfused BN/ReLU in the engine; what {@code DsconvInference} deploys), end to
     *                               end (median)
     * @param graphSpeedup           {@code graphImagesPerSec / fp32ImagesPerSec}
     * @param graphMaxRelErr         the plan's logits against the layer-by-layer engine's (0 when bit-identical)
     * @param graphFallbacks         the plan's nodes DL4J runs, "name: reason"
     * @param graphNonConvShare      the share of the plan's step time outside its convolution steps, from one timed
     *                               pass ({@link ExecutionPlan#timings}): adds, pooling, padding, fallbacks
     */
    public record Result(String model, int batch, double fp32ImagesPerSec, double integerImagesPerSec,
                         double speedup, long fp32ConvWeightBytes, long integerConvWeightBytes, double maxRelErr,
                         String engine, String fp32Baseline, LayerSpec spec, int iterations, int warmup,
                         int integerLayers, List<String> floatLayers, double fp32ConvMs, double integerConvMs,
                         List<LayerTime> layers, String inputs, int threads, String accumulation,
                         List<String> doubleLayers, List<String> fp32Layers, List<String> fusedBatchNorms,
                         List<String> unfusedBatchNorms, double fp32FoldedImagesPerSec, double speedupVsFolded,
                         int foldedBatchNorms, double foldedMaxRelErr, double fp32OneDnnImagesPerSec,
                         double fp32OneDnnSpeedup, double fp32OneDnnMaxRelErr, double speedupVsOneDnn,
                         String kernel, String cpuModel, List<String> cpuFeatures, double engineNonConvShare,
                         double graphImagesPerSec, double graphSpeedup, double graphMaxRelErr,
                         List<String> graphFallbacks, double graphNonConvShare) {
    }

    private Bench() {
    }

    /** Runs every batch size; {@code progress} gets one step per finished timed or warm-up pass. */
    public static List<Result> run(Options o, IntConsumer progress) throws IOException {
        Model fp32 = load(o.model());
        boolean alreadyDsconv = hasDsconv(fp32);
        Model dsconv = alreadyDsconv ? fp32 : new DSConvConverter(ConversionPlan.uniform(o.spec())).convert(fp32)
                .network();
        Model baseline = alreadyDsconv ? copy(fp32) : fp32;
        BatchNormFolding.Folded<? extends Model> folded = alreadyDsconv ? null : BatchNormFolding.fold(fp32);
        Model onednn = copy(baseline);
        Fp32Convolutions.enable(onednn);
        Backend backend = o.backend() == null ? IntegerEngine.defaultBackend() : o.backend();
        List<Result> out = new ArrayList<>();
        CpuFeatures cpu = CpuFeatures.detect();
        for (int batch : o.batches()) {
            INDArray x = inputs(o, fp32, batch);
            IntegerEngine.disable(dsconv);
            INDArray zSim = Logits.of(dsconv, x).castTo(DataType.FLOAT);
            // An explicit --backend asks for that GEMM backend: the native fused kernel stays off then.
            EngineOptions engineOptions = o.backend() == null ? EngineOptions.defaults() : EngineOptions.gemmRoute();
            EngineReport rep = IntegerEngine.enable(dsconv, backend, engineOptions);
            INDArray zInt = Logits.of(dsconv, x).castTo(DataType.FLOAT);
            double err = maxRelErr(zInt, zSim);
            ExecutionPlan plan = ExecutionPlan.compile(dsconv);
            // Outputs, not logits: the plan returns what the network's output() does (softmax probabilities here).
            double graphErr = maxRelErr(plan.output(x), Network.of(dsconv).output(x).castTo(DataType.FLOAT));

            List<Runnable> nets = new ArrayList<>(List.of(() -> output(baseline, x), () -> output(dsconv, x),
                    () -> output(onednn, x)));
            nets.add(() -> plan.output(x));
            if (folded != null) {
                nets.add(() -> output(folded.network(), x));
            }
            double[] ms = interleavedMedianMs(nets, o, progress);
            double fp32Ms = ms[0];
            double intMs = ms[1];
            double onednnMs = ms[2];
            double graphMs = ms[3];
            double foldedMs = folded == null ? Double.NaN : ms[4];
            double onednnErr = maxRelErr(Logits.of(onednn, x).castTo(DataType.FLOAT),
                    Logits.of(baseline, x).castTo(DataType.FLOAT));
            double foldedErr = folded == null ? Double.NaN
                    : maxRelErr(Logits.of(folded.network(), x).castTo(DataType.FLOAT),
                            Logits.of(baseline, x).castTo(DataType.FLOAT));
            List<LayerTime> layers = new ArrayList<>();
            double fp32Conv = Double.NaN;
            double intConv = Double.NaN;
            if (o.perLayer()) {
                Map<String, INDArray> in = convInputs(baseline, x);
                Map<String, Layer> fpLayers = convLayers(baseline);
                Map<String, Layer> intLayers = convLayers(dsconv);
                fp32Conv = 0;
                intConv = 0;
                for (Map.Entry<String, INDArray> e : in.entrySet()) {
                    String name = e.getKey();
                    double[] ab = interleavedMedianMs(List.of(() -> activate(fpLayers.get(name), e.getValue()),
                            () -> activate(intLayers.get(name), e.getValue())), o, null);
                    double a = ab[0];
                    double b = ab[1];
                    fp32Conv += a;
                    intConv += b;
                    layers.add(new LayerTime(name, a, b, rep.integerLayers().contains(name)));
                }
            }
            double fpIps = batch / (fp32Ms / 1e3);
            double intIps = batch / (intMs / 1e3);
            double foldedIps = batch / (foldedMs / 1e3);
            double onednnIps = batch / (onednnMs / 1e3);
            out.add(new Result(o.model(), batch, fpIps, intIps, intIps / fpIps, rep.fp32ConvWeightBytes(),
                    rep.integerConvWeightBytes(), err, rep.backend().label(),
                    alreadyDsconv ? "float-simulation" : "dl4j-fp32", alreadyDsconv ? null : o.spec(), o.iterations(),
                    o.warmup(), rep.integerLayers().size(), rep.floatLayers(), fp32Conv, intConv, layers,
                    inputDescription(o), Runtime.getRuntime().availableProcessors(),
                    rep.accumulation().label(), rep.doubleLayers(), rep.fp32Layers(), rep.fusedBatchNorms(),
                    rep.unfusedBatchNorms(), foldedIps, intIps / foldedIps,
                    folded == null ? 0 : folded.batchNorms().size(), foldedErr, onednnIps, onednnIps / fpIps,
                    onednnErr, intIps / onednnIps, rep.kernel(), cpu.model(), cpu.features(),
                    Double.isNaN(intConv) ? Double.NaN : 1 - intConv / intMs,
                    batch / (graphMs / 1e3), batch / (graphMs / 1e3) / fpIps, graphErr, plan.fallbacks(),
                    nonConvShare(plan.timings(x))));
        }
        IntegerEngine.disable(dsconv);
        return out;
    }

    /** {@code 1 - (time of the convolution steps) / (time of all steps)} of one timed pass. */
    static double nonConvShare(List<ExecutionPlan.StepTime> times) {
        double conv = 0;
        double all = 0;
        for (ExecutionPlan.StepTime t : times) {
            all += t.millis();
            conv += t.kind().startsWith("conv ") ? t.millis() : 0;
        }
        return all == 0 ? Double.NaN : 1 - conv / all;
    }

    /** {@code max over rows ||a - b||_inf / ||b||_inf} (rows = images). */
    public static double maxRelErr(INDArray a, INDArray b) {
        float[] x = a.dup('c').data().asFloat();
        float[] y = b.dup('c').data().asFloat();
        int cols = (int) b.size(1);
        double worst = 0;
        for (int r = 0; r * cols < y.length; r++) {
            double diff = 0;
            double norm = 0;
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                diff = Math.max(diff, Math.abs((double) x[i] - y[i]));
                norm = Math.max(norm, Math.abs((double) y[i]));
            }
            worst = Math.max(worst, norm == 0 ? (diff == 0 ? 0 : Double.POSITIVE_INFINITY) : diff / norm);
        }
        return worst;
    }

    private static Model load(String model) throws IOException {
        String name = model.toLowerCase(Locale.ROOT);
        if (ZooModels.NAMES.contains(name)) {
            return ZooModels.build(name, 1000, 42);
        }
        Path p = Path.of(model);
        if (!Files.isRegularFile(p)) {
            throw new IllegalArgumentException("--model must be one of " + String.join(", ", ZooModels.NAMES)
                    + " or a model file; not found: " + model);
        }
        return ModelFiles.load(p);
    }

    private static boolean hasDsconv(Model m) {
        return convLayerConfs(m).values().stream().anyMatch(l -> l instanceof DSConvLayer);
    }

    private static Model copy(Model m) {
        return Network.of(m).copy().model();
    }

    /**
     * Zoo models: Fashion-MNIST test images upsampled to 224x224x3; files: the first images of {@code o.data()}
     * (Fashion-MNIST's test split by default) in the layout the model takes.
     */
    private static INDArray inputs(Options o, Model net, int batch) throws IOException {
        if (ZooModels.NAMES.contains(o.model().toLowerCase(Locale.ROOT))) {
            return ZooConversion.inputs(batch);
        }
        ImageSource data = data(o);
        if (batch > data.size()) {
            throw new IllegalArgumentException("--batch " + batch + " is larger than the " + data.size()
                    + " images of " + data.describe());
        }
        return data.features(data.resolve(ModelInputs.of(net)), batch);
    }

    private static ImageSource data(Options o) {
        return o.data() != null ? o.data() : new FashionMnistSource(FashionMnist.Split.TEST, Preprocessing.defaults());
    }

    private static String inputDescription(Options o) {
        return ZooModels.NAMES.contains(o.model().toLowerCase(Locale.ROOT))
                ? "Fashion-MNIST test images upsampled 8x to 224x224, gray repeated over 3 channels"
                : data(o).describe();
    }

    private static void output(Model m, INDArray x) {
        Network.of(m).output(x);
    }

    private static void activate(Layer l, INDArray in) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        l.setInput(in, mgr);
        l.activate(false, mgr);
        l.clear();
    }

    /**
     * Median wall times in ms of each of {@code rs} end to end: {@code o.warmup()} untimed passes of every one first,
     * then {@code o.iterations()} timed rounds, each running every one once in turn. Interleaved so that JIT
     * warm-up, allocator growth and machine drift fall on all networks alike. Timed one network after the other,
     * the network measured first (FP32) came out slower than the same network measured later in the same process:
     * GoogLeNet (no BN, so its "folded" copy is the same network) at batch 1 with one warm-up pass, 1.67 against
     * 2.24 images/s.
     */
    private static double[] interleavedMedianMs(List<Runnable> rs, Options o, IntConsumer progress) {
        for (int i = 0; i < o.warmup(); i++) {
            for (Runnable r : rs) {
                r.run();
                step(progress);
            }
        }
        double[][] t = new double[rs.size()][o.iterations()];
        for (int i = 0; i < o.iterations(); i++) {
            for (int k = 0; k < rs.size(); k++) {
                long t0 = System.nanoTime();
                rs.get(k).run();
                t[k][i] = (System.nanoTime() - t0) / 1e6;
                step(progress);
            }
        }
        double[] out = new double[rs.size()];
        for (int k = 0; k < out.length; k++) {
            out[k] = median(t[k]);
        }
        return out;
    }

    private static void step(IntConsumer progress) {
        if (progress != null) {
            progress.accept(1);
        }
    }

    private static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /**
     * Passes the progress callback gets per batch size (end-to-end warm-up and timed passes: FP32, integer and, for a
     * FP32 model, FP32 with BN folded; an upper bound for a model that is already DSConv).
     */
    public static long progressSteps(Options o) {
        return 3L * (o.warmup() + o.iterations()) * o.batches().length;
    }

    /** Each convolution's input activations in the FP32 network for input {@code x}, in network order. */
    private static Map<String, INDArray> convInputs(Model m, INDArray x) {
        Network net = Network.of(m);
        List<String> convs = new ArrayList<>();
        for (Network.LayerConfiguration l : net.layerConfigurations()) {
            if (l.layer() instanceof ConvolutionLayer) {
                convs.add(l.name());
            }
        }
        return net.layerInputs(convs, x);
    }

    private static Map<String, Layer> convLayers(Model m) {
        Map<String, Layer> out = new LinkedHashMap<>();
        Layer[] layers = Network.of(m).dl4jLayers();
        for (Layer l : layers) {
            if (l.conf().getLayer() instanceof ConvolutionLayer c) {
                out.put(c.getLayerName(), l);
            }
        }
        return out;
    }

    private static Map<String, org.deeplearning4j.nn.conf.layers.Layer> convLayerConfs(Model m) {
        Map<String, org.deeplearning4j.nn.conf.layers.Layer> out = new LinkedHashMap<>();
        for (Map.Entry<String, Layer> e : convLayers(m).entrySet()) {
            out.put(e.getKey(), e.getValue().conf().getLayer());
        }
        return out;
    }
}
