package io.github.dsconv.engine;

import io.github.dsconv.layers.ConvGeometry;
import io.github.dsconv.layers.DSConvLayer;
import io.github.dsconv.layers.DSConvRuntime;
import io.github.dsconv.layers.InferenceKernel;
import io.github.dsconv.quant.BlockFloatingPoint;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;

import static io.github.dsconv.engine.KernelParams.hostDoubles;
import static io.github.dsconv.engine.KernelParams.hostFloats;
import static io.github.dsconv.engine.KernelParams.perBlock;
import static io.github.dsconv.engine.LayerBuffers.grow;
import static io.github.dsconv.engine.Tiling.TILE_POSITIONS;
import static io.github.dsconv.engine.Tiling.ceilDiv;
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
 *
 * <p>This class builds the layer (its {@link KernelShape}, route and resident parameters, read by
 * {@link KernelParams}) and runs it tile by tile; the steps are {@link BfpInputQuantizer} (input to mantissas and
 * scales), {@link TileGather} (a tile's blocks and weights), the GEMM, {@link BlockEpilogue} (the scaled sums) and
 * {@link OutputPass} (CDS, bias, rounding, layout, fused batch normalization).
 */
public final class IntegerConvKernel implements InferenceKernel {

    /** Largest channel count of a single-block layer that runs as {@link EngineOptions#stem()} says. */
    static final int STEM_MAX_CHANNELS = 4;

    /** Bytes of int32 accumulators per tile ({@code gc * pc * nOut * 4}). */
    static final long TILE_ACC_BYTES = 1L << 20;
    /**
     * Bytes of unpacked int8 weights per call of the native fused kernel ({@code gc * B * nOut}): it keeps no int32
     * sums, so a call can take every {@code (ky, kx, block)} of a layer up to this size and read and write each
     * output accumulator once per tile (ResNet50's largest 3x3 layer: 144 x 32 x 512 = 2.4 MB).
     */
    static final long NATIVE_WEIGHT_BYTES = 4L << 20;

    private final DSConvRuntime runtime;
    /** The layer's channels, kernel and block layout. */
    private final KernelShape shape;
    /** Most block products {@code (ky, kx, blk)} per GEMM batch of a tile. */
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
    private final BfpInputQuantizer quantizer;
    /** A tile's operands; null on a stem route. */
    private final TileGather gather;
    private final BlockEpilogue epilogue;
    private final OutputPass outputPass;

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
        KernelShape s = KernelShape.of(lc);
        this.shape = s;
        int nOut = s.nOut();
        int kb = s.kb();
        boolean narrow = s.nb() == 1 && s.nIn() <= STEM_MAX_CHANNELS;
        this.nativePath = narrow && options.stem() != EngineOptions.Stem.INTEGER || options.nativePath() == null
                ? null : NativeKernels.pathFor(options.nativePath(), kb);
        // The native kernel sums in double (as exact as Accumulation.DOUBLE, and as fast as the float sums there).
        this.floatSums = nativePath == null && options.accumulation() != Accumulation.DOUBLE;
        this.compensated = nativePath == null && options.accumulation() == Accumulation.COMPENSATED;
        int pc = TILE_POSITIONS;
        this.gcMax = (int) Math.max(1, Math.min(s.g(), nativePath != null ? NATIVE_WEIGHT_BYTES / ((long) kb * nOut)
                : TILE_ACC_BYTES / ((long) pc * nOut * 4)));

        float[] qf = hostFloats(runtime.getParam(Q_KEY));
        KernelParams.GemmWeights w = KernelParams.gemmWeights(qf, lc, s);
        EngineOptions.Stem r = narrow ? options.stem() : EngineOptions.Stem.INTEGER;
        if (r == EngineOptions.Stem.FP32 && backend != Backend.ONEDNN) {
            r = EngineOptions.Stem.DOUBLE;
        }
        this.route = r;
        this.backend = backend;
        if (r == EngineOptions.Stem.INTEGER && nativePath != null) {
            // The native route holds its own layout (speed over memory: 1 byte a weight, 2 on AVX2) and no bit-packed
            // copy; weightBytes() counts it.
            this.nativeWeights = NativeKernels.pack(nativePath, s.g(), kb, nOut, w.w());
            this.q = null;
        } else {
            this.nativeWeights = null;
            this.q = r == EngineOptions.Stem.INTEGER ? new PackedWeights(w.w(), lc.getWeightBits(), kb * nOut) : null;
        }
        if (r == EngineOptions.Stem.INTEGER) {
            this.alpha = ResidentScales.of(perBlock(hostFloats(runtime.getParam(ALPHA_KEY)), s));
            this.beta = lc.isKdsBias() ? ResidentScales.of(perBlock(hostFloats(runtime.getParam(BETA_KEY)), s)) : null;
            this.gamma = lc.isCds() ? ResidentScales.of(hostDoubles(runtime.getParam(GAMMA_KEY))) : null;
            this.delta = lc.isCds() ? ResidentScales.of(hostDoubles(runtime.getParam(DELTA_KEY))) : null;
            this.bias = lc.hasBias() ? ResidentScales.of(hostDoubles(runtime.getParam(BIAS_KEY))) : null;
            this.kRep = nativePath == null && backend == Backend.ONEDNN && w.maxAbs() > 64 ? 2 : 1;
            if (nativePath != null) {
                this.gemm = null;
            } else if (backend == Backend.ONEDNN) {
                this.gemm = new OneDnnGemm(kb * kRep, nOut, (long) gcMax * pc, gcMax);
            } else {
                this.gemm = new JavaGemm(kb, nOut);
            }
            this.gather = new TileGather(s, q, kRep);
        } else {
            // A stem route holds only its effective kernel (below): no packed q, no GEMM.
            this.alpha = null;
            this.beta = null;
            this.gamma = null;
            this.delta = null;
            this.bias = null;
            this.kRep = 1;
            this.gemm = null;
            this.gather = null;
        }
        double[] weff = r == EngineOptions.Stem.INTEGER ? null : KernelParams.effectiveKernel(runtime, qf, lc, s);
        if (r == EngineOptions.Stem.FP32) {
            float[] wf = new float[weff.length];
            for (int i = 0; i < wf.length; i++) {
                wf[i] = (float) weff[i];
            }
            this.fp32Conv = new OneDnnConv(wf, lc.hasBias() ? hostFloats(runtime.getParam(BIAS_KEY)) : null,
                    s.nIn(), nOut, s.kh(), s.kw(), s.nhwc());
        } else {
            this.fp32Conv = null;
        }
        this.directStem = r != EngineOptions.Stem.DOUBLE ? null : new DirectStemConv(weff,
                lc.hasBias() ? hostDoubles(runtime.getParam(BIAS_KEY)) : null, s.nIn(), nOut, s.kh(), s.kw(), s.cp(),
                s.nb(), s.nhwc());
        this.quantizer = new BfpInputQuantizer(s, nativePath);
        this.epilogue = new BlockEpilogue(nOut, gcMax);
        this.outputPass = new OutputPass(runtime, s, gamma, delta, bias, bn, nativePath);
    }

    /** How this layer runs: {@code INTEGER} (block products on integers), or a stem's {@code DOUBLE} or {@code FP32}. */
    public EngineOptions.Stem route() {
        return route;
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
            return (long) per * shape.nOut() * shape.nIn() * shape.kh() * shape.kw()
                    + (runtime.layerConf().hasBias() ? (long) per * shape.nOut() : 0);
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

    /** Whether {@code a} is this kernel's fused output (batch normalization applied; {@link BatchNormFusion}). */
    boolean isFusedOutput(INDArray a) {
        return outputPass.isFusedOutput(a);
    }

    @Override
    public INDArray preOutput(INDArray input, LayerWorkspaceMgr mgr) {
        ConvGeometry geo = runtime.geometry(input);
        LayerBuffers lb = LayerBuffers.get();
        float[] x = lb.x = BfpInputQuantizer.hostFloats(input, lb.x);
        int len = geo.batch() * geo.outPositions() * shape.nOut();
        float[] z = lb.z = grow(lb.z, len);
        boolean bnApplied = compute(x, geo, z);
        return outputPass.wrap(z, len, geo.batch(), geo.outH(), geo.outW(), mgr, !bnApplied);
    }

    /**
     * The layer on a plain float input, for whole-network execution ({@code engine.graph.ExecutionPlan}): {@code x}
     * holds {@code geo.batch()} images in the layer's format (it is read, never written), and {@code z} receives the
     * {@code batch * outH * outW * nOut} outputs in that format, with a fused batch normalization applied. The same
     * arithmetic as {@link #preOutput}, without its input copy and output array.
     */
    public void forward(float[] x, ConvGeometry geo, float[] z) {
        if (!compute(x, geo, z)) {
            outputPass.applyPendingBatchNorm(z, geo.batch(), geo.outPositions());
        }
    }

    /** The shape of this layer's output for input geometry {@code geo}, in the layer's format. */
    public long[] outputShape(ConvGeometry geo) {
        return shape.nhwc() ? new long[] {geo.batch(), geo.outH(), geo.outW(), shape.nOut()}
                : new long[] {geo.batch(), shape.nOut(), geo.outH(), geo.outW()};
    }

    /**
     * Quantizes {@code x} and computes the layer into {@code z}; returns whether a fused batch normalization has been
     * applied already (the stem routes leave it to the caller).
     */
    private boolean compute(float[] x, ConvGeometry geo, float[] z) {
        int n = geo.batch();
        int h = geo.height();
        int wd = geo.width();
        int nOut = shape.nOut();
        LayerBuffers lb = LayerBuffers.get();
        byte[] mant = lb.mant = grow(lb.mant, n * h * wd * shape.cp());
        float[] scale = lb.scale = grow(lb.scale, n * h * wd * shape.nb());
        boolean u8 = quantizer.quantizeAll(x, n, h * wd, mant, scale);

        int oh = geo.outH();
        int ow = geo.outW();
        int total = n * oh * ow;
        if (fp32Conv != null) {
            outputPass.fp32Output(fp32Conv, geo, mant, scale, lb, z);
            return false;
        }
        if (directStem != null) {
            directStem.forward(geo, mant, scale, z);
            return false;
        }
        // Each tile zeroes its own rows of y (and xsum) before it adds to them. The native route keeps a tile's sums
        // in a per-thread tile buffer and runs the output pass on them right away, while they are in cache: a layer's
        // double sums in memory were twice the size of its output, written once and read once.
        boolean nativeTiles = nativePath != null;
        double[] y = floatSums || nativeTiles ? null : (lb.y = grow(lb.y, total * nOut));
        OutputPass.NativeTerms terms = nativeTiles ? outputPass.nativeTerms() : null;
        float[] yf = floatSums ? (lb.yf = grow(lb.yf, total * nOut)) : null;
        float[] ylo = compensated ? (lb.ylo = grow(lb.ylo, total * nOut)) : null;
        double[] xsum = delta == null ? null : (lb.xsum = grow(lb.xsum, total));
        // Tiles of at most TILE_POSITIONS, as many as a multiple of the worker count, of near-equal size: with
        // 392 positions (7x7 at batch 8) two workers get 196 each rather than 256 and 136.
        int tiles = ceilDiv(ceilDiv(total, TILE_POSITIONS), Workers.count()) * Workers.count();
        int pcMax = Math.max(1, ceilDiv(total, tiles));
        Workers.run(ceilDiv(total, pcMax), t -> tile(t * pcMax, Math.min(pcMax, total - t * pcMax), geo, mant, scale,
                u8, y, yf, ylo, xsum, terms, nativeTiles ? z : null));
        if (!nativeTiles) {
            outputPass.output(n, oh * ow, y, yf, ylo, xsum, z);
        }
        return true;
    }

    /**
     * Output positions {@code [p0, p0 + pc)}: every {@code g} chunk gathered, multiplied and accumulated;
     * {@code unsignedSrc} if no mantissa is negative (see {@link Int8BatchedGemm#multiply}). On the native route
     * ({@code terms} and {@code z} given, {@code y} null) the sums go to a tile buffer and the tile's output pass
     * writes {@code z}.
     */
    private void tile(int p0, int pc, ConvGeometry geo, byte[] mant, float[] scale, boolean unsignedSrc, double[] y,
                      float[] yf, float[] ylo, double[] xsum, OutputPass.NativeTerms terms, float[] z) {
        int nOut = shape.nOut();
        int g = shape.g();
        TileBuffers b = TileBuffers.get();
        b.reserve(gcMax, pc, shape.kb() * kRep, nOut, nativePath == null && yf == null, yf != null,
                nativePath == null);
        boolean needSums = beta != null || delta != null;
        double[] ytile = null;
        if (terms != null) {
            ytile = b.yTile = LayerBuffers.grow(b.yTile, pc * nOut);
            java.util.Arrays.fill(ytile, 0, pc * nOut, 0.0);
        } else if (yf != null) {
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
        TileGather.positions(p0, pc, geo, b.pImg, b.pY, b.pX);
        for (int g0 = 0; g0 < g; g0 += gcMax) {
            int gc = Math.min(gcMax, g - g0);
            if (nativePath != null) {
                // The same copy in C: a Java arraycopy per 32-byte block cost about a tenth of ResNet-50's time.
                NativeKernels.gather(g0, gc, pc, b.pImg, b.pY, b.pX, geo.height(), geo.width(), geo.dilY(),
                        geo.dilX(), shape.kw(), shape.nb(), shape.kb(), shape.cp(), mant, scale, b.src, b.sc,
                        needSums ? b.msum : null);
            } else {
                gather.gather(g0, gc, pc, b.pImg, b.pY, b.pX, geo, mant, scale, b.src, b.sc,
                        needSums ? b.msum : null);
            }
            if (nativePath != null) {
                alpha.decode(g0 * nOut, gc * nOut, b.alpha);
                if (beta != null) {
                    beta.decode(g0 * nOut, gc * nOut, b.beta);
                }
                NativeKernels.fused(nativeWeights, g0, gc, pc, unsignedSrc, b.src, b.sc, b.alpha,
                        beta == null ? null : b.beta, needSums ? b.msum : null, ytile, 0);
                if (xsum != null) {
                    BlockEpilogue.addWindowSums(gc, p0, pc, b.sc, b.msum, xsum);
                }
                continue;
            }
            gather.unpackWeights(g0, gc, b.wei);
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
                epilogue.addFloat(b, gc, p0, pc, needSums ? b.msum : null, beta != null, yf, ylo, xsum);
            } else {
                epilogue.addDouble(gc, p0, pc, b.sc, needSums ? b.msum : null, b.acc, b.alpha,
                        beta == null ? null : b.beta, y, xsum);
            }
        }
        if (terms != null) {
            outputPass.nativeTile(terms, p0, pc, geo.outH() * geo.outW(), ytile, xsum, z);
        }
    }
}
