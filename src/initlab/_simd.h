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

/* What initlab_stationary does to each sum z before storing it, lane by lane:
 * nothing; z + bias[r]; relu(z + bias[r]); or z g'(gate) for relu (low = 0) and
 * leaky relu (low = its slope) with gate = A = g(Z) at the same place. The
 * same operations as the separate passes of the kernel, fused into the store. */
enum { INITLAB_PLAIN, INITLAB_BIAS, INITLAB_BIAS_RELU, INITLAB_GATE };

/* Z[r, c] = finish(sum_k W[r row_step + k w_step] B[k b_k + c]) for r < rows,
 * c < cols, k = 0, 1, ..., count - 1 in order: a matrix product whose sums are
 * short. The count weights of a row stay in registers while its columns go by,
 * 4 at a time, each vector of B read straight into its multiply (two
 * instructions a vector multiply-add), then the columns left one at a time.
 * always_inline, so that each constant count and mode gets its own fully
 * unrolled loop (the compiler's heuristics would otherwise keep one copy with
 * a run-time count, three times slower).
 */
INITLAB_ALWAYS_INLINE void initlab_stationary_rows(
    const double *W, ptrdiff_t row_step, ptrdiff_t w_step, const double *B, ptrdiff_t b_k,
    ptrdiff_t cols, double *Z, ptrdiff_t z_ld, ptrdiff_t rows, int count, int mode,
    const double *bias, const double *gate, double low) {
    initlab_vec w[INITLAB_STATIONARY_COUNT];
    for (ptrdiff_t r = 0; r < rows; r++) {
        for (int k = 0; k < count; k++)
            w[k] = initlab_splat(W[r * row_step + k * w_step]);
        initlab_vec b = initlab_splat(mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU ? bias[r] : 0.0);
        ptrdiff_t c = 0;
        for (; c + 4 <= cols; c += 4) {
            initlab_vec z = w[0] * initlab_load(B + c);
            for (int k = 1; k < count; k++)
                z = z + w[k] * initlab_load(B + k * b_k + c);
            if (mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU)
                z = z + b;
            if (mode == INITLAB_BIAS_RELU)
                z = initlab_relu(z);
            if (mode == INITLAB_GATE)
                z = z * initlab_step(initlab_load(gate + r * z_ld + c), low);
            initlab_store(Z + r * z_ld + c, z);
        }
        for (; c < cols; c++) {
            double z = W[r * row_step] * B[c];
            for (int k = 1; k < count; k++)
                z = z + W[r * row_step + k * w_step] * B[k * b_k + c];
            if (mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU)
                z = z + bias[r];
            if (mode == INITLAB_BIAS_RELU)
                z = z <= 0 ? 0.0 : z; /* nan stays nan, as np.maximum */
            if (mode == INITLAB_GATE)
                z = z * (gate[r * z_ld + c] > 0 ? 1.0 : low);
            Z[r * z_ld + c] = z;
        }
    }
}

/* The longest sum whose rows initlab_stationary takes two at a time: two rows'
 * weights and sums stay in registers, and each vector of B loaded serves both. */
#define INITLAB_STATIONARY_PAIRED 5

/* initlab_stationary_rows for rows r and r + 1 at once: each element's sum and
 * finish are the same operations, in the same order, as there. */
INITLAB_ALWAYS_INLINE initlab_vec initlab_stationary_finish(
    initlab_vec z, int mode, initlab_vec b, const double *gate, double low) {
    if (mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU)
        z = z + b;
    if (mode == INITLAB_BIAS_RELU)
        z = initlab_relu(z);
    if (mode == INITLAB_GATE)
        z = z * initlab_step(initlab_load(gate), low);
    return z;
}

INITLAB_ALWAYS_INLINE void initlab_stationary_pair(
    const double *W, ptrdiff_t row_step, ptrdiff_t w_step, const double *B, ptrdiff_t b_k,
    ptrdiff_t cols, double *Z, ptrdiff_t z_ld, int count, int mode, const double *bias,
    const double *gate, double low) {
    initlab_vec w0[INITLAB_STATIONARY_PAIRED], w1[INITLAB_STATIONARY_PAIRED];
    for (int k = 0; k < count; k++) {
        w0[k] = initlab_splat(W[k * w_step]);
        w1[k] = initlab_splat(W[row_step + k * w_step]);
    }
    int biased = mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU;
    initlab_vec b0 = initlab_splat(biased ? bias[0] : 0.0);
    initlab_vec b1 = initlab_splat(biased ? bias[1] : 0.0);
    ptrdiff_t c = 0;
    for (; c + 4 <= cols; c += 4) {
        initlab_vec v = initlab_load(B + c);
        initlab_vec z0 = w0[0] * v, z1 = w1[0] * v;
        for (int k = 1; k < count; k++) {
            v = initlab_load(B + k * b_k + c);
            z0 = z0 + w0[k] * v;
            z1 = z1 + w1[k] * v;
        }
        const double *g = mode == INITLAB_GATE ? gate + c : gate;
        initlab_store(Z + c, initlab_stationary_finish(z0, mode, b0, g, low));
        initlab_store(Z + z_ld + c,
                      initlab_stationary_finish(z1, mode, b1, mode == INITLAB_GATE ? g + z_ld : g, low));
    }
    if (c < cols)
        initlab_stationary_rows(W, row_step, w_step, B + c, b_k, cols - c, Z + c, z_ld, 2, count,
                                mode, bias, gate ? gate + c : gate, low);
}

/* initlab_stationary_rows, two rows at a time when the sums are short enough. */
INITLAB_ALWAYS_INLINE void initlab_stationary_blocks(
    const double *W, ptrdiff_t row_step, ptrdiff_t w_step, const double *B, ptrdiff_t b_k,
    ptrdiff_t cols, double *Z, ptrdiff_t z_ld, ptrdiff_t rows, int count, int mode,
    const double *bias, const double *gate, double low) {
    ptrdiff_t r = 0;
    if (count <= INITLAB_STATIONARY_PAIRED) {
        int biased = mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU;
        for (; r + 2 <= rows; r += 2)
            initlab_stationary_pair(W + r * row_step, row_step, w_step, B, b_k, cols,
                                    Z + r * z_ld, z_ld, count, mode, biased ? bias + r : bias,
                                    gate ? gate + r * z_ld : gate, low);
    }
    if (r < rows)
        initlab_stationary_rows(W + r * row_step, row_step, w_step, B, b_k, cols, Z + r * z_ld,
                                z_ld, rows - r, count, mode,
                                (mode == INITLAB_BIAS || mode == INITLAB_BIAS_RELU) ? bias + r : bias,
                                gate ? gate + r * z_ld : gate, low);
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

/* initlab_stationary_rows when count <= INITLAB_STATIONARY_COUNT (returns 1), else
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
