package io.github.dsconv.engine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * The integer engine's native fused block-scaled convolution kernel ({@code src/main/native/dsconv_kernels.c}, built
 * by the Maven build with the machine's gcc into the jar as {@code native/linux-x86_64/libdsconv-kernels.so}).
 *
 * <p>One call does a tile's block products and their scaling together: each block's int8 dot product stays in a
 * register and is added with one multiply-add by {@code alpha * 2^(e+1-m)} into double accumulators that stay in
 * registers across the {@code (ky, kx, block)} terms, so no int32 partial sums go to memory (the engine's oneDNN
 * route writes {@code [g x P x nOut]} int32 sums and reads them back). The terms are added in the same order and
 * are as exact as {@link Accumulation#DOUBLE}'s Java epilogue, so its results are bit-identical to it.
 *
 * <p>Paths, chosen at run time from the CPU's features: {@link Path#AVX512_VNNI} ({@code vpdpbusd}),
 * {@link Path#AVX2} ({@code vpmaddwd}) and {@link Path#PORTABLE} (plain C). The system property
 * {@value #PROPERTY} chooses: {@code auto} (default: the best path the CPU has), {@code off} (never: the engine's
 * Java/oneDNN route), or a path name to force a lower path ({@code avx2}, {@code portable}) for testing. When the
 * library is missing (no gcc at build time, another OS) or cannot load, {@link #available()} is false and
 * {@link #unavailableReason()} says why; the engine then runs as before.
 */
public final class NativeKernels {

    /** System property: {@code auto}, {@code off}, {@code avx512-vnni}, {@code avx2} or {@code portable}. */
    public static final String PROPERTY = "dsconv.engine.native";

    /** The library's resource inside the jar. */
    static final String RESOURCE = "/native/linux-x86_64/libdsconv-kernels.so";

    /** A code path of the native kernel, in the order the C code numbers them. */
    public enum Path {
        /** Plain C loops (any x86-64). */
        PORTABLE("portable"),
        /** AVX2 + FMA: int16 pair products ({@code vpmaddwd}), 8 outputs a vector. */
        AVX2("avx2"),
        /** AVX-512 VNNI: {@code vpdpbusd}, 16 outputs x 4 channels an instruction. */
        AVX512_VNNI("avx512-vnni");

        private final String label;

        Path(String label) {
            this.label = label;
        }

        /** The name used in the system property and JSON. */
        public String label() {
            return label;
        }
    }

    private static final Path BEST;
    private static final String REASON;

    static {
        Path best = null;
        String reason = null;
        try {
            loadLibrary();
            best = Path.values()[bestPath()];
        } catch (IOException | UnsatisfiedLinkError | SecurityException e) {
            reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        BEST = best;
        REASON = reason;
    }

    private NativeKernels() {
    }

    /** True if the native library loaded (whatever {@value #PROPERTY} says). */
    public static boolean available() {
        return BEST != null;
    }

    /** Why the library is not available, or null if it is. */
    public static String unavailableReason() {
        return REASON;
    }

    /** The best path this CPU runs, or null without the library. */
    public static Path best() {
        return BEST;
    }

    /**
     * The path the engine should use under {@value #PROPERTY}, or null for none (property {@code off}, or no
     * library). A forced path above the CPU's best is lowered to the best.
     *
     * @throws IllegalArgumentException for an unknown property value
     */
    public static Path selected() {
        String v = System.getProperty(PROPERTY);
        String s = v == null || v.isBlank() ? "auto" : v.trim().toLowerCase(Locale.ROOT);
        if (s.equals("off")) {
            return null;
        }
        if (s.equals("auto")) {
            return BEST;
        }
        for (Path p : Path.values()) {
            if (p.label.equals(s)) {
                return BEST == null ? null : Path.values()[Math.min(p.ordinal(), BEST.ordinal())];
            }
        }
        throw new IllegalArgumentException("unknown " + PROPERTY + " '" + v
                + "' (expected auto, off, avx512-vnni, avx2 or portable)");
    }

    /**
     * The path that runs blocks of {@code kb} channels when {@code path} is asked for: VNNI needs a multiple of 4
     * channels and AVX2 an even count of at most 256; otherwise a lower path.
     */
    static Path pathFor(Path path, int kb) {
        return Path.values()[pathFor(path.ordinal(), kb)];
    }

    /**
     * Weights {@code w [g][kb][nOut]} (int8, row-major) in the layout {@code path} reads (VNNI: 16 outputs x 4
     * channels interleaved, plus 128 x the column sums; AVX2: int16 pairs; portable: as given), packed once when a
     * layer is prepared. {@code path} must be {@link #pathFor}'s answer for {@code kb}.
     */
    static PackedLayer pack(Path path, int g, int kb, int nOut, byte[] w) {
        if (w.length < (long) g * kb * nOut) {
            throw new IllegalArgumentException("pack: " + w.length + " weights for g=" + g + ", kb=" + kb + ", nOut="
                    + nOut);
        }
        long per = packedBytesPerBlock(path.ordinal(), kb, nOut);
        byte[] out = new byte[Math.toIntExact(per * g)];
        pack(path.ordinal(), g, kb, nOut, w, out);
        return new PackedLayer(path, g, kb, nOut, per, out);
    }

    /**
     * A layer's weights packed for one path.
     *
     * @param path     the path they are packed for
     * @param g        {@code (ky, kx, block)} terms
     * @param kb       channels a block (padded)
     * @param nOut     outputs
     * @param perBlock bytes a term
     * @param data     the packed bytes ({@code g * perBlock}); resident while the layer is on the engine
     */
    record PackedLayer(Path path, int g, int kb, int nOut, long perBlock, byte[] data) {
    }

    /**
     * {@code y[yOffset + pi * nOut + o] += sum over gi in [g0, g0 + gc) of (alpha[gi][o] * sc[gi][pi]) *
     * dot(src[gi][pi], w[gi][.][o]) (+ beta[gi][o] * sc[gi][pi] * msum[gi][pi] when {@code beta} is given)}, in
     * ascending {@code gi}, skipping terms with {@code sc == 0}: {@code src [gc][pc][kb]}, {@code sc, msum [gc][pc]},
     * {@code alpha, beta [gc][nOut]} (indexed from this call's first term), all row-major. {@code unsignedSrc}: every
     * source byte is in {@code [0, 127]} (the result is the same either way; VNNI skips its +128 shift).
     */
    static void fused(PackedLayer w, int g0, int gc, int pc, boolean unsignedSrc, byte[] src, float[] sc,
                      float[] alpha, float[] beta, int[] msum, double[] y, int yOffset) {
        int kb = w.kb();
        int nOut = w.nOut();
        if (g0 < 0 || gc < 1 || g0 + gc > w.g() || src.length < (long) gc * pc * kb || sc.length < gc * pc
                || alpha.length < gc * nOut || (beta != null && (beta.length < gc * nOut || msum == null
                || msum.length < gc * pc)) || yOffset < 0 || y.length < yOffset + (long) pc * nOut) {
            throw new IllegalArgumentException("fused kernel: terms [" + g0 + ", " + (g0 + gc) + ") of " + w.g()
                    + ", pc=" + pc + ", kb=" + kb + ", nOut=" + nOut + ": an array is too short");
        }
        fused(w.path().ordinal(), gc, pc, kb, nOut, unsignedSrc, src, w.data(), g0 * w.perBlock(), sc, alpha, beta,
                msum, y, yOffset);
    }

    /**
     * Max or average pooling of the NCHW planes {@code [from, to)} of {@code x} ({@code h x w} each) into {@code out}
     * ({@code oh x ow} each), window {@code kh x kw}, strides, top/left padding and dilations as given: the taps inside
     * the input, max from {@code -Float.MAX_VALUE} with a strict {@code >}, or their float sum divided by the taps
     * present ({@code dividePresent}) or by {@code kh * kw}; the arithmetic of {@code engine.graph}'s Java pooling
     * (and libnd4j's), bit for bit. Needs the library ({@link #available()}).
     *
     * @throws IllegalArgumentException if the arrays do not hold the planes or a size is not positive
     */
    public static void pool(float[] x, float[] out, int from, int to, int h, int w, int oh, int ow, int kh, int kw,
                            int sy, int sx, int padTop, int padLeft, int dilY, int dilX, boolean avg,
                            boolean dividePresent) {
        if (from < 0 || to < from || h < 1 || w < 1 || oh < 1 || ow < 1 || kh < 1 || kw < 1 || sy < 1 || sx < 1
                || dilY < 1 || dilX < 1 || (long) to * h * w > x.length || (long) to * oh * ow > out.length) {
            throw new IllegalArgumentException("pool: planes [" + from + ", " + to + ") of " + h + "x" + w + " -> "
                    + oh + "x" + ow + " do not fit arrays of " + x.length + " and " + out.length);
        }
        pool0(x, out, from, to, h, w, oh, ow, kh, kw, sy, sx, padTop, padLeft, dilY, dilX, avg, dividePresent);
    }

    private static native void pool0(float[] x, float[] out, int from, int to, int h, int w, int oh, int ow, int kh,
                                     int kw, int sy, int sx, int pt, int pl, int dy, int dx, boolean avg,
                                     boolean dividePresent);

    /**
     * A tile's block operands, exactly as {@link TileGather#gather} copies them (with one copy of each block, as the
     * native route reads them): for terms {@code [g0, g0 + gc)} and the {@code pc} positions whose image and top-left
     * input pixel are {@code pImg, pY, pX}, the block's mantissas into {@code src [gc][pc][kb]}, its scale into
     * {@code sc [gc][pc]} and (unless null) the mantissa sum into {@code msum [gc][pc]}; zeros and scale 0 in the
     * padding. {@code mant [n * h * w][cp]}, {@code scale [n * h * w][nb]}.
     */
    static void gather(int g0, int gc, int pc, int[] pImg, int[] pY, int[] pX, int h, int w, int dilY, int dilX,
                       int kw, int nb, int kb, int cp, byte[] mant, float[] scale, byte[] src, float[] sc,
                       int[] msum) {
        long rows = (long) gc * pc;
        if (g0 < 0 || gc < 1 || pc < 1 || pImg.length < pc || pY.length < pc || pX.length < pc || kb < 1
                || cp < nb * kb || src.length < rows * kb || sc.length < rows || (msum != null && msum.length < rows)) {
            throw new IllegalArgumentException("gather: arrays do not fit terms [" + g0 + ", " + (g0 + gc) + "), "
                    + pc + " positions, kb " + kb + ", cp " + cp);
        }
        for (int pi = 0; pi < pc; pi++) {
            // Every in-range pixel must lie in mant: the C code trusts these.
            long last = (((long) pImg[pi] + 1) * h) * w;
            if (pImg[pi] < 0 || last * cp > mant.length || last * nb > scale.length) {
                throw new IllegalArgumentException("gather: position " + pi + " reads image " + pImg[pi]
                        + " outside the input");
            }
        }
        gather0(g0, gc, pc, pImg, pY, pX, h, w, dilY, dilX, kw, nb, kb, cp, mant, scale, src, sc, msum);
    }

    private static native void gather0(int g0, int gc, int pc, int[] pImg, int[] pY, int[] pX, int h, int w,
                                       int dilY, int dilX, int kw, int nb, int kb, int cp, byte[] mant,
                                       float[] scale, byte[] src, float[] sc, int[] msum);

    /**
     * Block floating point of a layer input, exactly as the integer engine's Java quantization (block exponent from
     * the largest nonzero magnitude, {@code rint(x * 2^shift)} ties to even, clamped to {@code +-(2^m - 1)}, zero
     * padding channels, scale {@code 2^-shift}, 0 for an all-zero block): NHWC positions {@code [from, to)} of image
     * {@code img}, or NCHW blocks {@code [from, to)} of it. {@code x} is {@code [n][nIn][spatial]} or
     * {@code [n][spatial][nIn]}, {@code mant [n * spatial][nb * kb]}, {@code scale [n * spatial][nb]}.
     *
     * The {@link Path#AVX512_VNNI} and {@link Path#AVX2} paths run vector versions of the NCHW case (same results
     * bit for bit).
     *
     * @return whether a mantissa is negative
     */
    static boolean quantize(Path path, boolean nhwc, float[] x, byte[] mant, float[] scale, int img, int from,
                            int to, int spatial, int nIn, int bs, int kb, int nb, int m) {
        long rows = (long) (img + 1) * spatial;
        if (img < 0 || from < 0 || from > to || to > (nhwc ? spatial : nb) || x.length < rows * nIn
                || mant.length < rows * nb * kb || scale.length < rows * nb || m < 1 || m > 7 || kb < bs && nb > 1) {
            throw new IllegalArgumentException("quantize: arrays or ranges do not fit image " + img + ", [" + from
                    + ", " + to + "), spatial " + spatial + ", nIn " + nIn + ", block " + bs + ", m " + m);
        }
        return quantize0(path.ordinal(), nhwc, x, mant, scale, img, from, to, spatial, nIn, bs, kb, nb, m);
    }

    /**
     * The output pass of positions {@code [pos0, pos1)} of image {@code img} from double sums {@code y [p][nOut]}:
     * CDS ({@code gamma * y + delta * xsum}) and bias in double, one rounding to float, then the fused batch
     * normalization {@code ((z - mean) / std) * gamma + beta} and ReLU in float, into {@code z} in NCHW or NHWC; as
     * the engine's Java output pass. {@code p = img * spatial + pos} indexes {@code xsum} and {@code z}; {@code y}'s
     * row of {@code p} is {@code p - yFirst} (0 for a whole layer's sums, the tile's first position for a tile's).
     * Null arrays are absent terms ({@code gamma}, {@code delta}, {@code xsum} together; the four
     * batch-normalization arrays together). The {@link Path#AVX512_VNNI} and {@link Path#AVX2} paths run vector
     * versions (same IEEE operations in the same order: same bits).
     */
    static void epilogue(Path path, boolean nhwc, int nOut, int spatial, int img, int pos0, int pos1, double[] y,
                         int yFirst, double[] gamma, double[] delta, double[] xsum, double[] bias,
                         FusedBatchNorm.Params bn, float[] z) {
        long first = (long) img * spatial + pos0;
        long end = (long) img * spatial + pos1;
        if (pos0 < 0 || pos0 > pos1 || pos1 > spatial || yFirst < 0 || yFirst > first
                || y.length < (end - yFirst) * nOut || z.length < end * nOut
                || (gamma == null) != (delta == null) || (gamma == null) != (xsum == null)
                || (gamma != null && (gamma.length < nOut || delta.length < nOut || xsum.length < end))
                || (bias != null && bias.length < nOut) || (bn != null && bn.mean().length < nOut)) {
            throw new IllegalArgumentException("epilogue: arrays do not fit image " + img + ", positions [" + pos0
                    + ", " + pos1 + ") of " + spatial + ", nOut " + nOut + ", y from position " + yFirst);
        }
        epilogue0(path.ordinal(), nhwc, nOut, spatial, img, pos0, pos1, y, yFirst, gamma, delta, xsum, bias,
                bn == null ? null : bn.mean(), bn == null ? null : bn.std(), bn == null ? null : bn.gamma(),
                bn == null ? null : bn.beta(), bn != null && bn.relu(), z);
    }

    private static native boolean quantize0(int path, boolean nhwc, float[] x, byte[] mant, float[] scale, int img, int from,
                                           int to, int spatial, int nIn, int bs, int kb, int nb, int m);

    private static native void epilogue0(int path, boolean nhwc, int nOut, int spatial, int img, int pos0, int pos1,
                                        double[] y, int yFirst, double[] gamma, double[] delta, double[] xsum,
                                        double[] bias, float[] mean, float[] std, float[] bnGamma, float[] bnBeta, boolean relu,
                                        float[] z);

    private static native int bestPath();

    private static native int pathFor(int path, int kb);

    private static native long packedBytesPerBlock(int path, int kb, int nOut);

    private static native void pack(int path, int g, int kb, int nOut, byte[] w, byte[] out);

    private static native void fused(int path, int gc, int pc, int kb, int nOut, boolean unsignedSrc, byte[] src,
                                     byte[] w, long wOffset, float[] sc, float[] alpha, float[] beta, int[] msum,
                                     double[] y, int yOffset);

    /** Copies the library out of the jar (a class folder works too) into a temporary file and loads it. */
    private static void loadLibrary() throws IOException {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new IOException("no native kernel for " + os + "/" + arch + " (built for linux/x86-64 only)");
        }
        try (InputStream in = NativeKernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("no " + RESOURCE + " in the class path (the build found no gcc or jni.h)");
            }
            java.nio.file.Path tmp = Files.createTempFile("libdsconv-kernels", ".so");
            try {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                System.load(tmp.toAbsolutePath().toString());
            } finally {
                // Linux keeps a loaded library mapped after its file is unlinked: nothing is left behind.
                Files.deleteIfExists(tmp);
            }
        }
    }
}
