package io.github.dsconv.calibrate;

import io.github.dsconv.layers.ConvGeometry;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.nn.Network;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Empirical bias correction (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction",
 * ICCV 2019, section 4.2, with the input statistics measured on unlabelled images instead of derived from batch
 * norm): quantizing a kernel shifts the expected output of each channel by {@code E[(W_eff - W) * x]}, which the
 * KDS least-squares fit does not remove. For every DSConv layer this computes that shift from the FP32 network's
 * mean input (per channel and pixel, so zero padding at the borders is exact) and removes it: through the running
 * mean of the batch norm that directly follows the layer ({@code mean += shift}, the same as subtracting the shift
 * before the normalisation), else through the layer's bias. Labels are never read.
 *
 * <p>Not in the DSConv paper nor in spec section 1: an addition of this project, applied only when asked for
 * ({@code quantize --bias-correct N}). The mean input is that of the FP32 network (one shot, as DFQ), not of the
 * quantized one, and the BFP rounding of the input is left out (it is unbiased to first order). The inputs are read
 * from DL4J's {@code feedForward} activations; an in-place activation layer that consumes the same vertex as a
 * DSConv layer would overwrite them (DL4J's {@code ActivationLayer} activates in place at inference), which no
 * architecture here does: their ReLUs follow batch norms, not the convolutions' inputs.
 */
public final class BiasCorrection {

    private BiasCorrection() {
    }

    /**
     * One layer's correction.
     *
     * @param layer       DSConv layer name
     * @param target      {@code "bn <name>"}, {@code "bias"}, or {@code "none"} when the layer has neither
     * @param maxAbsShift largest expected output shift removed (over output channels)
     */
    public record Correction(String layer, String target, double maxAbsShift) {
    }

    /**
     * Corrects {@code dsconv} in place.
     *
     * @param fp32     the FP32 network {@code dsconv} was converted from (same layer names)
     * @param dsconv   the converted network
     * @param features unlabelled images {@code [n, ...]} in the networks' input format
     * @param batch    forward-pass batch size
     * @return one entry per DSConv layer, in network order
     * @throws IllegalArgumentException if the networks do not match or {@code features} is empty
     */
    public static List<Correction> apply(Model fp32, Model dsconv, INDArray features, int batch) {
        if (features == null || features.size(0) == 0) {
            throw new IllegalArgumentException("bias correction needs at least one unlabelled image");
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch must be positive, got " + batch);
        }
        Map<String, double[]> sums = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        long n = features.size(0);
        for (long from = 0; from < n; from += batch) {
            INDArray x = features.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(from, Math.min(n, from + batch)));
            inputsOfDsconvLayers(fp32, dsconv, x).forEach((name, in) -> {
                INDArray s = in.castTo(DataType.DOUBLE).sum(0);
                double[] acc = sums.computeIfAbsent(name, k -> new double[(int) s.length()]);
                double[] v = s.dup('c').data().asDouble();
                for (int i = 0; i < v.length; i++) {
                    acc[i] += v[i];
                }
                shapes.putIfAbsent(name, in.shape());
            });
        }
        List<Correction> out = new ArrayList<>();
        for (Map.Entry<String, double[]> e : sums.entrySet()) {
            String name = e.getKey();
            double[] mean = e.getValue();
            for (int i = 0; i < mean.length; i++) {
                mean[i] /= n;
            }
            DSConvRuntime rt = NetworkLayers.dsconv(dsconv, name);
            INDArray w = NetworkLayers.fp32(fp32, name).getParam("W");
            double[] shift = shift(rt, w, mean, shapes.get(name));
            out.add(new Correction(name, remove(dsconv, rt, shift), maxAbs(shift)));
        }
        return out;
    }

    /**
     * {@code shift[o] = mean over output pixels of sum_{c,ky,kx} (W_eff - W)[o,c,ky,kx] * xbar[c, y', x']}, with
     * {@code xbar} the mean input image and zero outside it (padding).
     */
    static double[] shift(DSConvRuntime rt, INDArray fp32Kernel, double[] mean, long[] inShape) {
        DSConvLayer lc = rt.layerConf();
        ConvGeometry g = ConvGeometry.of(rt.layerConf(), inShape);
        int c = g.channels();
        int kh = g.kh();
        int kw = g.kw();
        // m[c][k]: the mean input seen by kernel tap k of channel c, averaged over output pixels
        double[][] m = new double[c][kh * kw];
        int positions = g.outPositions();
        for (int ci = 0; ci < c; ci++) {
            for (int ky = 0; ky < kh; ky++) {
                for (int kx = 0; kx < kw; kx++) {
                    double s = 0;
                    for (int oy = 0; oy < g.outH(); oy++) {
                        int y = g.inputY(oy, ky);
                        if (y < 0 || y >= g.height()) {
                            continue;
                        }
                        for (int ox = 0; ox < g.outW(); ox++) {
                            int xx = g.inputX(ox, kx);
                            if (xx >= 0 && xx < g.width()) {
                                s += mean[g.index(0, ci, y, xx)]; // the mean is one image
                            }
                        }
                    }
                    m[ci][ky * kw + kx] = s / positions;
                }
            }
        }
        double[] weff = rt.effectiveKernel(false).castTo(DataType.DOUBLE).dup('c').data().asDouble();
        double[] w = fp32Kernel.castTo(DataType.DOUBLE).dup('c').data().asDouble();
        if (w.length != weff.length) {
            throw new IllegalArgumentException("layer '" + lc.getLayerName() + "': FP32 kernel has " + w.length
                    + " weights, DSConv kernel " + weff.length);
        }
        int nOut = (int) lc.getNOut();
        double[] shift = new double[nOut];
        int k = kh * kw;
        for (int o = 0; o < nOut; o++) {
            double s = 0;
            for (int ci = 0; ci < c; ci++) {
                for (int t = 0; t < k; t++) {
                    int i = (o * c + ci) * k + t;
                    s += (weff[i] - w[i]) * m[ci][t];
                }
            }
            shift[o] = s;
        }
        return shift;
    }

    /** Removes the shift through the following batch norm's running mean, else the bias; returns where. */
    private static String remove(Model net, DSConvRuntime rt, double[] shift) {
        String name = rt.layerConf().getLayerName();
        Layer bn = followingBatchNorm(net, name);
        if (bn != null) {
            INDArray mean = bn.getParam("mean");
            mean.addi(Nd4j.createFromArray(shift).castTo(mean.dataType()).reshape(mean.shape()));
            return "bn " + bn.conf().getLayer().getLayerName();
        }
        if (rt.layerConf().hasBias()) {
            INDArray b = rt.getParam("b");
            b.subi(Nd4j.createFromArray(shift).castTo(b.dataType()).reshape(b.shape()));
            rt.invalidateCache();
            return "bias";
        }
        return "none";
    }

    /** The batch norm that is the only consumer of layer {@code name}, or null. */
    private static Layer followingBatchNorm(Model net, String name) {
        Network n = Network.of(net);
        List<String> consumers = n.consumersOf(name);
        if (consumers.size() != 1) {
            return null;
        }
        Layer next = n.layer(consumers.get(0));
        return next != null && next.conf().getLayer() instanceof BatchNormalization ? next : null;
    }

    /** The FP32 network's input to every layer that is DSConv in {@code dsconv}, by layer name. */
    private static Map<String, INDArray> inputsOfDsconvLayers(Model fp32, Model dsconv, INDArray x) {
        NetworkLayers.requireSameKind(fp32, dsconv);
        return NetworkLayers.inputs(fp32, NetworkLayers.dsconvNames(dsconv), x);
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }
}
