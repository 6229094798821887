package io.github.dsconv.calibrate;

import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvParams;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.layers.HostCopies;
import io.github.dsconv.quant.AdaRoundSolver;
import io.github.dsconv.quant.HessianRoundingSolver;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.KernelShape;
import io.github.dsconv.quant.QuantizedKernel;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The network-level AdaRound step of calibration (Nagel et al., ICML 2020): for every DSConv layer of a converted
 * network, learns the rounding of each weight on the grid the conversion chose ({@link AdaRoundSolver}), from
 * the second moments of the layer's inputs on unlabelled images. Labels are never read.
 *
 * <p>The grid is the converted kernel's: DSConv's per-block {@code alpha} (and KDS {@code beta}) in the signed
 * range, or the per-channel baseline's scales in the symmetric range ({@link KernelQuantizer#range}). Scales are
 * not re-fitted (AdaRound learns the rounding only). A layer keeps its converted kernel if that has the smaller
 * output error on the calibration images (the learned rounding is not guaranteed to win).
 *
 * <p>Inputs: by default those of the FP32 network (one pass over the images per group of layers whose moments
 * fit in memory, as {@link HessianRounding}). With {@code asymmetric}, the paper's section 4.3: layer {@code l}
 * learns to reproduce the FP32 layer's output from the inputs it receives in the quantized network with layers
 * {@code 1..l-1} already rounded, so that it compensates the error before it (one pass of both networks per
 * layer).
 *
 * <p>Order in a recipe: after the conversion, before bias correction (which then removes the mean output shift the
 * chosen rounding leaves), as {@link HessianRounding}. It rewrites {@code q} and resets CDS to the identity.
 */
public final class AdaRound {

    private AdaRound() {
    }

    /**
     * One layer's outcome: output signal-to-quantization-noise ratios (dB, on the calibration images) of
     * round-to-nearest on the grid and of AdaRound, and which was kept.
     *
     * @param layer                DSConv layer name
     * @param columns              {@code K = nIn kH kW}
     * @param outputSqnrDbNearest  output SQNR of the converted kernel
     * @param outputSqnrDbAdaRound output SQNR of AdaRound's kernel
     * @param flipped              weights rounded the other way than to nearest
     * @param undecided            weights whose soft rounding ended strictly between 0.05 and 0.95
     * @param replaced             true if AdaRound's kernel was kept
     * @param seconds              time of this layer's optimisation
     */
    public record LayerResult(String layer, int columns, double outputSqnrDbNearest, double outputSqnrDbAdaRound,
                              long flipped, long undecided, boolean replaced, double seconds) {
    }

    /**
     * Re-rounds every DSConv layer of {@code dsconv} in place.
     *
     * @param fp32       the FP32 network {@code dsconv} was converted from (same layer names; not modified)
     * @param dsconv     the converted network
     * @param features   unlabelled images {@code [n, ...]} in the networks' input format
     * @param batch      forward-pass batch size
     * @param quantizer  the quantizer the network was converted with (gives the integer range)
     * @param options    the optimisation's settings
     * @param asymmetric learn from the quantized network's inputs (paper section 4.3)
     * @return one entry per DSConv layer, in network order
     * @throws IllegalArgumentException if the networks do not match, {@code features} is empty or {@code batch} is
     *                                  not positive
     */
    public static List<LayerResult> apply(Model fp32, Model dsconv, INDArray features, int batch,
                                          KernelQuantizer quantizer, AdaRoundSolver.Options options,
                                          boolean asymmetric) {
        if (features == null || features.size(0) == 0) {
            throw new IllegalArgumentException("AdaRound needs at least one unlabelled image");
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch must be positive, got " + batch);
        }
        Objects.requireNonNull(quantizer, "quantizer");
        Objects.requireNonNull(options, "options");
        NetworkLayers.requireSameKind(fp32, dsconv);
        List<LayerResult> out = new ArrayList<>();
        AdaRoundSolver solver = new AdaRoundSolver(options);
        if (!asymmetric) {
            for (List<String> group : HessianRounding.groups(dsconv, false)) {
                Map<String, double[]> h = HessianRounding.hessians(fp32, dsconv, group, features, batch);
                for (String name : group) {
                    out.add(round(solver, fp32, NetworkLayers.dsconv(dsconv, name), quantizer, h.get(name),
                            h.get(name), h.get(name)));
                }
            }
        } else {
            for (String name : NetworkLayers.dsconvNames(dsconv)) {
                double[][] m = crossMoments(fp32, dsconv, name, features, batch);
                out.add(round(solver, fp32, NetworkLayers.dsconv(dsconv, name), quantizer, m[0], m[1], m[2]));
            }
        }
        return out;
    }

    /**
     * {@code {E[x~ x~^T], E[x x~^T], E[x x^T]}} of one layer: {@code x} its input in the FP32 network,
     * {@code x~} in the quantized one (im2col patches, every image and position).
     */
    static double[][] crossMoments(Model fp32, Model dsconv, String name, INDArray features, int batch) {
        DSConvRuntime rt = NetworkLayers.dsconv(dsconv, name);
        int k = Math.toIntExact(HessianRounding.columns(rt));
        double[] hq = new double[k * k];
        double[] cross = new double[k * k];
        double[] hf = new double[k * k];
        long count = 0;
        long n = features.size(0);
        for (long start = 0; start < n; start += batch) {
            INDArray x = features.get(NDArrayIndex.interval(start, Math.min(n, start + batch)));
            INDArray xf = NetworkLayers.inputs(fp32, List.of(name), x).get(name);
            INDArray xq = NetworkLayers.inputs(dsconv, List.of(name), x).get(name);
            count += HessianRounding.accumulate(rt, xq, xq, hq);
            HessianRounding.accumulate(rt, xf, xq, cross);
            HessianRounding.accumulate(rt, xf, xf, hf);
        }
        for (double[] m : new double[][] {hq, hf}) {
            for (int i = 0; i < k; i++) {
                for (int j = i; j < k; j++) {
                    double v = 0.5 * (m[i * k + j] + m[j * k + i]) / count;
                    m[i * k + j] = v;
                    m[j * k + i] = v;
                }
            }
        }
        for (int i = 0; i < cross.length; i++) {
            cross[i] /= count;
        }
        return new double[][] {hq, cross, hf};
    }

    private static LayerResult round(AdaRoundSolver solver, Model fp32, DSConvRuntime rt, KernelQuantizer quantizer,
                                     double[] inputMoment, double[] crossMoment, double[] fp32Moment) {
        long t0 = System.nanoTime();
        DSConvLayer lc = rt.layerConf();
        String name = lc.getLayerName();
        INDArray fp32Kernel = NetworkLayers.fp32(fp32, name).getParam("W");
        KernelShape shape = KernelShape.of(fp32Kernel.shape());
        float[] w = HostCopies.floats(fp32Kernel);
        QuantizedKernel grid = DSConvParams.read(lc, rt.paramTable());
        AdaRoundSolver.Result r;
        try {
            r = solver.round(w, grid, quantizer.range(lc.getWeightBits()), inputMoment, crossMoment);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer '" + name + "': " + e.getMessage(), e);
        }
        // The converted kernel is the grid's round-to-nearest, up to ties and the KDS fit: measure it as it is.
        double signal = HessianRoundingSolver.outputError(w, new float[w.length], shape, fp32Moment);
        // Asymmetric: the solver's error leaves out the constant sum_o w_o^T E[x x^T] w_o, which is the signal.
        double constant = inputMoment == crossMoment ? 0 : signal;
        double current = AdaRoundSolver.reconstructionError(w, grid, inputMoment, crossMoment, shape) + constant;
        double learned = r.adaRoundError() + constant;
        boolean replace = learned < current;
        if (replace) {
            DSConvParams.write(lc, rt.paramTable(), r.kernel(), null);
            rt.invalidateCache();
        }
        return new LayerResult(name, HessianRoundingSolver.columns(shape), db(signal, current), db(signal, learned),
                r.flipped(), r.undecided(), replace, (System.nanoTime() - t0) / 1e9);
    }

    private static double db(double signal, double noise) {
        return noise <= 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
    }
}
