package io.github.dsconv.calibrate;

import io.github.dsconv.layers.ConvGeometry;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvParams;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.layers.HostCopies;
import io.github.dsconv.quant.HessianRoundingSolver;
import io.github.dsconv.quant.KernelQuantizer;
import io.github.dsconv.quant.VqkQuantizer;
import io.github.dsconv.quant.KernelShape;
import io.github.dsconv.quant.QuantizedKernel;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The network-level Hessian-aware rounding step of calibration: re-quantizes every DSConv layer of a converted
 * network with the per-layer {@link HessianRoundingSolver}. Each layer's input second
 * moment {@code H = E[x x^T]} over im2col patches is measured on unlabelled images through the FP32 network, and
 * the layer's {@code q}, {@code alpha} (and KDS {@code beta}) are replaced by the rounding that minimises the
 * expected output error {@code tr(E H E^T)} instead of the kernel's L2 error. A layer keeps its current kernel
 * if that has the smaller output error (the greedy rounding is not guaranteed to win; on the small families it
 * always did). Labels are never read.
 *
 * <p>Not in the DSConv paper nor in spec section 1: an addition of this project (AdaRound's objective, GPTQ's
 * solver; see {@link HessianRoundingSolver}), applied only when asked for ({@code quantize --hessian-round N}). Run it
 * on a freshly converted network, before {@link BiasCorrection} (which then removes the mean shift the new
 * rounding leaves): it rewrites {@code q} and the scales and resets CDS to the identity. The Hessians are those
 * of the FP32 network's inputs (one shot, like bias correction), not of the partly quantized network's, and leave
 * out the block floating point rounding of the activations.
 *
 * <p>Cost: one FP32 forward pass over the images per group of layers whose Hessians fit in {@link #HESSIAN_BUDGET}
 * bytes, {@code n * positions * K^2} multiply-adds per layer for {@code H} (an ND4J GEMM), and {@code O(K^3 +
 * nOut K^2)} for the rounding, {@code K = nIn kH kW}.
 */
public final class HessianRounding {

    /** Bytes of Hessians (double) accumulated in one pass over the images: 512 MiB. */
    static final long HESSIAN_BUDGET = 512L << 20;
    /** Patch rows per GEMM when accumulating {@code H}. */
    private static final int ROWS_PER_GEMM = 4096;

    private HessianRounding() {
    }

    /**
     * One layer's outcome: output signal-to-quantization-noise ratios {@code 10 log10(tr(W H W^T) / tr(E H E^T))}
     * in dB of the kernel it had and of the Hessian-aware one, and which it kept.
     *
     * @param layer           DSConv layer name
     * @param columns         {@code K = nIn kH kW}, the order of its Hessian
     * @param outputSqnrDbBefore output SQNR of the kernel it had
     * @param outputSqnrDbAfter  output SQNR of the Hessian-aware kernel
     * @param replaced        true if the Hessian-aware kernel was kept
     */
    public record LayerResult(String layer, int columns, double outputSqnrDbBefore, double outputSqnrDbAfter,
                              boolean replaced) {
    }

    /**
     * Re-quantizes {@code dsconv} in place.
     *
     * @param fp32           the FP32 network {@code dsconv} was converted from (same layer names; not modified)
     * @param dsconv         the converted network
     * @param features       unlabelled images {@code [n, ...]} in the networks' input format
     * @param batch          forward-pass batch size
     * @param clippingSearch search each block's clipping ratio, as {@code --clip-search} does
     * @return one entry per DSConv layer, in network order
     * @throws IllegalArgumentException if the networks do not match, {@code features} is empty or {@code batch} is
     *                                  not positive
     */
    public static List<LayerResult> apply(Model fp32, Model dsconv, INDArray features, int batch,
                                          boolean clippingSearch) {
        return apply(fp32, dsconv, features, batch, clippingSearch, false);
    }

    /**
     * Re-quantizes {@code dsconv} in place, with each layer's Hessian from the FP32 network's inputs (one shot) or,
     * if {@code sequential}, from {@code dsconv}'s own inputs with every earlier layer already re-quantized (GPTQ's
     * order; one forward pass per layer).
     *
     * @see #apply(Model, Model, INDArray, int, boolean)
     */
    public static List<LayerResult> apply(Model fp32, Model dsconv, INDArray features, int batch,
                                          boolean clippingSearch, boolean sequential) {
        return apply(fp32, dsconv, features, batch, clippingSearch, sequential, null);
    }

    /**
     * Re-quantizes {@code dsconv} in place, on the grid of {@code quantizer}'s kernels: DSConv's
     * ({@link VqkQuantizer}, or null) re-fits each block's scales during the sweep
     * ({@link HessianRoundingSolver#quantize}); any other quantizer's scales (the per-channel baseline's) stay as
     * converted and only the integers are re-chosen ({@link HessianRoundingSolver#quantizeOnGrid}).
     *
     * @see #apply(Model, Model, INDArray, int, boolean, boolean)
     */
    public static List<LayerResult> apply(Model fp32, Model dsconv, INDArray features, int batch,
                                          boolean clippingSearch, boolean sequential, KernelQuantizer quantizer) {
        if (features == null || features.size(0) == 0) {
            throw new IllegalArgumentException("Hessian-aware rounding needs at least one unlabelled image");
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("batch must be positive, got " + batch);
        }
        NetworkLayers.requireSameKind(fp32, dsconv);
        List<LayerResult> out = new ArrayList<>();
        for (List<String> group : groups(dsconv, sequential)) {
            Map<String, double[]> hessians = hessians(sequential ? dsconv : fp32, dsconv, group, features, batch);
            for (String name : group) {
                out.add(round(fp32, NetworkLayers.dsconv(dsconv, name), hessians.get(name), clippingSearch,
                        quantizer));
            }
        }
        return out;
    }

    /**
     * The DSConv layers in network order, grouped so that a group's Hessians ({@code 8 K^2} bytes each) fit
     * {@link #HESSIAN_BUDGET} (at least one layer a group), or one layer a group if {@code oneEach}: each group
     * shares a pass over the images.
     */
    static List<List<String>> groups(Model dsconv, boolean oneEach) {
        List<String> names = NetworkLayers.dsconvNames(dsconv);
        List<List<String>> groups = new ArrayList<>();
        int from = 0;
        while (from < names.size()) {
            List<String> group = new ArrayList<>();
            long bytes = 0;
            while (from < names.size()) {
                long k = columns(NetworkLayers.dsconv(dsconv, names.get(from)));
                if (!group.isEmpty() && (oneEach || bytes + 8 * k * k > HESSIAN_BUDGET)) {
                    break;
                }
                bytes += 8 * k * k;
                group.add(names.get(from++));
            }
            groups.add(group);
        }
        return groups;
    }

    static long columns(DSConvRuntime rt) {
        DSConvLayer lc = rt.layerConf();
        return lc.getNIn() * lc.getKernelSize()[0] * lc.getKernelSize()[1];
    }

    /**
     * {@code E[x x^T]} over every image and output position, per named DSConv layer of {@code dsconv}, from the
     * inputs those layers receive in {@code source} (the FP32 network, or {@code dsconv} itself).
     */
    static Map<String, double[]> hessians(Model source, Model dsconv, List<String> names, INDArray features,
                                          int batch) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        Map<String, Long> counts = new LinkedHashMap<>();
        long n = features.size(0);
        for (long start = 0; start < n; start += batch) {
            INDArray x = features.get(NDArrayIndex.interval(start, Math.min(n, start + batch)));
            NetworkLayers.inputs(source, names, x).forEach((name, in) -> {
                DSConvRuntime rt = NetworkLayers.dsconv(dsconv, name);
                long k = columns(rt);
                double[] h = sums.computeIfAbsent(name, key -> new double[Math.toIntExact(k * k)]);
                counts.merge(name, accumulate(rt, in, h), Long::sum);
            });
        }
        Map<String, double[]> out = new LinkedHashMap<>();
        sums.forEach((name, h) -> {
            long count = counts.get(name);
            int k = (int) Math.round(Math.sqrt(h.length));
            for (int i = 0; i < k; i++) {
                for (int j = i; j < k; j++) {
                    // Mean, and exactly symmetric (the float GEMM is symmetric only up to rounding).
                    double m = 0.5 * (h[i * k + j] + h[j * k + i]) / count;
                    h[i * k + j] = m;
                    h[j * k + i] = m;
                }
            }
            out.put(name, h);
        });
        return out;
    }

    /**
     * Adds {@code sum x x^T} over the im2col patches of one batch of layer inputs to {@code h} ({@code x} in
     * {@link HessianRoundingSolver#column} order, zeros where a tap falls in the padding); returns the number of
     * patches.
     */
    static long accumulate(DSConvRuntime rt, INDArray input, double[] h) {
        return accumulate(rt, input, input, h);
    }

    /**
     * Adds {@code sum x y^T} over the im2col patches {@code x} of {@code left} and {@code y} of {@code right} (two
     * inputs of the same shape, e.g. the FP32 and the quantized network's input to one layer) to {@code h}; returns
     * the number of patches. With {@code left == right} this is {@code sum x x^T}.
     */
    static long accumulate(DSConvRuntime rt, INDArray left, INDArray right, double[] h) {
        ConvGeometry g = rt.geometry(left);
        if (!java.util.Arrays.equals(left.shape(), right.shape())) {
            throw new IllegalArgumentException("inputs of different shapes " + java.util.Arrays.toString(left.shape())
                    + " and " + java.util.Arrays.toString(right.shape()));
        }
        int n = Math.toIntExact(left.size(0));
        int k = g.channels() * g.kh() * g.kw();
        float[] x = HostCopies.floats(left);
        float[] y = left == right ? x : HostCopies.floats(right);
        long positions = (long) n * g.outPositions();
        int rows = (int) Math.min(positions, ROWS_PER_GEMM);
        float[] px = new float[rows * k];
        float[] py = y == x ? px : new float[rows * k];
        int r = 0;
        for (long p = 0; p < positions; p++) {
            patch(g, x, p, px, r * k);
            if (py != px) {
                patch(g, y, p, py, r * k);
            }
            if (++r == rows || p == positions - 1) {
                addGram(px, py, r, k, h);
                r = 0;
            }
        }
        return positions;
    }

    /** The im2col patch of output position {@code p} into {@code out[base..base+K)} (zeros in the padding). */
    private static void patch(ConvGeometry g, float[] x, long p, float[] out, int base) {
        int c = g.channels();
        int kw = g.kw();
        int img = (int) (p / g.outPositions());
        int oy = (int) (p / g.outW() % g.outH());
        int ox = (int) (p % g.outW());
        for (int ky = 0; ky < g.kh(); ky++) {
            int yy = g.inputY(oy, ky);
            for (int kx = 0; kx < kw; kx++) {
                int xx = g.inputX(ox, kx);
                int col = base + (ky * kw + kx) * c;
                boolean inside = yy >= 0 && yy < g.height() && xx >= 0 && xx < g.width();
                for (int ci = 0; ci < c; ci++) {
                    out[col + ci] = inside ? x[g.index(img, ci, yy, xx)] : 0f;
                }
            }
        }
    }

    /** {@code h += X^T Y} for the first {@code rows} rows of {@code X, Y [rows, k]} (ND4J GEMM). */
    private static void addGram(float[] px, float[] py, int rows, int k, double[] h) {
        INDArray xm = rowsOf(px, rows, k);
        INDArray ym = py == px ? xm : rowsOf(py, rows, k);
        try (INDArray gram = xm.transpose().mmul(ym)) {
            float[] g = gram.dup('c').data().asFloat();
            for (int i = 0; i < g.length; i++) {
                h[i] += g[i];
            }
        } finally {
            xm.close();
            if (ym != xm) {
                ym.close();
            }
        }
    }

    private static INDArray rowsOf(float[] patches, int rows, int k) {
        INDArray m = Nd4j.create(patches, new long[] {patches.length / k, k}, 'c');
        return rows < m.size(0) ? m.get(NDArrayIndex.interval(0, rows), NDArrayIndex.all()) : m;
    }

    /** Re-quantizes one layer against its Hessian, keeping whichever kernel has the smaller output error. */
    private static LayerResult round(Model fp32, DSConvRuntime rt, double[] h, boolean clippingSearch,
                                     KernelQuantizer quantizer) {
        DSConvLayer lc = rt.layerConf();
        String name = lc.getLayerName();
        INDArray fp32Kernel = NetworkLayers.fp32(fp32, name).getParam("W");
        KernelShape shape = KernelShape.of(fp32Kernel.shape());
        float[] w = HostCopies.floats(fp32Kernel);
        float[] current = HostCopies.floats(rt.effectiveKernel(false).castTo(DataType.FLOAT));
        QuantizedKernel qk;
        try {
            HessianRoundingSolver solver = new HessianRoundingSolver(lc.isKdsBias(), clippingSearch);
            qk = quantizer == null || quantizer instanceof VqkQuantizer
                    ? solver.quantize(w, shape, lc.getWeightBits(), lc.getBlockSize(), h, lc.getScalePrecision())
                    : solver.quantizeOnGrid(w, DSConvParams.read(lc, rt.paramTable()),
                            quantizer.range(lc.getWeightBits()), h);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("layer '" + name + "': " + e.getMessage(), e);
        }
        double signal = HessianRoundingSolver.outputError(w, new float[w.length], shape, h);
        double before = HessianRoundingSolver.outputError(w, current, shape, h);
        double after = HessianRoundingSolver.outputError(w, qk.reconstruct(), shape, h);
        boolean replace = after < before;
        if (replace) {
            DSConvParams.write(lc, rt.paramTable(), qk, null);
            rt.invalidateCache();
        }
        return new LayerResult(name, HessianRoundingSolver.columns(shape), db(signal, before), db(signal, after),
                replace);
    }

    private static double db(double signal, double noise) {
        return noise == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(signal / noise);
    }

}
