package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;
import io.github.dsconv.layers.DSConvRuntime;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static io.github.dsconv.engine.Tiling.ceilDiv;
import static io.github.dsconv.layers.DSConvParamInitializer.Q_KEY;

/**
 * A layer's output from its sums: CDS and bias, one rounding to float, the layer's data format, the fused batch
 * normalization ({@link BatchNormFusion}) while the values are in cache, and the activations array; also the
 * output of the stem routes ({@link EngineOptions.Stem#FP32}, {@link EngineOptions.Stem#DOUBLE}). Holds the fused
 * layer's output array, so one per kernel.
 */
final class OutputPass {

    /** Positions per block of the NCHW transposition (rows of {@code y} that stay in cache). */
    private static final int TRANSPOSE_POSITIONS = 64;

    private final DSConvRuntime runtime;
    private final KernelShape shape;
    /** CDS and bias, each null if the layer has none (all null on a stem route). */
    private final ResidentScales gamma;
    private final ResidentScales delta;
    private final ResidentScales bias;
    /** Batch normalization applied to the output ({@link BatchNormFusion}); null for none. */
    private final FusedBatchNorm fusedBn;
    /** The native kernel's path on its route ({@link #nativeTile} runs in C), else null. */
    private final NativeKernels.Path nativePath;
    /** The output array of a fused layer, outside every workspace, reused while its shape stays the same. */
    private INDArray fusedOut;

    OutputPass(DSConvRuntime runtime, KernelShape shape, ResidentScales gamma, ResidentScales delta,
               ResidentScales bias, FusedBatchNorm fusedBn, NativeKernels.Path nativePath) {
        this.runtime = runtime;
        this.shape = shape;
        this.gamma = gamma;
        this.delta = delta;
        this.bias = bias;
        this.fusedBn = fusedBn;
        this.nativePath = nativePath;
    }

    /**
     * The {@link EngineOptions.Stem#FP32} route: the BFP input {@code mant * 2^(e+1-m)} (exact in float) in the
     * layer's format, convolved in FP32 by oneDNN ({@code conv}) with the effective kernel and bias.
     */
    void fp32Output(OneDnnConv conv, ConvGeometry geo, byte[] mant, float[] scale, LayerBuffers lb, float[] z) {
        int nIn = shape.nIn();
        int cp = shape.cp();
        int nb = shape.nb();
        int bs = shape.bs();
        boolean nhwc = shape.nhwc();
        int n = geo.batch();
        int spatial = geo.inPositions();
        // A scratch buffer of its own: the input array may belong to the caller (ExecutionPlan passes its own).
        float[] xb = lb.xb = LayerBuffers.grow(lb.xb, n * spatial * nIn);
        for (int img = 0; img < n; img++) {
            for (int pos = 0; pos < spatial; pos++) {
                int row = img * spatial + pos;
                for (int c = 0; c < nIn; c++) {
                    float v = mant[row * cp + c] * scale[row * nb + c / bs];
                    xb[nhwc ? row * nIn + c : (img * nIn + c) * spatial + pos] = v;
                }
            }
        }
        conv.forward(xb, geo, z);
    }

    /**
     * CDS and bias, rounded once to float, and the fused batch normalization, into {@code z} in the layer's data
     * format, from the sums {@code [position][nOut]} of {@code n} images of {@code spatial} positions: {@code y} in
     * double, or {@code yf} in float (plus {@code ylo}, the compensated sums' error terms, or null); {@code xsum} the
     * CDS window sums, or null without CDS. The GEMM routes' pass (the native route runs {@link #nativeTile}).
     */
    void output(int n, int spatial, double[] y, float[] yf, float[] ylo, double[] xsum, float[] z) {
        int nOut = shape.nOut();
        boolean nhwc = shape.nhwc();
        double[] gammas = gamma == null ? null : gamma.toDoubles();
        double[] deltas = delta == null ? null : delta.toDoubles();
        double[] biases = bias == null ? null : bias.toDoubles();
        boolean corrections = gammas != null || biases != null;
        FusedBatchNorm.Params bn = fusedBn == null ? null : fusedBn.params();
        int blocks = ceilDiv(spatial, TRANSPOSE_POSITIONS);
        Workers.run(n * blocks, t -> {
            int img = t / blocks;
            int pos0 = (t % blocks) * TRANSPOSE_POSITIONS;
            int pos1 = Math.min(spatial, pos0 + TRANSPOSE_POSITIONS);
            if (corrections) {
                for (int pos = pos0; pos < pos1; pos++) {
                    int p = img * spatial + pos;
                    int row = p * nOut;
                    for (int o = 0; o < nOut; o++) {
                        double v = yf == null ? y[row + o] : ylo == null ? yf[row + o]
                                : (double) yf[row + o] + ylo[row + o];
                        if (gammas != null) {
                            v = gammas[o] * v + deltas[o] * xsum[p];
                        }
                        if (biases != null) {
                            v += biases[o];
                        }
                        if (yf != null) {
                            yf[row + o] = (float) v;
                        } else {
                            y[row + o] = v;
                        }
                    }
                }
            }
            int from = (img * spatial + pos0) * nOut;
            int to = (img * spatial + pos1) * nOut;
            if (ylo != null && !corrections) {
                // hi + lo in float is the correctly rounded exact sum of the pair (one IEEE addition).
                if (nhwc) {
                    for (int i = from; i < to; i++) {
                        z[i] = yf[i] + ylo[i];
                    }
                } else {
                    for (int o = 0; o < nOut; o++) {
                        int dst = (img * nOut + o) * spatial;
                        for (int pos = pos0; pos < pos1; pos++) {
                            int i = (img * spatial + pos) * nOut + o;
                            z[dst + pos] = yf[i] + ylo[i];
                        }
                    }
                }
            } else if (nhwc) {
                if (yf != null) {
                    System.arraycopy(yf, from, z, from, to - from);
                } else {
                    for (int i = from; i < to; i++) {
                        z[i] = (float) y[i];
                    }
                }
            } else if (yf != null) {
                // Blocked transposition [pos][o] -> [o][pos]: the block's rows stay in cache.
                for (int o = 0; o < nOut; o++) {
                    int dst = (img * nOut + o) * spatial;
                    for (int pos = pos0; pos < pos1; pos++) {
                        z[dst + pos] = yf[(img * spatial + pos) * nOut + o];
                    }
                }
            } else {
                for (int o = 0; o < nOut; o++) {
                    int dst = (img * nOut + o) * spatial;
                    for (int pos = pos0; pos < pos1; pos++) {
                        z[dst + pos] = (float) y[(img * spatial + pos) * nOut + o];
                    }
                }
            }
            if (bn != null) {
                // While this block of outputs is still in cache.
                applyBatchNorm(bn, z, img, pos0, pos1, spatial);
            }
        });
    }

    /** The fused batch normalization on positions {@code [pos0, pos1)} of image {@code img} of {@code z}. */
    private void applyBatchNorm(FusedBatchNorm.Params bn, float[] z, int img, int pos0, int pos1, int spatial) {
        int nOut = shape.nOut();
        if (shape.nhwc()) {
            TileBuffers b = TileBuffers.get();
            b.reserveRows(nOut);
            bn.applyRows(z, (img * spatial + pos0) * nOut, pos1 - pos0, b.yRow);
        } else {
            for (int o = 0; o < nOut; o++) {
                int base = (img * nOut + o) * spatial;
                bn.applyRun(z, base + pos0, base + pos1, o);
            }
        }
    }

    /** Whether {@code a} is this pass's fused output (batch normalization applied; {@link BatchNormFusion}). */
    boolean isFusedOutput(INDArray a) {
        return fusedBn != null && a != null && a == fusedOut;
    }

    /**
     * The native route's per-call terms of the output pass (CDS, bias and fused batch normalization as the C code
     * reads them), decoded once per forward pass for {@link #nativeTile}.
     */
    record NativeTerms(double[] gammas, double[] deltas, double[] biases, FusedBatchNorm.Params bn) {
    }

    /** The terms {@link #nativeTile} applies, for one forward pass. */
    NativeTerms nativeTerms() {
        double[] gammas = gamma == null ? null : gamma.toDoubles();
        return new NativeTerms(gammas, gammas == null ? null : delta.toDoubles(),
                bias == null ? null : bias.toDoubles(), fusedBn == null ? null : fusedBn.params());
    }

    /**
     * The native output pass of one tile, right after its sums are complete (while they are in cache): output
     * positions {@code [p0, p0 + pc)} of the layer (possibly spanning images of {@code spatial} positions each), sums
     * {@code ytile [pc][nOut]}, CDS window sums {@code xsum} indexed by position (null without CDS), into the layer's
     * output {@code z} in its format. The same arithmetic as {@link #output} on the native route.
     */
    void nativeTile(NativeTerms t, int p0, int pc, int spatial, double[] ytile, double[] xsum, float[] z) {
        int nOut = shape.nOut();
        for (int p = p0; p < p0 + pc; ) {
            int img = p / spatial;
            int pos0 = p - img * spatial;
            int pos1 = Math.min(spatial, pos0 + (p0 + pc - p));
            NativeKernels.epilogue(nativePath, shape.nhwc(), nOut, spatial, img, pos0, pos1, ytile, p0, t.gammas(),
                    t.deltas(), t.gammas() == null ? null : xsum, t.biases(), t.bn(), z);
            p += pos1 - pos0;
        }
    }

    /**
     * The fused batch normalization on all {@code n} images of {@code spatial} positions of {@code z}, for the routes
     * whose output pass does not apply it (the stems); a no-op without one.
     */
    void applyPendingBatchNorm(float[] z, int n, int spatial) {
        if (fusedBn == null) {
            return;
        }
        FusedBatchNorm.Params bn = fusedBn.params();
        int blocks = ceilDiv(spatial, TRANSPOSE_POSITIONS);
        Workers.run(n * blocks, t -> applyBatchNorm(bn, z, t / blocks, (t % blocks) * TRANSPOSE_POSITIONS,
                Math.min(spatial, (t % blocks + 1) * TRANSPOSE_POSITIONS), spatial));
    }

    /**
     * The first {@code len} values of {@code z} as the layer's activations (its format and data type); with a fused
     * batch normalization, applied here first if {@code bnPending}, the result goes to this kernel's own array
     * outside every workspace.
     */
    INDArray wrap(float[] z, int len, int n, int oh, int ow, LayerWorkspaceMgr mgr, boolean bnPending) {
        int nOut = shape.nOut();
        long[] dims = shape.nhwc() ? new long[] {n, oh, ow, nOut} : new long[] {n, nOut, oh, ow};
        if (fusedBn != null) {
            if (bnPending) {
                applyPendingBatchNorm(z, n, oh * ow);
            }
            INDArray out = fusedOut;
            if (out == null || !java.util.Arrays.equals(out.shape(), dims)) {
                try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                    out = Nd4j.createUninitializedDetached(DataType.FLOAT, dims);
                }
                fusedOut = out;
            }
            out.data().asNioFloat().put(z, 0, len);
            return out;
        }
        INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, dims, 'c');
        out.data().asNioFloat().put(z, 0, len);
        DataType dt = runtime.getParam(Q_KEY).dataType();
        return dt == DataType.FLOAT ? out : out.castTo(dt);
    }
}
