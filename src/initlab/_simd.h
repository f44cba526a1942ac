/* Four float64 lanes for initlab's kernel.
 *
 * Two implementations of the same lane-by-lane operations:
 * - GCC/Clang vector extensions (the default with gcc and clang). The build picks
 *   the instructions (two SSE2 registers, one AVX register, NEON, ...).
 * - A portable one for compilers without vector extensions (MSVC), or when
 *   INITLAB_PORTABLE_SIMD is defined: a plain struct of four doubles whose C++
 *   operators compute lane 0, 1, 2, 3 one after the other. _kernel.pyx writes
 *   +, -, * and / on initlab_vec, so this path is compiled as C++ (setup.py
 *   does so).
 * Each lane is computed exactly as the scalar code would, with the same
 * operations in the same order, so the results do not depend on the path or
 * on the instructions. Loads and stores go through memcpy: no alignment is
 * assumed.
 *
 * Also the few inner kernels that must be compiled once per constant size
 * (always_inline behind a switch) or keep their steps in a given order, which
 * Cython cannot ask of the compiler: exp (initlab_exp_n), the short matrix
 * products (initlab_stationary) and the 2 x 4 blocks of dW (initlab_dots2x4).
 * The summation orders they follow are those of _kernel.pyx.
 *
 * Eight lanes (initlab_vec8, both paths) for the AVX-512 build: the short products,
 * dW and db in tiles (initlab_outer8, initlab_row_sums8) and the sigmoid
 * (initlab_sigmoid8), lane for lane the operations of the 4-lane code.
 */
#ifndef INITLAB_SIMD_H
#define INITLAB_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(__clang__)
/* No fused multiply-add: the default of MSVC from Visual Studio 2022 17.0 with
 * /fp:precise, which earlier versions did not keep. (gcc and clang: -ffp-contract=off.) */
#pragma fp_contract(off)
#endif

#if !defined(INITLAB_PORTABLE_SIMD) && !defined(__GNUC__) && !defined(__clang__)
#define INITLAB_PORTABLE_SIMD 1
#endif

#ifdef INITLAB_PORTABLE_SIMD
#define INITLAB_PORTABLE 1
#ifndef __cplusplus
#error "the portable path of _simd.h needs C++ (operators on initlab_vec); compile the kernel as C++"
#endif
#else
#define INITLAB_PORTABLE 0
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define INITLAB_ALWAYS_INLINE static __forceinline
#elif defined(__GNUC__) || defined(__clang__)
#define INITLAB_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define INITLAB_ALWAYS_INLINE static inline
#endif
#if defined(_MSC_VER) && !defined(__clang__)
#define INITLAB_NEVER_INLINE static __declspec(noinline)
#elif defined(__GNUC__) || defined(__clang__)
#define INITLAB_NEVER_INLINE static __attribute__((noinline))
#else
#define INITLAB_NEVER_INLINE static
#endif

/* The compiler, for initlab.kernel.BUILD. */
#define INITLAB_STR_(x) #x
#define INITLAB_STR(x) INITLAB_STR_(x)
#if defined(__clang__)
#define INITLAB_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define INITLAB_COMPILER "gcc " __VERSION__
#elif defined(_MSC_VER)
#define INITLAB_COMPILER "msvc " INITLAB_STR(_MSC_FULL_VER)
#else
#define INITLAB_COMPILER "unknown"
#endif
static inline const char *initlab_compiler(void) { return INITLAB_COMPILER; }

/* The OpenMP version this module was compiled with (yyyymm), 0 without OpenMP. */
#ifdef _OPENMP
#define INITLAB_OPENMP _OPENMP
#else
#define INITLAB_OPENMP 0
#endif

/* The threads of the enclosing parallel region (1 outside one, and without OpenMP). */
#ifdef _OPENMP
#include <omp.h>
static inline int initlab_team_size(void) { return omp_get_num_threads(); }
#else
static inline int initlab_team_size(void) { return 1; }
#endif

/* One thread's progress, seen by the others (train's split over the examples):
 * initlab_publish stores a count after every write before it (release);
 * initlab_wait_for returns once the count is at least value, every write before
 * that publish then visible (acquire). The spin pauses between reads. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static __forceinline void initlab_publish(volatile long long *count, long long value) {
    _ReadWriteBarrier();
    *count = value; /* volatile stores release, loads acquire (/volatile:ms, x86 and x64) */
    _ReadWriteBarrier();
}
static __forceinline void initlab_wait_for(volatile long long *count, long long value) {
    while (*count < value) {
#if defined(_M_X64) || defined(_M_IX86)
        _mm_pause();
#else
        __yield();
#endif
    }
    _ReadWriteBarrier();
}
#else
static inline void initlab_publish(volatile long long *count, long long value) {
    __atomic_store_n(count, value, __ATOMIC_RELEASE);
}
static inline void initlab_wait_for(volatile long long *count, long long value) {
    while (__atomic_load_n(count, __ATOMIC_ACQUIRE) < value) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    }
}
#endif

/* The longest sum initlab_stationary takes: a row's weights stay in registers. */
#define INITLAB_STATIONARY_COUNT 10

#if !INITLAB_PORTABLE

typedef double initlab_vec __attribute__((vector_size(4 * sizeof(double))));
typedef long long initlab_mask __attribute__((vector_size(4 * sizeof(long long))));

/* __builtin_shufflevector is clang's, and gcc's from gcc 12; older gcc has __builtin_shuffle. */
#if defined(__clang__) || __GNUC__ >= 12
#define INITLAB_SHUFFLE(a, b, i, j, k, l) __builtin_shufflevector(a, b, i, j, k, l)
#else
#define INITLAB_SHUFFLE(a, b, i, j, k, l) __builtin_shuffle(a, b, (initlab_mask){i, j, k, l})
#endif

static inline initlab_vec initlab_load(const double *p) {
    initlab_vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void initlab_store(double *p, initlab_vec v) { memcpy(p, &v, sizeof v); }

static inline initlab_vec initlab_splat(double x) { return (initlab_vec){x, x, x, x}; }

/* The four lanes given, lane 0 first. */
static inline initlab_vec initlab_set(double a, double b, double c, double d) {
    return (initlab_vec){a, b, c, d};
}

/* [h(a), h(b), h(c), h(d)] with h(v) = (v0 + v1) + (v2 + v3), the order numpy's pairwise
 * sum combines its partial sums in. */
static inline initlab_vec initlab_hsum4(initlab_vec a, initlab_vec b, initlab_vec c,
                                        initlab_vec d) {
    /* [a0 + a1, b0 + b1, a2 + a3, b2 + b3] and the same for c, d */
    initlab_vec ab = INITLAB_SHUFFLE(a, b, 0, 4, 2, 6) + INITLAB_SHUFFLE(a, b, 1, 5, 3, 7);
    initlab_vec cd = INITLAB_SHUFFLE(c, d, 0, 4, 2, 6) + INITLAB_SHUFFLE(c, d, 1, 5, 3, 7);
    return INITLAB_SHUFFLE(ab, cd, 0, 1, 4, 5) + INITLAB_SHUFFLE(ab, cd, 2, 3, 6, 7);
}

/* Lane-wise z <= 0 ? 0 : z, branch-free; a nan lane stays nan, as np.maximum(0, z). */
static inline initlab_vec initlab_relu(initlab_vec z) {
    initlab_mask keep = ~(z <= 0);
    return (initlab_vec)((initlab_mask)z & keep);
}

/* Lane-wise a > 0 ? 1.0 : low: the derivative of relu (low = 0) or leaky relu, from a = g(z). */
static inline initlab_vec initlab_step(initlab_vec a, double low) {
    initlab_mask positive = a > 0;
    initlab_vec one = {1.0, 1.0, 1.0, 1.0};
    initlab_vec other = {low, low, low, low};
    return (initlab_vec)(((initlab_mask)one & positive) | ((initlab_mask)other & ~positive));
}

/* Lane-wise exp(x) of n vectors in place, written in plain IEEE-754 operations so
 * that it gives the same bits on every machine (libm's exp may differ by an ulp
 * between CPUs). Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, then the Taylor
 * series of exp(r) to degree 13 (truncation below 0.05 ulp) and an exact scaling
 * by 2^k in two halves. exp overflows to inf above 709.78 and flushes to 0 below
 * -745.1 as libm does; nan stays nan. Accurate to about 1 ulp.
 *
 * Each step is done for all n vectors before the next: one exp is a chain of
 * some 40 dependent operations, so with n = 4 the processor works on four
 * chains at once instead of waiting on one. always_inline, for a constant
 * n <= INITLAB_EXP_MAX.
 */
#define INITLAB_EXP_MAX 4
/* An empty statement the compiler cannot move v across: it keeps the steps of
 * the chains interleaved as written (GCC otherwise puts each chain back whole). */
#if defined(__AVX__)
#define INITLAB_KEEP_ORDER(v) __asm__("" : "+x"(v))
#else
#define INITLAB_KEEP_ORDER(v) ((void)0)
#endif
INITLAB_ALWAYS_INLINE void initlab_exp_n(initlab_vec *x, int n) {
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01; /* trailing zeros: k ln2_hi is exact */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double round = 6755399441055744.0;          /* 1.5 * 2^52: rounds to nearest */
    static const double taylor[14] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    const initlab_vec hi = {710.0, 710.0, 710.0, 710.0}, lo = {-746.0, -746.0, -746.0, -746.0};
    const initlab_vec rounder = {round, round, round, round};
    initlab_vec t[INITLAB_EXP_MAX], r[INITLAB_EXP_MAX], p[INITLAB_EXP_MAX];
    int i, d;
    for (i = 0; i < n; i++) {
        x[i] = (initlab_vec)(((initlab_mask)hi & (x[i] > hi)) | ((initlab_mask)x[i] & ~(x[i] > hi)));
        x[i] = (initlab_vec)(((initlab_mask)lo & (x[i] < lo)) | ((initlab_mask)x[i] & ~(x[i] < lo)));
    }
    for (i = 0; i < n; i++) {
        t[i] = x[i] * log2e + round;              /* round + k, k = round(x log2e) */
        initlab_vec k = t[i] - round;
        r[i] = (x[i] - k * ln2_hi) - k * ln2_lo;
        p[i] = initlab_splat(taylor[0]);
    }
    for (d = 1; d < 14; d++) {
        for (i = 0; i < n; i++)
            p[i] = p[i] * r[i] + taylor[d];
        for (i = 0; i < n; i++)
            INITLAB_KEEP_ORDER(p[i]);
    }
    for (i = 0; i < n; i++) {
        /* 2^k = 2^k1 2^k2 with both halves in the normal range, |k| <= 1077; k is
         * the low bits of round + k, as 2^52 <= round + k < 2^53 */
        initlab_mask ki = (initlab_mask)t[i] - (initlab_mask)rounder;
        initlab_mask k1 = ki / 2;
        initlab_mask k2 = ki - k1;
        initlab_vec s1 = (initlab_vec)((k1 + 1023) << 52);
        initlab_vec s2 = (initlab_vec)((k2 + 1023) << 52);
        x[i] = (p[i] * s1) * s2;
    }
}

static inline initlab_vec initlab_exp(initlab_vec x) {
    initlab_exp_n(&x, 1);
    return x;
}

/* initlab_exp of four vectors at once, in place. */
static inline void initlab_exp4(initlab_vec *x) { initlab_exp_n(x, 4); }

static inline double initlab_exp1(double x) { return initlab_exp(initlab_splat(x))[0]; }

#else /* INITLAB_PORTABLE: a struct of four doubles, each operation lane by lane */

struct initlab_vec {
    double lane[4];
};

#define INITLAB_LANEWISE(expression)                                                           \
    initlab_vec r;                                                                             \
    for (int i = 0; i < 4; i++)                                                                \
        r.lane[i] = (expression);                                                              \
    return r

static inline initlab_vec operator+(initlab_vec a, initlab_vec b) { INITLAB_LANEWISE(a.lane[i] + b.lane[i]); }
static inline initlab_vec operator-(initlab_vec a, initlab_vec b) { INITLAB_LANEWISE(a.lane[i] - b.lane[i]); }
static inline initlab_vec operator*(initlab_vec a, initlab_vec b) { INITLAB_LANEWISE(a.lane[i] * b.lane[i]); }
static inline initlab_vec operator/(initlab_vec a, initlab_vec b) { INITLAB_LANEWISE(a.lane[i] / b.lane[i]); }
static inline initlab_vec operator-(initlab_vec a) { INITLAB_LANEWISE(-a.lane[i]); }

static inline initlab_vec initlab_load(const double *p) {
    initlab_vec v;
    memcpy(v.lane, p, sizeof v.lane);
    return v;
}

static inline void initlab_store(double *p, initlab_vec v) { memcpy(p, v.lane, sizeof v.lane); }

static inline initlab_vec initlab_set(double a, double b, double c, double d) {
    initlab_vec v;
    v.lane[0] = a;
    v.lane[1] = b;
    v.lane[2] = c;
    v.lane[3] = d;
    return v;
}

static inline initlab_vec initlab_splat(double x) { return initlab_set(x, x, x, x); }

/* Lane t: (v0 + v1) + (v2 + v3) of the t-th argument, as the shuffles above. */
static inline initlab_vec initlab_hsum4(initlab_vec a, initlab_vec b, initlab_vec c,
                                        initlab_vec d) {
    const initlab_vec *v[4] = {&a, &b, &c, &d};
    INITLAB_LANEWISE((v[i]->lane[0] + v[i]->lane[1]) + (v[i]->lane[2] + v[i]->lane[3]));
}

/* z <= 0 ? +0.0 : z; a nan lane stays nan. */
static inline initlab_vec initlab_relu(initlab_vec z) { INITLAB_LANEWISE(z.lane[i] <= 0 ? 0.0 : z.lane[i]); }

static inline initlab_vec initlab_step(initlab_vec a, double low) {
    INITLAB_LANEWISE(a.lane[i] > 0 ? 1.0 : low);
}

/* One lane of the vector initlab_exp_n above: the same operations in the same order. */
static inline double initlab_exp1(double x) {
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double round = 6755399441055744.0;
    static const double taylor[14] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    double t, k, r, p, s1, s2;
    int64_t ki, k1, k2, t_bits, round_bits;
    uint64_t s1_bits, s2_bits;
    x = x > 710.0 ? 710.0 : x; /* nan stays nan */
    x = x < -746.0 ? -746.0 : x;
    t = x * log2e + round;
    k = t - round;
    r = (x - k * ln2_hi) - k * ln2_lo;
    p = taylor[0];
    for (int d = 1; d < 14; d++)
        p = p * r + taylor[d];
    memcpy(&t_bits, &t, sizeof t);
    memcpy(&round_bits, &round, sizeof round);
    ki = t_bits - round_bits;
    k1 = ki / 2;
    k2 = ki - k1;
    s1_bits = (uint64_t)(k1 + 1023) << 52;
    s2_bits = (uint64_t)(k2 + 1023) << 52;
    memcpy(&s1, &s1_bits, sizeof s1);
    memcpy(&s2, &s2_bits, sizeof s2);
    return (p * s1) * s2;
}

static inline initlab_vec initlab_exp(initlab_vec x) { INITLAB_LANEWISE(initlab_exp1(x.lane[i])); }

static inline void initlab_exp4(initlab_vec *x) {
    for (int i = 0; i < 4; i++)
        x[i] = initlab_exp(x[i]);
}

#endif /* INITLAB_PORTABLE */

/* Eight float64 lanes, for the builds whose registers hold them (AVX-512): the same
 * lane-by-lane operations as initlab_vec, so each lane gives the bits the scalar
 * code would. numpy's pairwise sum keeps 8 partial sums s_0..s_7 (of the terms
 * j = r mod 8): exactly one initlab_vec8. INITLAB_WIDE is the lanes of the vectors
 * the short products and the sums over examples use in this build: 8 with AVX-512,
 * else 4 (initlab_vec). Both paths (vector extensions and portable) define both. */
#if defined(__AVX512F__)
#define INITLAB_WIDE 8
#else
#define INITLAB_WIDE 4
#endif

#if !INITLAB_PORTABLE

typedef double initlab_vec8 __attribute__((vector_size(8 * sizeof(double))));
typedef long long initlab_mask8 __attribute__((vector_size(8 * sizeof(long long))));

static inline initlab_vec8 initlab_load8(const double *p) {
    initlab_vec8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void initlab_store8(double *p, initlab_vec8 v) { memcpy(p, &v, sizeof v); }

static inline initlab_vec8 initlab_splat8(double x) { return (initlab_vec8){x, x, x, x, x, x, x, x}; }

static inline initlab_vec8 initlab_relu8(initlab_vec8 z) {
    initlab_mask8 keep = ~(z <= 0);
    return (initlab_vec8)((initlab_mask8)z & keep);
}

static inline initlab_vec8 initlab_step8(initlab_vec8 a, double low) {
    initlab_mask8 positive = a > 0;
    initlab_vec8 one = initlab_splat8(1.0), other = initlab_splat8(low);
    return (initlab_vec8)(((initlab_mask8)one & positive) | ((initlab_mask8)other & ~positive));
}

/* Lane-wise z g'(a) = z initlab_step8(a, low): with AVX-512, z where a > 0 (z 1.0 is z,
 * bit for bit, for any z an operation produced) and z low elsewhere, one masked
 * multiply instead of a blend and a multiply. */
#if defined(__AVX512F__)
#include <immintrin.h>
static inline initlab_vec8 initlab_gate8(initlab_vec8 z, initlab_vec8 a, double low) {
    __mmask8 other = _mm512_cmp_pd_mask((__m512d)a, _mm512_setzero_pd(), _CMP_NGT_UQ);
    return (initlab_vec8)_mm512_mask_mul_pd((__m512d)z, other, (__m512d)z, _mm512_set1_pd(low));
}
#else
static inline initlab_vec8 initlab_gate8(initlab_vec8 z, initlab_vec8 a, double low) {
    return z * initlab_step8(a, low);
}
#endif

/* Lanes 0-3 and lanes 4-7. */
static inline initlab_vec initlab_low4(initlab_vec8 v) {
    initlab_vec r;
    memcpy(&r, &v, sizeof r);
    return r;
}

static inline initlab_vec initlab_high4(initlab_vec8 v) {
    initlab_vec r;
    memcpy(&r, (const double *)&v + 4, sizeof r);
    return r;
}

#if defined(__clang__) || __GNUC__ >= 12
#define INITLAB_SHUFFLE8(a, b, i0, i1, i2, i3, i4, i5, i6, i7)                                  \
    __builtin_shufflevector(a, b, i0, i1, i2, i3, i4, i5, i6, i7)
#else
#define INITLAB_SHUFFLE8(a, b, i0, i1, i2, i3, i4, i5, i6, i7)                                  \
    __builtin_shuffle(a, b, (initlab_mask8){i0, i1, i2, i3, i4, i5, i6, i7})
#endif

/* Lane t: ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7)) of the t-th argument: the
 * order numpy combines its 8 partial sums in (initlab_hsum4 of lanes 0-3, plus
 * initlab_hsum4 of lanes 4-7). */
static inline initlab_vec initlab_hsum4x8(initlab_vec8 a, initlab_vec8 b, initlab_vec8 c,
                                          initlab_vec8 d) {
    /* [a0 + a1, b0 + b1, a2 + a3, b2 + b3, a4 + a5, b4 + b5, a6 + a7, b6 + b7] */
    initlab_vec8 ab = INITLAB_SHUFFLE8(a, b, 0, 8, 2, 10, 4, 12, 6, 14) +
                      INITLAB_SHUFFLE8(a, b, 1, 9, 3, 11, 5, 13, 7, 15);
    initlab_vec8 cd = INITLAB_SHUFFLE8(c, d, 0, 8, 2, 10, 4, 12, 6, 14) +
                      INITLAB_SHUFFLE8(c, d, 1, 9, 3, 11, 5, 13, 7, 15);
    /* [a0-3, b0-3, c0-3, d0-3, a4-7, b4-7, c4-7, d4-7] */
    initlab_vec8 q = INITLAB_SHUFFLE8(ab, cd, 0, 1, 8, 9, 4, 5, 12, 13) +
                     INITLAB_SHUFFLE8(ab, cd, 2, 3, 10, 11, 6, 7, 14, 15);
    return initlab_low4(q) + initlab_high4(q);
}

/* initlab_exp_n on eight lanes: the same operations in the same order. */
#if defined(__AVX512F__)
#define INITLAB_KEEP_ORDER8(v) __asm__("" : "+v"(v))
#else
#define INITLAB_KEEP_ORDER8(v) ((void)0)
#endif
INITLAB_ALWAYS_INLINE void initlab_exp8_n(initlab_vec8 *x, int n) {
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01;
    const double ln2_lo = 1.90821492927058770002e-10;
    const double round = 6755399441055744.0;
    static const double taylor[14] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0,
        1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    const initlab_vec8 hi = initlab_splat8(710.0), lo = initlab_splat8(-746.0);
    const initlab_vec8 rounder = initlab_splat8(round);
    initlab_vec8 t[INITLAB_EXP_MAX], r[INITLAB_EXP_MAX], p[INITLAB_EXP_MAX];
    int i, d;
    for (i = 0; i < n; i++) {
        x[i] = (initlab_vec8)(((initlab_mask8)hi & (x[i] > hi)) | ((initlab_mask8)x[i] & ~(x[i] > hi)));
        x[i] = (initlab_vec8)(((initlab_mask8)lo & (x[i] < lo)) | ((initlab_mask8)x[i] & ~(x[i] < lo)));
    }
    for (i = 0; i < n; i++) {
        t[i] = x[i] * log2e + round;
        initlab_vec8 k = t[i] - round;
        r[i] = (x[i] - k * ln2_hi) - k * ln2_lo;
        p[i] = initlab_splat8(taylor[0]);
    }
    for (d = 1; d < 14; d++) {
        for (i = 0; i < n; i++)
            p[i] = p[i] * r[i] + taylor[d];
        for (i = 0; i < n; i++)
            INITLAB_KEEP_ORDER8(p[i]);
    }
    for (i = 0; i < n; i++) {
        initlab_mask8 ki = (initlab_mask8)t[i] - (initlab_mask8)rounder;
        initlab_mask8 k1 = ki / 2;
        initlab_mask8 k2 = ki - k1;
        initlab_vec8 s1 = (initlab_vec8)((k1 + 1023) << 52);
        initlab_vec8 s2 = (initlab_vec8)((k2 + 1023) << 52);
        x[i] = (p[i] * s1) * s2;
    }
}

#else /* INITLAB_PORTABLE */

struct initlab_vec8 {
    double lane[8];
};

#define INITLAB_LANEWISE8(expression)                                                          \
    initlab_vec8 r;                                                                            \
    for (int i = 0; i < 8; i++)                                                                \
        r.lane[i] = (expression);                                                              \
    return r

static inline initlab_vec8 operator+(initlab_vec8 a, initlab_vec8 b) { INITLAB_LANEWISE8(a.lane[i] + b.lane[i]); }
static inline initlab_vec8 operator-(initlab_vec8 a, initlab_vec8 b) { INITLAB_LANEWISE8(a.lane[i] - b.lane[i]); }
static inline initlab_vec8 operator*(initlab_vec8 a, initlab_vec8 b) { INITLAB_LANEWISE8(a.lane[i] * b.lane[i]); }
static inline initlab_vec8 operator/(initlab_vec8 a, initlab_vec8 b) { INITLAB_LANEWISE8(a.lane[i] / b.lane[i]); }
static inline initlab_vec8 operator-(initlab_vec8 a) { INITLAB_LANEWISE8(-a.lane[i]); }

static inline initlab_vec8 initlab_load8(const double *p) {
    initlab_vec8 v;
    memcpy(v.lane, p, sizeof v.lane);
    return v;
}

static inline void initlab_store8(double *p, initlab_vec8 v) { memcpy(p, v.lane, sizeof v.lane); }

static inline initlab_vec8 initlab_splat8(double x) { INITLAB_LANEWISE8(x); }

static inline initlab_vec8 initlab_relu8(initlab_vec8 z) { INITLAB_LANEWISE8(z.lane[i] <= 0 ? 0.0 : z.lane[i]); }

static inline initlab_vec8 initlab_step8(initlab_vec8 a, double low) {
    INITLAB_LANEWISE8(a.lane[i] > 0 ? 1.0 : low);
}

static inline initlab_vec8 initlab_gate8(initlab_vec8 z, initlab_vec8 a, double low) {
    INITLAB_LANEWISE8(z.lane[i] * (a.lane[i] > 0 ? 1.0 : low));
}

static inline initlab_vec initlab_low4(initlab_vec8 v) { return initlab_load(v.lane); }

static inline initlab_vec initlab_high4(initlab_vec8 v) { return initlab_load(v.lane + 4); }

static inline initlab_vec initlab_hsum4x8(initlab_vec8 a, initlab_vec8 b, initlab_vec8 c,
                                          initlab_vec8 d) {
    const initlab_vec8 *v[4] = {&a, &b, &c, &d};
    INITLAB_LANEWISE(((v[i]->lane[0] + v[i]->lane[1]) + (v[i]->lane[2] + v[i]->lane[3])) +
                     ((v[i]->lane[4] + v[i]->lane[5]) + (v[i]->lane[6] + v[i]->lane[7])));
}

/* initlab_exp_n on eight lanes, lane by lane. */
static inline void initlab_exp8_n(initlab_vec8 *x, int n) {
    for (int i = 0; i < n; i++)
        for (int t = 0; t < 8; t++)
            x[i].lane[t] = initlab_exp1(x[i].lane[t]);
}

#endif /* INITLAB_PORTABLE */

/* Z = 1 / (1 + exp(-Z)) in place, lane by lane as _activate of _kernel.pyx computes it:
 * 32 values at a time (four exps in flight), then 8, 4 and 1. */
static void initlab_sigmoid8(double *Z, ptrdiff_t size) {
    ptrdiff_t j = 0;
    const initlab_vec8 one8 = initlab_splat8(1.0);
    initlab_vec8 e[4];
    int t;
    for (; j + 32 <= size; j += 32) {
        for (t = 0; t < 4; t++)
            e[t] = -initlab_load8(Z + j + 8 * t);
        initlab_exp8_n(e, 4);
        for (t = 0; t < 4; t++)
            initlab_store8(Z + j + 8 * t, one8 / (one8 + e[t]));
    }
    for (; j + 8 <= size; j += 8) {
        e[0] = -initlab_load8(Z + j);
        initlab_exp8_n(e, 1);
        initlab_store8(Z + j, one8 / (one8 + e[0]));
    }
    for (; j + 4 <= size; j += 4)
        initlab_store(Z + j, initlab_splat(1.0) / (initlab_splat(1.0) + initlab_exp(-initlab_load(Z + j))));
    for (; j < size; j++)
        Z[j] = 1.0 / (1.0 + initlab_exp1(-Z[j]));
}

/* The vectors of INITLAB_WIDE lanes (initlab_wvec) and their operations. */
#if INITLAB_WIDE == 8
typedef initlab_vec8 initlab_wvec;
#define initlab_wload initlab_load8
#define initlab_wstore initlab_store8
#define initlab_wsplat initlab_splat8
#define initlab_wrelu initlab_relu8
#define initlab_wstep initlab_step8
#define initlab_wgate initlab_gate8
#else
typedef initlab_vec initlab_wvec;
#define initlab_wload initlab_load
#define initlab_wstore initlab_store
#define initlab_wsplat initlab_splat
#define initlab_wrelu initlab_relu
#define initlab_wstep initlab_step
#define initlab_wgate(z, a, low) ((z) * initlab_step((a), (low)))
#endif

/* The sums of a 2 x 4 block of dW, each in numpy's pairwise order: lane t of out[0]
 * is sum_j x0[j] y_t[j] and lane t of out[1] is sum_j x1[j] y_t[j]. plan is the
 * order (_plan in _kernel.pyx): plan[0] steps, each the length of the next block
 * of terms or INITLAB_COMBINE (add the last two results).
 *
 * The same sums as _pairwise4 computes four at a time, with fewer loads: in a
 * block of 8 <= n <= 128 terms the partial sums s_0..s_3 of all eight dots are
 * accumulated in one pass (lanes 0-3 of each 8 terms) and s_4..s_7 in a second
 * (lanes 4-7), so that each pass keeps 8 vectors in registers and loads 6 vectors
 * per 8 multiply-adds (a 2 x 2 block: 8 per 8).
 */
#define INITLAB_COMBINE (-1)
#define INITLAB_PLAN_DEPTH 64

INITLAB_ALWAYS_INLINE void initlab_dots2x4_pass(
    const double *x0, const double *x1, const double *const *y, ptrdiff_t body, int h,
    initlab_vec s[8]) {
    initlab_vec u0 = initlab_load(x0 + h), u1 = initlab_load(x1 + h);
    for (int t = 0; t < 4; t++) {
        initlab_vec v = initlab_load(y[t] + h);
        s[t] = u0 * v;
        s[4 + t] = u1 * v;
    }
    for (ptrdiff_t j = 8; j < body; j += 8) {
        u0 = initlab_load(x0 + j + h);
        u1 = initlab_load(x1 + j + h);
        for (int t = 0; t < 4; t++) {
            initlab_vec v = initlab_load(y[t] + j + h);
            s[t] = s[t] + u0 * v;
            s[4 + t] = s[4 + t] + u1 * v;
        }
    }
}

INITLAB_ALWAYS_INLINE void initlab_dots2x4_block(
    const double *x0, const double *x1, const double *const *y, ptrdiff_t n, initlab_vec r[2]) {
    ptrdiff_t j = 0;
    if (n < 8) {
        r[0] = r[1] = initlab_splat(-0.0);
    } else {
        initlab_vec lo[8], hi[8];
        j = n - n % 8;
        initlab_dots2x4_pass(x0, x1, y, j, 0, lo);
        initlab_dots2x4_pass(x0, x1, y, j, 4, hi);
        r[0] = initlab_hsum4(lo[0], lo[1], lo[2], lo[3]) + initlab_hsum4(hi[0], hi[1], hi[2], hi[3]);
        r[1] = initlab_hsum4(lo[4], lo[5], lo[6], lo[7]) + initlab_hsum4(hi[4], hi[5], hi[6], hi[7]);
    }
    for (; j < n; j++) {
        initlab_vec v = initlab_set(y[0][j], y[1][j], y[2][j], y[3][j]);
        r[0] = r[0] + initlab_splat(x0[j]) * v;
        r[1] = r[1] + initlab_splat(x1[j]) * v;
    }
}

static void initlab_dots2x4(const double *x0, const double *x1, const double *y0,
                            const double *y1, const double *y2, const double *y3,
                            const ptrdiff_t *plan, initlab_vec out[2]) {
    initlab_vec results[INITLAB_PLAN_DEPTH][2];
    ptrdiff_t top = 0, j = 0;
    for (ptrdiff_t i = 1; i <= plan[0]; i++) {
        ptrdiff_t step = plan[i];
        if (step == INITLAB_COMBINE) {
            top--;
            results[top - 1][0] = results[top - 1][0] + results[top][0];
            results[top - 1][1] = results[top - 1][1] + results[top][1];
        } else {
            const double *y[4] = {y0 + j, y1 + j, y2 + j, y3 + j};
            initlab_dots2x4_block(x0 + j, x1 + j, y, step, results[top]);
            top++;
            j += step;
        }
    }
    out[0] = results[0][0];
    out[1] = results[0][1];
}

/* The sums over examples with eight lanes (used when INITLAB_WIDE is 8): lane r of
 * one initlab_vec8 is numpy's partial sum s_r, so a block of 8 <= n <= 128 terms is
 * one multiply and one add per 8 terms and dot product, combined as initlab_hsum4x8
 * does, then the terms left one by one; a block of n < 8 terms is the terms one by
 * one from -0.0. The same operations, lane for lane, as initlab_dots2x4 and
 * _pairwise4 of _kernel.pyx.
 *
 * initlab_dots8_block: lane t % 4 of out[2 i + t / 4] = sum_j x_i[j] y_t[j] over one
 * block, i < p, t < q, p q <= 24 (the registers: p q sums, p rows of x, one of y),
 * p <= 4, q <= 8; the other lanes are left undefined. Each vector of y is loaded
 * once for the p rows of x. */
#define INITLAB_TILE_ROWS 4
#define INITLAB_TILE_COLUMNS 8
INITLAB_ALWAYS_INLINE void initlab_dots8_block(const double *const *x, int p, const double *const *y,
                                               int q, ptrdiff_t n, initlab_vec *out) {
    ptrdiff_t j = 0;
    int a, t, h, halves = (q + 3) / 4;
    if (n < 8) {
        for (a = 0; a < p; a++)
            for (h = 0; h < halves; h++)
                out[2 * a + h] = initlab_splat(-0.0);
    } else {
        initlab_vec8 s[INITLAB_TILE_ROWS][INITLAB_TILE_COLUMNS], u[INITLAB_TILE_ROWS], v;
        ptrdiff_t body = n - n % 8;
        for (a = 0; a < p; a++)
            u[a] = initlab_load8(x[a]);
        for (t = 0; t < q; t++) {
            v = initlab_load8(y[t]);
            for (a = 0; a < p; a++)
                s[a][t] = u[a] * v;
        }
        for (j = 8; j < body; j += 8) {
            for (a = 0; a < p; a++)
                u[a] = initlab_load8(x[a] + j);
            for (t = 0; t < q; t++) {
                v = initlab_load8(y[t] + j);
                for (a = 0; a < p; a++)
                    s[a][t] = s[a][t] + u[a] * v;
            }
        }
        for (a = 0; a < p; a++) {
            for (t = q; t < 4 * halves; t++)
                s[a][t] = s[a][0];
            for (h = 0; h < halves; h++)
                out[2 * a + h] = initlab_hsum4x8(s[a][4 * h], s[a][4 * h + 1], s[a][4 * h + 2],
                                                 s[a][4 * h + 3]);
        }
        j = body;
    }
    for (; j < n; j++)
        for (h = 0; h < halves; h++) {
            int b = 4 * h, left = q - b;
            initlab_vec v4 = initlab_set(y[b][j], y[b + (left > 1)][j], y[b + (left > 2 ? 2 : 0)][j],
                                         y[b + (left > 3 ? 3 : 0)][j]);
            for (a = 0; a < p; a++)
                out[2 * a + h] = out[2 * a + h] + initlab_splat(x[a][j]) * v4;
        }
}

/* initlab_dots8_block over the blocks of plan (_plan in _kernel.pyx), their results
 * combined as plan says: the whole sums over the examples. */
INITLAB_ALWAYS_INLINE void initlab_dots8_plan(const double *const *x, int p, const double *const *y,
                                              int q, const ptrdiff_t *plan, initlab_vec *out) {
    initlab_vec results[INITLAB_PLAN_DEPTH][2 * INITLAB_TILE_ROWS];
    const double *xj[INITLAB_TILE_ROWS], *yj[INITLAB_TILE_COLUMNS];
    ptrdiff_t top = 0, j = 0;
    int a, halves = (q + 3) / 4;
    for (ptrdiff_t i = 1; i <= plan[0]; i++) {
        ptrdiff_t step = plan[i];
        if (step == INITLAB_COMBINE) {
            top--;
            for (a = 0; a < 2 * p; a++)
                if (a % 2 < halves)
                    results[top - 1][a] = results[top - 1][a] + results[top][a];
        } else {
            for (a = 0; a < p; a++)
                xj[a] = x[a] + j;
            for (a = 0; a < q; a++)
                yj[a] = y[a] + j;
            initlab_dots8_block(xj, p, yj, q, step, results[top]);
            top++;
            j += step;
        }
    }
    for (a = 0; a < 2 * p; a++)
        if (a % 2 < halves)
            out[a] = results[0][a];
}

#define INITLAB_DOTS8_CASE(p, q)                                                                \
    static void initlab_dots8_##p##x##q(const double *const *x, const double *const *y,       \
                                        const ptrdiff_t *plan, initlab_vec *out) {             \
        initlab_dots8_plan(x, p, y, q, plan, out);                                             \
    }
#define INITLAB_DOTS8_CASES(p)                                                                  \
    INITLAB_DOTS8_CASE(p, 1) INITLAB_DOTS8_CASE(p, 2) INITLAB_DOTS8_CASE(p, 3)                  \
    INITLAB_DOTS8_CASE(p, 4) INITLAB_DOTS8_CASE(p, 5) INITLAB_DOTS8_CASE(p, 6)
INITLAB_DOTS8_CASES(1) INITLAB_DOTS8_CASES(2) INITLAB_DOTS8_CASES(3) INITLAB_DOTS8_CASES(4)
INITLAB_DOTS8_CASE(1, 7) INITLAB_DOTS8_CASE(1, 8) INITLAB_DOTS8_CASE(2, 7) INITLAB_DOTS8_CASE(2, 8)
INITLAB_DOTS8_CASE(3, 7) INITLAB_DOTS8_CASE(3, 8)

typedef void (*initlab_dots8_fn)(const double *const *, const double *const *, const ptrdiff_t *,
                                 initlab_vec *);

/* The sizes of count groups of n items, as equal as can be, the larger first. */
static inline ptrdiff_t initlab_group_size(ptrdiff_t n, ptrdiff_t count, ptrdiff_t g) {
    return n / count + (g < n % count);
}

/* dW[a xs + b ys] = sum_j X[a m + j] Y[b m + j] for a < p, b < q, each in numpy's pairwise
 * order (plan = _plan over the m terms at X and Y; rows are m apart), the product x y
 * in that order. Tiles of up to 4 rows of X by up to 8 rows of Y, at most 24 sums
 * (initlab_dots8_block); the rows of X and of Y each split into groups as equal as
 * can be, so that a tile has as many independent sums as the registers hold. */
static void initlab_outer8(const double *X, const double *Y, ptrdiff_t p, ptrdiff_t q, ptrdiff_t m,
                           const ptrdiff_t *plan, double *dW, ptrdiff_t xs, ptrdiff_t ys) {
    static const initlab_dots8_fn kernels[4][8] = {
        {initlab_dots8_1x1, initlab_dots8_1x2, initlab_dots8_1x3, initlab_dots8_1x4,
         initlab_dots8_1x5, initlab_dots8_1x6, initlab_dots8_1x7, initlab_dots8_1x8},
        {initlab_dots8_2x1, initlab_dots8_2x2, initlab_dots8_2x3, initlab_dots8_2x4,
         initlab_dots8_2x5, initlab_dots8_2x6, initlab_dots8_2x7, initlab_dots8_2x8},
        {initlab_dots8_3x1, initlab_dots8_3x2, initlab_dots8_3x3, initlab_dots8_3x4,
         initlab_dots8_3x5, initlab_dots8_3x6, initlab_dots8_3x7, initlab_dots8_3x8},
        {initlab_dots8_4x1, initlab_dots8_4x2, initlab_dots8_4x3, initlab_dots8_4x4,
         initlab_dots8_4x5, initlab_dots8_4x6, NULL, NULL}};
    ptrdiff_t gx = (p + 3) / 4, a0 = 0;
    for (ptrdiff_t g = 0; g < gx; g++) {
        ptrdiff_t pa = initlab_group_size(p, gx, g), b0 = 0;
        /* as many columns as 24 sums allow: 8 for up to 3 rows, 6 for 4 */
        ptrdiff_t widest = pa <= 3 ? 8 : 6;
        ptrdiff_t gy = (q + widest - 1) / widest;
        const double *x[INITLAB_TILE_ROWS];
        for (ptrdiff_t a = 0; a < pa; a++)
            x[a] = X + (a0 + a) * m;
        for (ptrdiff_t h = 0; h < gy; h++) {
            ptrdiff_t qb = initlab_group_size(q, gy, h);
            const double *y[INITLAB_TILE_COLUMNS];
            initlab_vec out[2 * INITLAB_TILE_ROWS];
            double s[8];
            for (ptrdiff_t b = 0; b < qb; b++)
                y[b] = Y + (b0 + b) * m;
            kernels[pa - 1][qb - 1](x, y, plan, out);
            for (ptrdiff_t a = 0; a < pa; a++) {
                double *to = dW + (a0 + a) * xs + b0 * ys;
                initlab_store(s, out[2 * a]);
                if (qb > 4)
                    initlab_store(s + 4, out[2 * a + 1]);
                /* stores one by one: as a loop, gcc makes it a call of memcpy */
                switch (qb) {
                case 8: to[7 * ys] = s[7]; /* fall through */
                case 7: to[6 * ys] = s[6]; /* fall through */
                case 6: to[5 * ys] = s[5]; /* fall through */
                case 5: to[4 * ys] = s[4]; /* fall through */
                case 4: to[3 * ys] = s[3]; /* fall through */
                case 3: to[2 * ys] = s[2]; /* fall through */
                case 2: to[ys] = s[1]; /* fall through */
                default: to[0] = s[0];
                }
            }
            b0 += qb;
        }
        a0 += pa;
    }
}

/* out[r] = sum_j A[r m + j], j < the plan's terms, in numpy's pairwise order, for r < rows:
 * up to 8 rows at once, each one initlab_vec8 of partial sums. */
INITLAB_ALWAYS_INLINE void initlab_sums8_block(const double *A, ptrdiff_t m, int rows, ptrdiff_t n,
                                               initlab_vec *out) {
    ptrdiff_t j = 0;
    int a, g, groups = (rows + 3) / 4;
    if (n < 8) {
        for (g = 0; g < groups; g++)
            out[g] = initlab_splat(-0.0);
    } else {
        initlab_vec8 s[8];
        ptrdiff_t body = n - n % 8;
        for (a = 0; a < rows; a++)
            s[a] = initlab_load8(A + a * m);
        for (j = 8; j < body; j += 8)
            for (a = 0; a < rows; a++)
                s[a] = s[a] + initlab_load8(A + a * m + j);
        for (a = rows; a < 4 * groups; a++)
            s[a] = s[0];
        for (g = 0; g < groups; g++)
            out[g] = initlab_hsum4x8(s[4 * g], s[4 * g + 1], s[4 * g + 2], s[4 * g + 3]);
        j = body;
    }
    for (; j < n; j++)
        for (g = 0; g < groups; g++) {
            const double *r = A + 4 * g * m + j;
            int left = rows - 4 * g;
            out[g] = out[g] + initlab_set(r[0], r[left > 1 ? m : 0], r[left > 2 ? 2 * m : 0],
                                          r[left > 3 ? 3 * m : 0]);
        }
}

INITLAB_ALWAYS_INLINE void initlab_sums8_plan(const double *A, ptrdiff_t m, int rows,
                                              const ptrdiff_t *plan, double *out) {
    initlab_vec results[INITLAB_PLAN_DEPTH][2];
    double s[8];
    ptrdiff_t top = 0, j = 0;
    int g, groups = (rows + 3) / 4;
    for (ptrdiff_t i = 1; i <= plan[0]; i++) {
        ptrdiff_t step = plan[i];
        if (step == INITLAB_COMBINE) {
            top--;
            for (g = 0; g < groups; g++)
                results[top - 1][g] = results[top - 1][g] + results[top][g];
        } else {
            initlab_sums8_block(A + j, m, rows, step, results[top]);
            top++;
            j += step;
        }
    }
    for (g = 0; g < groups; g++)
        initlab_store(s + 4 * g, results[0][g]);
    for (g = 0; g < rows; g++)
        out[g] = s[g];
}

#define INITLAB_SUMS8_CASE(rows)                                                                \
    case rows:                                                                                 \
        initlab_sums8_plan(A + r * m, m, rows, plan, out + r);                                 \
        break;

/* out[r] = sum_j A[r m + j] in numpy's pairwise order (plan) for r < rows, in groups of
 * at most 8 rows as equal as can be. */
static void initlab_row_sums8(const double *A, double *out, ptrdiff_t rows, ptrdiff_t m,
                              const ptrdiff_t *plan) {
    ptrdiff_t groups = (rows + 7) / 8, r = 0;
    for (ptrdiff_t g = 0; g < groups; g++) {
        ptrdiff_t size = initlab_group_size(rows, groups, g);
        switch (size) {
            INITLAB_SUMS8_CASE(1) INITLAB_SUMS8_CASE(2) INITLAB_SUMS8_CASE(3)
            INITLAB_SUMS8_CASE(4) INITLAB_SUMS8_CASE(5) INITLAB_SUMS8_CASE(6)
            INITLAB_SUMS8_CASE(7) INITLAB_SUMS8_CASE(8)
        }
        r += size;
    }
}

/* What initlab_stationary does to each sum z before storing it, lane by lane:
 * nothing; z + bias[r]; relu(z + bias[r]); or z g'(gate) for relu (low = 0) and
 * leaky relu (low = its slope) with gate = A = g(Z) at the same place. The
 * same operations as the separate passes of the kernel, fused into the store. */
enum { INITLAB_PLAIN, INITLAB_BIAS, INITLAB_BIAS_RELU, INITLAB_GATE };

INITLAB_ALWAYS_INLINE initlab_wvec initlab_stationary_finish(
    initlab_wvec z, int mode, initlab_wvec b, const double *gate, double low) {
    if (mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU)
        z = z + b;
    if (mode == INITLAB_BIAS_RELU)
        z = initlab_wrelu(z);
    if (mode == INITLAB_GATE)
        z = initlab_wgate(z, initlab_wload(gate), low);
    return z;
}

/* The most rows initlab_stationary_group takes at once. */
#define INITLAB_STATIONARY_GROUP 4

/* Rows 0..group-1 of Z[r, c] = finish(sum_k W[r row_step + k w_step] B[k b_k + c]),
 * k = 0, 1, ..., count - 1 in order, for the columns c < body (a multiple of
 * INITLAB_WIDE). The weights of the group's rows stay in registers while the
 * columns go by, each vector of B read once for all the group's rows. */
INITLAB_ALWAYS_INLINE void initlab_stationary_group(
    const double *W, ptrdiff_t row_step, ptrdiff_t w_step, const double *B, ptrdiff_t b_k,
    ptrdiff_t body, double *Z, ptrdiff_t z_ld, int group, int count, int mode,
    const double *bias, const double *gate, double low) {
    initlab_wvec w[INITLAB_STATIONARY_GROUP][INITLAB_STATIONARY_COUNT];
    initlab_wvec b[INITLAB_STATIONARY_GROUP], z[INITLAB_STATIONARY_GROUP], v;
    int biased = mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU;
    ptrdiff_t c;
    int g, k;
    for (g = 0; g < group; g++) {
        for (k = 0; k < count; k++)
            w[g][k] = initlab_wsplat(W[g * row_step + k * w_step]);
        b[g] = initlab_wsplat(biased ? bias[g] : 0.0);
    }
    for (c = 0; c < body; c += INITLAB_WIDE) {
        v = initlab_wload(B + c);
        for (g = 0; g < group; g++)
            z[g] = w[g][0] * v;
        for (k = 1; k < count; k++) {
            v = initlab_wload(B + k * b_k + c);
            for (g = 0; g < group; g++)
                z[g] = z[g] + w[g][k] * v;
        }
        for (g = 0; g < group; g++)
            initlab_wstore(Z + g * z_ld + c,
                           initlab_stationary_finish(z[g], mode, b[g],
                                                     mode == INITLAB_GATE ? gate + g * z_ld + c : gate,
                                                     low));
    }
}

/* Z[r, c] = finish(sum_k W[r row_step + k w_step] B[k b_k + c]) for r < rows,
 * c < cols, k = 0, 1, ..., count - 1 in order: a matrix product whose sums are
 * short, in groups of rows (initlab_stationary_group): as many as the registers
 * hold the weights of. Each vector multiply-add is two instructions, a vector of B
 * read straight into its multiply. The columns go by whole vectors: the rows of B,
 * Z and the gate must have room for cols rounded up to INITLAB_WIDE (the kernel's
 * padded rows), whose columns past cols are computed from B's and never read into
 * a column before them. always_inline, so that each constant count and
 * mode gets its own fully unrolled loop (the compiler's heuristics would otherwise
 * keep one copy with a run-time count, three times slower).
 */
INITLAB_ALWAYS_INLINE void initlab_stationary_blocks(
    const double *W, ptrdiff_t row_step, ptrdiff_t w_step, const double *B, ptrdiff_t b_k,
    ptrdiff_t cols, double *Z, ptrdiff_t z_ld, ptrdiff_t rows, int count, int mode,
    const double *bias, const double *gate, double low) {
    /* 32 vector registers with AVX-512, 16 with AVX */
    const int group = INITLAB_WIDE == 8 ? (count <= 4 ? 4 : 2) : (count <= 5 ? 2 : 1);
    int biased = mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU;
    ptrdiff_t body = (cols + INITLAB_WIDE - 1) / INITLAB_WIDE * INITLAB_WIDE, r = 0;
#define INITLAB_GROUP(size)                                                                     \
    initlab_stationary_group(W + r * row_step, row_step, w_step, B, b_k, body, Z + r * z_ld,   \
                             z_ld, size, count, mode, biased ? bias + r : bias,                 \
                             mode == INITLAB_GATE ? gate + r * z_ld : gate, low)
    if (group == 4)
        for (; r + 4 <= rows; r += 4)
            INITLAB_GROUP(4);
    if (group >= 2)
        for (; r + 2 <= rows; r += 2)
            INITLAB_GROUP(2);
    for (; r < rows; r++)
        INITLAB_GROUP(1);
#undef INITLAB_GROUP
}

#define INITLAB_STATIONARY_CASE(count, mode)                                                    \
    case (mode) * (INITLAB_STATIONARY_COUNT + 1) + (count):                                    \
        initlab_stationary_blocks(W, row_step, w_step, B, b_k, cols, Z, z_ld, rows, count,     \
                                  mode, bias, gate, low);                                      \
        return 1;
#define INITLAB_STATIONARY_CASES(mode)                                                          \
    INITLAB_STATIONARY_CASE(1, mode) INITLAB_STATIONARY_CASE(2, mode)                           \
    INITLAB_STATIONARY_CASE(3, mode) INITLAB_STATIONARY_CASE(4, mode)                           \
    INITLAB_STATIONARY_CASE(5, mode) INITLAB_STATIONARY_CASE(6, mode)                           \
    INITLAB_STATIONARY_CASE(7, mode) INITLAB_STATIONARY_CASE(8, mode)                           \
    INITLAB_STATIONARY_CASE(9, mode) INITLAB_STATIONARY_CASE(10, mode)

/* initlab_stationary_blocks when count <= INITLAB_STATIONARY_COUNT (returns 1), else
 * nothing (returns 0). finish: relu(z + bias) when relu, z + bias when only bias
 * is given, z g'(gate) when gate is given, else z. */
static int initlab_stationary(const double *W, ptrdiff_t row_step, ptrdiff_t w_step,
                              const double *B, ptrdiff_t b_k, ptrdiff_t cols, double *Z,
                              ptrdiff_t z_ld, ptrdiff_t rows, ptrdiff_t count,
                              const double *bias, int relu, const double *gate, double low) {
    int mode = gate ? INITLAB_GATE : !bias ? INITLAB_PLAIN : relu ? INITLAB_BIAS_RELU : INITLAB_BIAS;
    if (count < 1 || count > INITLAB_STATIONARY_COUNT)
        return 0;
    switch (mode * (INITLAB_STATIONARY_COUNT + 1) + count) {
        INITLAB_STATIONARY_CASES(INITLAB_PLAIN)
        INITLAB_STATIONARY_CASES(INITLAB_BIAS)
        INITLAB_STATIONARY_CASES(INITLAB_BIAS_RELU)
        INITLAB_STATIONARY_CASES(INITLAB_GATE)
    }
    return 0;
}

/* The peak of the arithmetic the kernel does, for the benchmark: 12 independent
 * chains s = s c + d, a multiply then an add (no FMA: the build turns contraction
 * off), iterations times each: 96 flops an iteration. Returns a sum of the
 * chains, so that the compiler keeps the loop; 12 chains and the 2 constants
 * fill the 16 vector registers of AVX2. */
static inline double initlab_peak_probe(long iterations) {
    const initlab_vec c = initlab_splat(0.999999), d = initlab_splat(1e-6);
    initlab_vec s0 = initlab_splat(1.0), s1 = initlab_splat(1.01), s2 = initlab_splat(1.02);
    initlab_vec s3 = initlab_splat(1.03), s4 = initlab_splat(1.04), s5 = initlab_splat(1.05);
    initlab_vec s6 = initlab_splat(1.06), s7 = initlab_splat(1.07), s8 = initlab_splat(1.08);
    initlab_vec s9 = initlab_splat(1.09), s10 = initlab_splat(1.10), s11 = initlab_splat(1.11);
    double out[4];
    for (long i = 0; i < iterations; i++) {
        s0 = s0 * c + d; s1 = s1 * c + d; s2 = s2 * c + d; s3 = s3 * c + d;
        s4 = s4 * c + d; s5 = s5 * c + d; s6 = s6 * c + d; s7 = s7 * c + d;
        s8 = s8 * c + d; s9 = s9 * c + d; s10 = s10 * c + d; s11 = s11 * c + d;
    }
    initlab_store(out, ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + ((s8 + s9) + (s10 + s11)));
    return (out[0] + out[1]) + (out[2] + out[3]);
}

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#endif

/* The widest build this CPU runs: 2 for AVX-512 (F, DQ, VL, BW), 1 for AVX2 with
 * FMA, 0 otherwise (and on other architectures). */
static inline int initlab_cpu_level(void) {
#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    int info[4], ecx1;
    unsigned long long xcr0;
    __cpuid(info, 0);
    if (info[0] < 7)
        return 0;
    __cpuid(info, 1);
    ecx1 = info[2];
    /* OSXSAVE, AVX and FMA, and the system saves the YMM registers (XCR0 bits 1 and 2) */
    if (!(ecx1 & (1 << 27)) || !(ecx1 & (1 << 28)) || !(ecx1 & (1 << 12)))
        return 0;
    xcr0 = _xgetbv(0);
    if ((xcr0 & 6) != 6)
        return 0;
    __cpuidex(info, 7, 0);
    if (!(info[1] & (1 << 5)))
        return 0;
    /* AVX512F (16), DQ (17), BW (30), VL (31), and the opmask and ZMM state saved (5-7) */
    if ((info[1] & (1 << 16)) && (info[1] & (1 << 17)) && (info[1] & (1 << 30)) &&
        (info[1] & (1u << 31)) && (xcr0 & 0xe6) == 0xe6)
        return 2;
    return 1;
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
        return 2;
    return 1;
#else
    return 0;
#endif
}

/* The level (as initlab_cpu_level) this translation unit was compiled for. */
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define INITLAB_COMPILED_LEVEL 2
#elif defined(__AVX2__) && defined(__FMA__)
#define INITLAB_COMPILED_LEVEL 1
#elif defined(_MSC_VER) && defined(__AVX512F__)
#define INITLAB_COMPILED_LEVEL 2
#elif defined(_MSC_VER) && defined(__AVX2__)
#define INITLAB_COMPILED_LEVEL 1 /* /arch:AVX2 allows FMA */
#else
#define INITLAB_COMPILED_LEVEL 0
#endif

#endif
