package io.github.dsconv.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.calibrate.HessianRounding;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.Converted;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerSpec;
import io.github.dsconv.data.FashionMnist;
import io.github.dsconv.data.InMemoryIterator;
import io.github.dsconv.eval.Outputs;
import io.github.dsconv.io.ModelFiles;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.RoundToNearestQuantizer;
import io.github.dsconv.quant.VqkQuantizer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Accuracy on real data with the committed small models ({@code models/fmnist-<family>.zip}): each recorded FP32
 * accuracy reproduces on all 10,000 test images, and DSConv at W8/W4/W3 (A8, B=32, no training, no data), and with
 * the KDS shift at W4/W3, stays within stated per-family tolerances of FP32 on the first 2,000 test images, ahead of
 * round-to-nearest per channel.
 *
 * <p>Inference is deterministic, so the tolerances leave room only for other BLAS builds and are set from the
 * measurements in {@link #BOUNDS}; the measured values on this subset are in the comments there.
 */
class CommittedModelAccuracyTest {

    static final int SUBSET = 2000;

    /**
     * Allowed top-1 drops from FP32 on the subset, in fractions: {W8, W4, W3}: the measured drop plus a few images'
     * worth of slack on 2,000 images for other BLAS builds. Issue 3's targets on all 10k images are 0.005 (W4) and
     * 0.015 (W3); a bound above a target records a miss, it does not hide one. W8 is also asserted on agreement.
     */
    static final Map<String, double[]> BOUNDS = Map.of(
            // FP32 0.9255; DSConv W8 0.9265 (agreement 0.999, logits SQNR 42.2 dB), W4 0.9255, W3 0.9230;
            // RTN per channel W4 0.9235, W3 0.8225
            "resnet", new double[] {0.002, 0.006, 0.016},
            // FP32 0.9130; DSConv W8 0.9135 (agreement 0.997, logits SQNR 42.0 dB), W4 0.9040, W3 0.8780;
            // RTN per channel W4 0.8905, W3 0.7350. Misses issue 3's W4/W3 targets (see the README's table).
            "vgg", new double[] {0.002, 0.011, 0.037},
            // FP32 0.9085; DSConv W8 0.9085 (agreement 0.997, logits SQNR 37.1 dB), W4 0.8820, W3 0.6480;
            // RTN per channel W4 0.8820, W3 0.4040. Misses both targets; W3 collapses without the KDS shift.
            "googlenet", new double[] {0.002, 0.029, 0.263},
            // FP32 0.9165; DSConv W8 0.9160 (agreement 0.998, logits SQNR 42.8 dB), W4 0.9065, W3 0.8505;
            // RTN per channel W4 0.8750, W3 0.7580. Misses both targets.
            "densenet", new double[] {0.002, 0.012, 0.069});

    /**
     * Allowed top-1 drops {W4, W3} with the KDS shift beta ({@code --kds-bias}, spec section 1): measured on the
     * subset plus slack, as {@link #BOUNDS}. A negative measured drop is a gain over FP32.
     */
    static final Map<String, double[]> KDS_SHIFT_BOUNDS = Map.of(
            // W4 0.9265, W3 0.9280 (FP32 0.9255)
            "resnet", new double[] {0.002, 0.002},
            // W4 0.9155, W3 0.9130 (FP32 0.9130): meets the targets the plain DSConv misses
            "vgg", new double[] {0.002, 0.003},
            // W4 0.8955, W3 0.8870 (FP32 0.9085): better, still misses both targets
            "googlenet", new double[] {0.015, 0.024},
            // W4 0.9165, W3 0.8775 (FP32 0.9165): meets W4, misses W3
            "densenet", new double[] {0.003, 0.042});

    static InMemoryIterator subset;
    static final Map<String, Model> FP32 = new HashMap<>();
    static final Map<String, Outputs> REFERENCE = new HashMap<>();

    @BeforeAll
    static void loadSubset() throws IOException {
        subset = new InMemoryIterator(FashionMnist.load(FashionMnist.Split.TEST, SUBSET), 500);
    }

    static Path model(String family) {
        return Paths.get("..", "models", "fmnist-" + family + ".zip");
    }

    static Model fp32(String family) {
        return FP32.computeIfAbsent(family, f -> {
            try {
                return ModelFiles.load(model(f));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    static Outputs reference(String family) {
        return REFERENCE.computeIfAbsent(family, f -> Outputs.collect(fp32(f), subset, null));
    }

    private static Outputs quantized(String family, KernelQuantizer q, int bits) {
        return quantized(family, ConversionPlan.uniform(new LayerSpec(bits, 8, 32)), q);
    }

    private static Outputs quantized(String family, ConversionPlan plan, KernelQuantizer q) {
        Converted<? extends Model> c = new DSConvConverter(plan, q).convert(fp32(family));
        Outputs out = Outputs.collect(c.network(), subset, null);
        close(c.network());
        return out;
    }

    /**
     * Frees a converted network's native buffers now rather than at some later GC: four families' worth of
     * conversions otherwise pile up in this JVM.
     */
    private static void close(Model net) {
        if (net instanceof MultiLayerNetwork mln) {
            mln.close();
        } else if (net instanceof ComputationGraph cg) {
            cg.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "vgg", "googlenet", "densenet"})
    void recordedFp32AccuracyReproducesOnAllTestImages(String family) throws Exception {
        Path file = model(family);
        JsonNode prov = new ObjectMapper().readTree(file.resolveSibling(file.getFileName() + ".provenance.json")
                .toFile());
        assertEquals(family, prov.get("arch").asText());
        InMemoryIterator all = new InMemoryIterator(FashionMnist.load(FashionMnist.Split.TEST, 0), 500);
        Outputs out = Outputs.collect(fp32(family), all, null);
        assertEquals(10000, out.size());
        // Inference is deterministic; the recorded value was rounded to 4 decimals.
        assertEquals(prov.get("top1").asDouble(), out.top1(), 1e-4, family);
        assertTrue(out.top1() >= 0.90, family + " FP32 top-1 " + out.top1() + " below issue 3's 90%");
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "vgg", "googlenet", "densenet"})
    void eightBitDsconvMatchesFp32(String family) {
        Outputs ref = reference(family);
        Outputs w8 = quantized(family, new VqkQuantizer(), 8);
        System.out.printf("%s W8A8 top-1 %.4f vs FP32 %.4f, agreement %.4f, logits SQNR %.1f dB%n", family,
                w8.top1(), ref.top1(), w8.agreement(ref), w8.logitsSqnrDb(ref));
        assertTrue(ref.top1() - w8.top1() <= BOUNDS.get(family)[0], family + " W8 drop " + (ref.top1() - w8.top1()));
        assertTrue(w8.agreement(ref) >= 0.99, family + " agreement " + w8.agreement(ref));
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "vgg", "googlenet", "densenet"})
    void fourAndThreeBitDsconvStayCloseAndBeatRoundToNearest(String family) {
        Outputs ref = reference(family);
        RoundToNearestQuantizer rtn = new RoundToNearestQuantizer(RoundToNearestQuantizer.Granularity.PER_CHANNEL);
        Outputs w4 = quantized(family, new VqkQuantizer(), 4);
        Outputs w3 = quantized(family, new VqkQuantizer(), 3);
        Outputs r4 = quantized(family, rtn, 4);
        Outputs r3 = quantized(family, rtn, 3);
        System.out.printf("%s FP32 %.4f | DSConv W4 %.4f W3 %.4f | RTN/ch W4 %.4f W3 %.4f%n", family, ref.top1(),
                w4.top1(), w3.top1(), r4.top1(), r3.top1());
        double[] bound = BOUNDS.get(family);
        assertTrue(ref.top1() - w4.top1() <= bound[1], family + " W4 drop " + (ref.top1() - w4.top1()));
        assertTrue(ref.top1() - w3.top1() <= bound[2], family + " W3 drop " + (ref.top1() - w3.top1()));
        // Logits follow the FP32 model more closely with DSConv than with per-channel RTN at the same bits.
        assertTrue(w4.logitsSqnrDb(ref) > r4.logitsSqnrDb(ref), family);
        assertTrue(w3.logitsSqnrDb(ref) > r3.logitsSqnrDb(ref), family);
        assertTrue(w3.top1() >= r3.top1(), family + " DSConv W3 " + w3.top1() + " < RTN W3 " + r3.top1());
    }

    @ParameterizedTest
    @ValueSource(strings = {"resnet", "vgg", "googlenet", "densenet"})
    void kdsShiftMeetsIssueTargetsAtFourAndThreeBits(String family) {
        Outputs ref = reference(family);
        ConversionPlan w4 = ConversionPlan.uniform(new LayerSpec(4, 8, 32)).withMethod(true, false, false);
        ConversionPlan w3 = ConversionPlan.uniform(new LayerSpec(3, 8, 32)).withMethod(true, false, false);
        Outputs b4 = quantized(family, w4, new VqkQuantizer(true, false));
        Outputs b3 = quantized(family, w3, new VqkQuantizer(true, false));
        System.out.printf("%s FP32 %.4f | DSConv+KDS shift W4 %.4f W3 %.4f%n", family, ref.top1(), b4.top1(),
                b3.top1());
        double[] bound = KDS_SHIFT_BOUNDS.get(family);
        assertTrue(ref.top1() - b4.top1() <= bound[0], family + " W4 drop " + (ref.top1() - b4.top1()));
        assertTrue(ref.top1() - b3.top1() <= bound[1], family + " W3 drop " + (ref.top1() - b3.top1()));
    }

    /**
     * Bias correction ({@link BiasCorrection}, on the first 512 unlabelled training images) rescues the small
     * GoogLeNet at W3, where plain DSConv collapses: measured on the subset, W3 0.6480 -> 0.8835 and W4 0.8820 ->
     * 0.8905 (FP32 0.9085).
     */
    @Test
    void biasCorrectionRescuesGoogLeNetAtThreeBits() throws IOException {
        Outputs ref = reference("googlenet");
        INDArray calibration = FashionMnist.load(FashionMnist.Split.TRAIN, 512).getFeatures();
        double[] top1 = new double[2];
        for (int i = 0; i < 2; i++) {
            ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4 - i, 8, 32));
            Converted<? extends Model> c = new DSConvConverter(plan).convert(fp32("googlenet"));
            BiasCorrection.apply(fp32("googlenet"), c.network(), calibration, 128);
            top1[i] = Outputs.collect(c.network(), subset, null).top1();
            close(c.network());
        }
        System.out.printf("googlenet FP32 %.4f | DSConv + bias correction W4 %.4f W3 %.4f%n", ref.top1(), top1[0],
                top1[1]);
        assertTrue(ref.top1() - top1[0] <= 0.021, "W4 drop " + (ref.top1() - top1[0]));
        assertTrue(ref.top1() - top1[1] <= 0.028, "W3 drop " + (ref.top1() - top1[1]));
    }

    /**
     * The KDS shift, the per-block clipping search and bias correction together (the table's
     * {@code dsconv-kds-clip-bc}) bring the small GoogLeNet's W4 within issue 3's 0.5 pp: measured on the subset,
     * W4 0.9090 (FP32 0.9085; the KDS shift alone 0.8955, KDS shift + bias correction 0.8950).
     */
    @Test
    void fullCalibrationMeetsTheFourBitTargetOnGoogLeNet() throws IOException {
        Outputs ref = reference("googlenet");
        INDArray calibration = FashionMnist.load(FashionMnist.Split.TRAIN, 512).getFeatures();
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(4, 8, 32)).withMethod(true, false, true);
        Converted<? extends Model> c = new DSConvConverter(plan).convert(fp32("googlenet"));
        BiasCorrection.apply(fp32("googlenet"), c.network(), calibration, 128);
        double top1 = Outputs.collect(c.network(), subset, null).top1();
        close(c.network());
        System.out.printf("googlenet FP32 %.4f | DSConv + KDS shift + clipping search + bias correction W4 %.4f%n",
                ref.top1(), top1);
        assertTrue(ref.top1() - top1 <= 0.003, "W4 drop " + (ref.top1() - top1));
    }

    /**
     * Hessian-aware rounding ({@link HessianRounding}) and bias correction, both on the first 512 unlabelled
     * training images (the table's {@code dsconv-hr-bc}), bring the small GoogLeNet's W3 within issue 3's 1.5 pp
     * without training, where every closed-form calibration missed: measured on the subset, W3 0.8975 (FP32
     * 0.9085; plain DSConv 0.6480, the Hessian-aware rounding alone 0.8910, KDS shift + clipping search + bias
     * correction 0.8835).
     */
    @Test
    void hessianRoundingMeetsTheThreeBitTargetOnGoogLeNet() throws IOException {
        Outputs ref = reference("googlenet");
        INDArray calibration = FashionMnist.load(FashionMnist.Split.TRAIN, 512).getFeatures();
        ConversionPlan plan = ConversionPlan.uniform(new LayerSpec(3, 8, 32));
        Converted<? extends Model> c = new DSConvConverter(plan).convert(fp32("googlenet"));
        List<HessianRounding.LayerResult> r = HessianRounding.apply(fp32("googlenet"), c.network(), calibration,
                128, false);
        BiasCorrection.apply(fp32("googlenet"), c.network(), calibration, 128);
        double top1 = Outputs.collect(c.network(), subset, null).top1();
        close(c.network());
        System.out.printf("googlenet FP32 %.4f | DSConv + Hessian-aware rounding + bias correction W3 %.4f%n",
                ref.top1(), top1);
        assertEquals(19, r.size());
        assertTrue(ref.top1() - top1 <= 0.015, "W3 drop " + (ref.top1() - top1));
    }
}
