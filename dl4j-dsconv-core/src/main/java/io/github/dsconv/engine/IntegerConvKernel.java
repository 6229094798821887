package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.layers.InferenceKernel;
import io.github.dsconv.pack.BitPacker;
import io.github.dsconv.quant.BlockFloatingPoint;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static io.github.dsconv.layers.DSConvParamInitializer.ALPHA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.BETA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.BIAS_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.DELTA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.GAMMA_KEY;
import static io.github.dsconv.layers.DSConvParamInitializer.Q_KEY;

/**
 * One DSConv layer on the integer engine: spec section 3,
 * <pre>
 *   y[o,p] = sum_{ky,kx,blk} 2^(e[blk,p+(ky,kx)] + 1 - m)
 *            * ( alpha[o,blk,ky,kx] * sum_{c in blk} q[o,c,ky,kx] * mant[c, p+(ky,kx)]
 *              + beta[o,blk,ky,kx]  * sum_{c in blk} mant[c, p+(ky,kx)] )
 * </pre>
 * then {@code z = gamma[o] * y + delta[o] * sum(x_bfp over the window) + bias[o]} (CDS and bias as float
 * corrections). The input is block floating point exactly as {@link BlockFloatingPoint} (int8 mantissas, one
 * power-of-two scale per block and position); the block dot products are int8 x int8 with int32 accumulation in a
 * batch of GEMMs {@code [P x B] x [B x nOut]}, one per {@code g = (ky, kx, blk)}, over tiles of output positions;
 * then one multiply-add per {@code (o, p, g)}. The block scale {@code alpha * 2^(e+1-m)} is exact in float and its
 * product with the int32 sum exact in double. With {@link Accumulation#DOUBLE} the sum over {@code g}, CDS and bias
 * are in double and the result is rounded once to float, as the float simulation does at inference
 * ({@code DSConvRuntime}), so both give the FP32 rounding of the same exact sum (bit for bit unless a sum lies within
 * about 1e-13 of a rounding boundary). With {@link Accumulation#COMPENSATED} (the default) the GEMM delivers its int32
 * sums as float and the terms are summed in float pairs (hi + lo) with exact error terms, all vectorised float
 * operations that carry about 44-48 bits; with {@link Accumulation#FLOAT} in plain float (one rounding per term). A
 * layer on one block of at most 4 channels (an image stem) runs as {@link EngineOptions.Stem} says instead.
 *
 * <p>Resident weights: {@code q} bit-packed at the layer's weight bits in {@code [g][B][nOut]} order (channels padded
 * to whole blocks with zeros, a single block narrower than B only to a multiple of 4; see {@link PackedWeights}),
 * unpacked to int8 one GEMM batch at a time into a per-thread scratch buffer; {@code alpha}, {@code beta}, CDS
 * and bias at the narrowest of fp16, fp32 and fp64 that holds them exactly ({@link ResidentScales}: fp16 for a
 * converted layer's FP16 scales), decoded per batch too. No FP32 kernel is built. A W4 B32 layer holds half a byte a
 * weight plus 2 bytes per 32 weights: about 1/7 of FP32. Needs BFP input with at most 8 bits ({@link #supports});
 * other layers stay on the float simulation. Not thread-safe (one forward at a time, as DL4J runs a network).
 */
public final class IntegerConvKernel implements InferenceKernel {

    /** Largest channel count of a single-block layer that runs as {@link EngineOptions#stem()} says. */
    static final int STEM_MAX_CHANNELS = 4;

    /** Output positions per tile: large enough for efficient GEMMs, small enough to stay in cache. */
    static final int TILE_POSITIONS = 256;
    /** Bytes of int32 accumulators per tile ({@code gc * pc * nOut * 4}). */
    static final long TILE_ACC_BYTES = 1L << 20;
    /**
     * Bytes of unpacked int8 weights per call of the native fused kernel ({@code gc * B * nOut}): it keeps no int32
     * sums, so a call can take every {@code (ky, kx, block)} of a layer up to this size and read and write each
     * output accumulator once per tile (ResNet50's largest 3x3 layer: 144 x 32 x 512 = 2.4 MB).
     */
    static final long NATIVE_WEIGHT_BYTES = 4L << 20;

    private final DSConvRuntime runtime;
    private final boolean nhwc;
    private final int nIn;
    private final int nOut;
    private final int kh;
    private final int kw;
    private final int bs;
    /**
     * Bytes a block takes in the products: {@code B}, except for a layer whose channels fit in a single block
     * narrower than {@code B} (a stem conv on 1-3 channels), where it is {@code nIn} rounded up to 4: padding 3
     * channels to 32 made ResNet50's stem ten times the products it needs.
     */
    private final int kb;
    private final int nb;
    private final int cp;
    private final int g;
    private final int actBits;
    private final int gcMax;
    /** {@code q} as {@code [g][B][nOut]}; this and the scales below are null on a stem route (see {@link #route}). */
    private final PackedWeights q;
    /** {@code alpha[g][nOut]}. */
    private final ResidentScales alpha;
    /** {@code beta[g][nOut]}, or null without KDS bias. */
    private final ResidentScales beta;
    private final ResidentScales gamma;
    private final ResidentScales delta;
    private final ResidentScales bias;
    /**
     * 2 when each block's mantissas enter the GEMM twice against {@code q = q1 + q2} with {@code |q1|, |q2| <= 64}:
     * oneDNN without VNNI multiplies int8 pairs with {@code vpmaddubsw}, whose int16 pair sums saturate beyond
     * {@code 255 * 64 * 2} (src is shifted to u8); else 1.
     */
    private final int kRep;
    /** The block products' GEMM (null on a stem route and with the native kernel). */
    private final Int8BatchedGemm gemm;
    /** The native fused kernel's path ({@link NativeKernels}), or null for the GEMM and Java epilogue route. */
    private final NativeKernels.Path nativePath;
    /** The weights in the native kernel's layout (int8 or int16 a weight), or null off the native route. */
    private final NativeKernels.PackedLayer nativeWeights;
    private final Backend backend;
    /**
     * How this layer runs: {@link EngineOptions.Stem#INTEGER} for every layer but one whose input channels fit one
     * block of at most {@value #STEM_MAX_CHANNELS} (an image stem), which runs as {@link EngineOptions#stem()} says
     * (see {@link EngineOptions.Stem}; {@code FP32} needs oneDNN and becomes {@code DOUBLE} on the Java backend).
     */
    private final EngineOptions.Stem route;
    /** The {@link EngineOptions.Stem#FP32} route's oneDNN convolution, else null. */
    private final OneDnnConv fp32Conv;
    /** The {@link EngineOptions.Stem#DOUBLE} route's direct convolution in double, else null. */
    private final DirectStemConv directStem;
    /** True for {@link Accumulation#FLOAT} and {@link Accumulation#COMPENSATED}: float sums (else double). */
    private final boolean floatSums;
    /** True for {@link Accumulation#COMPENSATED}: each float sum carries its error in a second float. */
    private final boolean compensated;
    /** Batch normalization applied to the output ({@link BatchNormFusion}); null for none. */
    private final FusedBatchNorm fusedBn;
    /** The output array of a fused layer, outside every workspace, reused while its shape stays the same. */
    private INDArray fusedOut;

    /**
     * True if the layer can run on the integer engine: signed BFP input of 2..8 bits and weights of at most 8 bits
     * (a layer with unsigned BFP blocks, {@link DSConvLayer#isUnsignedActivations()}, is not supported: the engine
     * has no unsigned 8-bit path, so it runs on the float simulation and the engine report lists it).
     */
    public static boolean supports(DSConvLayer lc) {
        return lc.quantizesActivations() && lc.getActBits() <= 8 && lc.getWeightBits() <= 8
                && !lc.isUnsignedActivations();
    }

    /**
     * Prepares a layer's current parameters for the integer engine.
     *
     * @throws IllegalArgumentException if the layer is not {@link #supports supported}, or a {@code q} value is not
     *                                  an integer of the layer's weight bits
     * @throws IllegalStateException    if {@code backend} is {@link Backend#ONEDNN} and oneDNN did not load
     */
    public static IntegerConvKernel build(DSConvRuntime runtime, Backend backend) {
        return build(runtime, backend, EngineOptions.defaults());
    }

    /** As {@link #build(DSConvRuntime, Backend)} with the given options. */
    public static IntegerConvKernel build(DSConvRuntime runtime, Backend backend, EngineOptions options) {
        return new IntegerConvKernel(runtime, backend, options, null);
    }

    /**
     * As {@link #build(DSConvRuntime, Backend, EngineOptions)}, also applying the batch normalization {@code bn}
     * (null for none) to the output, which then lives outside every workspace ({@link BatchNormFusion}).
     */
    static IntegerConvKernel build(DSConvRuntime runtime, Backend backend, EngineOptions options, FusedBatchNorm bn) {
        return new IntegerConvKernel(runtime, backend, options, bn);
    }

    private IntegerConvKernel(DSConvRuntime runtime, Backend backend, EngineOptions options, FusedBatchNorm bn) {
        DSConvLayer lc = runtime.layerConf();
        if (!supports(lc)) {
            throw new IllegalArgumentException("DSConvLayer '" + lc.getLayerName() + "' cannot run on the integer"
                    + " engine (needs block floating point input of at most 8 bits and at most 8 weight bits)");
        }
        this.runtime = runtime;
        this.fusedBn = bn;
        boolean narrowStem = lc.nBlocks() == 1 && lc.getNIn() <= STEM_MAX_CHANNELS
                && options.stem() != EngineOptions.Stem.INTEGER;
        this.nativePath = narrowStem || options.nativePath() == null ? null
                : NativeKernels.pathFor(options.nativePath(), lc.nBlocks() == 1
                        ? Math.min(lc.getBlockSize(), (Math.toIntExact(lc.getNIn()) + 3) / 4 * 4) : lc.getBlockSize());
        // The native kernel sums in double (as exact as Accumulation.DOUBLE, and as fast as the float sums there).
        this.floatSums = nativePath == null && options.accumulation() != Accumulation.DOUBLE;
        this.compensated = nativePath == null && options.accumulation() == Accumulation.COMPENSATED;
        this.nhwc = lc.getCnn2dDataFormat() == CNN2DFormat.NHWC;
        this.nIn = Math.toIntExact(lc.getNIn());
        this.nOut = Math.toIntExact(lc.getNOut());
        this.kh = lc.getKernelSize()[0];
        this.kw = lc.getKernelSize()[1];
        this.bs = lc.getBlockSize();
        this.nb = lc.nBlocks();
        this.kb = nb == 1 ? Math.min(bs, (nIn + 3) / 4 * 4) : bs;
        this.cp = nb * kb;
        this.g = kh * kw * nb;
        this.actBits = lc.getActBits();
        int pc = TILE_POSITIONS;
        this.gcMax = (int) Math.max(1, Math.min(g, nativePath != null ? NATIVE_WEIGHT_BYTES / ((long) kb * nOut)
                : TILE_ACC_BYTES / ((long) pc * nOut * 4)));

        int bits = lc.getWeightBits();
        int lo = BitPacker.minValue(bits);
        int hi = BitPacker.maxValue(bits);
        float[] qf = hostFloats(runtime.getParam(Q_KEY));
        byte[] w = new byte[g * kb * nOut];
        int maxAbs = 0;
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        int i = ((o * nIn + c) * kh + ky) * kw + kx;
                        float v = qf[i];
                        if (v != Math.rint(v) || v < lo || v > hi) {
                            throw new IllegalArgumentException("DSConvLayer '" + lc.getLayerName() + "': q[" + i
                                    + "] = " + v + " is not a " + bits + "-bit integer in [" + lo + ", " + hi + "]");
                        }
                        int gi = (ky * kw + kx) * nb + c / bs;
                        w[(gi * kb + c % kb) * nOut + o] = (byte) v;
                        maxAbs = Math.max(maxAbs, Math.abs((int) v));
                    }
                }
            }
        }
        boolean narrow = nb == 1 && nIn <= STEM_MAX_CHANNELS;
        EngineOptions.Stem r = narrow ? options.stem() : EngineOptions.Stem.INTEGER;
        if (r == EngineOptions.Stem.FP32 && backend != Backend.ONEDNN) {
            r = EngineOptions.Stem.DOUBLE;
        }
        this.route = r;
        this.backend = backend;
        if (r == EngineOptions.Stem.INTEGER && nativePath != null) {
            // The native route holds its own layout (speed over memory: 1 byte a weight, 2 on AVX2) and no bit-packed
            // copy; weightBytes() counts it.
            this.nativeWeights = NativeKernels.pack(nativePath, g, kb, nOut, w);
            this.q = null;
        } else {
            this.nativeWeights = null;
            this.q = r == EngineOptions.Stem.INTEGER ? new PackedWeights(w, bits, kb * nOut) : null;
        }
        if (r == EngineOptions.Stem.INTEGER) {
            this.alpha = ResidentScales.of(perBlock(hostFloats(runtime.getParam(ALPHA_KEY))));
            this.beta = lc.isKdsBias() ? ResidentScales.of(perBlock(hostFloats(runtime.getParam(BETA_KEY)))) : null;
            this.gamma = lc.isCds() ? ResidentScales.of(hostDoubles(runtime.getParam(GAMMA_KEY))) : null;
            this.delta = lc.isCds() ? ResidentScales.of(hostDoubles(runtime.getParam(DELTA_KEY))) : null;
            this.bias = lc.hasBias() ? ResidentScales.of(hostDoubles(runtime.getParam(BIAS_KEY))) : null;
            this.kRep = nativePath == null && backend == Backend.ONEDNN && maxAbs > 64 ? 2 : 1;
            if (nativePath != null) {
                this.gemm = null;
            } else if (backend == Backend.ONEDNN) {
                this.gemm = new OneDnnGemm(kb * kRep, nOut, (long) gcMax * pc, gcMax);
            } else {
                this.gemm = new JavaGemm(kb, nOut);
            }
        } else {
            // A stem route holds only its effective kernel (below): no packed q, no GEMM.
            this.alpha = null;
            this.beta = null;
            this.gamma = null;
            this.delta = null;
            this.bias = null;
            this.kRep = 1;
            this.gemm = null;
        }
        double[] weff = r == EngineOptions.Stem.INTEGER ? null : effectiveKernel(qf, lc);
        if (r == EngineOptions.Stem.FP32) {
            float[] wf = new float[weff.length];
            for (int i = 0; i < wf.length; i++) {
                wf[i] = (float) weff[i];
            }
            this.fp32Conv = new OneDnnConv(wf, lc.hasBias() ? hostFloats(runtime.getParam(BIAS_KEY)) : null, nIn,
                    nOut, kh, kw, nhwc);
        } else {
            this.fp32Conv = null;
        }
        this.directStem = r != EngineOptions.Stem.DOUBLE ? null : new DirectStemConv(weff,
                lc.hasBias() ? hostDoubles(runtime.getParam(BIAS_KEY)) : null, nIn, nOut, kh, kw, cp, nb, nhwc);
    }

    /**
     * The float simulation's effective kernel {@code gamma * (alpha * q + beta) + delta} {@code [nOut, nIn, kH, kW]},
     * evaluated in double exactly as the simulation does ({@code alpha * q} alone is exact even in float).
     */
    private double[] effectiveKernel(float[] qf, DSConvLayer lc) {
        float[] a = hostFloats(runtime.getParam(ALPHA_KEY));
        float[] be = lc.isKdsBias() ? hostFloats(runtime.getParam(BETA_KEY)) : null;
        double[] ga = lc.isCds() ? hostDoubles(runtime.getParam(GAMMA_KEY)) : null;
        double[] de = lc.isCds() ? hostDoubles(runtime.getParam(DELTA_KEY)) : null;
        int kk = kh * kw;
        double[] w = new double[qf.length];
        for (int o = 0; o < nOut; o++) {
            for (int c = 0; c < nIn; c++) {
                int blk = c / bs;
                for (int k = 0; k < kk; k++) {
                    int i = (o * nIn + c) * kk + k;
                    int j = (o * nb + blk) * kk + k;
                    double v = (double) a[j] * qf[i] + (be == null ? 0 : be[j]);
                    w[i] = ga == null ? v : ga[o] * v + de[o];
                }
            }
        }
        return w;
    }

    /** How this layer runs: {@code INTEGER} (block products on integers), or a stem's {@code DOUBLE} or {@code FP32}. */
    public EngineOptions.Stem route() {
        return route;
    }

    /**
     * Weight matrices {@code [g0, g0 + gc)} as int8 into {@code dst}: {@code [gc][B][nOut]}, or with {@code kRep = 2}
     * {@code [gc][2B][nOut]} with rows {@code floor(q/2)} then {@code q - floor(q/2)}.
     */
    private void unpackWeights(int g0, int gc, byte[] dst) {
        if (kRep == 1) {
            q.unpack(g0, gc, dst, 0);
            return;
        }
        int rows = kb * nOut;
        for (int gi = 0; gi < gc; gi++) {
            int second = (2 * gi + 1) * rows;
            q.unpack(g0 + gi, 1, dst, second);
            for (int i = 0; i < rows; i++) {
                int v = dst[second + i];
                int q1 = Math.floorDiv(v, 2);
                dst[second - rows + i] = (byte) q1;
                dst[second + i] = (byte) (v - q1);
            }
        }
    }

    /** {@code [nOut, nBlocks, kH, kW]} to {@code [g][nOut]}. */
    private float[] perBlock(float[] v) {
        float[] out = new float[g * nOut];
        for (int o = 0; o < nOut; o++) {
            for (int blk = 0; blk < nb; blk++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        int gi = (ky * kw + kx) * nb + blk;
                        out[gi * nOut + o] = v[((o * nb + blk) * kh + ky) * kw + kx];
                    }
                }
            }
        }
        return out;
    }

    private static double[] hostDoubles(INDArray a) {
        return a.dup('c').data().asDouble();
    }

    private static float[] hostFloats(INDArray a) {
        return a.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    /** The values of {@code a} in c order as float, into {@code buf} if it is large enough (else a new array). */
    private static float[] hostFloats(INDArray a, float[] buf) {
        int len = Math.toIntExact(a.length());
        float[] out = grow(buf, len);
        INDArray c = a.dataType() == DataType.FLOAT && a.ordering() == 'c' && !a.isView()
                && a.data().length() == len ? a : a.castTo(DataType.FLOAT).dup('c');
        c.data().asNioFloat().get(out, 0, len); // one copy for the usual contiguous float activations
        return out;
    }

    /** How this kernel sums the scaled block products. */
    public Accumulation accumulation() {
        return compensated ? Accumulation.COMPENSATED : floatSums ? Accumulation.FLOAT : Accumulation.DOUBLE;
    }

    /** The backend running the block products. */
    public Backend backend() {
        return backend;
    }

    /**
     * Resident weight bytes of this layer: the bit-packed {@code q} ({@code ceil(g * B * nOut * bits / 8)}, channels
     * padded to whole blocks; a single narrow block to a multiple of 4) plus {@code alpha}, {@code beta}, CDS and
     * bias at the precision held (2, 4 or 8 bytes a value, see {@link ResidentScales}). Per-thread scratch (unpacked
     * weights of one GEMM batch, tile buffers) is not counted: it does not grow with the network.
     */
    public long weightBytes() {
        if (route != EngineOptions.Stem.INTEGER) {
            // The effective kernel and bias as held: FP32 for oneDNN, double for the Java route.
            int per = route == EngineOptions.Stem.FP32 ? 4 : 8;
            return (long) per * nOut * nIn * kh * kw + (runtime.layerConf().hasBias() ? (long) per * nOut : 0);
        }
        long weights = nativeWeights != null ? nativeWeights.data().length : q.bytes();
        return weights + alpha.bytes() + bytes(beta) + bytes(gamma) + bytes(delta) + bytes(bias);
    }

    private static long bytes(ResidentScales s) {
        return s == null ? 0 : s.bytes();
    }

    /** oneDNN's implementation name for this layer's primitives (after the first forward), else the backend. */
    public String implementation() {
        if (fp32Conv != null) {
            return fp32Conv.implementation() != null ? "fp32 " + fp32Conv.implementation() : "fp32";
        }
        if (directStem != null) {
            return "double java";
        }
        if (nativePath != null) {
            return "native fused " + nativePath.label();
        }
        return gemm instanceof OneDnnGemm o && o.implementation() != null ? o.implementation() : backend().label();
    }

    /** Releases native resources; the kernel must not be used afterwards. */
    public void close() {
        if (gemm != null) {
            gemm.close();
        }
        if (fp32Conv != null) {
            fp32Conv.close();
        }
    }

    @Override
    public INDArray preOutput(INDArray input, LayerWorkspaceMgr mgr) {
        ConvGeometry geo = runtime.geometry(input);
        int n = geo.batch();
        int h = geo.height();
        int wd = geo.width();
        LayerBuffers lb = LAYER_BUFFERS.get();
        float[] x = lb.x = hostFloats(input, lb.x);
        byte[] mant = lb.mant = grow(lb.mant, n * h * wd * cp);
        float[] scale = lb.scale = grow(lb.scale, n * h * wd * nb);
        int spatial = h * wd;
        int chunks = nhwc ? n * ceilDiv(spatial, TILE_POSITIONS) : n * nb;
        boolean[] negative = new boolean[chunks];
        Workers.run(chunks, t -> negative[t] = quantize(x, t, spatial, mant, scale));
        boolean unsignedSrc = true;
        for (boolean neg : negative) {
            unsignedSrc &= !neg;
        }
        boolean u8 = unsignedSrc;

        int oh = geo.outH();
        int ow = geo.outW();
        int total = n * oh * ow;
        if (fp32Conv != null) {
            return fp32Output(geo, mant, scale, lb, mgr);
        }
        if (directStem != null) {
            return directOutput(geo, mant, scale, lb, mgr);
        }
        // Each tile zeroes its own rows of y (and xsum) before it adds to them.
        double[] y = floatSums ? null : (lb.y = grow(lb.y, total * nOut));
        float[] yf = floatSums ? (lb.yf = grow(lb.yf, total * nOut)) : null;
        float[] ylo = compensated ? (lb.ylo = grow(lb.ylo, total * nOut)) : null;
        double[] xsum = delta == null ? null : (lb.xsum = grow(lb.xsum, total));
        // Tiles of at most TILE_POSITIONS, as many as a multiple of the worker count, of near-equal size: with
        // 392 positions (7x7 at batch 8) two workers get 196 each rather than 256 and 136.
        int tiles = ceilDiv(ceilDiv(total, TILE_POSITIONS), Workers.count()) * Workers.count();
        int pcMax = Math.max(1, ceilDiv(total, tiles));
        Workers.run(ceilDiv(total, pcMax), t -> tile(t * pcMax, Math.min(pcMax, total - t * pcMax), geo, mant, scale,
                u8, y, yf, ylo, xsum));
        return output(n, oh, ow, y, yf, ylo, xsum, lb, mgr);
    }

    /**
     * The calling thread's buffers for one layer's input copy, mantissas, block scales, double sums and float output,
     * reused from layer to layer (layers run one at a time): allocating them afresh cost ResNet50 about 5 GB of
     * garbage per batch of 8, all of it zeroed by the JVM on one thread. They grow to the largest layer seen and are
     * overwritten completely before they are read (see {@link #quantize} and {@link #tile}).
     */
    private static final class LayerBuffers {
        float[] x = new float[0];
        byte[] mant = new byte[0];
        float[] scale = new float[0];
        double[] y = new double[0];
        float[] yf = new float[0];
        float[] ylo = new float[0];
        double[] xsum = new double[0];
        float[] z = new float[0];
    }

    private static final ThreadLocal<LayerBuffers> LAYER_BUFFERS = ThreadLocal.withInitial(LayerBuffers::new);

    private static byte[] grow(byte[] a, int n) {
        return a.length >= n ? a : new byte[n];
    }

    private static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[n];
    }

    private static double[] grow(double[] a, int n) {
        return a.length >= n ? a : new double[n];
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** Reusable per-thread tile buffers (shared by all kernels: a thread runs one tile at a time). */
    private static final class TileBuffers {
        byte[] src = new byte[0];
        byte[] wei = new byte[0];
        float[] alpha = new float[0];
        float[] beta = new float[0];
        float[] sc = new float[0];
        int[] msum = new int[0];
        int[] acc = new int[0];
        float[] accf = new float[0];
        /** Float epilogue: this batch's alpha and beta one array per block, and one output row and one sum row. */
        float[][] alphaG = new float[0][];
        float[][] betaG = new float[0][];
        float[] yRow = new float[0];
        float[] loRow = new float[0];
        float[] accRow = new float[0];
        int[] pImg = new int[0];
        int[] pY = new int[0];
        int[] pX = new int[0];
    }

    private static final ThreadLocal<TileBuffers> BUFFERS = ThreadLocal.withInitial(TileBuffers::new);

    /**
     * Output positions {@code [p0, p0 + pc)}: every {@code g} chunk gathered, multiplied and accumulated;
     * {@code unsignedSrc} if no mantissa is negative (see {@link Int8BatchedGemm#multiply}).
     */
    private void tile(int p0, int pc, ConvGeometry geo, byte[] mant, float[] scale, boolean unsignedSrc, double[] y,
                      float[] yf, float[] ylo, double[] xsum) {
        TileBuffers b = BUFFERS.get();
        int rows = gcMax * pc;
        if (b.src.length < rows * kb * kRep) {
            b.src = new byte[rows * kb * kRep];
        }
        if (b.sc.length < rows) {
            b.sc = new float[rows];
            b.msum = new int[rows];
        }
        if (nativePath == null && yf == null && b.acc.length < rows * nOut) {
            b.acc = new int[rows * nOut];
        }
        if (yf != null && b.accf.length < rows * nOut) {
            b.accf = new float[rows * nOut];
        }
        if (nativePath == null && b.wei.length < gcMax * kb * kRep * nOut) {
            b.wei = new byte[gcMax * kb * kRep * nOut];
        }
        if (b.alpha.length < gcMax * nOut) {
            b.alpha = new float[gcMax * nOut];
            b.beta = new float[gcMax * nOut];
        }
        if (b.pImg.length < pc) {
            b.pImg = new int[pc];
            b.pY = new int[pc];
            b.pX = new int[pc];
        }
        boolean needSums = beta != null || delta != null;
        if (yf != null) {
            java.util.Arrays.fill(yf, p0 * nOut, (p0 + pc) * nOut, 0f);
            if (ylo != null) {
                java.util.Arrays.fill(ylo, p0 * nOut, (p0 + pc) * nOut, 0f);
            }
        } else {
            java.util.Arrays.fill(y, p0 * nOut, (p0 + pc) * nOut, 0.0);
        }
        if (xsum != null) {
            java.util.Arrays.fill(xsum, p0, p0 + pc, 0.0);
        }
        int oh = geo.outH();
        int ow = geo.outW();
        for (int pi = 0; pi < pc; pi++) {
            int p = p0 + pi;
            b.pImg[pi] = p / (oh * ow);
            b.pY[pi] = geo.inputY((p / ow) % oh, 0);
            b.pX[pi] = geo.inputX(p % ow, 0);
        }
        for (int g0 = 0; g0 < g; g0 += gcMax) {
            int gc = Math.min(gcMax, g - g0);
            gather(g0, gc, pc, b.pImg, b.pY, b.pX, geo, mant, scale, b.src, b.sc, needSums ? b.msum : null);
            if (nativePath != null) {
                alpha.decode(g0 * nOut, gc * nOut, b.alpha);
                if (beta != null) {
                    beta.decode(g0 * nOut, gc * nOut, b.beta);
                }
                NativeKernels.fused(nativeWeights, g0, gc, pc, unsignedSrc, b.src, b.sc, b.alpha,
                        beta == null ? null : b.beta, needSums ? b.msum : null, y, p0 * nOut);
                if (xsum != null) {
                    addWindowSums(gc, p0, pc, b.sc, b.msum, xsum);
                }
                continue;
            }
            unpackWeights(g0, gc, b.wei);
            if (yf != null) {
                gemm.multiply(gc, pc, b.src, b.wei, b.accf, unsignedSrc);
            } else {
                gemm.multiply(gc, pc, b.src, b.wei, b.acc, unsignedSrc);
            }
            alpha.decode(g0 * nOut, gc * nOut, b.alpha);
            if (beta != null) {
                beta.decode(g0 * nOut, gc * nOut, b.beta);
            }
            if (yf != null) {
                epilogueFloat(b, gc, p0, pc, needSums ? b.msum : null, beta != null, yf, ylo, xsum);
            } else {
                epilogue(gc, p0, pc, b.sc, needSums ? b.msum : null, b.acc, b.alpha, beta == null ? null : b.beta,
                        y, xsum);
            }
        }
    }

    /**
     * Block floating point of the input with {@link BlockFloatingPoint}'s own steps (block exponent, mantissa shift,
     * {@code rint} and {@link BlockFloatingPoint#clampMantissa}; signed blocks only), into int8 mantissas and per-block scales {@code 2^-shift}: the
     * values {@link BlockFloatingPoint#quantizeInPlace} gives are exactly {@code mant * scale}. The product with
     * {@code 2^shift} is a plain multiply here (exact: for float input {@code 2^shift} is a normal double). Chunk
     * {@code t}: one {@code (image, block)} for NCHW, one image's run of {@link #TILE_POSITIONS} positions for NHWC.
     *
     * @return true if a mantissa of the chunk is negative (after a ReLU none is, and the products can read the
     *         mantissas as uint8)
     */
    private boolean quantize(float[] x, int t, int spatial, byte[] mant, float[] scale) {
        int m = BlockFloatingPoint.mantissaBits(actBits);
        if (nativePath != null) {
            // The same steps in C (NativeKernelsTest and the engine tests hold them bit-identical).
            if (!nhwc) {
                return NativeKernels.quantize(false, x, mant, scale, t / nb, t % nb, t % nb + 1, spatial, nIn, bs, kb,
                        nb, m);
            }
            int perImage = ceilDiv(spatial, TILE_POSITIONS);
            int pos0 = (t % perImage) * TILE_POSITIONS;
            return NativeKernels.quantize(true, x, mant, scale, t / perImage, pos0,
                    Math.min(spatial, pos0 + TILE_POSITIONS), spatial, nIn, bs, kb, nb, m);
        }
        double hi = BlockFloatingPoint.maxMantissa(m, false);
        double lo = -hi;
        boolean negative = false;
        if (!nhwc) {
            int img = t / nb;
            int blk = t % nb;
            int c0 = blk * bs;
            int c1 = c0 + Math.min(bs, nIn - c0);
            // The largest magnitude's bits: float magnitudes order as their bit patterns, so its exponent is the
            // largest exponent of the block's nonzero values (0: an all-zero block).
            int[] amax = new int[spatial];
            for (int c = c0; c < c1; c++) {
                maxAbsBits(x, (img * nIn + c) * spatial, amax, spatial);
            }
            double[] up = new double[spatial];
            for (int pos = 0; pos < spatial; pos++) {
                boolean empty = amax[pos] == 0;
                int shift = empty ? 0 : BlockFloatingPoint.mantissaShift(
                        BlockFloatingPoint.exponent(Float.intBitsToFloat(amax[pos])), m, false);
                up[pos] = empty ? 0 : Math.scalb(1.0, shift);
                scale[(img * spatial + pos) * nb + blk] = empty ? 0f : (float) Math.scalb(1.0, -shift);
            }
            // Runs of positions, so that the rows of mantissas written (stride cp) stay in L1 over the block.
            for (int p0 = 0; p0 < spatial; p0 += QUANTIZE_POSITIONS) {
                int p1 = Math.min(spatial, p0 + QUANTIZE_POSITIONS);
                for (int c = c1; c < c0 + kb; c++) {
                    for (int pos = p0; pos < p1; pos++) {
                        mant[(img * spatial + pos) * cp + c] = 0; // channels padding the last block
                    }
                }
                for (int c = c0; c < c1; c++) {
                    int base = (img * nIn + c) * spatial;
                    for (int pos = p0; pos < p1; pos++) {
                        // up = 0 for an all-zero block: mantissa 0.
                        double v = Math.rint(x[base + pos] * up[pos]); // as roundMantissa
                        negative |= v < 0;
                        mant[(img * spatial + pos) * cp + c] = (byte) BlockFloatingPoint.clampMantissa(v, lo, hi);
                    }
                }
            }
            return negative;
        }
        int perImage = ceilDiv(spatial, TILE_POSITIONS);
        int img = t / perImage;
        int pos0 = (t % perImage) * TILE_POSITIONS;
        int pos1 = Math.min(spatial, pos0 + TILE_POSITIONS);
        for (int pos = pos0; pos < pos1; pos++) {
            int row = img * spatial + pos;
            int base = row * nIn;
            for (int blk = 0; blk < nb; blk++) {
                int c0 = blk * bs;
                int c1 = c0 + Math.min(bs, nIn - c0);
                // BlockFloatingPoint.blockExponent's rule, inline: the call measured 20% slower here (JDK 17).
                int e = BlockFloatingPoint.EMPTY;
                for (int c = c0; c < c1; c++) {
                    float v = x[base + c];
                    if (v != 0) {
                        e = Math.max(e, BlockFloatingPoint.exponent(v));
                    }
                }
                if (e == BlockFloatingPoint.EMPTY) {
                    java.util.Arrays.fill(mant, row * cp + c0, row * cp + c0 + kb, (byte) 0); // all-zero block
                    scale[row * nb + blk] = 0f;
                    continue;
                }
                int shift = BlockFloatingPoint.mantissaShift(e, m, false);
                double up = Math.scalb(1.0, shift);
                for (int c = c0; c < c1; c++) {
                    double v = Math.rint(x[base + c] * up); // as roundMantissa
                    negative |= v < 0;
                    mant[row * cp + c] = (byte) BlockFloatingPoint.clampMantissa(v, lo, hi);
                }
                java.util.Arrays.fill(mant, row * cp + c1, row * cp + c0 + kb, (byte) 0); // padding channels
                scale[row * nb + blk] = (float) Math.scalb(1.0, -shift);
            }
        }
        return negative;
    }

    /** Positions per run of the NCHW quantization's mantissa writes. */
    private static final int QUANTIZE_POSITIONS = 64;

    /** {@code amax[i] = max(amax[i], |x[base + i]| as bits)} for {@code i < n}. */
    private static void maxAbsBits(float[] x, int base, int[] amax, int n) {
        for (int i = 0; i < n; i++) {
            amax[i] = Math.max(amax[i], Float.floatToRawIntBits(x[base + i]) & 0x7fffffff);
        }
    }

    private int index(int img, int c, int pos, int spatial) {
        return nhwc ? (img * spatial + pos) * nIn + c : (img * nIn + c) * spatial + pos;
    }

    /** Copies each {@code (g, p)} block of mantissas (zeros outside the input) with its scale and sum. */
    private void gather(int g0, int gc, int pc, int[] pImg, int[] pY, int[] pX, ConvGeometry geo, byte[] mant,
                        float[] scale, byte[] src, float[] sc, int[] msum) {
        int h = geo.height();
        int wd = geo.width();
        int dh = geo.dilY();
        int dw = geo.dilX();
        for (int gi = 0; gi < gc; gi++) {
            int gg = g0 + gi;
            int blk = gg % nb;
            int kk = gg / nb;
            int ky = kk / kw;
            int kx = kk % kw;
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                int iy = pY[pi] + ky * dh;
                int ix = pX[pi] + kx * dw;
                int dst = row * kb * kRep;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) {
                    java.util.Arrays.fill(src, dst, dst + kb * kRep, (byte) 0);
                    sc[row] = 0f;
                    if (msum != null) {
                        msum[row] = 0;
                    }
                    continue;
                }
                int at = (pImg[pi] * h + iy) * wd + ix;
                System.arraycopy(mant, at * cp + blk * kb, src, dst, kb);
                if (kRep == 2) {
                    System.arraycopy(mant, at * cp + blk * kb, src, dst + kb, kb);
                }
                sc[row] = scale[at * nb + blk];
                if (msum != null) {
                    int sum = 0;
                    for (int c = 0; c < kb; c++) {
                        sum += src[dst + c];
                    }
                    msum[row] = sum;
                }
            }
        }
    }

    /** {@code xsum[p] += 2^(e+1-m) * sum(mant)} over the batch's blocks (the CDS window sums), as {@link #epilogue}. */
    private static void addWindowSums(int gc, int p0, int pc, float[] sc, int[] msum, double[] xsum) {
        for (int gi = 0; gi < gc; gi++) {
            for (int pi = 0; pi < pc; pi++) {
                float s = sc[gi * pc + pi];
                if (s != 0f) {
                    xsum[p0 + pi] += (double) s * msum[gi * pc + pi];
                }
            }
        }
    }

    /**
     * Double sums: {@code y[p][o] += 2^(e+1-m) * (alpha * acc + beta * sum(mant))}, with this batch's decoded
     * {@code alpha} and {@code beta} ({@code [gc][nOut]}); the scale is a power of two, so every term is exact in
     * double.
     */
    private void epilogue(int gc, int p0, int pc, float[] sc, int[] msum, int[] acc, float[] alphas, float[] betas,
                          double[] y, double[] xsum) {
        for (int gi = 0; gi < gc; gi++) {
            int aBase = gi * nOut;
            for (int pi = 0; pi < pc; pi++) {
                int row = gi * pc + pi;
                float s = sc[row];
                if (s == 0f) {
                    continue; // an all-zero or padding block contributes nothing
                }
                int accBase = row * nOut;
                int yBase = (p0 + pi) * nOut;
                for (int o = 0; o < nOut; o++) {
                    // alpha * s is exact (s is a power of two) and so is the double product with acc.
                    y[yBase + o] += (double) (alphas[aBase + o] * s) * acc[accBase + o];
                }
                if (betas != null) {
                    double xs = (double) s * msum[row];
                    for (int o = 0; o < nOut; o++) {
                        y[yBase + o] += betas[aBase + o] * xs;
                    }
                }
                if (xsum != null) {
                    xsum[p0 + pi] += (double) s * msum[row];
                }
            }
        }
    }

    /**
     * Float sums: as {@link #epilogue}, each term one fused multiply-add {@code y = fma(alpha * s, acc, y)} (one
     * rounding: {@code alpha * s} is exact and the GEMM's float {@code acc} is an exact integer). Per output position
     * its row of sums is copied into a scratch row, every block's row of {@code acc} too, and the block's alpha is
     * its own array, so the inner loop indexes all its arrays from 0: the JDK 17 JIT vectorises a loop only when
     * every array index has the same loop-invariant offset (measured: 3-4x faster than indexing the tile arrays at
     * their own offsets, which it leaves scalar).
     */
    private void epilogueFloat(TileBuffers b, int gc, int p0, int pc, int[] msum, boolean kdsBias, float[] yf,
                               float[] ylo, double[] xsum) {
        int inner = b.alphaG.length == 0 ? 0 : b.alphaG[0].length;
        if (b.alphaG.length < gcMax || inner < nOut) {
            b.alphaG = new float[Math.max(gcMax, b.alphaG.length)][Math.max(nOut, inner)];
            b.betaG = new float[b.alphaG.length][b.alphaG[0].length];
        }
        if (b.yRow.length < nOut) {
            b.yRow = new float[nOut];
            b.loRow = new float[nOut];
            b.accRow = new float[nOut];
        }
        for (int gi = 0; gi < gc; gi++) {
            System.arraycopy(b.alpha, gi * nOut, b.alphaG[gi], 0, nOut);
            if (kdsBias) {
                System.arraycopy(b.beta, gi * nOut, b.betaG[gi], 0, nOut);
            }
        }
        float[] yRow = b.yRow;
        float[] loRow = b.loRow;
        float[] accRow = b.accRow;
        for (int pi = 0; pi < pc; pi++) {
            int yBase = (p0 + pi) * nOut;
            System.arraycopy(yf, yBase, yRow, 0, nOut);
            if (ylo != null) {
                System.arraycopy(ylo, yBase, loRow, 0, nOut);
            }
            for (int gi = 0; gi < gc; gi++) {
                int row = gi * pc + pi;
                float s = b.sc[row];
                if (s == 0f) {
                    continue; // an all-zero or padding block contributes nothing
                }
                System.arraycopy(b.accf, row * nOut, accRow, 0, nOut);
                if (ylo != null) {
                    addTwoSum(yRow, loRow, b.alphaG[gi], s, accRow, nOut);
                    if (kdsBias) {
                        addTwoSum(yRow, loRow, b.betaG[gi], s * msum[row], nOut);
                    }
                } else {
                    addScaled(yRow, b.alphaG[gi], s, accRow, nOut);
                    if (kdsBias) {
                        addScaled(yRow, b.betaG[gi], s * msum[row], nOut); // s * msum: |msum| < 2^15, exact
                    }
                }
                if (xsum != null) {
                    xsum[p0 + pi] += (double) s * msum[row];
                }
            }
            System.arraycopy(yRow, 0, yf, yBase, nOut);
            if (ylo != null) {
                System.arraycopy(loRow, 0, ylo, yBase, nOut);
            }
        }
    }

    /**
     * {@code (hi, lo) += alpha[o] * s * acc[o]} in float pairs: the product's rounding error by a fused
     * multiply-add, the addition's by Knuth's two-sum (both exact), their sum added into {@code lo}. Every operation
     * is float and every array indexed from 0, so the JIT vectorises it; Java never reassociates float arithmetic.
     */
    private static void addTwoSum(float[] hi, float[] lo, float[] alpha, float s, float[] acc, int n) {
        for (int o = 0; o < n; o++) {
            float a = alpha[o] * s; // exact: s is a power of two
            float p = a * acc[o];
            float pe = Math.fma(a, acc[o], -p);
            float h = hi[o];
            float t = h + p;
            float bp = t - h;
            float e = (h - (t - bp)) + (p - bp);
            hi[o] = t;
            lo[o] += e + pe;
        }
    }

    /** {@code (hi, lo) += beta[o] * xs} in float pairs, as above. */
    private static void addTwoSum(float[] hi, float[] lo, float[] beta, float xs, int n) {
        for (int o = 0; o < n; o++) {
            float p = beta[o] * xs;
            float pe = Math.fma(beta[o], xs, -p);
            float h = hi[o];
            float t = h + p;
            float bp = t - h;
            float e = (h - (t - bp)) + (p - bp);
            hi[o] = t;
            lo[o] += e + pe;
        }
    }

    /** {@code y[o] = fma(alpha[o] * s, acc[o], y[o])}, all indexed from 0 (a loop C2 vectorises). */
    private static void addScaled(float[] y, float[] alpha, float s, float[] acc, int n) {
        for (int o = 0; o < n; o++) {
            y[o] = Math.fma(alpha[o] * s, acc[o], y[o]);
        }
    }

    /** {@code y[o] = fma(beta[o], xs, y[o])}, indexed from 0. */
    private static void addScaled(float[] y, float[] beta, float xs, int n) {
        for (int o = 0; o < n; o++) {
            y[o] = Math.fma(beta[o], xs, y[o]);
        }
    }

    /**
     * The {@link #fp32Conv} route: the BFP input {@code mant * 2^(e+1-m)} (exact in float) in the layer's format,
     * convolved in FP32 by oneDNN with the effective kernel and bias.
     */
    private INDArray fp32Output(ConvGeometry geo, byte[] mant, float[] scale, LayerBuffers lb,
                                LayerWorkspaceMgr mgr) {
        int n = geo.batch();
        int spatial = geo.inPositions();
        float[] xb = lb.x; // the input copy is no longer needed: the mantissas and scales hold the BFP input
        for (int img = 0; img < n; img++) {
            for (int pos = 0; pos < spatial; pos++) {
                int row = img * spatial + pos;
                for (int c = 0; c < nIn; c++) {
                    float v = mant[row * cp + c] * scale[row * nb + c / bs];
                    xb[nhwc ? row * nIn + c : (img * nIn + c) * spatial + pos] = v;
                }
            }
        }
        int len = n * geo.outPositions() * nOut;
        float[] z = lb.z = grow(lb.z, len);
        fp32Conv.forward(xb, geo, z);
        return wrap(z, len, n, geo.outH(), geo.outW(), mgr);
    }

    /** The {@link EngineOptions.Stem#DOUBLE} route ({@link DirectStemConv}). */
    private INDArray directOutput(ConvGeometry geo, byte[] mant, float[] scale, LayerBuffers lb,
                                  LayerWorkspaceMgr mgr) {
        int n = geo.batch();
        int len = n * geo.outPositions() * nOut;
        float[] z = lb.z = grow(lb.z, len);
        directStem.forward(geo, mant, scale, z);
        return wrap(z, len, n, geo.outH(), geo.outW(), mgr);
    }

    /** Positions per block of the NCHW transposition (rows of {@code y} that stay in cache). */
    private static final int TRANSPOSE_POSITIONS = 64;

    /** CDS and bias, rounded once to float, in the layer's data format in a new activations array. */
    private INDArray output(int n, int oh, int ow, double[] y, float[] yf, float[] ylo, double[] xsum,
                            LayerBuffers lb, LayerWorkspaceMgr mgr) {
        int spatial = oh * ow;
        int len = n * spatial * nOut;
        float[] z = lb.z = grow(lb.z, len);
        double[] gammas = gamma == null ? null : gamma.toDoubles();
        double[] deltas = delta == null ? null : delta.toDoubles();
        double[] biases = bias == null ? null : bias.toDoubles();
        boolean corrections = gammas != null || biases != null;
        FusedBatchNorm.Params bn = fusedBn == null ? null : fusedBn.params();
        int blocks = ceilDiv(spatial, TRANSPOSE_POSITIONS);
        if (nativePath != null) {
            // Double sums: CDS, bias, one rounding, layout and batch normalization in one native pass.
            Workers.run(n * blocks, t -> {
                int pos0 = (t % blocks) * TRANSPOSE_POSITIONS;
                NativeKernels.epilogue(nhwc, nOut, spatial, t / blocks, pos0,
                        Math.min(spatial, pos0 + TRANSPOSE_POSITIONS), y, gammas, gammas == null ? null : deltas,
                        gammas == null ? null : xsum, biases, bn, z);
            });
            return wrap(z, len, n, oh, ow, mgr, bn == null);
        }
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
        return wrap(z, len, n, oh, ow, mgr, bn == null);
    }

    /** The fused batch normalization on positions {@code [pos0, pos1)} of image {@code img} of {@code z}. */
    private void applyBatchNorm(FusedBatchNorm.Params bn, float[] z, int img, int pos0, int pos1, int spatial) {
        if (nhwc) {
            TileBuffers b = BUFFERS.get();
            if (b.yRow.length < nOut) {
                b.yRow = new float[nOut];
                b.loRow = new float[nOut];
                b.accRow = new float[nOut];
            }
            bn.applyRows(z, (img * spatial + pos0) * nOut, pos1 - pos0, b.yRow);
        } else {
            for (int o = 0; o < nOut; o++) {
                int base = (img * nOut + o) * spatial;
                bn.applyRun(z, base + pos0, base + pos1, o);
            }
        }
    }

    /** Whether {@code a} is this kernel's fused output (batch normalization applied; {@link BatchNormFusion}). */
    boolean isFusedOutput(INDArray a) {
        return fusedBn != null && a != null && a == fusedOut;
    }

    /** The first {@code len} values of {@code z} as the layer's activations (its format and data type). */
    private INDArray wrap(float[] z, int len, int n, int oh, int ow, LayerWorkspaceMgr mgr) {
        return wrap(z, len, n, oh, ow, mgr, true);
    }

    /**
     * As above; with a fused batch normalization, applied here first if {@code bnPending}, and the result goes to
     * this kernel's own array outside every workspace.
     */
    private INDArray wrap(float[] z, int len, int n, int oh, int ow, LayerWorkspaceMgr mgr, boolean bnPending) {
        long[] shape = nhwc ? new long[] {n, oh, ow, nOut} : new long[] {n, nOut, oh, ow};
        if (fusedBn != null) {
            if (bnPending) {
                FusedBatchNorm.Params bn = fusedBn.params();
                int spatial = oh * ow;
                int blocks = ceilDiv(spatial, TRANSPOSE_POSITIONS);
                Workers.run(n * blocks, t -> applyBatchNorm(bn, z, t / blocks, (t % blocks) * TRANSPOSE_POSITIONS,
                        Math.min(spatial, (t % blocks + 1) * TRANSPOSE_POSITIONS), spatial));
            }
            INDArray out = fusedOut;
            if (out == null || !java.util.Arrays.equals(out.shape(), shape)) {
                try (MemoryWorkspace ignored = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                    out = Nd4j.createUninitializedDetached(DataType.FLOAT, shape);
                }
                fusedOut = out;
            }
            out.data().asNioFloat().put(z, 0, len);
            return out;
        }
        INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, shape, 'c');
        out.data().asNioFloat().put(z, 0, len);
        DataType dt = runtime.getParam(Q_KEY).dataType();
        return dt == DataType.FLOAT ? out : out.castTo(dt);
    }
}
