package io.github.dsconv.examples;

import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.eval.Logits;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelChecks;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.nn.Network;
import io.github.dsconv.pack.PackedModelFormat;
import io.github.dsconv.quant.ScalePrecision;
import io.github.dsconv.zoo.ZooModels;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.zoo.PretrainedType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Converts a full-size model (DL4J zoo ResNet50/VGG16/VGG19 or this project's GoogLeNet/DenseNet-121) to DSConv
 * and compares its outputs with the FP32 model on a fixed set of inputs: the first Fashion-MNIST test images,
 * upsampled 8x by pixel repetition to 224x224 and repeated over 3 channels.
 */
public final class ZooConversion {

    /**
     * Options.
     *
     * @param model      model name (see {@link ZooModels#NAMES})
     * @param pretrained DL4J pretrained weights to load (e.g. "imagenet"), or null for random init
     * @param weights    a ModelSerializer file with the model's trained weights, or null
     * @param spec       bits and block size
     * @param images     number of comparison inputs
     * @param seed       random-init seed
     * @param out        converted model to write, or null
     * @param packedSizes also write the FP32 ModelSerializer zip and the packed DSConv file (fp16 params) to a
     *                    temporary folder, reload the packed file and report both sizes
     */
    public record Options(String model, String pretrained, Path weights, LayerSpec spec, int images, long seed,
                          Path out, boolean packedSizes) {

        /** Options without the packed-size measurement. */
        public Options(String model, String pretrained, Path weights, LayerSpec spec, int images, long seed,
                       Path out) {
            this(model, pretrained, weights, spec, images, seed, out, false);
        }
    }

    /**
     * The packed-format measurement of {@code --packed-sizes}.
     *
     * @param fp32ZipBytes          the FP32 model as a ModelSerializer zip (no updater)
     * @param packedFileBytes       the DSConv model as a packed {@code .dsconv.zip} (fp16 params)
     * @param packedConvWeightBytes convolution kernels inside the packed file (q packed plus scales)
     * @param fp32ConvWeightBytes   the same kernels in FP32
     * @param otherParamBytes       every other parameter inside the packed file
     * @param fileRatio             {@code fp32ZipBytes / packedFileBytes}
     * @param convRatio             {@code fp32ConvWeightBytes / packedConvWeightBytes}
     * @param writeSeconds          time to write the packed file
     * @param readSeconds           time to read it back
     * @param reloadedIdentical     whether the reloaded network's logits are bit-identical to the in-memory network
     *                              with its parameters rounded as stored
     */
    public record PackedSizes(long fp32ZipBytes, long packedFileBytes, long packedConvWeightBytes,
                              long fp32ConvWeightBytes, long otherParamBytes, double fileRatio, double convRatio,
                              double writeSeconds, double readSeconds, boolean reloadedIdentical) {
    }

    /**
     * The result, as the {@code zoo} command's JSON.
     *
     * @param model              model name
     * @param convLayers         ConvolutionLayers in the FP32 model
     * @param replaced           converted to DSConv
     * @param params             FP32 model parameters
     * @param fp32WeightBytes    convolution weights at 4 bytes each
     * @param dsconvWeightBytes  convolution weights as DSConv stores them (q packed plus scales)
     * @param seconds            conversion time alone
     * @param logitsSqnrDb       SQNR of the DSConv logits against the FP32 logits
     * @param top1Agreement      fraction of inputs with the same top-1 class
     * @param inputs             what the comparison used
     * @param weights            where the FP32 weights came from
     * @param peakRssBytes       the process's peak resident memory (VmHWM) after conversion, or -1
     * @param fp32ParamBytes     FP32 bytes of all parameters (for comparing with the peak)
     * @param conversionPeakExtraBytes how far the process's resident memory rose above its level just before the
     *                           conversion (FP32 model loaded, JVM and ND4J started), at the conversion's peak; -1
     *                           when the kernel cannot reset the peak ({@code /proc/self/clear_refs}, Linux 4.0+)
     * @param peakOverModel      {@code (fp32ParamBytes + conversionPeakExtraBytes) / fp32ParamBytes}: the memory the
     *                           model and its conversion hold at the peak, in units of the FP32 model (issue 3's
     *                           target is at most 2); NaN when not measured
     * @param packed             the packed-format sizes, or null unless asked for
     */
    public record Result(String model, int convLayers, int replaced, long params, long fp32WeightBytes,
                         long dsconvWeightBytes, double seconds, double logitsSqnrDb, double top1Agreement,
                         String inputs, String weights, long peakRssBytes, long fp32ParamBytes,
                         long conversionPeakExtraBytes, double peakOverModel, PackedSizes packed) {
    }

    private ZooConversion() {
    }

    /** Runs the conversion and the comparison. */
    public static Result run(Options o) throws IOException {
        if (o.images() < 1) {
            throw new IllegalArgumentException("--images must be positive, got " + o.images());
        }
        String weightsFrom;
        ComputationGraph fp32;
        if (o.weights() != null) {
            Model m = ModelFiles.load(o.weights());
            ModelChecks.requireFp32(m, o.weights().toString(), "zoo --weights needs the FP32 model");
            Network net = Network.of(m);
            if (!net.isGraph()) { // the zoo architectures are graphs, converted as such
                throw new IllegalArgumentException(o.weights() + ": expected a ComputationGraph for " + o.model());
            }
            fp32 = net.graph();
            weightsFrom = o.weights().toString();
        } else if (o.pretrained() != null) {
            fp32 = ZooModels.pretrained(o.model(), pretrainedType(o.pretrained()));
            weightsFrom = "DL4J pretrained " + o.pretrained().toUpperCase(Locale.ROOT);
        } else {
            fp32 = ZooModels.build(o.model(), 1000, o.seed());
            weightsFrom = "random init, seed " + o.seed();
        }
        int convs = ZooModels.convLayers(fp32);
        long before = resetPeakRss();
        Converted<ComputationGraph> c = new DSConvConverter(ConversionPlan.uniform(o.spec())).convert(fp32);
        long peak = peakRss();
        long extra = before < 0 || peak < 0 ? -1 : Math.max(0, peak - before);
        long modelBytes = 4L * fp32.numParams();
        INDArray x = inputs(o.images());
        Outputs ref = new Outputs(Logits.of(fp32, x).castTo(DataType.FLOAT), new int[o.images()]);
        Outputs ds = new Outputs(Logits.of(c.network(), x).castTo(DataType.FLOAT), new int[o.images()]);
        if (o.out() != null) {
            ModelFiles.save(c.network(), o.out(), false);
        }
        PackedSizes packed = o.packedSizes() ? packedSizes(fp32, c.network(), x) : null;
        return new Result(o.model(), convs, c.report().converted().size(), fp32.numParams(),
                c.report().fp32WeightBytes(), c.report().convertedWeightBytes(), c.report().seconds(),
                ds.logitsSqnrDb(ref), ds.agreement(ref),
                o.images() + " Fashion-MNIST test images, 28x28 upsampled 8x (pixel repeat) to 224x224, gray "
                        + "repeated over 3 channels, pixels / 255", weightsFrom, peak, modelBytes, extra,
                extra < 0 ? Double.NaN : (double) (modelBytes + extra) / modelBytes, packed);
    }

    /** Writes both files to a temporary folder (removed afterwards), reloads the packed one and compares. */
    static PackedSizes packedSizes(ComputationGraph fp32, ComputationGraph dsconv, INDArray x)
            throws IOException {
        Path dir = Files.createTempDirectory("dsconv-packed-sizes");
        io.github.dsconv.files.OutputSet.scratchFolder(dir); // not an output of the command: written at once
        try {
            Path zip = dir.resolve("fp32.zip");
            ModelFiles.save(fp32, zip, false);
            long t0 = System.nanoTime();
            PackedModelFormat.Written w = PackedModelFormat.write(dsconv,
                    dir.resolve("dsconv" + PackedModelFormat.SUFFIX), PackedModelFormat.Options.defaults());
            long t1 = System.nanoTime();
            Model back = ModelFiles.load(w.file());
            long t2 = System.nanoTime();
            ComputationGraph rounded = dsconv.clone();
            rounded.setParams(PackedModelFormat.storedParams(dsconv, ScalePrecision.FP16));
            INDArray a = Logits.of(back, x).castTo(DataType.FLOAT);
            INDArray b = Logits.of(rounded, x).castTo(DataType.FLOAT);
            boolean identical = java.util.Arrays.equals(a.dup('c').data().asFloat(), b.dup('c').data().asFloat());
            long zipBytes = Files.size(zip);
            return new PackedSizes(zipBytes, w.fileBytes(), w.convWeightBytes(), w.fp32ConvWeightBytes(),
                    w.otherParamBytes(), (double) zipBytes / w.fileBytes(),
                    (double) w.fp32ConvWeightBytes() / w.convWeightBytes(), (t1 - t0) / 1e9, (t2 - t1) / 1e9,
                    identical);
        } finally {
            try (java.util.stream.Stream<Path> s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** The first {@code n} Fashion-MNIST test images as {@code [n, 3, 224, 224]}. */
    public static INDArray inputs(int n) throws IOException {
        INDArray x = FashionMnist.load(FashionMnist.Split.TEST, n).getFeatures();
        INDArray up = x.repeat(2, 8).repeat(3, 8);
        return up.repeat(1, 3);
    }

    private static PretrainedType pretrainedType(String s) {
        try {
            return PretrainedType.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown --pretrained '" + s + "' (DL4J has imagenet, cifar10, "
                    + "vggface, ...)");
        }
    }

    /** Peak resident set size of this process from /proc (Linux), or -1 when unavailable. */
    static long peakRss() {
        return procStatus("VmHWM:");
    }

    /**
     * Collects garbage, then resets the kernel's peak-RSS mark to the current RSS (writing 5 to
     * {@code /proc/self/clear_refs}) so that a later {@link #peakRss()} measures only what follows.
     *
     * @return the resident set size after the reset, or -1 when the reset is not possible here
     */
    static long resetPeakRss() {
        System.gc();
        long hwmBefore = peakRss();
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | SecurityException e) {
            return -1;
        }
        long[] rssHwm = procStatus("VmRSS:", "VmHWM:");
        if (rssHwm[0] < 0 || rssHwm[1] < 0) {
            return -1;
        }
        // The reset worked when the peak mark dropped, or sits at (about) the current size: the garbage collector
        // keeps returning and touching pages, so RSS moves a little between the reset and the read. The new mark
        // is the baseline.
        boolean reset = rssHwm[1] < hwmBefore || rssHwm[1] - rssHwm[0] < (16L << 20);
        return reset ? rssHwm[1] : -1;
    }

    private static long procStatus(String key) {
        return procStatus(key, key)[0];
    }

    /** Values (bytes) of two {@code /proc/self/status} fields read at once, -1 where missing. */
    private static long[] procStatus(String key1, String key2) {
        long[] v = {-1, -1};
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key1)) {
                    v[0] = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
                if (line.startsWith(key2)) {
                    v[1] = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return new long[] {-1, -1};
        }
        return v;
    }

}
