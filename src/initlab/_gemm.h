/* The large matrix products of initlab's kernel: Z = W B with fused multiply-adds.
 *
 * Z(r, c) = sum_k W(r, k) B(k, c) for k = 0, 1, ..., count - 1 in order, each step
 * one fused multiply-add, rounded once:
 *
 *     s = W(r, 0) B(0, c);  s = fma(W(r, k), B(k, c), s) for k = 1, ..., count - 1
 *
 * fma is exact then rounded (IEEE 754), so every instruction set computes the same
 * bits: the AVX-512 and AVX2 builds with their FMA instructions (intrinsics, on
 * the portable path too), the others (the baseline x86-64 build, other CPUs)
 * with the C library's fma, which the hardware does where it can and software
 * where it cannot (an x86-64 CPU from before FMA: far slower, still exact). The
 * compiler fuses nothing of its own (-ffp-contract=off): only what is written
 * here as fma is fused.
 *
 * The product is done as the BLAS libraries do (Goto and van de Geijn, "Anatomy
 * of high-performance matrix multiplication", 2008): for each block of at most
 * INITLAB_GEMM_KC values of k, B's block is packed into strips of
 * INITLAB_GEMM_NR columns, contiguous in k (initlab_gemm_pack_b); each panel of
 * INITLAB_GEMM_MR rows of W is packed, contiguous in k (initlab_gemm_pack_w); a
 * micro-kernel then keeps an MR x NR tile of sums in registers while k runs
 * over the block (initlab_gemm_tile). The tiles of the second and later blocks
 * start from the sums the block before stored, so the order of every sum is the
 * one above, whatever the blocks. Padding (rows past the last, columns past the
 * last) is zero and never stored.
 *
 * _kernel.pyx does the threading: which thread computes a tile does not change it.
 */
#ifndef INITLAB_GEMM_H
#define INITLAB_GEMM_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "_simd.h"

#if defined(__AVX512F__)
#include <immintrin.h>
/* 12 x 16: 24 sums in zmm registers, 2 vectors of B and a broadcast of W: 27 of 32. */
typedef __m512d initlab_gvec;
#define INITLAB_GEMM_WIDTH 8
#define INITLAB_GEMM_MR 12
#define INITLAB_GEMM_NR 16
#define INITLAB_GLOAD(p) _mm512_loadu_pd(p)
#define INITLAB_GSTORE(p, v) _mm512_storeu_pd(p, v)
#define INITLAB_GSPLAT(x) _mm512_set1_pd(x)
#define INITLAB_GMUL(a, b) _mm512_mul_pd(a, b)
#define INITLAB_GFMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#elif defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER)) /* MSVC: /arch:AVX2 has FMA */
#include <immintrin.h>
/* 6 x 8: 12 sums in ymm registers, 2 vectors of B and a broadcast of W: 15 of 16. */
typedef __m256d initlab_gvec;
#define INITLAB_GEMM_WIDTH 4
#define INITLAB_GEMM_MR 6
#define INITLAB_GEMM_NR 8
#define INITLAB_GLOAD(p) _mm256_loadu_pd(p)
#define INITLAB_GSTORE(p, v) _mm256_storeu_pd(p, v)
#define INITLAB_GSPLAT(x) _mm256_set1_pd(x)
#define INITLAB_GMUL(a, b) _mm256_mul_pd(a, b)
#define INITLAB_GFMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#else
/* One double a lane, the C library's fma: 4 x 4 sums. */
typedef double initlab_gvec;
#define INITLAB_GEMM_WIDTH 1
#define INITLAB_GEMM_MR 4
#define INITLAB_GEMM_NR 4
#define INITLAB_GLOAD(p) (*(p))
#define INITLAB_GSTORE(p, v) (*(p) = (v))
#define INITLAB_GSPLAT(x) (x)
#define INITLAB_GMUL(a, b) ((a) * (b))
#define INITLAB_GFMA(a, b, c) fma(a, b, c)
#endif

/* The strip of B is read from the second-level cache: its row AHEAD values of k on
 * is fetched into the first while the tile works (6% on w1000's W A alone, one
 * thread; within the noise of whole trainings). A prefetch past the end of the
 * strip is harmless. */
#define INITLAB_GEMM_AHEAD 8
#if INITLAB_GEMM_WIDTH > 1
#define INITLAB_PREFETCH_B(p)                                                                  \
    do {                                                                                       \
        for (int line_ = 0; line_ < INITLAB_GEMM_NR; line_ += 8)                               \
            _mm_prefetch((const char *)((p) + line_), _MM_HINT_T0);                            \
    } while (0)
#else
#define INITLAB_PREFETCH_B(p) ((void)0)
#endif

/* The most values of k in one block: an MR x KC panel of W (36 KB at 12 x 384)
 * stays in the first-level cache while the strips of B go by. */
#define INITLAB_GEMM_KC 384
/* The most doubles of packed B in one chunk of strips (1 MB): a chunk stays in the
 * second-level cache while every panel of W goes over it. */
#define INITLAB_GEMM_BLOCK (1 << 17)
/* The most rows (MR) of any build, for the size of the buffers. */
#define INITLAB_GEMM_MR_MAX 12
/* Doubles for the packed panels of W (2 MB): every panel of a piece for one block
 * of k when they fit (682 rows at KC 384), packed once and read again by each
 * chunk of B; else one panel at a time, packed again for each chunk. */
#define INITLAB_GEMM_W_AREA (1 << 18)
/* Doubles of one thread's packing buffers: the panels of W, then a chunk of B, then
 * 8 doubles (a cache line of their own) for what FINISH_DESCEND reports. */
#define INITLAB_GEMM_PACK_STRIDE (INITLAB_GEMM_W_AREA + INITLAB_GEMM_BLOCK + 8)

#define INITLAB_GEMM_VECTORS (INITLAB_GEMM_NR / INITLAB_GEMM_WIDTH)

#if defined(__GNUC__) && !defined(__clang__)
#define INITLAB_UNROLL _Pragma("GCC unroll 16")
#elif defined(__clang__)
#define INITLAB_UNROLL _Pragma("unroll")
#else
#define INITLAB_UNROLL
#endif

#if INITLAB_GEMM_WIDTH > 1
/* P[j lanes + t] = line[t][k + j] for t < 4, j < 8: two 4 x 4 blocks transposed in
 * registers (AVX). */
INITLAB_ALWAYS_INLINE void initlab_transpose4x8(const double *const *line, ptrdiff_t k,
                                                double *P, ptrdiff_t lanes) {
    for (int half = 0; half < 8; half += 4) {
        __m256d r0 = _mm256_loadu_pd(line[0] + k + half);
        __m256d r1 = _mm256_loadu_pd(line[1] + k + half);
        __m256d r2 = _mm256_loadu_pd(line[2] + k + half);
        __m256d r3 = _mm256_loadu_pd(line[3] + k + half);
        __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
        __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
        _mm256_storeu_pd(P + (half + 0) * lanes, _mm256_permute2f128_pd(t0, t2, 0x20));
        _mm256_storeu_pd(P + (half + 1) * lanes, _mm256_permute2f128_pd(t1, t3, 0x20));
        _mm256_storeu_pd(P + (half + 2) * lanes, _mm256_permute2f128_pd(t0, t2, 0x31));
        _mm256_storeu_pd(P + (half + 3) * lanes, _mm256_permute2f128_pd(t1, t3, 0x31));
    }
}
#endif

#if defined(__AVX512F__)
/* P[j lanes + t] = line[t][k + j] for t, j < 8: an 8 x 8 block transposed in registers. */
INITLAB_ALWAYS_INLINE void initlab_transpose8x8(const double *const *line, ptrdiff_t k,
                                                double *P, ptrdiff_t lanes) {
    __m512d r[8], t[8], u[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm512_loadu_pd(line[i] + k);
    /* t[2i]: lines 2i and 2i + 1 at the even k, interleaved; t[2i + 1]: at the odd k */
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
    }
    /* u[4h + j]: lines 4h to 4h + 3 at k + j (first half) and k + j + 4 (second half) */
    const __m512i lo2 = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0);
    const __m512i hi2 = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    for (int h = 0; h < 2; h++) {
        u[4 * h + 0] = _mm512_permutex2var_pd(t[4 * h + 0], lo2, t[4 * h + 2]);
        u[4 * h + 1] = _mm512_permutex2var_pd(t[4 * h + 1], lo2, t[4 * h + 3]);
        u[4 * h + 2] = _mm512_permutex2var_pd(t[4 * h + 0], hi2, t[4 * h + 2]);
        u[4 * h + 3] = _mm512_permutex2var_pd(t[4 * h + 1], hi2, t[4 * h + 3]);
    }
    const __m512i lo4 = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0);
    const __m512i hi4 = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4);
    for (int j = 0; j < 4; j++) {
        _mm512_storeu_pd(P + j * lanes, _mm512_permutex2var_pd(u[j], lo4, u[4 + j]));
        _mm512_storeu_pd(P + (j + 4) * lanes, _mm512_permutex2var_pd(u[j], hi4, u[4 + j]));
    }
}
#endif

/* P[k lanes + t] = src[k k_step + t t_step] for k < kc, t < width; 0 for width <= t <
 * lanes: kc values of k of width lines (columns of B, rows of W), side by side.
 * always_inline, for a constant lanes (NR or MR). The cases: lines contiguous
 * across (t_step 1: a row of values at once); each line contiguous in k (k_step 1:
 * the lines read side by side, 8 values of k at a time transposed in registers, or
 * one after the other for a cut strip); neither. */
INITLAB_ALWAYS_INLINE void initlab_gemm_pack(const double *src, ptrdiff_t k_step,
                                             ptrdiff_t t_step, ptrdiff_t kc, ptrdiff_t width,
                                             const int lanes, double *P) {
    if (t_step == 1 && width == lanes) {
        for (ptrdiff_t k = 0; k < kc; k++)
            memcpy(P + k * lanes, src + k * k_step, (size_t)lanes * sizeof(double));
        return;
    }
    if (k_step == 1 && width == lanes) {
        const double *line[INITLAB_GEMM_NR > INITLAB_GEMM_MR ? INITLAB_GEMM_NR : INITLAB_GEMM_MR];
        for (int t = 0; t < lanes; t++)
            line[t] = src + t * t_step;
        ptrdiff_t k = 0;
#if INITLAB_GEMM_WIDTH > 1
        for (; k + 8 <= kc; k += 8) {
            int t = 0;
#if defined(__AVX512F__)
            for (; t + 8 <= lanes; t += 8)
                initlab_transpose8x8(line + t, k, P + k * lanes + t, lanes);
#endif
            for (; t + 4 <= lanes; t += 4)
                initlab_transpose4x8(line + t, k, P + k * lanes + t, lanes);
            for (; t < lanes; t++)
                for (int j = 0; j < 8; j++)
                    P[(k + j) * lanes + t] = line[t][k + j];
        }
#endif
        for (; k < kc; k++)
            INITLAB_UNROLL for (int t = 0; t < lanes; t++)
                P[k * lanes + t] = line[t][k];
        return;
    }
    if (k_step == 1) {
        memset(P, 0, (size_t)kc * lanes * sizeof(double));
        for (ptrdiff_t t = 0; t < width; t++) {
            const double *line = src + t * t_step;
            for (ptrdiff_t k = 0; k < kc; k++)
                P[k * lanes + t] = line[k];
        }
        return;
    }
    for (ptrdiff_t k = 0; k < kc; k++) {
        ptrdiff_t t = 0;
        for (; t < width; t++)
            P[k * lanes + t] = src[k * k_step + t * t_step];
        for (; t < lanes; t++)
            P[k * lanes + t] = 0.0;
    }
}

/* P[k NR + t] = B(k0 + k, c0 + t) for k < kc, t < NR; 0 for t >= width. B read
 * transposed (dW = dZ A^T, b_k 1) is the side-by-side case: each column of the
 * strip is a row of A. */
static void initlab_gemm_pack_b(const double *B, ptrdiff_t b_k, ptrdiff_t b_col, ptrdiff_t k0,
                                ptrdiff_t kc, ptrdiff_t c0, ptrdiff_t width, double *P) {
    initlab_gemm_pack(B + k0 * b_k + c0 * b_col, b_k, b_col, kc, width, INITLAB_GEMM_NR, P);
}

/* P[k MR + r] = W(r0 + r, k0 + k) for k < kc, r < MR; 0 for r >= rows. W read
 * transposed (dA = W^T dZ, row_step 1) is the contiguous case: a panel's values of
 * one k are contiguous. */
static void initlab_gemm_pack_w(const double *W, ptrdiff_t row_step, ptrdiff_t w_step,
                                ptrdiff_t r0, ptrdiff_t rows, ptrdiff_t k0, ptrdiff_t kc,
                                double *P) {
    initlab_gemm_pack(W + r0 * row_step + k0 * w_step, w_step, row_step, kc, rows,
                      INITLAB_GEMM_MR, P);
}

/* The mr x NR tile Z[r z_ld + t] (mr <= MR) over kc values of k from the packed
 * panel pw (MR values a k, the first mr read) and the strip pb (its NR values of
 * one k contiguous, b_step apart: NR when packed): started from Z when
 * accumulate (a later block of k), else from the first product. always_inline,
 * for a constant mr: the last panel of a matrix whose rows are no multiple of MR
 * computes only the rows it has, in thirds of MR. */
INITLAB_ALWAYS_INLINE void initlab_gemm_tile(const double *pw, const double *pb,
                                             ptrdiff_t b_step, ptrdiff_t kc, double *Z,
                                             ptrdiff_t z_ld, int accumulate, const int mr) {
    initlab_gvec c[INITLAB_GEMM_MR][INITLAB_GEMM_VECTORS], b[INITLAB_GEMM_VECTORS], w;
    ptrdiff_t k = 0;
    if (accumulate) {
        INITLAB_UNROLL for (int r = 0; r < mr; r++)
            INITLAB_UNROLL for (int v = 0; v < INITLAB_GEMM_VECTORS; v++)
                c[r][v] = INITLAB_GLOAD(Z + r * z_ld + v * INITLAB_GEMM_WIDTH);
    } else {
        INITLAB_UNROLL for (int v = 0; v < INITLAB_GEMM_VECTORS; v++)
            b[v] = INITLAB_GLOAD(pb + v * INITLAB_GEMM_WIDTH);
        INITLAB_UNROLL for (int r = 0; r < mr; r++) {
            w = INITLAB_GSPLAT(pw[r]);
            INITLAB_UNROLL for (int v = 0; v < INITLAB_GEMM_VECTORS; v++)
                c[r][v] = INITLAB_GMUL(w, b[v]);
        }
        k = 1;
    }
    for (; k < kc; k++) {
        const double *wk = pw + k * INITLAB_GEMM_MR;
        const double *bk = pb + k * b_step;
        INITLAB_PREFETCH_B(bk + INITLAB_GEMM_AHEAD * b_step);
        INITLAB_UNROLL for (int v = 0; v < INITLAB_GEMM_VECTORS; v++)
            b[v] = INITLAB_GLOAD(bk + v * INITLAB_GEMM_WIDTH);
        INITLAB_UNROLL for (int r = 0; r < mr; r++) {
            w = INITLAB_GSPLAT(wk[r]);
            INITLAB_UNROLL for (int v = 0; v < INITLAB_GEMM_VECTORS; v++)
                c[r][v] = INITLAB_GFMA(w, b[v], c[r][v]);
        }
    }
    INITLAB_UNROLL for (int r = 0; r < mr; r++)
        INITLAB_UNROLL for (int v = 0; v < INITLAB_GEMM_VECTORS; v++)
            INITLAB_GSTORE(Z + r * z_ld + v * INITLAB_GEMM_WIDTH, c[r][v]);
}

/* The rows of a tile by thirds of MR: the fewest that cover rows. */
#define INITLAB_GEMM_THIRD (INITLAB_GEMM_MR / 3 > 0 ? INITLAB_GEMM_MR / 3 : 1)

static void initlab_gemm_tile_rows(const double *pw, const double *pb, ptrdiff_t b_step,
                                   ptrdiff_t kc, double *Z, ptrdiff_t z_ld, int accumulate,
                                   ptrdiff_t rows) {
    if (rows <= INITLAB_GEMM_THIRD)
        initlab_gemm_tile(pw, pb, b_step, kc, Z, z_ld, accumulate, INITLAB_GEMM_THIRD);
    else if (rows <= 2 * INITLAB_GEMM_THIRD)
        initlab_gemm_tile(pw, pb, b_step, kc, Z, z_ld, accumulate, 2 * INITLAB_GEMM_THIRD);
    else
        initlab_gemm_tile(pw, pb, b_step, kc, Z, z_ld, accumulate, INITLAB_GEMM_MR);
}

/* What the last block of k does to each sum z of a tile after storing it: nothing;
 * z + bias[r]; relu(z + bias[r]); z g'(gate) for relu (low = 0) and leaky relu
 * (low = its slope), gate = A = g(Z) at the same place (rows z_ld apart); or, for
 * a dW in training, the gradient step of the parameter w at the same place of
 * descend (rows d_ld apart), w = w - low z (low the learning rate), adding w - w to
 * *bad (nan once a w is inf or nan, else 0). The same operations as the separate
 * passes of _kernel.pyx, done while the tile is in the first-level cache. */
enum {
    INITLAB_FINISH_NONE,
    INITLAB_FINISH_BIAS,
    INITLAB_FINISH_BIAS_RELU,
    INITLAB_FINISH_GATE,
    INITLAB_FINISH_DESCEND
};

/* Never inlined: in initlab_gemm_strips its registers would crowd the tile's (a
 * vector of B spilled to the stack, a quarter slower). Called once a tile. */
INITLAB_NEVER_INLINE void initlab_gemm_finish(double *Z, ptrdiff_t z_ld, ptrdiff_t rows, ptrdiff_t width,
                                       int finish, const double *bias, const double *gate,
                                       double low, double *descend, ptrdiff_t d_ld,
                                       double *bad) {
    if (finish == INITLAB_FINISH_DESCEND) {
        /* 8 independent checks, so that no chain of additions holds the step back */
        double check[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
        for (ptrdiff_t r = 0; r < rows; r++) {
            const double *z = Z + r * z_ld;
            double *w = descend + r * d_ld;
            ptrdiff_t t = 0;
            for (; t + 8 <= width; t += 8)
                for (int i = 0; i < 8; i++) {
                    double v = w[t + i] - low * z[t + i];
                    w[t + i] = v;
                    check[i] = check[i] + (v - v);
                }
            for (; t < width; t++) {
                double v = w[t] - low * z[t];
                w[t] = v;
                check[0] = check[0] + (v - v);
            }
        }
        for (int i = 0; i < 8; i++)
            *bad = *bad + check[i];
        return;
    }
    for (ptrdiff_t r = 0; r < rows; r++) {
        double *z = Z + r * z_ld;
        if (finish == INITLAB_FINISH_GATE) {
            const double *a = gate + r * z_ld;
            for (ptrdiff_t t = 0; t < width; t++)
                z[t] = z[t] * (a[t] > 0 ? 1.0 : low);
            continue;
        }
        double b = bias[r];
        if (finish == INITLAB_FINISH_BIAS_RELU) {
            for (ptrdiff_t t = 0; t < width; t++) {
                double v = z[t] + b;
                z[t] = v <= 0 ? 0.0 : v; /* nan stays nan, as np.maximum */
            }
        } else {
            for (ptrdiff_t t = 0; t < width; t++)
                z[t] = z[t] + b;
        }
    }
}

/* Columns [first, last) of rows [0, rows) of Z (rows <= MR, first a multiple of
 * NR) over one block of kc values of k: pw is the panel of those rows, pb the
 * strip of column first, the next strips strip_step after it, the rows of each
 * b_step apart: packed (b_step NR, strip_step kc NR), or B itself (b_step its
 * row stride, strip_step NR; then every strip must be whole, NR columns). A
 * tile cut by the last row or column goes through a buffer, so that nothing past
 * them is written. finish (with bias for the rows, gate and descend at Z's place,
 * low, bad): see initlab_gemm_finish, for the last block.
 *
 * FINISH_DESCEND does not store the last block's sums in Z: the tile goes through
 * the buffer to the step, and dW (8 MB for a layer of 1000 x 1000, written and
 * read back every iteration) is left as the block before left it. While a tile
 * works, the lines the next one starts from (Z's sums of the block before, or the
 * parameters it steps, or the gate) are fetched. */
static void initlab_gemm_strips(const double *pw, const double *pb, ptrdiff_t b_step,
                                ptrdiff_t strip_step, ptrdiff_t kc, ptrdiff_t first,
                                ptrdiff_t last, double *Z, ptrdiff_t z_ld, ptrdiff_t rows,
                                int accumulate, int finish, const double *bias,
                                const double *gate, double low, double *descend,
                                double *bad) {
    double tile[INITLAB_GEMM_MR * INITLAB_GEMM_NR];
    const double *next = accumulate ? Z
                         : finish == INITLAB_FINISH_DESCEND ? descend
                         : finish == INITLAB_FINISH_GATE ? gate : NULL;
    for (ptrdiff_t c = first; c < last; c += INITLAB_GEMM_NR, pb += strip_step) {
        ptrdiff_t width = last - c < INITLAB_GEMM_NR ? last - c : INITLAB_GEMM_NR;
#if INITLAB_GEMM_WIDTH > 1
        if (next != NULL && c + INITLAB_GEMM_NR < last)
            for (ptrdiff_t r = 0; r < rows; r++)
                for (int line_ = 0; line_ < INITLAB_GEMM_NR; line_ += 8)
                    _mm_prefetch((const char *)(next + r * z_ld + c + INITLAB_GEMM_NR + line_),
                                 _MM_HINT_T0);
#endif
        int whole = rows == INITLAB_GEMM_MR && width == INITLAB_GEMM_NR;
        if (whole && finish != INITLAB_FINISH_DESCEND) {
            initlab_gemm_tile(pw, pb, b_step, kc, Z + c, z_ld, accumulate, INITLAB_GEMM_MR);
        } else {
            if (accumulate) {
                memset(tile, 0, sizeof tile);
                for (ptrdiff_t r = 0; r < rows; r++)
                    memcpy(tile + r * INITLAB_GEMM_NR, Z + r * z_ld + c,
                           (size_t)width * sizeof(double));
            }
            initlab_gemm_tile_rows(pw, pb, b_step, kc, tile, INITLAB_GEMM_NR, accumulate, rows);
            if (finish == INITLAB_FINISH_DESCEND) {
                initlab_gemm_finish(tile, INITLAB_GEMM_NR, rows, width, finish, bias, gate,
                                    low, descend + c, z_ld, bad);
                continue;
            }
            for (ptrdiff_t r = 0; r < rows; r++)
                memcpy(Z + r * z_ld + c, tile + r * INITLAB_GEMM_NR, (size_t)width * sizeof(double));
        }
        if (finish != INITLAB_FINISH_NONE)
            initlab_gemm_finish(Z + c, z_ld, rows, width, finish, bias, gate ? gate + c : gate,
                                low, NULL, z_ld, bad);
    }
}

/* The peak of the large products' arithmetic, for the benchmark: 12 independent
 * chains s = fma(s, c, d) of INITLAB_GEMM_WIDTH lanes, iterations times each
 * (24 INITLAB_GEMM_WIDTH flops an iteration). Returns a sum of the chains, so
 * that the compiler keeps the loop. */
static inline double initlab_gemm_peak_probe(long iterations) {
    initlab_gvec s[12], c = INITLAB_GSPLAT(0.999999), d = INITLAB_GSPLAT(1e-6);
    double out[INITLAB_GEMM_WIDTH], total = 0.0;
    for (int i = 0; i < 12; i++)
        s[i] = INITLAB_GSPLAT(1.0 + 0.01 * i);
    for (long i = 0; i < iterations; i++)
        INITLAB_UNROLL for (int j = 0; j < 12; j++)
            s[j] = INITLAB_GFMA(s[j], c, d);
    for (int j = 1; j < 12; j++)
        s[0] = s[0] + s[j];
    INITLAB_GSTORE(out, s[0]);
    for (int t = 0; t < INITLAB_GEMM_WIDTH; t++)
        total += out[t];
    return total;
}

#endif
