/*
 * The integer engine's fused block-scaled convolution kernel (DSConv, Nascimento et al., ICCV 2019, section 3;
 * docs/method.md "Integer engine"). For a tile of output positions and a run of g = (ky, kx, block) terms:
 *
 *   y[p][o] += sum_g  (double)(alpha[g][o] * s[g][p]) * dot(src[g][p][0..kb), w[g][0..kb)[o])
 *                   + (double) beta[g][o] * ((double) s[g][p] * msum[g][p])          (only with beta)
 *
 * The block's int8 dot product stays in a register, is converted once and added with one multiply-add into a
 * double accumulator that also stays in registers across g: no int32 partial sums in memory (the shape of the
 * block-quantized dot products of GGML's Q4_0 x Q8_0). Every product above is exact in double (s is a power of two,
 * alpha a float, the dot product below 2^24), so fused multiply-adds and plain ones give the same result, and the
 * terms of each y[p][o] are added in ascending g, alpha term before beta term, exactly as the Java epilogue does:
 * the result is bit-identical to IntegerConvKernel's double accumulation (tested). A term whose s is 0 (an all-zero
 * or padding block) is skipped, as there, so even the sign of a zero agrees.
 *
 * Three paths, chosen at run time by the CPU's features: AVX-512 VNNI (vpdpbusd: 16 outputs x 4 channels per
 * instruction), AVX2 (vpmaddwd on int16: 8 outputs x 2 channels) and portable C. Built by the Maven build with the
 * machine's gcc (src/main/native/build.sh); without it the engine keeps its Java/oneDNN path.
 */
#include <jni.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>
#include <math.h>
#include <float.h>

enum { PATH_PORTABLE = 0, PATH_AVX2 = 1, PATH_AVX512_VNNI = 2 };

/* The AVX2 path's largest block (its int16 copy of a source row lives on the stack). */
#define AVX2_MAX_KB 256

static int detect_path(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vnni")) {
        return PATH_AVX512_VNNI;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return PATH_AVX2;
    }
    return PATH_PORTABLE;
}

/* Arguments shared by the paths. src: [gc][pc][kb] int8; w: the gc weight matrices in the path's packed layout
 * (pack_weights); sc, msum: [gc][pc]; alpha, beta: [gc][nOut]; y: [pc][nOut] (added to); unsignedSrc: every source
 * byte is in [0, 127] (after a ReLU), so VNNI can read it as u8 directly. */
typedef struct {
    int gc, pc, kb, nOut, unsignedSrc;
    const int8_t *src, *w;
    const float *sc, *alpha, *beta;
    const int32_t *msum;
    double *y;
} fused_args;

static void fused_portable(const fused_args *a) {
    for (int gi = 0; gi < a->gc; gi++) {
        const int8_t *wg = a->w + (size_t) gi * a->kb * a->nOut;
        for (int pi = 0; pi < a->pc; pi++) {
            int row = gi * a->pc + pi;
            float s = a->sc[row];
            if (s == 0.0f) {
                continue;
            }
            const int8_t *x = a->src + (size_t) row * a->kb;
            double *yr = a->y + (size_t) pi * a->nOut;
            const float *al = a->alpha + (size_t) gi * a->nOut;
            for (int o = 0; o < a->nOut; o++) {
                int32_t acc = 0;
                for (int c = 0; c < a->kb; c++) {
                    acc += (int32_t) x[c] * wg[(size_t) c * a->nOut + o];
                }
                yr[o] += (double) (al[o] * s) * (double) acc;
            }
            if (a->beta != NULL) {
                const float *be = a->beta + (size_t) gi * a->nOut;
                double xs = (double) s * a->msum[row];
                for (int o = 0; o < a->nOut; o++) {
                    yr[o] += (double) be[o] * xs;
                }
            }
        }
    }
}

/* Per-thread scratch for the repacked weights (grown, never shrunk). */
static __thread void *scratch = NULL;
static __thread size_t scratch_bytes = 0;

static void *scratch_get(size_t bytes) {
    if (bytes > scratch_bytes) {
        free(scratch);
        scratch = aligned_alloc(64, (bytes + 63) / 64 * 64);
        scratch_bytes = scratch == NULL ? 0 : bytes;
    }
    return scratch;
}

/* ------------------------------------------------------------------ AVX-512 VNNI */

/* Packed per g: [nOut/16][kb/4][16 outputs][4 channels] int8 (outputs padded with zeros), then [nOut/16][16] int32
 * holding 128 times each column sum: vpdpbusd multiplies unsigned by signed bytes, so a signed source is read as
 * x + 128 (one xor over the tile) and 128 * sum_c w[c][o] subtracted. */
static size_t vnni_bytes_per_g(int kb, int nOut) {
    size_t nob = (size_t) (nOut + 15) / 16;
    return nob * (size_t) (kb / 4) * 64 + nob * 16 * sizeof(int32_t);
}

static void vnni_pack(int g, int kb, int nOut, const int8_t *w, int8_t *out) {
    const int nob = (nOut + 15) / 16, k4 = kb / 4;
    size_t per = vnni_bytes_per_g(kb, nOut);
    for (int gi = 0; gi < g; gi++) {
        const int8_t *wg = w + (size_t) gi * kb * nOut;
        int8_t *dst = out + (size_t) gi * per;
        int32_t cs[16];
        for (int ob = 0; ob < nob; ob++) {
            for (int l = 0; l < 16; l++) {
                int o = ob * 16 + l;
                int32_t sum = 0;
                for (int c = 0; c < kb; c++) {
                    int8_t v = o < nOut ? wg[(size_t) c * nOut + o] : 0;
                    dst[((size_t) ob * k4 + c / 4) * 64 + l * 4 + (c % 4)] = v;
                    sum += v;
                }
                cs[l] = 128 * sum;
            }
            memcpy(dst + (size_t) nob * k4 * 64 + (size_t) ob * 64, cs, sizeof(cs));
        }
    }
}

/* One (g, position, 16 outputs) term into the double accumulators: y += (alpha * s) * acc for the block's int32
 * dot product acc (the u8 shift's correction is already in it), computed as fma(alpha * acc, s, y) with alpha
 * converted to double once per term and output block: alpha has at most 24 significant bits and |acc| < 2^20, so
 * alpha * acc is exact in double, and s is a power of two, so the fma adds exactly (alpha * s) * acc, the same
 * value the Java epilogue adds (bit-identical). Then the KDS shift term. Skipped when s = 0. */
__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vl,avx512dq,fma"), always_inline))
static inline void vnni_term(__m512i acc, __m512d alo, __m512d ahi, __m512 beta, int hasBeta, float s, int32_t ms,
                             __m512d *ylo, __m512d *yhi) {
    if (s == 0.0f) {
        return;
    }
    __m512d sd = _mm512_set1_pd((double) s);
    *ylo = _mm512_fmadd_pd(_mm512_mul_pd(alo, _mm512_cvtepi32_pd(_mm512_castsi512_si256(acc))), sd, *ylo);
    *yhi = _mm512_fmadd_pd(_mm512_mul_pd(ahi, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1))), sd, *yhi);
    if (hasBeta) {
        __m512d xs = _mm512_set1_pd((double) s * ms);
        *ylo = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(beta)), xs, *ylo);
        *yhi = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(beta, 1)), xs, *yhi);
    }
}

/* Register block: PB positions x OB blocks of 16 outputs, all g of the call. Each weight vector loaded serves PB
 * products and each broadcast source quad OB; PB * OB int32 accumulators and 2 * PB * OB double ones stay in
 * registers (4 x 2: 8 + 16 of the 32 zmm). */
#define VNNI_PB 4
#define VNNI_OB 2

__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vl,avx512dq,fma")))
static void vnni_block(const fused_args *a, const uint8_t *xu, int nob, int ob0, int obn, int p0, int pn) {
    const int kb = a->kb, nOut = a->nOut, pc = a->pc, k4 = kb / 4;
    const size_t per = vnni_bytes_per_g(kb, nOut);
    const __m512i zero = _mm512_setzero_si512();
    __m512d ylo[VNNI_PB][VNNI_OB], yhi[VNNI_PB][VNNI_OB];
    __mmask16 m16[VNNI_OB];
    /* Positions past pn and output blocks past obn are computed on repeated data and never stored: every loop
     * below has constant bounds, so gcc unrolls it and keeps the accumulators in registers. */
#pragma GCC unroll 2
    for (int j = 0; j < VNNI_OB; j++) {
        int o0 = (ob0 + j) * 16;
        int lanes = j >= obn ? 0 : (nOut - o0 < 16 ? nOut - o0 : 16);
        m16[j] = (__mmask16) ((1u << lanes) - 1u);
#pragma GCC unroll 4
        for (int i = 0; i < VNNI_PB; i++) {
            __mmask16 m = i < pn ? m16[j] : 0;
            double *yr = a->y + (size_t) (p0 + (i < pn ? i : 0)) * nOut + (j < obn ? o0 : ob0 * 16);
            ylo[i][j] = _mm512_maskz_loadu_pd((__mmask8) (m & 0xff), yr);
            yhi[i][j] = _mm512_maskz_loadu_pd((__mmask8) (m >> 8), yr + 8);
        }
    }
    const uint8_t *xrow[VNNI_PB];
    for (int gi = 0; gi < a->gc; gi++) {
        __m512i acc[VNNI_PB][VNNI_OB];
        float s[VNNI_PB];
        int32_t ms[VNNI_PB];
        const int8_t *wgp = a->w + (size_t) gi * per;
        const int32_t *corr = (const int32_t *) (wgp + (size_t) nob * k4 * 64);
        /* A signed source is read as x + 128: each accumulator starts at -128 * colsum(q) instead of 0. */
        __m512i start[VNNI_OB];
#pragma GCC unroll 2
        for (int j = 0; j < VNNI_OB; j++) {
            start[j] = a->unsignedSrc ? zero : _mm512_sub_epi32(zero,
                    _mm512_loadu_si512((const void *) (corr + (size_t) (ob0 + (j < obn ? j : 0)) * 16)));
        }
#pragma GCC unroll 4
        for (int i = 0; i < VNNI_PB; i++) {
            int row = gi * pc + p0 + (i < pn ? i : 0);
            xrow[i] = xu + (size_t) row * kb;
            s[i] = i < pn ? a->sc[row] : 0.0f;
            ms[i] = a->msum != NULL ? a->msum[row] : 0;
#pragma GCC unroll 2
            for (int j = 0; j < VNNI_OB; j++) {
                acc[i][j] = start[j];
            }
        }
        const int8_t *w0 = wgp + (size_t) ob0 * k4 * 64;
        const int8_t *w1 = obn > 1 ? w0 + (size_t) k4 * 64 : w0;
        for (int k = 0; k < k4; k++) {
            __m512i wk0 = _mm512_loadu_si512((const void *) (w0 + (size_t) k * 64));
            __m512i wk1 = _mm512_loadu_si512((const void *) (w1 + (size_t) k * 64));
#pragma GCC unroll 4
            for (int i = 0; i < VNNI_PB; i++) {
                int32_t quad;
                memcpy(&quad, xrow[i] + 4 * k, 4);
                __m512i xv = _mm512_set1_epi32(quad);
                acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], xv, wk0);
                acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], xv, wk1);
            }
        }
#pragma GCC unroll 2
        for (int j = 0; j < VNNI_OB; j++) {
            size_t at = (size_t) gi * nOut + (size_t) (ob0 + (j < obn ? j : 0)) * 16;
            __m512 al = _mm512_maskz_loadu_ps(m16[j], a->alpha + at);
            __m512d alo = _mm512_cvtps_pd(_mm512_castps512_ps256(al));
            __m512d ahi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(al, 1));
            __m512 be = a->beta != NULL ? _mm512_maskz_loadu_ps(m16[j], a->beta + at) : _mm512_setzero_ps();
#pragma GCC unroll 4
            for (int i = 0; i < VNNI_PB; i++) {
                vnni_term(acc[i][j], alo, ahi, be, a->beta != NULL, s[i], ms[i], &ylo[i][j], &yhi[i][j]);
            }
        }
    }
#pragma GCC unroll 2
    for (int j = 0; j < VNNI_OB; j++) {
#pragma GCC unroll 4
        for (int i = 0; i < VNNI_PB; i++) {
            if (i < pn && j < obn) {
                double *yr = a->y + (size_t) (p0 + i) * nOut + (size_t) (ob0 + j) * 16;
                _mm512_mask_storeu_pd(yr, (__mmask8) (m16[j] & 0xff), ylo[i][j]);
                _mm512_mask_storeu_pd(yr + 8, (__mmask8) (m16[j] >> 8), yhi[i][j]);
            }
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni,avx512vl,avx512dq,fma")))
static int fused_vnni(const fused_args *a) {
    const int kb = a->kb, gc = a->gc, pc = a->pc;
    const int nob = (a->nOut + 15) / 16;
    const uint8_t *xu = (const uint8_t *) a->src;
    if (!a->unsignedSrc) {
        size_t xBytes = (size_t) gc * pc * kb;
        uint8_t *buf = (uint8_t *) scratch_get(xBytes);
        if (buf == NULL) {
            return -1;
        }
        /* Explicit vectors: gcc -O2 leaves this byte loop scalar, and it was a fifth of a 64-output layer's time. */
        const __m512i flip = _mm512_set1_epi8((char) 0x80);
        size_t i = 0;
        for (; i + 64 <= xBytes; i += 64) {
            _mm512_storeu_si512((void *) (buf + i),
                    _mm512_xor_si512(_mm512_loadu_si512((const void *) (a->src + i)), flip));
        }
        for (; i < xBytes; i++) {
            buf[i] = (uint8_t) (a->src[i] ^ 0x80);
        }
        xu = buf;
    }
    for (int ob = 0; ob < nob; ob += VNNI_OB) {
        int obn = nob - ob < VNNI_OB ? nob - ob : VNNI_OB;
        for (int p = 0; p < pc; p += VNNI_PB) {
            vnni_block(a, xu, nob, ob, obn, p, pc - p < VNNI_PB ? pc - p : VNNI_PB);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ AVX2 */

/* Packed per g: int8 [nOut/8][kb/2][8 outputs][2 channels], sign-extended to int16 as loaded; vpmaddwd multiplies
 * int16 pairs and adds them into int32 exactly (|x|, |w| <= 128), so signed sources need no shift. */
static size_t avx2_bytes_per_g(int kb, int nOut) {
    return (size_t) ((nOut + 7) / 8) * (size_t) (kb / 2) * 16;
}

static void avx2_pack(int g, int kb, int nOut, const int8_t *w, int8_t *out) {
    const int nob = (nOut + 7) / 8, k2 = kb / 2;
    size_t per = avx2_bytes_per_g(kb, nOut);
    for (int gi = 0; gi < g; gi++) {
        const int8_t *wg = w + (size_t) gi * kb * nOut;
        int8_t *dst = out + (size_t) gi * per;
        for (int ob = 0; ob < nob; ob++) {
            for (int l = 0; l < 8; l++) {
                int o = ob * 8 + l;
                for (int c = 0; c < kb; c++) {
                    dst[((size_t) ob * k2 + c / 2) * 16 + l * 2 + (c % 2)] = o < nOut ? wg[(size_t) c * nOut + o] : 0;
                }
            }
        }
    }
}

/* One (g, position, 8 outputs) term of the AVX2 path into its double accumulators: (alpha * s) in float (exact),
 * then fma with the converted int32 sums; then the KDS shift term. The same arithmetic as the other paths. */
__attribute__((target("avx2,fma"), always_inline))
static inline void avx2_term(__m256i acc, __m256 al, __m256 be, int hasBeta, float s, int32_t ms, __m256d *ylo,
                             __m256d *yhi) {
    __m256 scale = _mm256_mul_ps(al, _mm256_set1_ps(s));
    *ylo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(scale)),
            _mm256_cvtepi32_pd(_mm256_castsi256_si128(acc)), *ylo);
    *yhi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(scale, 1)),
            _mm256_cvtepi32_pd(_mm256_extracti128_si256(acc, 1)), *yhi);
    if (hasBeta) {
        __m256d xs = _mm256_set1_pd((double) s * ms);
        *ylo = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(be)), xs, *ylo);
        *yhi = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(be, 1)), xs, *yhi);
    }
}

/* Register block of the AVX2 path: 4 positions x 8 outputs (4 int32 and 8 double accumulators), every term of the
 * call; each weight vector loaded serves 4 positions. Positions past pn repeat the first and are not stored. */
#define AVX2_PB 4

__attribute__((target("avx2,fma")))
static void avx2_block(const fused_args *a, const int16_t *x16, int ob, int p0, int pn) {
    const int kb = a->kb, nOut = a->nOut, pc = a->pc, k2 = kb / 2;
    const size_t per = avx2_bytes_per_g(kb, nOut);
    const int o0 = ob * 8;
    const int lanes = nOut - o0 < 8 ? nOut - o0 : 8;
    __m256d ylo[AVX2_PB], yhi[AVX2_PB];
#pragma GCC unroll 4
    for (int i = 0; i < AVX2_PB; i++) {
        double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (i < pn) {
            memcpy(t, a->y + (size_t) (p0 + i) * nOut + o0, (size_t) lanes * sizeof(double));
        }
        ylo[i] = _mm256_loadu_pd(t);
        yhi[i] = _mm256_loadu_pd(t + 4);
    }
    for (int gi = 0; gi < a->gc; gi++) {
        const int16_t *xr[AVX2_PB];
        float s[AVX2_PB];
        int32_t ms[AVX2_PB];
        __m256i acc[AVX2_PB];
#pragma GCC unroll 4
        for (int i = 0; i < AVX2_PB; i++) {
            int row = gi * pc + p0 + (i < pn ? i : 0);
            xr[i] = x16 + (size_t) row * kb;
            s[i] = i < pn ? a->sc[row] : 0.0f;
            ms[i] = a->msum != NULL ? a->msum[row] : 0;
            acc[i] = _mm256_setzero_si256();
        }
        const int8_t *wb = a->w + (size_t) gi * per + (size_t) ob * k2 * 16;
        for (int k = 0; k < k2; k++) {
            __m256i w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (wb + (size_t) k * 16)));
#pragma GCC unroll 4
            for (int i = 0; i < AVX2_PB; i++) {
                int32_t pair;
                memcpy(&pair, xr[i] + 2 * k, 4);
                acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_set1_epi32(pair), w));
            }
        }
        float al[8] = {0, 0, 0, 0, 0, 0, 0, 0}, be[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(al, a->alpha + (size_t) gi * nOut + o0, (size_t) lanes * sizeof(float));
        if (a->beta != NULL) {
            memcpy(be, a->beta + (size_t) gi * nOut + o0, (size_t) lanes * sizeof(float));
        }
        __m256 alv = _mm256_loadu_ps(al), bev = _mm256_loadu_ps(be);
#pragma GCC unroll 4
        for (int i = 0; i < AVX2_PB; i++) {
            if (s[i] != 0.0f) {
                avx2_term(acc[i], alv, bev, a->beta != NULL, s[i], ms[i], &ylo[i], &yhi[i]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < AVX2_PB; i++) {
        if (i < pn) {
            double t[8];
            _mm256_storeu_pd(t, ylo[i]);
            _mm256_storeu_pd(t + 4, yhi[i]);
            memcpy(a->y + (size_t) (p0 + i) * nOut + o0, t, (size_t) lanes * sizeof(double));
        }
    }
}

/* The AVX2 path: the tile's source bytes sign-extended to int16 once (they were converted again for every block of
 * 8 outputs), then 4-position register blocks. Returns -1 without scratch memory. */
__attribute__((target("avx2,fma")))
static int fused_avx2(const fused_args *a) {
    const int kb = a->kb, pc = a->pc;
    const int nob = (a->nOut + 7) / 8;
    size_t n = (size_t) a->gc * pc * kb;
    int16_t *x16 = (int16_t *) scratch_get(n * sizeof(int16_t));
    if (x16 == NULL) {
        return -1;
    }
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256((__m256i *) (x16 + i),
                _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *) (a->src + i))));
    }
    for (; i < n; i++) {
        x16[i] = a->src[i];
    }
    for (int ob = 0; ob < nob; ob++) {
        for (int p = 0; p < pc; p += AVX2_PB) {
            avx2_block(a, x16, ob, p, pc - p < AVX2_PB ? pc - p : AVX2_PB);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ block floating point and the output pass */

/* floor(log2|v|) of a nonzero float, as BlockFloatingPoint.exponent: from the bits, subnormals through double. */
static inline int float_exponent(float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    int biased = (int) ((bits >> 23) & 0xff);
    return biased != 0 ? biased - 127 : ilogb((double) v);
}

/* 2^k as a double for |k| <= 1022, without a libm call. */
static inline double pow2d(int k) {
    uint64_t bits = (uint64_t) (k + 1023) << 52;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

/* The block's scale 2^-shift as a float, exactly (float) ldexp(1.0, -shift): subnormal, 0 or inf outside the
 * normal range, as the cast gives. */
static inline float scale_of(int shift) {
    return shift >= -126 && shift <= 126 ? (float) pow2d(-shift) : (float) ldexp(1.0, -shift);
}

/* NCHW: from each position's largest magnitude (float bits without sign, amax) the multiplier up = 2^shift that
 * puts the block's top exponent at m - 1 (0 for an all-zero block) and the block's scale 2^-shift. shift lies in
 * [m - 128, m + 148]: a normal double. */
static void block_scales(const int32_t *amax, double *up, float *scale, int img, int spatial, int nb, int blk,
                         int m) {
    for (int pos = 0; pos < spatial; pos++) {
        size_t row = (size_t) img * spatial + pos;
        if (amax[pos] == 0) {
            up[pos] = 0.0;
            scale[row * nb + blk] = 0.0f;
        } else {
            float f;
            memcpy(&f, &amax[pos], 4);
            int shift = (m - 1) - float_exponent(f);
            up[pos] = pow2d(shift);
            scale[row * nb + blk] = scale_of(shift);
        }
    }
}

/* NCHW: the largest magnitude (float bits without sign) over channels [c0, c1) at positions [from, spatial), one
 * position at a time: the vector quantizations' remainder. */
static void amax_tail(const float *x, int32_t *amax, int img, int nIn, int spatial, int c0, int c1, int from) {
    for (int pos = from; pos < spatial; pos++) {
        int32_t a = 0;
        for (int c = c0; c < c1; c++) {
            int32_t b;
            memcpy(&b, x + ((size_t) img * nIn + c) * spatial + pos, 4);
            b &= 0x7fffffff;
            a = b > a ? b : a;
        }
        amax[pos] = a;
    }
}

/* The vector quantizations' [channel][16 positions] mantissas into pn rows of cp bytes starting at the block's first
 * channel in row (channels past width zero up to kb). */
static void write_rows(int8_t (*tmp)[16], int8_t *row, int pn, int cp, int width, int kb) {
    for (int i = 0; i < pn; i++) {
        int8_t *mr = row + (size_t) i * cp;
        for (int c = 0; c < width; c++) {
            mr[c] = tmp[c][i];
        }
        memset(mr + width, 0, (size_t) (kb - width));
    }
}

/* One mantissa as BfpInputQuantizer (the Java route): rint(x * 2^shift) (ties to even: the default rounding mode), clamped
 * to [-hi, hi]. Sets *negative when it is below zero. */
static inline int8_t mantissa(float x, double up, double hi, int *negative) {
    double v = nearbyint((double) x * up);
    if (v < 0) {
        *negative = 1;
    }
    return (int8_t) (v < -hi ? -hi : v > hi ? hi : v);
}

/* NHWC: positions [pos0, pos1) of image img, every block. x [n][spatial][nIn]; mant [n*spatial][cp];
 * scale [n*spatial][nb]. Returns whether a mantissa is negative. */
static int quantize_nhwc(const float *x, int8_t *mant, float *scale, int img, int pos0, int pos1, int spatial,
                         int nIn, int bs, int kb, int nb, int m) {
    const int cp = nb * kb;
    const double hi = (double) ((1 << m) - 1);
    int negative = 0;
    for (int pos = pos0; pos < pos1; pos++) {
        size_t row = (size_t) img * spatial + pos;
        const float *xr = x + row * nIn;
        int8_t *mr = mant + row * cp;
        for (int blk = 0; blk < nb; blk++) {
            int c0 = blk * bs;
            int c1 = c0 + (bs < nIn - c0 ? bs : nIn - c0);
            int e = INT32_MIN;
            for (int c = c0; c < c1; c++) {
                if (xr[c] != 0.0f) {
                    int ec = float_exponent(xr[c]);
                    e = ec > e ? ec : e;
                }
            }
            if (e == INT32_MIN) {
                memset(mr + c0, 0, (size_t) kb);
                scale[row * nb + blk] = 0.0f;
                continue;
            }
            int shift = (m - 1) - e;
            double up = ldexp(1.0, shift);
            for (int c = c0; c < c1; c++) {
                mr[c] = mantissa(xr[c], up, hi, &negative);
            }
            memset(mr + c1, 0, (size_t) (c0 + kb - c1));
            scale[row * nb + blk] = (float) ldexp(1.0, -shift);
        }
    }
    return negative;
}

/* NCHW: block blk of image img, every position. x [n][nIn][spatial]. */
static int quantize_nchw(const float *x, int8_t *mant, float *scale, int img, int blk, int spatial, int nIn, int bs,
                         int kb, int nb, int m, int32_t *amax, double *up) {
    const int cp = nb * kb;
    const double hi = (double) ((1 << m) - 1);
    int negative = 0;
    int c0 = blk * bs;
    int c1 = c0 + (bs < nIn - c0 ? bs : nIn - c0);
    memset(amax, 0, sizeof(int32_t) * (size_t) spatial);
    for (int c = c0; c < c1; c++) {
        const int32_t *xc = (const int32_t *) (x + ((size_t) img * nIn + c) * spatial);
        for (int pos = 0; pos < spatial; pos++) {
            int32_t a = xc[pos] & 0x7fffffff;
            amax[pos] = a > amax[pos] ? a : amax[pos];
        }
    }
    block_scales(amax, up, scale, img, spatial, nb, blk, m);
    for (int pos = 0; pos < spatial; pos++) {
        int8_t *mr = mant + ((size_t) img * spatial + pos) * cp;
        memset(mr + c1, 0, (size_t) (c0 + kb - c1));
    }
    for (int c = c0; c < c1; c++) {
        const float *xc = x + ((size_t) img * nIn + c) * spatial;
        for (int pos = 0; pos < spatial; pos++) {
            /* up = 0 for an all-zero block: mantissa 0 */
            mant[((size_t) img * spatial + pos) * cp + c] = mantissa(xc[pos], up[pos], hi, &negative);
        }
    }
    return negative;
}

/* The output pass of positions [pos0, pos1) of image img, as OutputPass (the Java route) on double sums: CDS and bias
 * in double, one rounding to float, then the fused batch normalization ((z - mean) / std) * gamma + beta in float and
 * the ReLU, into z in the layer's layout. Compiled without contraction (-ffp-contract=off), as Java computes. */
typedef struct {
    const double *y, *gamma, *delta, *xsum, *bias;
    const float *mean, *std, *bng, *bnb;
    int relu;
    float *z;
    size_t yFirst; /* the position (img * spatial + pos) of y's first row: 0 for a layer's y, p0 for a tile's */
} epilogue_args;

static void epilogue(const epilogue_args *a, int nhwc, int nOut, int spatial, int img, int pos0, int pos1) {
    for (int pos = pos0; pos < pos1; pos++) {
        size_t p = (size_t) img * spatial + pos;
        const double *yr = a->y + (p - a->yFirst) * nOut;
        for (int o = 0; o < nOut; o++) {
            double v = yr[o];
            if (a->gamma != NULL) {
                v = a->gamma[o] * v + a->delta[o] * a->xsum[p];
            }
            if (a->bias != NULL) {
                v += a->bias[o];
            }
            float f = (float) v;
            if (a->mean != NULL) {
                f = ((f - a->mean[o]) / a->std[o]) * a->bng[o] + a->bnb[o];
                if (a->relu) {
                    f = f < 0.0f ? 0.0f : f;
                }
            }
            a->z[nhwc ? p * nOut + o : ((size_t) img * nOut + o) * spatial + pos] = f;
        }
    }
}

/* ------------------------------------------------------------------ AVX-512 quantize and epilogue */

/* Eight mantissas: rint(x * up) (ties to even; x * up is exact in double), clamped to [-hi, hi]; *neg |= any below 0
 * (a -0.0 is not), as mantissa() does one at a time. */
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl"), always_inline))
static inline __m256i mantissa8(__m256 x, __m512d up, __m512d hi, __m512d lo, __mmask8 *neg) {
    __m512d v = _mm512_roundscale_pd(_mm512_mul_pd(_mm512_cvtps_pd(x), up), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    *neg |= _mm512_cmp_pd_mask(v, _mm512_setzero_pd(), _CMP_LT_OQ);
    v = _mm512_min_pd(_mm512_max_pd(v, lo), hi);
    return _mm256_castsi128_si256(_mm512_cvtepi32_epi8(_mm512_castsi256_si512(_mm512_cvtpd_epi32(v))));
}

/* NCHW, block blk of image img, every position, as quantize_nchw: the largest magnitude per position (integer max
 * of the bits without sign), then mantissas 16 positions at a time into a small [channel][16] buffer written to
 * the [position][channel] rows. */
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
static int quantize_nchw_avx512(const float *x, int8_t *mant, float *scale, int img, int blk, int spatial, int nIn,
                                int bs, int kb, int nb, int m, int32_t *amax, double *up) {
    const int cp = nb * kb;
    const __m512d hi = _mm512_set1_pd((double) ((1 << m) - 1)), lo = _mm512_set1_pd(-(double) ((1 << m) - 1));
    __mmask8 neg = 0;
    int c0 = blk * bs;
    int c1 = c0 + (bs < nIn - c0 ? bs : nIn - c0);
    const __m512i abs = _mm512_set1_epi32(0x7fffffff);
    int pos = 0;
    for (; pos + 16 <= spatial; pos += 16) {
        __m512i mx = _mm512_setzero_si512();
        for (int c = c0; c < c1; c++) {
            const float *xc = x + ((size_t) img * nIn + c) * spatial + pos;
            mx = _mm512_max_epi32(mx, _mm512_and_si512(_mm512_loadu_si512((const void *) xc), abs));
        }
        _mm512_storeu_si512((void *) (amax + pos), mx);
    }
    amax_tail(x, amax, img, nIn, spatial, c0, c1, pos);
    block_scales(amax, up, scale, img, spatial, nb, blk, m);
    int8_t tmp[AVX2_MAX_KB][16];
    const int width = c1 - c0;
    for (pos = 0; pos < spatial; pos += 16) {
        int pn = spatial - pos < 16 ? spatial - pos : 16;
        __mmask16 pm = (__mmask16) ((1u << pn) - 1u);
        __m512d u0 = _mm512_maskz_loadu_pd((__mmask8) (pm & 0xff), up + pos);
        __m512d u1 = _mm512_maskz_loadu_pd((__mmask8) (pm >> 8), up + pos + 8);
        for (int c = c0; c < c1; c++) {
            const float *xc = x + ((size_t) img * nIn + c) * spatial + pos;
            __m512 xv = _mm512_maskz_loadu_ps(pm, xc);
            __m256i a = mantissa8(_mm512_castps512_ps256(xv), u0, hi, lo, &neg);
            __m256i b = mantissa8(_mm512_extractf32x8_ps(xv, 1), u1, hi, lo, &neg);
            _mm_storel_epi64((__m128i *) &tmp[c - c0][0], _mm256_castsi256_si128(a));
            _mm_storel_epi64((__m128i *) &tmp[c - c0][8], _mm256_castsi256_si128(b));
        }
        write_rows(tmp, mant + ((size_t) img * spatial + pos) * cp + c0, pn, cp, width, kb);
    }
    /* Lanes past the last position read zeros (x = 0, up = 0): mantissa 0, never negative. */
    return neg != 0;
}

/* As epilogue(), eight outputs at a time: the same IEEE operations in the same order (no contraction), so the same
 * bits. NCHW goes through a [16 positions][nOut] float buffer so that each output channel's 16 values are written
 * together. */
__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
static void epilogue_avx512(const epilogue_args *a, int nhwc, int nOut, int spatial, int img, int pos0, int pos1,
                            float *tmp) {
    for (int q0 = pos0; q0 < pos1; q0 += 16) {
        int qn = pos1 - q0 < 16 ? pos1 - q0 : 16;
        for (int i = 0; i < qn; i++) {
            size_t p = (size_t) img * spatial + q0 + i;
            const double *yr = a->y + (p - a->yFirst) * nOut;
            float *out = nhwc ? a->z + p * nOut : tmp + (size_t) i * nOut;
            __m512d xs = a->gamma != NULL ? _mm512_set1_pd(a->xsum[p]) : _mm512_setzero_pd();
            for (int o = 0; o < nOut; o += 8) {
                __mmask8 mk = (__mmask8) (nOut - o >= 8 ? 0xff : (1u << (nOut - o)) - 1u);
                __m512d v = _mm512_maskz_loadu_pd(mk, yr + o);
                if (a->gamma != NULL) {
                    v = _mm512_add_pd(_mm512_mul_pd(_mm512_maskz_loadu_pd(mk, a->gamma + o), v),
                            _mm512_mul_pd(_mm512_maskz_loadu_pd(mk, a->delta + o), xs));
                }
                if (a->bias != NULL) {
                    v = _mm512_add_pd(v, _mm512_maskz_loadu_pd(mk, a->bias + o));
                }
                __m256 f = _mm512_cvtpd_ps(v);
                if (a->mean != NULL) {
                    f = _mm256_div_ps(_mm256_sub_ps(f, _mm256_maskz_loadu_ps(mk, a->mean + o)),
                            _mm256_mask_loadu_ps(_mm256_set1_ps(1.0f), mk, a->std + o));
                    f = _mm256_add_ps(_mm256_mul_ps(f, _mm256_maskz_loadu_ps(mk, a->bng + o)),
                            _mm256_maskz_loadu_ps(mk, a->bnb + o));
                    if (a->relu) {
                        f = _mm256_mask_blend_ps(_mm256_cmp_ps_mask(f, _mm256_setzero_ps(), _CMP_LT_OQ), f,
                                _mm256_setzero_ps());
                    }
                }
                _mm256_mask_storeu_ps(out + o, mk, f);
            }
        }
        if (!nhwc) {
            for (int o = 0; o < nOut; o++) {
                float *zr = a->z + ((size_t) img * nOut + o) * spatial + q0;
                for (int i = 0; i < qn; i++) {
                    zr[i] = tmp[(size_t) i * nOut + o];
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ AVX2 quantize and epilogue */

/* Four mantissas as mantissa8 does eight (AVX2 + FMA machines without AVX-512); into the low 4 bytes. */
__attribute__((target("avx2,fma"), always_inline))
static inline int32_t mantissa4(__m128 x, __m256d up, __m256d hi, __m256d lo, int *neg) {
    __m256d v = _mm256_round_pd(_mm256_mul_pd(_mm256_cvtps_pd(x), up), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    *neg |= _mm256_movemask_pd(_mm256_cmp_pd(v, _mm256_setzero_pd(), _CMP_LT_OQ));
    v = _mm256_min_pd(_mm256_max_pd(v, lo), hi);
    __m128i i32 = _mm256_cvtpd_epi32(v);
    return _mm_cvtsi128_si32(_mm_packs_epi16(_mm_packs_epi32(i32, i32), _mm_setzero_si128()));
}

/* As quantize_nchw_avx512 with AVX2: 8 positions for the magnitudes, 16 for the mantissas. */
__attribute__((target("avx2,fma")))
static int quantize_nchw_avx2(const float *x, int8_t *mant, float *scale, int img, int blk, int spatial, int nIn,
                              int bs, int kb, int nb, int m, int32_t *amax, double *up) {
    const int cp = nb * kb;
    const __m256d hi = _mm256_set1_pd((double) ((1 << m) - 1)), lo = _mm256_set1_pd(-(double) ((1 << m) - 1));
    int neg = 0;
    int c0 = blk * bs;
    int c1 = c0 + (bs < nIn - c0 ? bs : nIn - c0);
    const __m256i abs = _mm256_set1_epi32(0x7fffffff);
    int pos = 0;
    for (; pos + 8 <= spatial; pos += 8) {
        __m256i mx = _mm256_setzero_si256();
        for (int c = c0; c < c1; c++) {
            const float *xc = x + ((size_t) img * nIn + c) * spatial + pos;
            mx = _mm256_max_epi32(mx, _mm256_and_si256(_mm256_loadu_si256((const __m256i *) xc), abs));
        }
        _mm256_storeu_si256((__m256i *) (amax + pos), mx);
    }
    amax_tail(x, amax, img, nIn, spatial, c0, c1, pos);
    block_scales(amax, up, scale, img, spatial, nb, blk, m);
    int8_t tmp[AVX2_MAX_KB][16];
    const int width = c1 - c0;
    for (pos = 0; pos < spatial; pos += 16) {
        int pn = spatial - pos < 16 ? spatial - pos : 16;
        double u[16];
        float xs[16];
        memset(u, 0, sizeof(u));
        memcpy(u, up + pos, sizeof(double) * (size_t) pn);
        for (int c = c0; c < c1; c++) {
            const float *xc = x + ((size_t) img * nIn + c) * spatial + pos;
            memset(xs, 0, sizeof(xs));
            memcpy(xs, xc, sizeof(float) * (size_t) pn);
            for (int q = 0; q < 16; q += 4) {
                int32_t four = mantissa4(_mm_loadu_ps(xs + q), _mm256_loadu_pd(u + q), hi, lo, &neg);
                memcpy(&tmp[c - c0][q], &four, 4);
            }
        }
        write_rows(tmp, mant + ((size_t) img * spatial + pos) * cp + c0, pn, cp, width, kb);
    }
    return neg != 0;
}

/* As epilogue_avx512 with AVX2: four outputs at a time; remainders through small buffers. */
__attribute__((target("avx2,fma")))
static void epilogue_avx2(const epilogue_args *a, int nhwc, int nOut, int spatial, int img, int pos0, int pos1,
                          float *tmp) {
    for (int q0 = pos0; q0 < pos1; q0 += 16) {
        int qn = pos1 - q0 < 16 ? pos1 - q0 : 16;
        for (int i = 0; i < qn; i++) {
            size_t p = (size_t) img * spatial + q0 + i;
            const double *yr = a->y + (p - a->yFirst) * nOut;
            float *out = nhwc ? a->z + p * nOut : tmp + (size_t) i * nOut;
            __m256d xs = a->gamma != NULL ? _mm256_set1_pd(a->xsum[p]) : _mm256_setzero_pd();
            for (int o = 0; o < nOut; o += 4) {
                int lanes = nOut - o >= 4 ? 4 : nOut - o;
                double yv[4] = {0, 0, 0, 0}, gv[4] = {0, 0, 0, 0}, dv[4] = {0, 0, 0, 0}, bv[4] = {0, 0, 0, 0};
                float mv[4] = {0, 0, 0, 0}, sv[4] = {1, 1, 1, 1}, ggv[4] = {0, 0, 0, 0}, bbv[4] = {0, 0, 0, 0};
                const int full = lanes == 4;
                __m256d v = full ? _mm256_loadu_pd(yr + o) : (memcpy(yv, yr + o, 8 * (size_t) lanes),
                        _mm256_loadu_pd(yv));
                if (a->gamma != NULL) {
                    __m256d g = full ? _mm256_loadu_pd(a->gamma + o) : (memcpy(gv, a->gamma + o, 8 * (size_t) lanes),
                            _mm256_loadu_pd(gv));
                    __m256d d = full ? _mm256_loadu_pd(a->delta + o) : (memcpy(dv, a->delta + o, 8 * (size_t) lanes),
                            _mm256_loadu_pd(dv));
                    v = _mm256_add_pd(_mm256_mul_pd(g, v), _mm256_mul_pd(d, xs));
                }
                if (a->bias != NULL) {
                    __m256d b = full ? _mm256_loadu_pd(a->bias + o) : (memcpy(bv, a->bias + o, 8 * (size_t) lanes),
                            _mm256_loadu_pd(bv));
                    v = _mm256_add_pd(v, b);
                }
                __m128 f = _mm256_cvtpd_ps(v);
                if (a->mean != NULL) {
                    if (full) {
                        f = _mm_div_ps(_mm_sub_ps(f, _mm_loadu_ps(a->mean + o)), _mm_loadu_ps(a->std + o));
                        f = _mm_add_ps(_mm_mul_ps(f, _mm_loadu_ps(a->bng + o)), _mm_loadu_ps(a->bnb + o));
                    } else {
                        memcpy(mv, a->mean + o, 4 * (size_t) lanes);
                        memcpy(sv, a->std + o, 4 * (size_t) lanes);
                        memcpy(ggv, a->bng + o, 4 * (size_t) lanes);
                        memcpy(bbv, a->bnb + o, 4 * (size_t) lanes);
                        f = _mm_div_ps(_mm_sub_ps(f, _mm_loadu_ps(mv)), _mm_loadu_ps(sv));
                        f = _mm_add_ps(_mm_mul_ps(f, _mm_loadu_ps(ggv)), _mm_loadu_ps(bbv));
                    }
                    if (a->relu) {
                        f = _mm_blendv_ps(f, _mm_setzero_ps(), _mm_cmp_ps(f, _mm_setzero_ps(), _CMP_LT_OQ));
                    }
                }
                if (full) {
                    _mm_storeu_ps(out + o, f);
                } else {
                    float fv[4];
                    _mm_storeu_ps(fv, f);
                    memcpy(out + o, fv, 4 * (size_t) lanes);
                }
            }
        }
        if (!nhwc) {
            for (int o = 0; o < nOut; o++) {
                float *zr = a->z + ((size_t) img * nOut + o) * spatial + q0;
                for (int i = 0; i < qn; i++) {
                    zr[i] = tmp[(size_t) i * nOut + o];
                }
            }
        }
    }
}

/* ------------------------------------------------------------------ JNI */

static int active_path = -1;

static int path_for(int requested) {
    if (active_path < 0) {
        active_path = detect_path();
    }
    return requested < 0 || requested > active_path ? active_path : requested;
}

/* The vector paths need whole channel groups (4 for VNNI, 2 for AVX2; the engine pads blocks to a multiple of 4
 * except for odd user block sizes) and AVX2 a block of at most AVX2_MAX_KB channels (its int16 copy of the row). */
static int path_for_block(int requested, int kb) {
    int p = path_for(requested);
    if (p == PATH_AVX512_VNNI && kb % 4 != 0) {
        p = PATH_AVX2;
    }
    if (p == PATH_AVX2 && (kb % 2 != 0 || kb > AVX2_MAX_KB)) {
        p = PATH_PORTABLE;
    }
    return p;
}

static size_t bytes_per_g(int path, int kb, int nOut) {
    switch (path) {
        case PATH_AVX512_VNNI:
            return vnni_bytes_per_g(kb, nOut);
        case PATH_AVX2:
            return avx2_bytes_per_g(kb, nOut);
        default:
            return (size_t) kb * nOut;
    }
}

JNIEXPORT jint JNICALL Java_io_github_dsconv_engine_NativeKernels_bestPath(JNIEnv *env, jclass cls) {
    (void) env;
    (void) cls;
    return path_for(-1);
}

JNIEXPORT jint JNICALL Java_io_github_dsconv_engine_NativeKernels_pathFor(JNIEnv *env, jclass cls, jint path,
        jint kb) {
    (void) env;
    (void) cls;
    return path_for_block(path, kb);
}

JNIEXPORT jlong JNICALL Java_io_github_dsconv_engine_NativeKernels_packedBytesPerBlock(JNIEnv *env, jclass cls,
        jint path, jint kb, jint nOut) {
    (void) env;
    (void) cls;
    return (jlong) bytes_per_g(path, kb, nOut);
}

/* w [g][kb][nOut] int8 into out in the layout of path (which must be path_for_block's answer for kb). */
JNIEXPORT void JNICALL Java_io_github_dsconv_engine_NativeKernels_pack(JNIEnv *env, jclass cls, jint path, jint g,
        jint kb, jint nOut, jbyteArray w, jbyteArray out) {
    (void) cls;
    jbyte *wp = (*env)->GetPrimitiveArrayCritical(env, w, NULL);
    jbyte *op = (*env)->GetPrimitiveArrayCritical(env, out, NULL);
    if (wp != NULL && op != NULL) {
        switch (path) {
            case PATH_AVX512_VNNI:
                vnni_pack(g, kb, nOut, (const int8_t *) wp, (int8_t *) op);
                break;
            case PATH_AVX2:
                avx2_pack(g, kb, nOut, (const int8_t *) wp, (int8_t *) op);
                break;
            default:
                memcpy(op, wp, (size_t) g * kb * nOut);
        }
    }
    if (op != NULL) (*env)->ReleasePrimitiveArrayCritical(env, out, op, 0);
    if (wp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, w, wp, JNI_ABORT);
}

JNIEXPORT void JNICALL Java_io_github_dsconv_engine_NativeKernels_fused(JNIEnv *env, jclass cls, jint path,
        jint gc, jint pc, jint kb, jint nOut, jboolean unsignedSrc, jbyteArray src, jbyteArray w, jlong wOffset,
        jfloatArray sc, jfloatArray alpha, jfloatArray beta, jintArray msum, jdoubleArray y, jint yOffset) {
    (void) cls;
    fused_args a;
    a.gc = gc;
    a.pc = pc;
    a.kb = kb;
    a.nOut = nOut;
    a.unsignedSrc = unsignedSrc == JNI_TRUE;
    int status = 0;
    /* Critical sections: no copies, no JNI calls until released; the kernel itself makes none. */
    jbyte *s = (*env)->GetPrimitiveArrayCritical(env, src, NULL);
    jbyte *wp = (*env)->GetPrimitiveArrayCritical(env, w, NULL);
    jfloat *scp = (*env)->GetPrimitiveArrayCritical(env, sc, NULL);
    jfloat *al = (*env)->GetPrimitiveArrayCritical(env, alpha, NULL);
    jfloat *be = beta == NULL ? NULL : (*env)->GetPrimitiveArrayCritical(env, beta, NULL);
    jint *ms = msum == NULL ? NULL : (*env)->GetPrimitiveArrayCritical(env, msum, NULL);
    jdouble *yp = (*env)->GetPrimitiveArrayCritical(env, y, NULL);
    if (s != NULL && wp != NULL && scp != NULL && al != NULL && yp != NULL && (beta == NULL || be != NULL)
            && (msum == NULL || ms != NULL)) {
        a.src = (const int8_t *) s;
        a.w = (const int8_t *) wp + wOffset;
        a.sc = scp;
        a.alpha = al;
        a.beta = be;
        a.msum = (const int32_t *) ms;
        a.y = yp + yOffset;
        switch (path) {
            case PATH_AVX512_VNNI:
                status = fused_vnni(&a);
                break;
            case PATH_AVX2:
                status = fused_avx2(&a);
                break;
            default:
                fused_portable(&a);
        }
    } else {
        status = -1;
    }
    if (yp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, y, yp, 0);
    if (ms != NULL) (*env)->ReleasePrimitiveArrayCritical(env, msum, ms, JNI_ABORT);
    if (be != NULL) (*env)->ReleasePrimitiveArrayCritical(env, beta, be, JNI_ABORT);
    if (al != NULL) (*env)->ReleasePrimitiveArrayCritical(env, alpha, al, JNI_ABORT);
    if (scp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, sc, scp, JNI_ABORT);
    if (wp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, w, wp, JNI_ABORT);
    if (s != NULL) (*env)->ReleasePrimitiveArrayCritical(env, src, s, JNI_ABORT);
    if (status != 0) {
        jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
        if (oom != NULL) {
            (*env)->ThrowNew(env, oom, "dsconv native kernel: no memory for its scratch buffer");
        }
    }
}

/* A tile's block operands, as TileGather.gather does it in Java: for terms gi in [0, gc) (g = g0 + gi, block
 * g % nb at tap g / nb) and positions pi in [0, pc): the kb mantissas of that block at the tap's input pixel into
 * src [gc][pc][kb], its scale into sc [gc][pc] and, if msum is given, the mantissa sum into msum [gc][pc]; zeros
 * (scale 0) where the tap falls in the padding. pImg/pY/pX: each position's image and top-left input pixel. */
static void gather_tile(int g0, int gc, int pc, const int32_t *pImg, const int32_t *pY, const int32_t *pX, int h,
                        int w, int dilY, int dilX, int kw, int nb, int kb, int cp, const int8_t *mant,
                        const float *scale, int8_t *src, float *sc, int32_t *msum) {
    for (int gi = 0; gi < gc; gi++) {
        int g = g0 + gi, blk = g % nb, kk = g / nb, ky = kk / kw, kx = kk % kw;
        for (int pi = 0; pi < pc; pi++) {
            int row = gi * pc + pi;
            int iy = pY[pi] + ky * dilY, ix = pX[pi] + kx * dilX;
            int8_t *dst = src + (size_t) row * kb;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                memset(dst, 0, (size_t) kb);
                sc[row] = 0.0f;
                if (msum != NULL) {
                    msum[row] = 0;
                }
                continue;
            }
            size_t at = ((size_t) pImg[pi] * h + iy) * w + ix;
            const int8_t *from = mant + at * cp + (size_t) blk * kb;
            if (kb == 32) {
                memcpy(dst, from, 32); /* a constant size: two vector moves */
            } else {
                memcpy(dst, from, (size_t) kb);
            }
            sc[row] = scale[at * nb + blk];
            if (msum != NULL) {
                int32_t sum = 0;
                for (int c = 0; c < kb; c++) {
                    sum += dst[c];
                }
                msum[row] = sum;
            }
        }
    }
}

JNIEXPORT void JNICALL Java_io_github_dsconv_engine_NativeKernels_gather0(JNIEnv *env, jclass cls, jint g0,
        jint gc, jint pc, jintArray pImg, jintArray pY, jintArray pX, jint h, jint w, jint dilY, jint dilX, jint kw,
        jint nb, jint kb, jint cp, jbyteArray mant, jfloatArray scale, jbyteArray src, jfloatArray sc,
        jintArray msum) {
    (void) cls;
    jint *pi = (*env)->GetPrimitiveArrayCritical(env, pImg, NULL);
    jint *py = (*env)->GetPrimitiveArrayCritical(env, pY, NULL);
    jint *px = (*env)->GetPrimitiveArrayCritical(env, pX, NULL);
    jbyte *mp = (*env)->GetPrimitiveArrayCritical(env, mant, NULL);
    jfloat *scl = (*env)->GetPrimitiveArrayCritical(env, scale, NULL);
    jbyte *sp = (*env)->GetPrimitiveArrayCritical(env, src, NULL);
    jfloat *scp = (*env)->GetPrimitiveArrayCritical(env, sc, NULL);
    jint *ms = msum == NULL ? NULL : (*env)->GetPrimitiveArrayCritical(env, msum, NULL);
    if (pi != NULL && py != NULL && px != NULL && mp != NULL && scl != NULL && sp != NULL && scp != NULL
            && (msum == NULL || ms != NULL)) {
        gather_tile(g0, gc, pc, (const int32_t *) pi, (const int32_t *) py, (const int32_t *) px, h, w, dilY, dilX,
                kw, nb, kb, cp, (const int8_t *) mp, scl, (int8_t *) sp, scp, (int32_t *) ms);
    }
    if (ms != NULL) (*env)->ReleasePrimitiveArrayCritical(env, msum, ms, 0);
    if (scp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, sc, scp, 0);
    if (sp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, src, sp, 0);
    if (scl != NULL) (*env)->ReleasePrimitiveArrayCritical(env, scale, scl, JNI_ABORT);
    if (mp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, mant, mp, JNI_ABORT);
    if (px != NULL) (*env)->ReleasePrimitiveArrayCritical(env, pX, px, JNI_ABORT);
    if (py != NULL) (*env)->ReleasePrimitiveArrayCritical(env, pY, py, JNI_ABORT);
    if (pi != NULL) (*env)->ReleasePrimitiveArrayCritical(env, pImg, pi, JNI_ABORT);
}

JNIEXPORT jboolean JNICALL Java_io_github_dsconv_engine_NativeKernels_quantize0(JNIEnv *env, jclass cls,
        jint path, jboolean nhwc, jfloatArray x, jbyteArray mant, jfloatArray scale, jint img, jint from, jint to,
        jint spatial, jint nIn, jint bs, jint kb, jint nb, jint m) {
    (void) cls;
    int negative = 0;
    int32_t *amax = NULL;
    double *up = NULL;
    if (!nhwc) {
        amax = (int32_t *) malloc(sizeof(int32_t) * (size_t) spatial);
        up = (double *) malloc(sizeof(double) * (size_t) spatial);
        if (amax == NULL || up == NULL) {
            free(amax);
            free(up);
            jclass oom = (*env)->FindClass(env, "java/lang/OutOfMemoryError");
            if (oom != NULL) {
                (*env)->ThrowNew(env, oom, "dsconv native kernel: no memory for quantization");
            }
            return JNI_FALSE;
        }
    }
    jfloat *xp = (*env)->GetPrimitiveArrayCritical(env, x, NULL);
    jbyte *mp = (*env)->GetPrimitiveArrayCritical(env, mant, NULL);
    jfloat *sp = (*env)->GetPrimitiveArrayCritical(env, scale, NULL);
    if (xp != NULL && mp != NULL && sp != NULL) {
        if (nhwc) {
            negative = quantize_nhwc(xp, (int8_t *) mp, sp, img, from, to, spatial, nIn, bs, kb, nb, m);
        } else {
            int p = bs <= AVX2_MAX_KB ? path_for(path) : PATH_PORTABLE;
            for (int blk = from; blk < to; blk++) {
                negative |= p == PATH_AVX512_VNNI
                        ? quantize_nchw_avx512(xp, (int8_t *) mp, sp, img, blk, spatial, nIn, bs, kb, nb, m, amax, up)
                        : p == PATH_AVX2
                        ? quantize_nchw_avx2(xp, (int8_t *) mp, sp, img, blk, spatial, nIn, bs, kb, nb, m, amax, up)
                        : quantize_nchw(xp, (int8_t *) mp, sp, img, blk, spatial, nIn, bs, kb, nb, m, amax, up);
            }
        }
    }
    if (sp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, scale, sp, 0);
    if (mp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, mant, mp, 0);
    if (xp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, x, xp, JNI_ABORT);
    free(amax);
    free(up);
    return negative ? JNI_TRUE : JNI_FALSE;
}

JNIEXPORT void JNICALL Java_io_github_dsconv_engine_NativeKernels_epilogue0(JNIEnv *env, jclass cls, jint path,
        jboolean nhwc,
        jint nOut, jint spatial, jint img, jint pos0, jint pos1, jdoubleArray y, jint yFirst, jdoubleArray gamma,
        jdoubleArray delta, jdoubleArray xsum, jdoubleArray bias, jfloatArray mean, jfloatArray std,
        jfloatArray bng, jfloatArray bnb, jboolean relu, jfloatArray z) {
    (void) cls;
    epilogue_args a;
    jdoubleArray da[5] = {y, gamma, delta, xsum, bias};
    jfloatArray fa[5] = {mean, std, bng, bnb, z};
    void *dp[5] = {NULL, NULL, NULL, NULL, NULL};
    void *fp[5] = {NULL, NULL, NULL, NULL, NULL};
    int ok = 1;
    for (int i = 0; i < 5; i++) {
        if (da[i] != NULL && (dp[i] = (*env)->GetPrimitiveArrayCritical(env, da[i], NULL)) == NULL) ok = 0;
        if (fa[i] != NULL && (fp[i] = (*env)->GetPrimitiveArrayCritical(env, fa[i], NULL)) == NULL) ok = 0;
    }
    if (ok) {
        a.y = dp[0];
        a.gamma = dp[1];
        a.delta = dp[2];
        a.xsum = dp[3];
        a.bias = dp[4];
        a.mean = fp[0];
        a.std = fp[1];
        a.bng = fp[2];
        a.bnb = fp[3];
        a.z = fp[4];
        a.relu = relu == JNI_TRUE;
        a.yFirst = (size_t) yFirst;
        float *tmp = NULL;
        int p = path_for(path);
        if (p != PATH_PORTABLE
                && (nhwc == JNI_TRUE || (tmp = (float *) scratch_get(sizeof(float) * 16 * (size_t) nOut)) != NULL)) {
            if (p == PATH_AVX512_VNNI) {
                epilogue_avx512(&a, nhwc == JNI_TRUE, nOut, spatial, img, pos0, pos1, tmp);
            } else {
                epilogue_avx2(&a, nhwc == JNI_TRUE, nOut, spatial, img, pos0, pos1, tmp);
            }
        } else {
            epilogue(&a, nhwc == JNI_TRUE, nOut, spatial, img, pos0, pos1);
        }
    }
    for (int i = 4; i >= 0; i--) {
        if (fp[i] != NULL) (*env)->ReleasePrimitiveArrayCritical(env, fa[i], fp[i], i == 4 ? 0 : JNI_ABORT);
        if (dp[i] != NULL) (*env)->ReleasePrimitiveArrayCritical(env, da[i], dp[i], JNI_ABORT);
    }
}

/*
 * Max or average pooling of NCHW planes [from, to) (ExecutionPlan's PoolStep), as libnd4j's pooling2d computes it:
 * per window the taps inside the input scanned row by row; max from -FLT_MAX with a strict > (the first of equal
 * values wins, so the zero sign matches), average as a float sum in that order divided by the taps present
 * (divide_present) or by kh * kw. Plain C: gcc keeps float arithmetic IEEE single here (-ffp-contract=off, no fast
 * math), so the result is Java's PoolStep bit for bit; it is about three times faster than the JIT's code for the
 * same loops.
 */
static void pool_planes(const float *x, float *out, int from, int to, int h, int w, int oh, int ow, int kh, int kw,
                        int sy, int sx, int pt, int pl, int dy, int dx, int avg, int divide_present) {
    for (int plane = from; plane < to; plane++) {
        const float *in = x + (size_t) plane * h * w;
        float *o = out + (size_t) plane * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            int iy0 = oy * sy - pt;
            int ky0 = iy0 >= 0 ? 0 : (-iy0 + dy - 1) / dy;
            int ky1 = iy0 >= h ? 0 : (iy0 + (kh - 1) * dy < h ? kh : (h - 1 - iy0) / dy + 1);
            for (int ox = 0; ox < ow; ox++) {
                int ix0 = ox * sx - pl;
                int kx0 = ix0 >= 0 ? 0 : (-ix0 + dx - 1) / dx;
                int kx1 = ix0 >= w ? 0 : (ix0 + (kw - 1) * dx < w ? kw : (w - 1 - ix0) / dx + 1);
                float m = avg ? 0.0f : -FLT_MAX;
                for (int ky = ky0; ky < ky1; ky++) {
                    const float *row = in + (size_t) (iy0 + ky * dy) * w + ix0;
                    if (avg) {
                        for (int kx = kx0; kx < kx1; kx++) {
                            m += row[kx * dx];
                        }
                    } else {
                        for (int kx = kx0; kx < kx1; kx++) {
                            float v = row[kx * dx];
                            m = v > m ? v : m;
                        }
                    }
                }
                if (avg) {
                    float div = divide_present ? (float) ((ky1 - ky0) * (kx1 - kx0)) : (float) (kh * kw);
                    m = m / div;
                }
                o[oy * ow + ox] = m;
            }
        }
    }
}

JNIEXPORT void JNICALL Java_io_github_dsconv_engine_NativeKernels_pool0(JNIEnv *env, jclass cls, jfloatArray x,
        jfloatArray out, jint from, jint to, jint h, jint w, jint oh, jint ow, jint kh, jint kw, jint sy, jint sx,
        jint pt, jint pl, jint dy, jint dx, jboolean avg, jboolean dividePresent) {
    (void) cls;
    jfloat *xp = (*env)->GetPrimitiveArrayCritical(env, x, NULL);
    jfloat *op = (*env)->GetPrimitiveArrayCritical(env, out, NULL);
    if (xp != NULL && op != NULL) {
        pool_planes(xp, op, from, to, h, w, oh, ow, kh, kw, sy, sx, pt, pl, dy, dx, avg, dividePresent);
    }
    if (op != NULL) (*env)->ReleasePrimitiveArrayCritical(env, out, op, 0);
    if (xp != NULL) (*env)->ReleasePrimitiveArrayCritical(env, x, xp, JNI_ABORT);
}
