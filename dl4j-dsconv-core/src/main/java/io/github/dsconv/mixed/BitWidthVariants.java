package io.github.dsconv.mixed;

import io.github.dsconv.calibrate.BiasCorrection;
import io.github.dsconv.convert.ConversionPlan;
import io.github.dsconv.convert.ConversionReport;
import io.github.dsconv.convert.DSConvConverter;
import io.github.dsconv.convert.LayerReport;
import io.github.dsconv.nn.Network;
import io.github.dsconv.ptq.PostTrainingQuantizer;
import io.github.dsconv.ptq.PtqResult;
import io.github.dsconv.ptq.Recipe;
import io.github.dsconv.ptq.WeightMethod;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Quantized networks of any bit-width configuration, assembled from one post-training quantization per bit width.
 *
 * <p>Why this is exact: every step of the recipe treats layers independently. The DSConv fit is closed-form per
 * layer; Hessian-aware rounding takes each layer's Hessian from the FP32 network's inputs (one shot); bias
 * correction measures each layer's expected output shift on the FP32 network's inputs too. So a layer at {@code b}
 * bits gets the same parameters (and its bias-correction target the same bias) whatever the other layers' bits,
 * and a configuration can be assembled by copying each layer's parameters from the uniform run at its bits into a
 * conversion with the mixed plan (which gives every layer its right configuration). A search then pays the
 * calibration seven times (W2-W8) instead of once per evaluated configuration. The test
 * {@code BitWidthVariantsTest} checks assembled networks against a direct run with the mixed plan.
 */
public final class BitWidthVariants {

    private final Model fp32;
    private final SearchLayers layers;
    private final ConversionPlan base;
    private final WeightMethod method;
    private final Recipe recipe;
    private final INDArray calibration;
    private final int batch;
    private final Map<Integer, PtqResult> byBits = new HashMap<>();

    /**
     * @param fp32        the FP32 network (not modified)
     * @param layers      the searched positions ({@link SearchLayers#of})
     * @param base        the plan the searched plans derive from (activation bits, blocks, method switches)
     * @param method      weight method
     * @param recipe      calibration recipe ({@link Recipe#plain()} needs no images)
     * @param calibration unlabelled calibration images, or null for a plain recipe
     * @param batch       batch size of the calibration passes
     */
    public BitWidthVariants(Model fp32, SearchLayers layers, ConversionPlan base, WeightMethod method, Recipe recipe,
                            INDArray calibration, int batch) {
        if (recipe.needsData() && calibration == null) {
            throw new IllegalArgumentException("recipe " + recipe.describe() + " needs calibration images");
        }
        this.fp32 = fp32;
        this.layers = layers;
        this.base = base;
        this.method = method;
        this.recipe = recipe;
        this.calibration = calibration;
        this.batch = batch;
    }

    /** The recipe every variant ran. */
    public Recipe recipe() {
        return recipe;
    }

    /** The uniform run at {@code bits} (computed on first use). */
    public synchronized PtqResult uniform(int bits) throws IOException {
        PtqResult r = byBits.get(bits);
        if (r == null) {
            int[] all = new int[layers.size()];
            Arrays.fill(all, bits);
            PostTrainingQuantizer.Builder b = PostTrainingQuantizer.builder().plan(layers.plan(base, all))
                    .method(method).recipe(recipe).batchSize(batch);
            if (recipe.needsData()) {
                b.calibrationData(calibration);
            }
            r = b.build().quantize(fp32);
            byBits.put(bits, r);
        }
        return r;
    }

    /**
     * Runs the uniform quantization at every bit width 2-8 now (else each runs on first use), so that the cost of
     * an evaluation is the assembly alone.
     *
     * @param done called after each bit width (may be null)
     */
    public void prepare(java.util.function.IntConsumer done) throws IOException {
        for (int b = 2; b <= 8; b++) {
            uniform(b);
            if (done != null) {
                done.accept(b);
            }
        }
    }

    /**
     * The network of a configuration and its conversion report (conv weight bytes per layer at the configured
     * bits).
     */
    public Assembled assemble(int[] bits) throws IOException {
        ConversionPlan plan = layers.plan(base, bits);
        var converted = new DSConvConverter(plan, method.quantizer(plan)).convert(fp32);
        Model net = converted.network();
        for (int i = 0; i < bits.length; i++) {
            PtqResult source = uniform(bits[i]);
            for (String layer : layers.groups().get(i).members()) {
                copyParams(source.network(), net, layer);
                for (BiasCorrection.Correction c : source.biasCorrections()) {
                    if (c.layer().equals(layer) && c.target().startsWith("bn ")) { // "bias" is the layer's own
                        copyParams(source.network(), net, c.target().substring(3));
                    }
                }
            }
        }
        return new Assembled(plan, net, converted.report());
    }

    /**
     * One assembled configuration.
     *
     * @param plan    the plan that reproduces it with {@code quantize --plan} (and the same recipe)
     * @param network the quantized network
     * @param report  the conversion report (its bytes are the configuration's memory)
     */
    public record Assembled(ConversionPlan plan, Model network, ConversionReport report) {
        /** Conv weight bytes: DSConv kernels as stored plus convolutions left in FP32. */
        public long convWeightBytes() {
            return report.convertedWeightBytes();
        }
    }

    /**
     * Conv weight bytes of every position at every bit width 2-8 ({@code [position][bits]}), from the uniform runs'
     * reports (bytes depend on the plan only, not the recipe), so that a configuration's memory is known without
     * assembling it. Runs the uniform quantizations not run yet.
     */
    public long[][] bytesTable() throws IOException {
        long[][] t = new long[layers.size()][9];
        for (int b = 2; b <= 8; b++) {
            Map<String, Long> bytes = new HashMap<>();
            for (LayerReport r : uniform(b).report().converted()) {
                bytes.put(r.name(), r.dsconvBytes());
            }
            for (int i = 0; i < layers.size(); i++) {
                long sum = 0;
                for (String m : layers.groups().get(i).members()) {
                    sum += bytes.get(m);
                }
                t[i][b] = sum;
            }
        }
        return t;
    }

    /** Kernel bytes of the convolutions every searched plan leaves in FP32 (the same at any bits). */
    public long fp32LeftBytes() throws IOException {
        return uniform(8).report().skipped().stream().mapToLong(ConversionReport.SkippedLayer::fp32Bytes).sum();
    }

    private static void copyParams(Model from, Model to, String layer) {
        Layer src = Network.of(from).requireLayer(layer);
        Layer dst = Network.of(to).requireLayer(layer);
        if (src.numParams() != dst.numParams()) {
            throw new IllegalStateException("layer " + layer + ": " + src.numParams() + " vs " + dst.numParams()
                    + " parameters");
        }
        if (src.numParams() > 0) {
            dst.params().assign(src.params());
        }
    }

    /** The FP32 network. */
    public Model fp32() {
        return fp32;
    }

    /** The searched positions. */
    public SearchLayers layers() {
        return layers;
    }

    /** Bit widths computed so far. */
    public synchronized List<Integer> computed() {
        return byBits.keySet().stream().sorted().toList();
    }
}
