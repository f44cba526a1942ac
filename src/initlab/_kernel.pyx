"""Compiled core of ``initlab.kernel``: dense forward/backward and the training loop.

Private: ``initlab.kernel`` validates every input and calls these functions with
C-contiguous float64 buffers. Parameters live in one flat buffer laid out as
``W1 (n_1 x n_0), b1 (n_1), W2, b2, ..., WL, bL``; gradients use the same
layout, so the update is one loop over the buffer.

Every sum has a fixed order, written out below, and the build turns off
floating-point contraction, so results do not depend on the BLAS, on the
vector width the compiler chose, or on the machine:

- over examples for db, the loss and dW: numpy's pairwise summation (8
  interleaved partial sums in blocks of at most 128, blocks halved
  recursively), except a dW that is a large product (_large_dw), summed
  j = 0, 1, ..., m-1 in order;
- over units (W A, W^T dZ): k = 0, 1, ..., n-1 in order, then the bias.

A large product (PARALLEL_WORK multiply-adds or more, sums of more than
STATIONARY_COUNT terms: _large) fuses each multiply-add of its sums (fma,
rounded once: see _gemm.h); every other sum rounds each product and each
addition. fma is exact then rounded, so every build gives the same bits; which
products are large depends on the shapes only.

The order depends on the shapes only, never on the machine or the threads.

Large layers are split over threads by output tiles; each output element is
still computed by one thread, in the order above. Many examples (m >=
SPLIT_EXAMPLES) are split over threads by columns, and a pairwise sum over them
by whole subtrees of its tree: thread t sums subtree t in its own order, and
the subtrees' sums are added as the tree's top levels add them, left + right,
so the bits are those of one thread. train goes further for a network without a
large product (Split): each thread does the whole forward and backward pass of
its subtrees' examples, in buffers of its own, the threads meet once an
iteration, and each adds the parts' gradients in that order and takes the same
step on its own copy of the parameters.

Every work buffer is 64-byte aligned, and so is every row of the activations,
gradients and examples: rows are ld = m rounded up to 8 doubles apart (the
padding is never read into a result). The AVX-512 build computes the short products, the sums over examples
and the sigmoid on 8-lane vectors (lane r of a pairwise sum's vector is numpy's
partial sum s_r), the other builds on 4 lanes: the same operations, lane for
lane, so the same bits. An allocation that fails is a MemoryError naming the
buffer, its layer and its bytes. ``train`` stops at
the first update that leaves a parameter inf or nan and says which.
"""

from cython.parallel cimport parallel, prange, threadid
from libc.math cimport log, tanh, isnan
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from libc.stdint cimport uintptr_t
from cpython.pyport cimport PY_SSIZE_T_MAX

from time import perf_counter

import numpy as np

cdef extern from "_simd.h" nogil:
    # Four float64 lanes; +, - and * act lane by lane.
    ctypedef double vec "initlab_vec"
    vec vload "initlab_load"(const double* p)
    void vstore "initlab_store"(double* p, vec v)
    vec splat "initlab_splat"(double x)
    vec set4 "initlab_set"(double a, double b, double c, double d)
    vec hsum4 "initlab_hsum4"(vec a, vec b, vec c, vec d)
    vec relu "initlab_relu"(vec z)
    vec step "initlab_step"(vec a, double low)
    vec vexp "initlab_exp"(vec x)
    void vexp4 "initlab_exp4"(vec* x)
    void dots2x4 "initlab_dots2x4"(const double* x0, const double* x1, const double* y0,
                                   const double* y1, const double* y2, const double* y3,
                                   const Py_ssize_t* plan, vec* out)
    enum:
        STATIONARY_COUNT "INITLAB_STATIONARY_COUNT"
        COMBINE "INITLAB_COMBINE"       # a plan's step that adds the last two results
        PLAN_DEPTH "INITLAB_PLAN_DEPTH" # more than the depth of any plan
    bint stationary "initlab_stationary"(const double* W, Py_ssize_t row_step, Py_ssize_t w_step,
                                         const double* B, Py_ssize_t b_k, Py_ssize_t cols,
                                         double* Z, Py_ssize_t z_ld, Py_ssize_t rows,
                                         Py_ssize_t count, const double* bias, bint relu,
                                         const double* gate, double low)
    double exp1 "initlab_exp1"(double x)
    # The lanes of the short products' and the sums' vectors: 8 with AVX-512, else 4.
    enum:
        WIDE "INITLAB_WIDE"
    void outer8 "initlab_outer8"(const double* X, const double* Y, Py_ssize_t p, Py_ssize_t q,
                                 Py_ssize_t m, const Py_ssize_t* plan, double* dW, Py_ssize_t xs,
                                 Py_ssize_t ys)
    void sigmoid8 "initlab_sigmoid8"(double* Z, Py_ssize_t size)
    void row_sums8 "initlab_row_sums8"(const double* A, double* out, Py_ssize_t rows, Py_ssize_t m,
                                       const Py_ssize_t* plan)
    double peak_probe "initlab_peak_probe"(long iterations)
    int team_size "initlab_team_size"()
    void publish "initlab_publish"(long long* count, long long value)
    void wait_for "initlab_wait_for"(long long* count, long long value)
    int cpu_level "initlab_cpu_level"()
    int COMPILED_LEVEL "INITLAB_COMPILED_LEVEL"

cdef extern from "_gemm.h" nogil:
    enum:
        GEMM_MR "INITLAB_GEMM_MR"
        GEMM_NR "INITLAB_GEMM_NR"
        GEMM_KC "INITLAB_GEMM_KC"
        GEMM_MR_MAX "INITLAB_GEMM_MR_MAX"
        GEMM_WIDTH "INITLAB_GEMM_WIDTH"
        GEMM_BLOCK "INITLAB_GEMM_BLOCK"
        W_AREA "INITLAB_GEMM_W_AREA"
        PACK_STRIDE "INITLAB_GEMM_PACK_STRIDE"
    double gemm_peak_probe "initlab_gemm_peak_probe"(long iterations)
    void gemm_pack_b "initlab_gemm_pack_b"(const double* B, Py_ssize_t b_k, Py_ssize_t b_col,
                                            Py_ssize_t k0, Py_ssize_t kc, Py_ssize_t c0,
                                            Py_ssize_t width, double* P)
    void gemm_pack_w "initlab_gemm_pack_w"(const double* W, Py_ssize_t row_step,
                                            Py_ssize_t w_step, Py_ssize_t r0, Py_ssize_t rows,
                                            Py_ssize_t k0, Py_ssize_t kc, double* P)
    void gemm_strips "initlab_gemm_strips"(const double* pw, const double* pb,
                                            Py_ssize_t b_step, Py_ssize_t strip_step,
                                            Py_ssize_t kc, Py_ssize_t first, Py_ssize_t last,
                                            double* Z,
                                            Py_ssize_t z_ld, Py_ssize_t rows, bint accumulate,
                                            int finish, const double* bias, const double* gate,
                                            double low, double* descend, double* bad)
    enum:
        FINISH_NONE "INITLAB_FINISH_NONE"
        FINISH_BIAS "INITLAB_FINISH_BIAS"
        FINISH_BIAS_RELU "INITLAB_FINISH_BIAS_RELU"
        FINISH_GATE "INITLAB_FINISH_GATE"
        FINISH_DESCEND "INITLAB_FINISH_DESCEND"

cdef enum Activation:
    RELU = 0
    TANH = 1
    SIGMOID = 2
    LEAKY_RELU = 3

cdef double LEAKY_SLOPE = 0.01
# train on several threads: blocks of about BLOCK_SECONDS, one in PROBE_EVERY on the
# thread count that was slower (see train).
cdef double BLOCK_SECONDS = 0.02
cdef int PROBE_EVERY = 16
# train starts on one thread and tries all of them only while at least PROBE_SECONDS of
# one-thread training are left: on a machine busy with other work the first parallel
# region can wait tens of milliseconds for a thread, more than a short training takes.
cdef double PROBE_SECONDS = 0.1
# The same for a training split over the examples (Split): one parallel region a
# block, and the course problem's 3000 iterations take about 15 ms on one thread.
cdef double SPLIT_PROBE_SECONDS = 0.01
# A probe of the split lasts at least this long at one thread's speed, and a block
# on it about SPLIT_BLOCK_SECONDS (see train).
cdef double SPLIT_PROBE_LENGTH = 0.001
cdef double SPLIT_BLOCK_SECONDS = 0.002

# The blocks of the latest training that compared thread counts, for the tests
# (_last_blocks): threads, iterations, and whether the block was timed. Written by
# whichever training runs; only the tests read it, one training at a time.
cdef enum:
    BLOCK_LOG = 256
cdef int _block_log[BLOCK_LOG][3]
cdef int _block_count = 0


def _last_blocks():
    """The first BLOCK_LOG blocks of the latest training that compared one thread with
    all: (threads, iterations, timed) each. For the tests."""
    return [(_block_log[i][0], _block_log[i][1], bool(_block_log[i][2]))
            for i in range(min(_block_count, BLOCK_LOG))]


cdef inline void _log_block(int threads, Py_ssize_t iterations, bint timed) noexcept nogil:
    global _block_count
    if _block_count < BLOCK_LOG:
        _block_log[_block_count][0] = threads
        _block_log[_block_count][1] = <int> iterations
        _block_log[_block_count][2] = timed
    _block_count += 1


def _set_probe_seconds(double seconds, double split_seconds=-1.0):
    """Set PROBE_SECONDS and SPLIT_PROBE_SECONDS (0: train always tries all its
    threads; split_seconds -1: the same as seconds); returns the old values. For the
    tests of the thread switching."""
    global PROBE_SECONDS, SPLIT_PROBE_SECONDS
    old = (PROBE_SECONDS, SPLIT_PROBE_SECONDS)
    PROBE_SECONDS = seconds
    SPLIT_PROBE_SECONDS = split_seconds if split_seconds >= 0 else seconds
    return old


# train on all its threads throughout, without comparing one thread (for the tests).
cdef bint ALWAYS_ALL = False


def _split_parts(const double[:, ::1] X, const Py_ssize_t[::1] dims, int threads):
    """The parts train splits the examples of X into on threads threads (0: not split),
    and their first examples. For the tests."""
    cdef _Workspace ws = _Workspace(X, dims, RELU, threads, False)
    cdef int parts = ws._split_columns(threads)
    return parts, [ws.split.start[p] for p in range(parts + 1 if parts else 0)]


def _set_always_all(bint always):
    """Set whether train always runs on all its threads; returns the old setting. For
    the tests of the split over the examples."""
    global ALWAYS_ALL
    old = ALWAYS_ALL
    ALWAYS_ALL = always
    return old


# Multiply-adds an iteration from which train stays on all its threads: each parallel
# region is then long enough that waiting for a thread cannot dominate it, and a
# probe on one thread would only cost (a short training of a large network spent a
# quarter of its iterations probing).
cdef double STAY_PARALLEL_WORK = 16.0 * (1 << 20)
# Multiply-adds of train's first block, at most (see train).
cdef double FIRST_BLOCK_WORK = 8.0 * (1 << 20)

cdef enum:
    PAIRWISE_BLOCK = 128
    # A matrix product of this many multiply-adds or more is large: fused
    # multiply-adds, packed, split over threads (_gemm).
    PARALLEL_WORK = 1 << 20
    # Pieces of a large product per thread (_gemm). Each piece repeats some packing;
    # more pieces would let the other threads make up for one the scheduler holds
    # back, and on a quiet machine cost more than they gain.
    PIECES = 1
    # A piece of a large product with fewer panels of rows than this reads B in place.
    DIRECT_PANELS = 16
    # Columns of a tile of a short product (_short_product): 512 x count doubles of B.
    STATIONARY_TILE = 512
    # Work split over the examples: a short product from this many multiply-adds on,
    # an elementwise pass in chunks of CHUNK values (a multiple of 16), the sums over
    # the examples from SPLIT_EXAMPLES examples on, in at most MAX_PARTS parts.
    SPLIT_WORK = 1 << 16
    # A pass of one tile split over threads in bands of its rows (or columns): each
    # band starts at a multiple of BAND, whole blocks of rows (columns) of the pass,
    # and there are bands from twice as many rows (columns).
    BAND = 8
    CHUNK = 4096
    SPLIT_EXAMPLES = 4096
    MAX_PARTS = 8
    # The update of the parameters is split over threads from this many parameters
    # on, in chunks of DESCEND_CHUNK (a multiple of 4).
    PARALLEL_DESCEND = 1 << 16
    DESCEND_CHUNK = 1 << 14


# Doubles of packed B in one chunk of strips (_gemm_piece): GEMM_BLOCK. The size of a
# chunk changes no bit of the products (on Zen 3, whose second-level cache is 512 KB,
# a chunk of 512 KB was no faster: [2, 1000, 1000, 1] 5% slower, MNIST level).
cdef Py_ssize_t gemm_block = GEMM_BLOCK
# A piece with fewer panels of W than this reads B in place (_gemm_piece).
cdef Py_ssize_t direct_panels = DIRECT_PANELS


def _set_gemm(Py_ssize_t block, Py_ssize_t panels):
    """Set the doubles of a chunk of B (at most GEMM_BLOCK) and the panels below which
    B is read in place; returns the old pair. For the tests and the benchmarks: neither
    changes the bits."""
    global gemm_block, direct_panels
    old = (gemm_block, direct_panels)
    gemm_block = max(1, min(block, <Py_ssize_t> GEMM_BLOCK))
    direct_panels = panels
    return old


# The instruction sets of the builds, by level (initlab_cpu_level).
LEVELS = ("baseline", "avx2", "avx512")


def instruction_set():
    """The instruction set this module was compiled for: "avx512", "avx2" or "baseline"."""
    return LEVELS[COMPILED_LEVEL]


def peak_flops(int threads, double seconds, bint fused=False):
    """Flops per second of independent vector multiplies and adds on threads threads,
    measured for about seconds: the peak of this build's arithmetic (see
    initlab_peak_probe); fused: of its fused multiply-adds, as the large products
    do them (initlab_gemm_peak_probe)."""
    cdef long iterations = 1 << 16
    cdef int t
    cdef double sink = 0.0
    cdef double start, elapsed
    cdef double flops = 24.0 * GEMM_WIDTH if fused else 96.0
    import time
    while True:
        start = time.perf_counter()
        with nogil:
            sink += gemm_peak_probe(iterations) if fused else peak_probe(iterations)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4:
            break
        iterations *= 2
    iterations = <long> (iterations * seconds / elapsed)
    start = time.perf_counter()
    with nogil:
        for t in prange(threads, num_threads=threads, schedule="static"):
            sink += gemm_peak_probe(iterations) if fused else peak_probe(iterations)
    elapsed = time.perf_counter() - start
    if sink != sink:  # never: keeps the result in use
        return 0.0
    return flops * iterations * threads / elapsed


def best_supported():
    """The best build this CPU runs: "avx512", "avx2" (with FMA) or "baseline"."""
    return LEVELS[cpu_level()]


cdef extern from "_simd.h":
    const char* build_compiler "initlab_compiler"()
    int BUILD_OPENMP "INITLAB_OPENMP"
    int BUILD_PORTABLE "INITLAB_PORTABLE"


def build():
    """How this module was compiled: compiler, instruction set, OpenMP, SIMD path."""
    return {
        "compiler": build_compiler().decode().strip(),
        "instruction_set": instruction_set(),
        "openmp": BUILD_OPENMP != 0,
        "simd": "portable" if BUILD_PORTABLE else "vector extensions",
    }


cdef struct Net:
    Py_ssize_t L            # number of layers
    Py_ssize_t m            # number of examples (of a view: its columns)
    double inv_m            # 1 / the number of examples of the whole batch
    Py_ssize_t y_ld         # the row stride of Y: the whole batch's m
    # A part of a whole net, its examples [start, start + m) (train's split over the
    # examples, Split): its A, X and dZ are its own, Y is the whole net's from column
    # start (y_ld apart), and the sums over examples use the whole batch's 1 / m.
    bint view
    # The row stride of A{l}, dZ and the copy of X: m rounded up to a multiple of 8
    # (each row 64-byte aligned, so that no 8-lane load or store straddles two cache
    # lines; see _row_stride).
    Py_ssize_t ld
    const Py_ssize_t* dims  # n_0, ..., n_L
    Py_ssize_t* w_off       # offset of W{l} in params, l = 1..L (index 0 unused)
    Py_ssize_t* b_off       # offset of b{l} in params
    double** A              # A{l} (n_l x m), l = 1..L, each 64-byte aligned (index 0 unused)
    Py_ssize_t n_params
    Py_ssize_t widest       # max n_l, l >= 1
    int activation
    int threads             # threads for the large matrix products
    double* packs           # the packing buffers of the large products (see _gemm)
    Py_ssize_t* sum_plan    # the pairwise order of a sum over the m examples (see _plan)
    Py_ssize_t* loss_plan   # and of the loss, a sum of n_L m terms
    # The sums over the m examples split over threads (see _split_examples): parts
    # subtrees of the pairwise order, part t over examples [part_start[t],
    # part_start[t + 1]) in the order part_plans + t * part_plan_size; each part's
    # sums go to part_sums + t * part_stride. parts = 1: not split.
    int parts
    Py_ssize_t part_start[MAX_PARTS + 1]
    Py_ssize_t* part_plans
    Py_ssize_t part_plan_size
    double* part_sums
    Py_ssize_t part_stride
    # X transposed (m x n_0, rows xt_ld apart), for dW1 when it is a large product
    # (its B is X read transposed: packing it would gather the same values every
    # iteration); NULL when not made (see _Workspace._transpose_examples).
    double* XT
    Py_ssize_t xt_ld
    # train: the learning rate, when the step of each W{l} whose dW is a large product
    # is taken as its tiles are done (_backward, _fused_descent); else 0.0 and no step.
    double rate
    bint descending
    int pack_threads        # the threads net.packs has buffers for (0: no large product)


cdef int _net_init(Net* net, const Py_ssize_t* dims, Py_ssize_t L, Py_ssize_t m,
                   int activation, int threads) noexcept nogil:
    """Offsets of every layer; returns -1 when out of memory."""
    cdef Py_ssize_t l, p = 0
    net.L = L
    net.m = m
    net.inv_m = 1.0 / m
    net.y_ld = m
    net.view = False
    net.dims = dims
    net.activation = activation
    net.threads = threads
    net.widest = 0
    net.w_off = <Py_ssize_t*> malloc((2 * (L + 1) + _plan_size(m) + _plan_size(dims[L] * m))
                                     * sizeof(Py_ssize_t))
    if net.w_off == NULL:
        return -1
    net.b_off = net.w_off + (L + 1)
    net.sum_plan = net.w_off + 2 * (L + 1)
    net.loss_plan = net.sum_plan + _plan_size(m)
    _plan(m, net.sum_plan)
    _plan(dims[L] * m, net.loss_plan)
    for l in range(1, L + 1):
        net.w_off[l] = p
        p += dims[l] * dims[l - 1]
        net.b_off[l] = p
        p += dims[l]
        if dims[l] > net.widest:
            net.widest = dims[l]
    net.n_params = p
    net.ld = _row_stride(dims, L, m)
    return 0


cdef Py_ssize_t _row_stride(const Py_ssize_t* dims, Py_ssize_t L, Py_ssize_t m) noexcept nogil:
    """m rounded up to a multiple of 8. The padding columns are never read into a
    result: a short product computes them from the padding columns (each column of
    its result from the same column of B), and every other product and sum reads
    the m columns only."""
    return (m + 7) // 8 * 8


cdef enum Pattern:
    # Which of the pointers given to _pairwise4 are the same row, so that the
    # block loads each row once. Lane t of the result is sum_j x_t[j] y_t[j].
    SQUARE = 0   # x0 = x1, x2 = x3, y0 = y2, y1 = y3: a 2 x 2 block of dW
    ROW = 1      # x0 = x1 = x2 = x3: one row of dZ against four rows of A_prev
    COLUMN = 2   # y0 = y1 = y2 = y3: four rows of dZ against one row of A_prev
    SUMS = 3     # sum_j x_t[j] alone; the y_t are not read


cdef inline vec _terms(const double* x0, const double* x1, const double* x2, const double* x3,
                       const double* y0, const double* y1, const double* y2, const double* y3,
                       Py_ssize_t j, bint products) noexcept nogil:
    """[x0[j] y0[j], x1[j] y1[j], x2[j] y2[j], x3[j] y3[j]], or the x_t[j] alone."""
    if products:
        return set4(x0[j], x1[j], x2[j], x3[j]) * set4(y0[j], y1[j], y2[j], y3[j])
    return set4(x0[j], x1[j], x2[j], x3[j])


cdef inline vec _sums_block(const double* x0, const double* x1, const double* x2, const double* x3,
                        const double* y0, const double* y1, const double* y2, const double* y3,
                        Py_ssize_t n, bint products) noexcept nogil:
    """Lane t: sum_j x_t[j] y_t[j] (or sum_j x_t[j]) for 8 <= n <= PAIRWISE_BLOCK, as numpy:
    8 partial sums s_r = sum over j = r mod 8 up to the last multiple of 8, combined
    ((s_0 + s_1) + (s_2 + s_3)) + ((s_4 + s_5) + (s_6 + s_7)), then the j left one by one.
    """
    cdef vec lo0, lo1, lo2, lo3, hi0, hi1, hi2, hi3, r
    cdef Py_ssize_t j = 8
    cdef Py_ssize_t body = n - n % 8
    if products:
        lo0 = vload(x0) * vload(y0); hi0 = vload(x0 + 4) * vload(y0 + 4)
        lo1 = vload(x1) * vload(y1); hi1 = vload(x1 + 4) * vload(y1 + 4)
        lo2 = vload(x2) * vload(y2); hi2 = vload(x2 + 4) * vload(y2 + 4)
        lo3 = vload(x3) * vload(y3); hi3 = vload(x3 + 4) * vload(y3 + 4)
    else:
        lo0 = vload(x0); hi0 = vload(x0 + 4)
        lo1 = vload(x1); hi1 = vload(x1 + 4)
        lo2 = vload(x2); hi2 = vload(x2 + 4)
        lo3 = vload(x3); hi3 = vload(x3 + 4)
    while j < body:
        if products:
            lo0 = lo0 + vload(x0 + j) * vload(y0 + j); hi0 = hi0 + vload(x0 + j + 4) * vload(y0 + j + 4)
            lo1 = lo1 + vload(x1 + j) * vload(y1 + j); hi1 = hi1 + vload(x1 + j + 4) * vload(y1 + j + 4)
            lo2 = lo2 + vload(x2 + j) * vload(y2 + j); hi2 = hi2 + vload(x2 + j + 4) * vload(y2 + j + 4)
            lo3 = lo3 + vload(x3 + j) * vload(y3 + j); hi3 = hi3 + vload(x3 + j + 4) * vload(y3 + j + 4)
        else:
            lo0 = lo0 + vload(x0 + j); hi0 = hi0 + vload(x0 + j + 4)
            lo1 = lo1 + vload(x1 + j); hi1 = hi1 + vload(x1 + j + 4)
            lo2 = lo2 + vload(x2 + j); hi2 = hi2 + vload(x2 + j + 4)
            lo3 = lo3 + vload(x3 + j); hi3 = hi3 + vload(x3 + j + 4)
        j += 8
    r = hsum4(lo0, lo1, lo2, lo3) + hsum4(hi0, hi1, hi2, hi3)
    while j < n:
        r = r + _terms(x0, x1, x2, x3, y0, y1, y2, y3, j, products)
        j += 1
    return r




cdef inline Py_ssize_t _plan_size(Py_ssize_t n) noexcept nogil:
    """A bound on the length of a plan: blocks have >= 64 terms when n > PAIRWISE_BLOCK."""
    return 2 * (n // 64 + 1) + 1


cdef void _plan(Py_ssize_t n, Py_ssize_t* plan) noexcept nogil:
    """plan[0] = the number of steps, plan[1:] = numpy's pairwise order for n terms."""
    plan[0] = _plan_steps(n, plan + 1, 0)


cdef Py_ssize_t _plan_steps(Py_ssize_t n, Py_ssize_t* steps, Py_ssize_t count) noexcept nogil:
    """numpy's pairwise order for a sum of n terms, written to steps[count:] in postfix.

    A block of n <= PAIRWISE_BLOCK consecutive terms is one step, its length;
    a longer sum is the steps of its first n2 terms (half of n, rounded down to a
    multiple of 8), the steps of the rest, then COMBINE. Returns the new count.
    """
    cdef Py_ssize_t n2
    if n <= PAIRWISE_BLOCK:
        steps[count] = n
        return count + 1
    n2 = n // 2
    n2 -= n2 % 8
    count = _plan_steps(n2, steps, count)
    count = _plan_steps(n - n2, steps, count)
    steps[count] = COMBINE
    return count + 1


cdef int _split_lengths(Py_ssize_t n, int depth, Py_ssize_t* lengths, int count) noexcept nogil:
    """The lengths of the subtrees at the given depth of numpy's pairwise order for n
    terms (see _plan_steps), in order, appended at lengths[count:]; returns the new
    count, or -1 when a node above that depth is a block (cannot be split)."""
    cdef Py_ssize_t n2
    if depth == 0:
        lengths[count] = n
        return count + 1
    if n <= PAIRWISE_BLOCK:
        return -1
    n2 = n // 2
    n2 -= n2 % 8
    count = _split_lengths(n2, depth - 1, lengths, count)
    if count < 0:
        return -1
    return _split_lengths(n - n2, depth - 1, lengths, count)


cdef int _split_examples(Net* net, int threads) noexcept nogil:
    """net.parts and net.part_start for sums over net.m examples on threads threads:
    the 2^d >= threads subtrees at depth d of the pairwise order (at most MAX_PARTS),
    or 1 part when there are too few examples. Each thread sums whole subtrees, in
    their own order, and _combine_parts adds them as the tree's top levels do, so the
    sums have the same bits as on one thread."""
    cdef Py_ssize_t lengths[MAX_PARTS]
    cdef int depth = 0, parts = 1, t
    net.parts = 1
    net.part_start[0] = 0
    net.part_start[1] = net.m
    if threads < 2 or net.m < SPLIT_EXAMPLES:
        return 1
    while parts < threads and parts < MAX_PARTS:
        parts *= 2
        depth += 1
    if _split_lengths(net.m, depth, lengths, 0) != parts:
        return 1
    for t in range(parts):
        net.part_start[t + 1] = net.part_start[t] + lengths[t]
    net.parts = parts
    return parts


cdef inline vec _block_sums(const double* x0, const double* x1, const double* x2,
                            const double* x3, const double* y0, const double* y1,
                            const double* y2, const double* y3, Py_ssize_t n,
                            int pattern) noexcept nogil:
    """One block of _pairwise4: n < 8 terms one by one from -0.0, else _sums_block."""
    cdef Py_ssize_t j
    cdef vec r
    if n < 8:
        r = splat(-0.0)
        for j in range(n):
            r = r + _terms(x0, x1, x2, x3, y0, y1, y2, y3, j, pattern != SUMS)
        return r
    # The same row passed twice is the same pointer: the inlined block loads it once.
    if pattern == SQUARE:
        return _sums_block(x0, x0, x2, x2, y0, y1, y0, y1, n, True)
    if pattern == ROW:
        return _sums_block(x0, x0, x0, x0, y0, y1, y2, y3, n, True)
    if pattern == COLUMN:
        return _sums_block(x0, x1, x2, x3, y0, y0, y0, y0, n, True)
    return _sums_block(x0, x1, x2, x3, x0, x1, x2, x3, n, False)


cdef vec _pairwise4(const double* x0, const double* x1, const double* x2, const double* x3,
                    const double* y0, const double* y1, const double* y2, const double* y3,
                    const Py_ssize_t* plan, int pattern) noexcept nogil:
    """Lane t: sum_j x_t[j] y_t[j] in numpy's pairwise order (SUMS: sum_j x_t[j]).

    plan (from _plan) gives the blocks in order and how their sums combine.
    """
    cdef vec results[PLAN_DEPTH]
    cdef Py_ssize_t top = 0, j = 0, i, step
    for i in range(1, plan[0] + 1):
        step = plan[i]
        if step == COMBINE:
            top -= 1
            results[top - 1] = results[top - 1] + results[top]
        else:
            results[top] = _block_sums(x0 + j, x1 + j, x2 + j, x3 + j, y0 + j, y1 + j, y2 + j,
                                       y3 + j, step, pattern)
            top += 1
            j += step
    return results[0]


cdef inline const double* _row(const double* A, Py_ssize_t r, Py_ssize_t rows,
                               Py_ssize_t m) noexcept nogil:
    """Row r of A (rows x m), or its last row when r is past it (a lane computed and dropped)."""
    return A + min(r, rows - 1) * m


cdef void _row_sums(const double* A, double* out, Py_ssize_t rows, Py_ssize_t m,
                    const Py_ssize_t* plan) noexcept nogil:
    """out[i] = sum_j A[i, j] in numpy's pairwise order (plan = _plan(m)), four rows at a time."""
    cdef Py_ssize_t i, t
    cdef double s[4]
    cdef const double* x0
    cdef const double* x1
    cdef const double* x2
    cdef const double* x3
    if WIDE == 8:
        row_sums8(A, out, rows, m, plan)
        return
    for i in range(0, rows, 4):
        x0 = _row(A, i, rows, m)
        x1 = _row(A, i + 1, rows, m)
        x2 = _row(A, i + 2, rows, m)
        x3 = _row(A, i + 3, rows, m)
        vstore(s, _pairwise4(x0, x1, x2, x3, x0, x1, x2, x3, plan, SUMS))
        for t in range(min(4, rows - i)):
            out[i + t] = s[t]


cdef void _outer(const double* dZ, const double* A_prev, double* dW, Py_ssize_t n,
                 Py_ssize_t n_prev, Py_ssize_t m, const Py_ssize_t* plan,
                 Py_ssize_t dw_ld) noexcept nogil:
    """dW = dZ A_prev^T: dW[i dw_ld + k] = sum_j dZ[i, j] A_prev[k, j], each in pairwise
    order (plan = _plan(m)). Each element's sum is the same whatever the other rows.

    Of the two matrices, X has the fewer rows and Y the other. Pairs of rows of X
    go against four rows of Y at a time (initlab_dots2x4), then against the two
    or three rows left (a 2 x 2 block) and the last one (a column); the last row
    of X, when their number is odd, goes against four rows of Y at a time.
    """
    cdef const double* X = dZ
    cdef const double* Y = A_prev
    cdef Py_ssize_t p = n, q = n_prev, xs = dw_ld, ys = 1  # dW[a, b] is dW[a xs + b ys]
    cdef Py_ssize_t a, b, t
    cdef double s[8]
    cdef vec out[2]
    cdef const double* x0
    cdef const double* x1
    cdef const double* y0
    if n_prev < n:
        X, Y, p, q, xs, ys = A_prev, dZ, n_prev, n, 1, dw_ld
    if WIDE == 8:
        # Eight lanes: tiles of up to 4 x 4 sums (initlab_outer8), the same bits.
        outer8(X, Y, p, q, m, plan, dW, xs, ys)
        return
    for a in range(0, p - 1, 2):
        x0 = X + a * m
        x1 = x0 + m
        b = 0
        while b + 4 <= q:
            y0 = Y + b * m
            dots2x4(x0, x1, y0, y0 + m, y0 + 2 * m, y0 + 3 * m, plan, out)
            vstore(s, out[0])
            vstore(s + 4, out[1])
            for t in range(4):
                dW[a * xs + (b + t) * ys] = s[t]
                dW[(a + 1) * xs + (b + t) * ys] = s[4 + t]
            b += 4
        if b + 2 <= q:
            y0 = Y + b * m
            vstore(s, _pairwise4(x0, x0, x1, x1, y0, y0 + m, y0, y0 + m, plan, SQUARE))
            dW[a * xs + b * ys] = s[0]
            dW[a * xs + (b + 1) * ys] = s[1]
            dW[(a + 1) * xs + b * ys] = s[2]
            dW[(a + 1) * xs + (b + 1) * ys] = s[3]
            b += 2
        if b < q:
            y0 = Y + b * m
            vstore(s, _pairwise4(x0, x1, x1, x1, y0, y0, y0, y0, plan, COLUMN))
            dW[a * xs + b * ys] = s[0]
            dW[(a + 1) * xs + b * ys] = s[1]
    if p % 2:
        a = p - 1
        x0 = X + a * m
        for b in range(0, q, 4):
            vstore(s, _pairwise4(x0, x0, x0, x0, _row(Y, b, q, m), _row(Y, b + 1, q, m),
                                 _row(Y, b + 2, q, m), _row(Y, b + 3, q, m), plan, ROW))
            for t in range(min(4, q - b)):
                dW[a * xs + (b + t) * ys] = s[t]


cdef inline Py_ssize_t _band_start(Py_ssize_t lines, Py_ssize_t t,
                                   Py_ssize_t bands) noexcept nogil:
    """The first of band t of bands over lines rows or columns (lines for t = bands), a
    multiple of BAND: as equal as can be, every band but the last whole blocks of the
    pass. Fewer than BAND lines a band: all in the last."""
    if t >= bands:
        return lines
    return lines * t // bands // BAND * BAND


cdef void _sums_over_examples(const Net* net, const double* dZ, const double* A_prev,
                              double* dW, double* db, Py_ssize_t n, Py_ssize_t n_prev) noexcept nogil:
    """db = sum_j dZ[:, j] and, when dW is not NULL, dW = dZ A_prev^T (_outer), both in
    pairwise order; over net.parts parts on threads when the examples are split, else
    in bands of rows on threads when there are enough sums (a band of dW's rows or of
    its columns, whichever are more: [2, 1000, 1]'s dW1 has 2 columns)."""
    cdef int t, stride
    cdef Py_ssize_t e, start, size = n + (n * n_prev if dW != NULL else 0)
    cdef Py_ssize_t ld = net.ld, lines, r0, r1
    cdef double* S
    cdef double* S2
    cdef const Py_ssize_t* plan
    if net.parts == 1:
        lines = max(n, n_prev) if dW != NULL else n
        if net.threads > 1 and lines >= 2 * BAND and <double> size * net.m >= SPLIT_WORK:
            for t in prange(net.threads, num_threads=net.threads, schedule="static"):
                r0 = _band_start(lines, t, net.threads)
                r1 = _band_start(lines, t + 1, net.threads)
                if dW != NULL and r1 > r0:
                    if n >= n_prev:
                        _outer(dZ + r0 * ld, A_prev, dW + r0 * n_prev, r1 - r0, n_prev, ld,
                               net.sum_plan, n_prev)
                    else:
                        _outer(dZ, A_prev + r0 * ld, dW + r0, n, r1 - r0, ld, net.sum_plan,
                               n_prev)
                r0 = _band_start(n, t, net.threads)
                r1 = _band_start(n, t + 1, net.threads)
                if r1 > r0:
                    _row_sums(dZ + r0 * ld, db + r0, r1 - r0, ld, net.sum_plan)
            return
        if dW != NULL:
            _outer(dZ, A_prev, dW, n, n_prev, ld, net.sum_plan, n_prev)
        _row_sums(dZ, db, n, ld, net.sum_plan)
        return
    for t in prange(net.parts, num_threads=net.threads, schedule="dynamic"):
        S = net.part_sums + t * net.part_stride
        start = net.part_start[t]
        plan = net.part_plans + t * net.part_plan_size
        if dW != NULL:
            _outer(dZ + start, A_prev + start, S + n, n, n_prev, ld, plan, n_prev)
        _row_sums(dZ + start, S, n, ld, plan)
    # The top levels of the tree: neighbours added pairwise, left + right.
    stride = 1
    while stride < net.parts:
        t = 0
        while t < net.parts:
            S = net.part_sums + t * net.part_stride
            S2 = net.part_sums + (t + stride) * net.part_stride
            for e in range(size):
                S[e] = S[e] + S2[e]
            t += 2 * stride
        stride *= 2
    _copy(net.part_sums, db, n)
    if dW != NULL:
        _copy(net.part_sums + n, dW, n * n_prev)


cdef struct Operands:
    # Z (n x cols, row stride z_ld) = W (n x count) B (count x cols), where
    # W(r, k) = W[r row_step + k w_step] and B(k, c) = B[k b_k + c b_col].
    const double* W
    Py_ssize_t row_step
    Py_ssize_t w_step
    const double* B
    Py_ssize_t b_k
    Py_ssize_t b_col
    double* Z
    Py_ssize_t z_ld
    Py_ssize_t n
    Py_ssize_t count
    Py_ssize_t cols
    # What a large product does to each element of Z once summed (initlab_gemm_finish):
    # FINISH_NONE (from _product), FINISH_BIAS or FINISH_BIAS_RELU with bias[r],
    # FINISH_GATE with gate (laid out as Z) and low, FINISH_DESCEND with descend (the
    # parameters, laid out as Z) and the learning rate in low.
    int finish
    const double* bias
    const double* gate
    double low
    double* descend


cdef inline Operands _product(const double* W, Py_ssize_t row_step, Py_ssize_t w_step,
                              const double* B, Py_ssize_t b_k, Py_ssize_t b_col, double* Z,
                              Py_ssize_t z_ld, Py_ssize_t n, Py_ssize_t count,
                              Py_ssize_t cols) noexcept nogil:
    """The Operands of Z = W B (see Operands for the meaning of each field)."""
    cdef Operands o
    o.W = W
    o.row_step = row_step
    o.w_step = w_step
    o.B = B
    o.b_k = b_k
    o.b_col = b_col
    o.Z = Z
    o.z_ld = z_ld
    o.n = n
    o.count = count
    o.cols = cols
    o.finish = FINISH_NONE
    o.bias = NULL
    o.gate = NULL
    o.low = 0.0
    o.descend = NULL
    return o


cdef enum:
    # Rows of W in one register block: 4 rows x 8 columns are 8 partial-sum vectors.
    # (5 rows take fewer instructions but spill a partial sum in the k loop: on the
    # mnist-sized benchmark, 28% more time.)
    BLOCK_ROWS = 4


cdef inline void _block(const double* W, Py_ssize_t row_step, Py_ssize_t w_step,
                        const double* B, Py_ssize_t b_step, Py_ssize_t count,
                        double* Z, Py_ssize_t z_ld, int rows, bint wide) noexcept nogil:
    """Z[r, 0:c] = sum_k W[r row_step + k w_step] B[k b_step + 0:c], r < rows, k ascending;
    c = 8 when wide, else 4.

    The rows x c partial sums stay in registers for the whole k loop. Called with
    constant rows (1..BLOCK_ROWS) and wide, so each use compiles to its own kernel.
    """
    cdef Py_ssize_t k
    cdef vec b0 = vload(B), b1 = splat(0.0), w
    cdef vec s00, s01, s10, s11, s20, s21, s30, s31
    s01 = s10 = s11 = s20 = s21 = s30 = s31 = b1
    if wide:
        b1 = vload(B + 4)
    w = splat(W[0])
    s00 = w * b0
    if wide:
        s01 = w * b1
    if rows > 1:
        w = splat(W[row_step])
        s10 = w * b0
        if wide:
            s11 = w * b1
    if rows > 2:
        w = splat(W[2 * row_step])
        s20 = w * b0
        if wide:
            s21 = w * b1
    if rows > 3:
        w = splat(W[3 * row_step])
        s30 = w * b0
        if wide:
            s31 = w * b1
    for k in range(1, count):
        b0 = vload(B + k * b_step)
        if wide:
            b1 = vload(B + k * b_step + 4)
        w = splat(W[k * w_step])
        s00 = s00 + w * b0
        if wide:
            s01 = s01 + w * b1
        if rows > 1:
            w = splat(W[row_step + k * w_step])
            s10 = s10 + w * b0
            if wide:
                s11 = s11 + w * b1
        if rows > 2:
            w = splat(W[2 * row_step + k * w_step])
            s20 = s20 + w * b0
            if wide:
                s21 = s21 + w * b1
        if rows > 3:
            w = splat(W[3 * row_step + k * w_step])
            s30 = s30 + w * b0
            if wide:
                s31 = s31 + w * b1
    vstore(Z, s00)
    if wide:
        vstore(Z + 4, s01)
    if rows > 1:
        vstore(Z + z_ld, s10)
        if wide:
            vstore(Z + z_ld + 4, s11)
    if rows > 2:
        vstore(Z + 2 * z_ld, s20)
        if wide:
            vstore(Z + 2 * z_ld + 4, s21)
    if rows > 3:
        vstore(Z + 3 * z_ld, s30)
        if wide:
            vstore(Z + 3 * z_ld + 4, s31)


cdef inline void _row_block(const double* W, Py_ssize_t row_step, Py_ssize_t w_step,
                            const double* strips_at, Py_ssize_t strip_step, Py_ssize_t b_step,
                            Py_ssize_t strips, const double* quad, Py_ssize_t b_k,
                            Py_ssize_t count, double* Z, Py_ssize_t z_ld, int rows) noexcept nogil:
    """rows rows of Z: the 8-column strips (strip s at strips_at + s strip_step, rows
    b_step apart), then 4 columns at quad (rows b_k apart) unless quad is NULL.
    """
    cdef Py_ssize_t s
    for s in range(strips):
        _block(W, row_step, w_step, strips_at + s * strip_step, b_step, count, Z + 8 * s,
               z_ld, rows, True)
    if quad != NULL:
        _block(W, row_step, w_step, quad, b_k, count, Z + 8 * strips, z_ld, rows, False)


cdef inline double _column(const double* W, Py_ssize_t w_step, const double* B,
                           Py_ssize_t b_step, Py_ssize_t count) noexcept nogil:
    """sum_k W[k w_step] B[k b_step], k ascending: one column of _block."""
    cdef Py_ssize_t k
    cdef double s = W[0] * B[0]
    for k in range(1, count):
        s = s + W[k * w_step] * B[k * b_step]
    return s


cdef void _matmul_tile(const Operands* o, Py_ssize_t first, Py_ssize_t last) noexcept nogil:
    """Columns [first, last) of _matmul, B read in place (b_col = 1): blocks of at most
    BLOCK_ROWS rows (as equal as can be) by 8 columns (_block), then by 4 columns,
    then the columns left one by one (_column).
    """
    # Locals, not o->...: stores to Z could alias *o, which would force reloads.
    cdef const double* W = o.W
    cdef const double* B = o.B
    cdef double* Z = o.Z
    cdef Py_ssize_t row_step = o.row_step, w_step = o.w_step, z_ld = o.z_ld
    cdef Py_ssize_t b_k = o.b_k, n = o.n, count = o.count
    cdef Py_ssize_t i, j, rows
    cdef Py_ssize_t strips = (last - first) // 8
    cdef Py_ssize_t done = first + 8 * strips
    cdef Py_ssize_t blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    cdef const double* strips_at = B + first
    cdef const double* quad = NULL
    if last - done >= 4:
        quad = B + done
        done += 4
    i = 0
    while i < n:
        # The first n % blocks blocks have one row more than the others.
        rows = n // blocks + (1 if i < (n % blocks) * (n // blocks + 1) else 0)
        if rows == 4:
            _row_block(W + i * row_step, row_step, w_step, strips_at, 8, b_k, strips,
                       quad, b_k, count, Z + i * z_ld + first, z_ld, 4)
        elif rows == 3:
            _row_block(W + i * row_step, row_step, w_step, strips_at, 8, b_k, strips,
                       quad, b_k, count, Z + i * z_ld + first, z_ld, 3)
        elif rows == 2:
            _row_block(W + i * row_step, row_step, w_step, strips_at, 8, b_k, strips,
                       quad, b_k, count, Z + i * z_ld + first, z_ld, 2)
        else:
            _row_block(W + i * row_step, row_step, w_step, strips_at, 8, b_k, strips,
                       quad, b_k, count, Z + i * z_ld + first, z_ld, 1)
        i += rows
    for i in range(n):
        for j in range(done, last):
            Z[i * z_ld + j] = _column(W + i * row_step, w_step, B + j, b_k, count)


cdef void _matmul(const Operands* o, double* packs, int threads) noexcept nogil:
    """Z(r, c) = sum_k W(r, k) B(k, c), k = 0..count-1 ascending.

    packs NULL: a product that is not large (_large), B read in place (b_col must be 1),
    each product and addition rounded, its columns in bands over threads when there
    are enough ([2, 1000, 1000, 1]'s Z3, 1 x 300 over 1000 terms); o.finish must be
    FINISH_NONE. Else a large product (_gemm), its multiply-adds fused, in the
    packing buffers packs (_packs_size(threads)), and o.finish done on each tile.
    """
    cdef Py_ssize_t t
    if packs == NULL:
        if threads > 1 and o.cols >= 2 * BAND and (
                <double> o.n * o.count * o.cols >= SPLIT_WORK):
            for t in prange(threads, num_threads=threads, schedule="static"):
                _matmul_tile(o, _band_start(o.cols, t, threads),
                             _band_start(o.cols, t + 1, threads))
        else:
            _matmul_tile(o, 0, o.cols)
    else:
        _gemm(o, packs, threads)


cdef inline Py_ssize_t _packs_size(int threads) noexcept nogil:
    """Doubles of the packing buffers of _gemm: per thread, the panels of W (W_AREA
    doubles) and one chunk of strips of B (at most GEMM_BLOCK doubles)."""
    return threads * PACK_STRIDE


cdef void _gemm(const Operands* o, double* packs, int threads) noexcept nogil:
    """A large product with fused multiply-adds (_gemm.h), over threads.

    The product is cut into pieces of whole panels of GEMM_MR rows by whole strips
    of GEMM_NR columns, PIECES per thread when there are threads, done in one
    parallel region: each piece packs its own block of B and panels of W, so no
    thread waits for another before the end. Each element is computed by one
    thread, in the order of _gemm.h: the threads do not change the bits.
    """
    cdef Py_ssize_t strips = (o.cols + GEMM_NR - 1) // GEMM_NR
    cdef Py_ssize_t panels = (o.n + GEMM_MR - 1) // GEMM_MR
    cdef Py_ssize_t column_groups = 1, row_groups = 1, pieces, piece, cg, rg
    cdef Py_ssize_t target = min(PIECES * threads, strips * panels)
    cdef double cost, best = -1.0
    if threads > 1:
        # Each group of columns packs all of W again, each group of rows all of B:
        # the split into target pieces that copies the least.
        for cg in range(1, min(strips, target) + 1):
            rg = min(panels, (target + cg - 1) // cg)
            cost = <double> cg * o.n * o.count + <double> rg * o.count * o.cols
            if cg * rg >= target and (best < 0 or cost < best):
                best = cost
                column_groups = cg
                row_groups = rg
    pieces = column_groups * row_groups
    if threads > 1:
        for piece in prange(pieces, num_threads=threads, schedule="dynamic"):
            _gemm_piece(o, piece // column_groups, row_groups, piece % column_groups,
                        column_groups, packs + threadid() * PACK_STRIDE)
    else:
        _gemm_piece(o, 0, 1, 0, 1, packs)


cdef void _gemm_piece(const Operands* o, Py_ssize_t row_group, Py_ssize_t row_groups,
                      Py_ssize_t column_group, Py_ssize_t column_groups,
                      double* pack) noexcept nogil:
    """The panels row_group of row_groups by the strips column_group of column_groups
    (as equal as can be), every block of k; pack: one thread's buffers (PACK_STRIDE).

    The strips go by chunks of at most gemm_block doubles of B, which stay in the
    second-level cache while every panel of W passes over them."""
    cdef Py_ssize_t strips = (o.cols + GEMM_NR - 1) // GEMM_NR
    cdef Py_ssize_t panels = (o.n + GEMM_MR - 1) // GEMM_MR
    cdef Py_ssize_t s0 = strips * column_group // column_groups
    cdef Py_ssize_t s1 = strips * (column_group + 1) // column_groups
    cdef Py_ssize_t p0 = panels * row_group // row_groups
    cdef Py_ssize_t p1 = panels * (row_group + 1) // row_groups
    cdef Py_ssize_t blocks = (o.count + GEMM_KC - 1) // GEMM_KC
    cdef Py_ssize_t kc_size = (o.count + blocks - 1) // blocks
    cdef Py_ssize_t chunk = max(1, gemm_block // (kc_size * GEMM_NR))
    # B read in place, not packed, when its rows are contiguous and few panels of W
    # go over each strip: packing copies all of B once for them (MNIST's first layer
    # in 11 panels of 12 rows, AVX-512 on Intel: 10% faster in place; in 22 panels of
    # 6, AVX2 on Zen 3: 4-12% slower; w1000, 83 panels: 3% slower).
    cdef bint direct = o.b_col == 1 and p1 - p0 < direct_panels
    cdef Py_ssize_t whole = o.cols // GEMM_NR  # the strips of GEMM_NR columns
    cdef Py_ssize_t block, k0, kc, s, c0, c1, p, r0, rows, end
    cdef bint last
    # With more than one chunk, every panel of the block packed once when they fit
    # (W_AREA), each read again by the later chunks; else one panel, packed each time.
    cdef bint once = s1 - s0 > chunk and (p1 - p0) * GEMM_MR * kc_size <= W_AREA
    cdef double* pack_w = pack
    cdef double* pack_b = pack + W_AREA
    cdef double* bad = pack + PACK_STRIDE - 8
    for block in range(blocks):
        k0 = block * kc_size
        kc = min(kc_size, o.count - k0)
        last = block == blocks - 1
        c0 = s0
        while c0 < s1:
            c1 = min(c0 + chunk, s1)
            # In place: the whole strips [c0, end) from B, a last partial one packed.
            end = min(c1, whole) if direct else c0
            for s in range(end, c1):
                gemm_pack_b(o.B, o.b_k, o.b_col, k0, kc, s * GEMM_NR,
                            min(<Py_ssize_t> GEMM_NR, o.cols - s * GEMM_NR),
                            pack_b + (s - end) * kc * GEMM_NR)
            for p in range(p0, p1):
                r0 = p * GEMM_MR
                rows = min(<Py_ssize_t> GEMM_MR, o.n - r0)
                if once:
                    pack_w = pack + (p - p0) * GEMM_MR * kc
                if c0 == s0 or not once:
                    gemm_pack_w(o.W, o.row_step, o.w_step, r0, rows, k0, kc, pack_w)
                if end > c0:
                    _gemm_strips(o, pack_w, o.B + k0 * o.b_k + c0 * GEMM_NR, o.b_k, GEMM_NR,
                                 kc, c0 * GEMM_NR, end * GEMM_NR, r0, rows, block, last, bad)
                if c1 > end:
                    _gemm_strips(o, pack_w, pack_b, GEMM_NR, kc * GEMM_NR, kc, end * GEMM_NR,
                                 min(c1 * GEMM_NR, o.cols), r0, rows, block, last, bad)
            c0 = c1


cdef inline void _gemm_strips(const Operands* o, const double* pack_w, const double* pb,
                              Py_ssize_t b_step, Py_ssize_t strip_step, Py_ssize_t kc,
                              Py_ssize_t first, Py_ssize_t last_column, Py_ssize_t r0,
                              Py_ssize_t rows, Py_ssize_t block, bint last,
                              double* bad) noexcept nogil:
    """initlab_gemm_strips for rows [r0, r0 + rows) of o.Z, with o's finish on the last
    block (bad: the thread's report of FINISH_DESCEND)."""
    gemm_strips(pack_w, pb, b_step, strip_step, kc, first, last_column, o.Z + r0 * o.z_ld,
                o.z_ld, rows, block > 0, o.finish if last else FINISH_NONE,
                o.bias + r0 if o.bias != NULL else NULL,
                o.gate + r0 * o.z_ld if o.gate != NULL else NULL, o.low,
                o.descend + r0 * o.z_ld if o.descend != NULL else NULL, bad)


cdef void _add_bias_activate(double* Z, const double* b, Py_ssize_t n, Py_ssize_t m,
                             Py_ssize_t ld, int activation) noexcept nogil:
    """A = g(Z + b) in place, b broadcast along the rows (n x m, rows ld apart)."""
    cdef Py_ssize_t i, j
    cdef Py_ssize_t body = m - m % 4
    cdef double* z
    cdef vec bias
    for i in range(n):
        z = Z + i * ld
        bias = splat(b[i])
        if activation == RELU:
            for j in range(0, body, 4):
                vstore(z + j, relu(vload(z + j) + bias))
        else:
            for j in range(0, body, 4):
                vstore(z + j, vload(z + j) + bias)
        for j in range(body, m):
            z[j] = z[j] + b[i]
            if activation == RELU:
                z[j] = 0.0 if z[j] <= 0 else z[j]  # nan stays nan, as np.maximum
        if activation != RELU:
            _activate(z, m, activation)


cdef void _activate(double* Z, Py_ssize_t size, int activation) noexcept nogil:
    """A = g(Z) in place, for the activations other than relu."""
    cdef Py_ssize_t j, t
    cdef double z
    cdef vec e[4]
    if activation == TANH:
        for j in range(size):
            Z[j] = tanh(Z[j])
    elif activation == SIGMOID and WIDE == 8:
        sigmoid8(Z, size)
    elif activation == SIGMOID:
        # Four vectors at a time: four exps in flight at once.
        for j in range(0, size - size % 16, 16):
            for t in range(4):
                e[t] = -vload(Z + j + 4 * t)
            vexp4(e)
            for t in range(4):
                vstore(Z + j + 4 * t, splat(1.0) / (splat(1.0) + e[t]))
        for j in range(size - size % 16, size - size % 4, 4):
            vstore(Z + j, splat(1.0) / (splat(1.0) + vexp(-vload(Z + j))))
        for j in range(size - size % 4, size):
            Z[j] = 1.0 / (1.0 + exp1(-Z[j]))
    else:
        for j in range(size):
            z = Z[j]
            Z[j] = z if z > 0 else LEAKY_SLOPE * z


cdef void _times_derivative(double* dA, const double* A, Py_ssize_t size,
                            int activation) noexcept nogil:
    """dZ = dA * g'(Z) in place, g' written in terms of A = g(Z)."""
    cdef Py_ssize_t j
    cdef Py_ssize_t body = size - size % 4
    cdef double low = 0.0 if activation == RELU else LEAKY_SLOPE
    if activation == RELU or activation == LEAKY_RELU:
        for j in range(0, body, 4):
            vstore(dA + j, vload(dA + j) * step(vload(A + j), low))
        for j in range(body, size):
            dA[j] = dA[j] * (1.0 if A[j] > 0 else low)
    elif activation == TANH:
        for j in range(size):
            dA[j] = dA[j] * (1.0 - A[j] * A[j])
    else:
        for j in range(size):
            dA[j] = dA[j] * (A[j] * (1.0 - A[j]))


cdef inline bint _large(Py_ssize_t n, Py_ssize_t count, Py_ssize_t cols) noexcept nogil:
    """Whether Z (n x cols) = W B, sums of count terms, is a large product (_gemm, fused
    multiply-adds): PARALLEL_WORK multiply-adds or more, and sums longer than a short
    product's (STATIONARY_COUNT terms). The shapes alone decide."""
    return <double> n * count * cols >= PARALLEL_WORK and count > STATIONARY_COUNT


cdef inline bint _large_dw(Py_ssize_t n, Py_ssize_t n_prev, Py_ssize_t m) noexcept nogil:
    """Whether dW = dZ A_prev^T (n x n_prev over m examples) is a large product (j
    ascending, fused) rather than pairwise sums over the examples: when it is large
    and both n and n_prev exceed STATIONARY_COUNT, so that its tiles are not mostly
    padding (a narrow dW over many examples is split over threads by examples)."""
    return _large(n, m, n_prev) and n > STATIONARY_COUNT and n_prev > STATIONARY_COUNT


cdef inline double* _packs_for(const Net* net, const Operands* o) noexcept nogil:
    """The packing buffers for a large product (_gemm), NULL for the others."""
    if _large(o.n, o.count, o.cols):
        return net.packs
    return NULL


cdef inline bint _short_product(const Operands* o, const double* packs, const double* bias,
                                bint relu, const double* gate, double low,
                                int threads) noexcept nogil:
    """Z = W B and what follows it in one pass, when B is read in place (packs NULL)
    and the sums have at most STATIONARY_COUNT terms; False, doing nothing,
    otherwise. What follows (see initlab_stationary): relu(Z + b) when
    relu, Z + b with a bias b, Z g'(gate) with a gate, else nothing.

    The tiles go to threads when the product is large enough, or bands of its rows
    when it has one tile ([2, 1000, 1000, 1]'s Z1, 1000 x 300); every element is
    computed as on one thread.
    """
    cdef Py_ssize_t t, first
    cdef Py_ssize_t tiles = (o.cols + STATIONARY_TILE - 1) // STATIONARY_TILE
    cdef Operands band
    if packs != NULL or o.count > STATIONARY_COUNT:
        return False
    # Tiles of columns, so that the count rows of B a row of Z reads stay in cache.
    if threads > 1 and tiles > 1 and o.n * o.count * o.cols >= SPLIT_WORK:
        for t in prange(tiles, num_threads=threads, schedule="static"):
            _stationary_tile(o, t * STATIONARY_TILE, bias, relu, gate, low)
    elif threads > 1 and o.n >= 2 * BAND and o.n * o.count * o.cols >= SPLIT_WORK:
        for t in prange(threads, num_threads=threads, schedule="static"):
            first = _band_start(o.n, t, threads)
            band = _row_band(o, first, _band_start(o.n, t + 1, threads))
            _stationary_tile(&band, 0, bias + first if bias != NULL else NULL, relu,
                             gate + first * o.z_ld if gate != NULL else NULL, low)
    else:
        for t in range(tiles):
            _stationary_tile(o, t * STATIONARY_TILE, bias, relu, gate, low)
    return True


cdef inline Operands _row_band(const Operands* o, Py_ssize_t first,
                              Py_ssize_t last) noexcept nogil:
    """Rows [first, last) of o's product."""
    cdef Operands band = o[0]
    band.W = o.W + first * o.row_step
    band.Z = o.Z + first * o.z_ld
    band.n = last - first
    return band


cdef inline void _stationary_tile(const Operands* o, Py_ssize_t first, const double* bias,
                                  bint relu, const double* gate, double low) noexcept nogil:
    stationary(o.W, o.row_step, o.w_step, o.B + first, o.b_k,
               min(STATIONARY_TILE, o.cols - first), o.Z + first, o.z_ld, o.n, o.count,
               bias, relu, gate + first if gate != NULL else NULL, low)


cdef void _activate_all(double* Z, Py_ssize_t size, int activation, int threads) noexcept nogil:
    """_activate on size values, in chunks over threads when there are many: each value's
    result does not depend on the chunk it is in."""
    cdef Py_ssize_t c, chunks = (size + CHUNK - 1) // CHUNK
    if threads > 1 and chunks > 1:
        for c in prange(chunks, num_threads=threads, schedule="static"):
            _activate(Z + c * CHUNK, min(<Py_ssize_t> CHUNK, size - c * CHUNK), activation)
    else:
        _activate(Z, size, activation)


cdef inline void _activate_rows(const Net* net, double* A, Py_ssize_t rows,
                                int activation) noexcept nogil:
    """_activate on rows rows of A (ld apart): all of them, padding included, or a view's
    own columns only."""
    cdef Py_ssize_t i
    if net.view:
        for i in range(rows):
            _activate(A + i * net.ld, net.m, activation)
    else:
        _activate_all(A, rows * net.ld, activation, net.threads)


cdef inline void _times_derivative_rows(const Net* net, double* dA, const double* A,
                                        Py_ssize_t rows) noexcept nogil:
    """_times_derivative on rows rows (ld apart), as _activate_rows."""
    cdef Py_ssize_t i
    if net.view:
        for i in range(rows):
            _times_derivative(dA + i * net.ld, A + i * net.ld, net.m, net.activation)
    else:
        _times_derivative_all(dA, A, rows * net.ld, net.activation, net.threads)


cdef void _times_derivative_all(double* dA, const double* A, Py_ssize_t size, int activation,
                                int threads) noexcept nogil:
    """_times_derivative, in chunks over threads when there are many values."""
    cdef Py_ssize_t c, chunks = (size + CHUNK - 1) // CHUNK
    if threads > 1 and chunks > 1:
        for c in prange(chunks, num_threads=threads, schedule="static"):
            _times_derivative(dA + c * CHUNK, A + c * CHUNK,
                              min(<Py_ssize_t> CHUNK, size - c * CHUNK), activation)
    else:
        _times_derivative(dA, A, size, activation)


cdef void _output_gradient(double* dZ, const double* AL, const double* Y, Py_ssize_t size,
                           double inv_m, int threads) noexcept nogil:
    """dZ = inv_m (AL - Y), in chunks over threads when there are many values."""
    cdef Py_ssize_t c, j, chunks = (size + CHUNK - 1) // CHUNK
    if threads > 1 and chunks > 1:
        for c in prange(chunks, num_threads=threads, schedule="static"):
            for j in range(c * CHUNK, min(c * CHUNK + CHUNK, size)):
                dZ[j] = inv_m * (AL[j] - Y[j])
    else:
        for j in range(size):
            dZ[j] = inv_m * (AL[j] - Y[j])


cdef void _forward(const Net* net, const double* X, const double* params) noexcept nogil:
    """A{l} for l = 1..L into net.A; sigmoid on the last layer."""
    cdef Py_ssize_t l, i
    cdef const double* A_prev = X
    cdef double* A
    cdef const double* b
    cdef Operands o
    cdef int activation
    cdef double* packs
    for l in range(1, net.L + 1):
        A = net.A[l]
        b = params + net.b_off[l]
        activation = SIGMOID if l == net.L else net.activation
        # Z = W A_prev: W(r, k) = W[r n_prev + k], B(k, c) = A_prev[k m + c]
        o = _product(params + net.w_off[l], net.dims[l - 1], 1, A_prev, net.ld, 1,
                     A, net.ld, net.dims[l], net.dims[l - 1], net.m)
        packs = _packs_for(net, &o)
        if _short_product(&o, packs, b, activation == RELU, NULL, 0.0, net.threads):
            if activation != RELU:
                _activate_rows(net, A, net.dims[l], activation)
        elif packs != NULL:
            # A large product: the bias, and relu, added to each tile as it is done.
            o.finish = FINISH_BIAS_RELU if activation == RELU else FINISH_BIAS
            o.bias = b
            _matmul(&o, packs, net.threads)
            if activation != RELU:
                _activate_rows(net, A, net.dims[l], activation)
        else:
            _matmul(&o, NULL, net.threads)
            if net.threads > 1 and net.dims[l] > 1 and net.dims[l] * net.m >= 2 * CHUNK:
                for i in prange(net.dims[l], num_threads=net.threads, schedule="static"):
                    _add_bias_activate(A + i * net.ld, b + i, 1, net.m, net.ld, activation)
            else:
                _add_bias_activate(A, b, net.dims[l], net.m, net.ld, activation)
        A_prev = A


cdef double _loss(const double* AL, const double* Y, double* scratch,
                  Py_ssize_t rows, Py_ssize_t m, Py_ssize_t ld, const Py_ssize_t* plan,
                  int threads) noexcept nogil:
    """(1/m) nansum(-log(AL) Y - log(1 - AL)(1 - Y)); a nan term counts as 0. AL has
    rows rows ld apart, Y is rows x m.

    plan = _plan(rows m), the order of the sum, over the terms row after row. The
    terms are computed in chunks over threads when there are many; the sum is one
    thread's.
    """
    cdef Py_ssize_t c, i, size = rows * m
    cdef Py_ssize_t chunks = (size + CHUNK - 1) // CHUNK
    cdef double total
    if ld != m:
        for i in range(rows):
            _loss_terms(AL + i * ld, Y + i * m, scratch + i * m, 0, m)
    elif threads > 1 and chunks > 1:
        for c in prange(chunks, num_threads=threads, schedule="static"):
            _loss_terms(AL, Y, scratch, c * CHUNK, min(c * CHUNK + CHUNK, size))
    else:
        _loss_terms(AL, Y, scratch, 0, size)
    _row_sums(scratch, &total, 1, size, plan)
    return 1.0 / m * total


cdef void _loss_terms(const double* AL, const double* Y, double* scratch, Py_ssize_t first,
                      Py_ssize_t last) noexcept nogil:
    cdef Py_ssize_t j
    cdef double term
    for j in range(first, last):
        term = -log(AL[j]) * Y[j] + -log(1.0 - AL[j]) * (1.0 - Y[j])
        scratch[j] = 0.0 if isnan(term) else term


cdef void _backward(const Net* net, const double* X, const double* Y, const double* params,
                    double* grads, double* dZ, double* dZ_prev) noexcept nogil:
    """grads = d loss / d params; dZ and dZ_prev are scratch of widest * m each."""
    cdef Py_ssize_t l, i, n, n_prev
    cdef Py_ssize_t m = net.m
    cdef double inv_m = net.inv_m
    cdef const double* AL = net.A[net.L]
    cdef const double* A_prev
    cdef const double* W
    cdef double* dW
    cdef double* db
    cdef double* swap
    cdef bint fused
    n = net.dims[net.L]
    if net.ld == m and net.y_ld == m:
        _output_gradient(dZ, AL, Y, n * m, inv_m, net.threads)
    else:
        for i in range(n):
            _output_gradient(dZ + i * net.ld, AL + i * net.ld, Y + i * net.y_ld, m, inv_m,
                             net.threads)
    for l in range(net.L, 0, -1):
        n = net.dims[l]
        n_prev = net.dims[l - 1]
        A_prev = X if l == 1 else net.A[l - 1]
        W = params + net.w_off[l]
        dW = grads + net.w_off[l]
        db = grads + net.b_off[l]
        fused = _fused_step(net, l)
        if not fused:
            _weight_gradients(net, l, dZ, A_prev, dW, db, NULL)
        if l > 1:
            _input_gradient(net, W, dZ, dZ_prev, A_prev, n, n_prev)
        if fused:
            # W's step is taken as dW's tiles are done: after dA_prev = W^T dZ, which
            # reads W before the step.
            _weight_gradients(net, l, dZ, A_prev, dW, db, <double*> W)
        if l == 1:
            break
        swap = dZ
        dZ = dZ_prev
        dZ_prev = swap


cdef inline bint _fused_step(const Net* net, Py_ssize_t l) noexcept nogil:
    """Whether train takes W{l}'s step in dW{l}'s product (FINISH_DESCEND): when it
    trains and dW{l} is a large product. The step is the same operation either way."""
    return net.descending and _large_dw(net.dims[l], net.dims[l - 1], net.m)


cdef void _weight_gradients(const Net* net, Py_ssize_t l, const double* dZ,
                            const double* A_prev, double* dW, double* db,
                            double* descend) noexcept nogil:
    """dW{l} = dZ A_prev^T and db{l} = sum_j dZ[:, j]; with descend (= W{l}, only for a
    large dW), also W{l} = W{l} - rate dW{l} as each tile of dW is done (the
    threads' reports of a non-finite W in the last 8 doubles of their packs)."""
    cdef Py_ssize_t n = net.dims[l], n_prev = net.dims[l - 1], m = net.m
    cdef Operands o
    if _large_dw(n, n_prev, m):
        # dW = dZ A_prev^T as a matrix product, j ascending: dW(i, k) = sum_j
        # dZ[i ld + j] A_prev[k ld + j]; B is A_prev read transposed while packing,
        # or for the first layer X^T made once (the same values, read in place).
        if l == 1 and net.XT != NULL:
            o = _product(dZ, net.ld, 1, net.XT, net.xt_ld, 1, dW, n_prev, n, m, n_prev)
        else:
            o = _product(dZ, net.ld, 1, A_prev, 1, net.ld, dW, n_prev, n, m, n_prev)
        if descend != NULL:
            o.finish = FINISH_DESCEND
            o.descend = descend
            o.low = net.rate
        _matmul(&o, net.packs, net.threads)
        _sums_over_examples(net, dZ, A_prev, NULL, db, n, n_prev)
    else:
        _sums_over_examples(net, dZ, A_prev, dW, db, n, n_prev)


cdef void _input_gradient(const Net* net, const double* W, const double* dZ, double* dZ_prev,
                          const double* A_prev, Py_ssize_t n, Py_ssize_t n_prev) noexcept nogil:
    """dZ_prev = (W^T dZ) g'(A_prev), the gradient of the layer below."""
    cdef Operands o
    cdef double* packs
    cdef bint gated = net.activation == RELU or net.activation == LEAKY_RELU
    cdef Py_ssize_t m = net.m
    # dA_prev = W^T dZ: W(r, i) = W[i n_prev + r], B(i, c) = dZ[i m + c]
    o = _product(W, 1, n_prev, dZ, net.ld, 1, dZ_prev, net.ld, n_prev, n, m)
    # dZ_prev = dA_prev g'(A_prev): fused into the product for relu and leaky relu.
    packs = _packs_for(net, &o)
    if not _short_product(&o, packs, NULL, False, A_prev if gated else NULL,
                          LEAKY_SLOPE if net.activation == LEAKY_RELU else 0.0, net.threads):
        if gated and packs != NULL:
            # A large product: the gate applied to each tile as it is done.
            o.finish = FINISH_GATE
            o.gate = A_prev
            o.low = LEAKY_SLOPE if net.activation == LEAKY_RELU else 0.0
            _matmul(&o, packs, net.threads)
        else:
            _matmul(&o, packs, net.threads)
            _times_derivative_rows(net, dZ_prev, A_prev, n_prev)
    elif not gated:
        _times_derivative_rows(net, dZ_prev, A_prev, n_prev)


cdef struct Split:
    # train's split over the examples, for a network without a large product: part p
    # (of parts, a power of two) is examples [start[p], start[p + 1]), a subtree of
    # the pairwise order of the sums over them (see _split_examples), and views[p]
    # is the network on those columns. Each iteration, a thread does the forward and
    # backward pass of its parts, its gradients to grads + (i % 2) parts stride +
    # p stride, and publishes done[8 p] = i + 1; once every part has, each thread
    # adds the parts' gradients as the tree's top levels add them and takes the
    # step on its own copy of the parameters (thread 0: train's, the others: copies
    # + (t - 1) stride), the same operations on the same values, so the same bits.
    # Nothing read by another thread is written again before it has been read: an
    # iteration's buffers alternate, and no thread starts iteration i + 2 before
    # every part has finished i + 1, which is after each thread's step of i.
    int parts
    Py_ssize_t start[MAX_PARTS + 1]
    Net views[MAX_PARTS]
    # Each part's copy of its examples and its gradient buffers, rows views[p].ld
    # apart: no cache line holds two parts' values, so the threads never write a
    # line another reads (rows of all the examples side by side ran at half speed).
    double* X[MAX_PARTS]
    double* dZ[MAX_PARTS]
    double* dZ_prev[MAX_PARTS]
    Py_ssize_t stride
    double* grads
    double* scratch         # the loss terms (n_L x m), 2 of them, by parity as grads
    double* copies
    long long* done


cdef Py_ssize_t _split_block(Split* s, const Net* net, const double* Y, double* P,
                             Py_ssize_t first, Py_ssize_t end, Py_ssize_t record_every,
                             double* costs) noexcept nogil:
    """Iterations first..end-1 of train on s.parts threads (see Split), with the
    same results as _forward, _loss, _backward and _step on the whole batch; returns
    -1, or the iteration whose step left a parameter inf or nan (the last done).
    Thread t of the team does parts t, t + team, ...: fewer threads than parts
    (OpenMP gave fewer, or none) still do them all."""
    cdef int t = 0
    cdef Py_ssize_t stopped = -1
    cdef Py_ssize_t* out = &stopped
    with parallel(num_threads=s.parts):
        t = threadid()
        _split_worker(s, net, t, team_size(), Y, P, first, end, record_every, costs, out)
    return stopped


cdef void _split_worker(Split* s, const Net* net, int t, int team, const double* Y,
                        double* P, Py_ssize_t first, Py_ssize_t end, Py_ssize_t record_every,
                        double* costs, Py_ssize_t* stopped) noexcept nogil:
    """Thread t's share of _split_block."""
    cdef Py_ssize_t i, r, start, m = net.m, n_L = net.dims[net.L]
    cdef int p
    cdef double total
    cdef double* grads
    cdef double* scratch
    cdef double* mine = P if t == 0 else s.copies + (t - 1) * s.stride
    cdef const Net* view
    cdef bint recorded, finite
    if t > 0:
        # before this thread's first publish: thread 0 changes P only after it
        _copy(P, mine, net.n_params)
    for i in range(first, end):
        grads = s.grads + (i % 2) * s.parts * s.stride
        scratch = s.scratch + (i % 2) * n_L * m
        recorded = i % record_every == 0
        p = t
        while p < s.parts:
            view = &s.views[p]
            start = s.start[p]
            _forward(view, s.X[p], mine)
            if recorded:
                for r in range(n_L):
                    _loss_terms(view.A[net.L] + r * view.ld, Y + r * m + start,
                                scratch + r * m + start, 0, view.m)
            _backward(view, s.X[p], Y + start, mine, grads + p * s.stride, s.dZ[p],
                      s.dZ_prev[p])
            publish(s.done + 8 * p, i + 1)
            p += team
        for p in range(s.parts):
            if p % team != t:
                wait_for(s.done + 8 * p, i + 1)
        finite = _combine_descend(mine, grads, s.parts, s.stride, net.n_params, net.rate)
        if recorded and t == 0:
            _row_sums(scratch, &total, 1, n_L * m, net.loss_plan)
            costs[i // record_every] = 1.0 / m * total
        if not finite:
            if t == 0:
                stopped[0] = i
            break


cdef bint _combine_descend(double* params, const double* grads, int parts, Py_ssize_t stride,
                           Py_ssize_t size, double learning_rate) noexcept nogil:
    """params -= learning_rate g, g the sum of the parts' gradients grads + p stride
    added as the top levels of the pairwise tree add them (neighbours, left +
    right): the same operations as _descend with the whole batch's gradients.
    False when a parameter is then inf or nan."""
    cdef Py_ssize_t e, k, n
    cdef int p, width
    cdef vec lr = splat(learning_rate), v, bad = splat(0.0)
    cdef vec g[MAX_PARTS]
    cdef double last[4 * (MAX_PARTS + 1)]
    cdef double lanes[4]
    for e in range(0, size, 4):
        n = min(4, size - e)
        if n == 4:
            for p in range(parts):
                g[p] = vload(grads + p * stride + e)
            v = vload(params + e)
        else:
            # the last n < 4 parameters, in lanes filled up with zeros (finite)
            memset(last, 0, sizeof(last))
            for p in range(parts):
                for k in range(n):
                    last[4 * p + k] = grads[p * stride + e + k]
                g[p] = vload(last + 4 * p)
            for k in range(n):
                last[4 * MAX_PARTS + k] = params[e + k]
            v = vload(last + 4 * MAX_PARTS)
        width = 1
        while width < parts:
            p = 0
            while p < parts:
                g[p] = g[p] + g[p + width]
                p += 2 * width
            width *= 2
        v = v - lr * g[0]
        bad = bad + (v - v)
        if n == 4:
            vstore(params + e, v)
        else:
            vstore(lanes, v)
            for k in range(n):
                params[e + k] = lanes[k]
    vstore(lanes, bad)
    return not (isnan(lanes[0]) or isnan(lanes[1]) or isnan(lanes[2]) or isnan(lanes[3]))


# The work buffers of a finished call are kept for the next (at most POOL_BYTES in
# POOL_BLOCKS blocks, the oldest given back first): a large network's training
# allocates tens of megabytes a call, and fresh pages from the system cost a fault
# and a clearing each (a tenth of a five-iteration training of [2, 1000, 1000, 1]).
# Only blocks of POOL_MIN bytes or more are kept; a block is reused for a request
# of at least half its size. The pool is used with the GIL held (the workspaces
# are made and freed in Python), so it needs no lock.
cdef enum:
    POOL_BLOCKS = 32
    POOL_MIN = 1 << 16
cdef size_t POOL_BYTES = 64 << 20
# The largest copy of X transposed a workspace makes (see _transpose_examples).
cdef double XT_MAX_BYTES = 256.0 * (1 << 20)
cdef void* _pool[POOL_BLOCKS]
cdef int _pool_count = 0
cdef size_t _pool_total = 0
# Tests: fill every block handed out with the bits of a nan (0xff bytes), to show
# that nothing is read before it is written.
cdef bint _poison = False


def _set_pool(size_t max_bytes, bint poison):
    """Keep at most max_bytes of freed work buffers (0: none, and give back those kept),
    and poison the blocks handed out; returns the old (max_bytes, poison). For the
    tests."""
    global POOL_BYTES, _poison
    old = (POOL_BYTES, _poison)
    POOL_BYTES = max_bytes
    _poison = poison
    _pool_trim(0)
    return old


cdef inline size_t _block_size(void* p) noexcept nogil:
    return (<size_t*> p - 2)[0]


cdef void _pool_trim(size_t room) noexcept nogil:
    """Give back the oldest kept blocks until room more bytes fit under POOL_BYTES."""
    cdef int i, drop = 0
    cdef size_t total = _pool_total
    while drop < _pool_count and (total + room > POOL_BYTES or _pool_count - drop >= POOL_BLOCKS):
        total -= _block_size(_pool[drop])
        free((<void**> _pool[drop] - 1)[0])
        drop += 1
    if drop == 0:
        return
    for i in range(drop, _pool_count):
        _pool[i - drop] = _pool[i]
    _set_pool_state(_pool_count - drop, total)


cdef inline void _set_pool_state(int count, size_t total) noexcept nogil:
    global _pool_count, _pool_total
    _pool_count = count
    _pool_total = total


cdef void* _alloc64(size_t size) noexcept nogil:
    """size bytes at an address that is a multiple of 64 (a cache line), or NULL.

    The work buffers land at the same offset within a cache line on every run, so
    the speed of a small problem does not depend on where malloc put them. Just
    below the address returned are the block malloc returned and the size (see
    _free64). A block from the pool (the smallest that fits) is taken first.
    """
    cdef char* raw
    cdef uintptr_t address
    cdef int i, best = -1
    cdef void* block
    if size >= POOL_MIN:
        for i in range(_pool_count):
            if (_block_size(_pool[i]) >= size and _block_size(_pool[i]) // 2 <= size
                    and (best < 0 or _block_size(_pool[i]) < _block_size(_pool[best]))):
                best = i
    if best >= 0:
        block = _pool[best]
        for i in range(best + 1, _pool_count):
            _pool[i - 1] = _pool[i]
        _set_pool_state(_pool_count - 1, _pool_total - _block_size(block))
    else:
        raw = <char*> malloc(size + 64 + 2 * sizeof(void*))
        if raw == NULL:
            _pool_trim(POOL_BYTES)  # give back what is kept, and try again
            raw = <char*> malloc(size + 64 + 2 * sizeof(void*))
            if raw == NULL:
                return NULL
        address = (<uintptr_t> (raw + 2 * sizeof(void*)) + 63) & ~(<uintptr_t> 63)
        (<void**> address - 1)[0] = raw
        (<size_t*> address - 2)[0] = size
        block = <void*> address
    if _poison:
        memset(block, 0xff, size)
    return block


cdef void _free64(void* p) noexcept nogil:
    """Free a block of _alloc64: kept in the pool when it is large enough and fits."""
    cdef size_t size
    if p == NULL:
        return
    size = _block_size(p)
    if size >= POOL_MIN and size <= POOL_BYTES:
        _pool_trim(size)
        if _pool_total + size <= POOL_BYTES and _pool_count < POOL_BLOCKS:
            _pool[_pool_count] = p
            _set_pool_state(_pool_count + 1, _pool_total + size)
            return
    free((<void**> p - 1)[0])


cdef object _bytes(Py_ssize_t rows, Py_ssize_t columns):
    """The size of a rows x columns float64 buffer, as a Python int (no overflow)."""
    return 8 * <object> rows * <object> columns


cdef class _Workspace:
    """Buffers for one network and batch size, freed with the object.

    Every buffer is 64-byte aligned; an allocation the machine cannot satisfy is
    a MemoryError that names the buffer, its layer and its size in bytes.
    """
    cdef Net net
    cdef double* dZ
    cdef double* dZ_prev
    cdef double* X            # an aligned copy of the examples
    cdef double* params       # and of the parameters (train), or NULL
    cdef double* grads
    cdef Split split          # train's split over the examples (split.parts 0: none)
    cdef object owned         # the aligned blocks, freed in __dealloc__

    def __cinit__(self, const double[:, ::1] X, const Py_ssize_t[::1] dims, int activation,
                  int threads, bint own_params):
        cdef Py_ssize_t m = X.shape[1]
        cdef Py_ssize_t L = dims.shape[0] - 1
        cdef Py_ssize_t l, widest_layer = 1, ld, packs
        cdef str padded
        self.owned = []
        self.net.w_off = NULL
        self.net.A = NULL
        self.params = NULL
        if _net_init(&self.net, &dims[0], L, m, activation, threads) != 0:
            raise MemoryError("out of memory for the layout of the network")
        for l in range(1, L + 1):
            if dims[l] == self.net.widest:
                widest_layer = l
                break
        # Rows ld apart (see Net.ld); the padding columns start at 0.
        ld = self.net.ld
        padded = "" if ld == m else f", rows padded to {ld}"
        self.net.A = <double**> self._alloc((L + 1) * sizeof(double*), "the layer table")
        self.X = self._alloc(_bytes(dims[0], ld),
                             f"the examples X ({dims[0]} x {m} float64{padded})", ld != m)
        for l in range(dims[0]):
            _copy(&X[l, 0], self.X + l * ld, m)
        for l in range(1, L + 1):
            self.net.A[l] = self._alloc(
                _bytes(dims[l], ld),
                f"layer {l}'s activations A{l} ({dims[l]} x {m} float64{padded})", ld != m)
        self.dZ = self._alloc(
            _bytes(self.net.widest, ld),
            f"layer {widest_layer}'s gradient dZ{widest_layer} ({self.net.widest} x {m} float64"
            f"{padded})", ld != m)
        self.dZ_prev = self._alloc(
            _bytes(self.net.widest, ld),
            f"layer {widest_layer}'s gradient dA{widest_layer} ({self.net.widest} x {m} float64"
            f"{padded})", ld != m)
        packs = 8  # a network without a large product packs nothing
        self.net.pack_threads = 0
        for l in range(1, L + 1):
            if (_large(dims[l], dims[l - 1], m) or _large_dw(dims[l], dims[l - 1], m)
                    or (l > 1 and _large(dims[l - 1], dims[l], m))):
                packs = _packs_size(threads)
        self.net.pack_threads = threads if packs > 8 else 0
        self.net.packs = self._alloc(
            _bytes(packs, 1), f"the packing buffers of the matrix products ({packs} float64)")
        self.grads = self._alloc(_bytes(self.net.n_params, 1),
                                 f"the gradients ({self.net.n_params} float64)")
        if own_params:
            self.params = self._alloc(_bytes(self.net.n_params, 1),
                                      f"the parameters ({self.net.n_params} float64)")
        self.net.part_plans = NULL
        self.net.part_sums = NULL
        self.net.XT = NULL
        self.net.rate = 0.0
        self.net.descending = False
        self.split.parts = 0
        if _split_examples(&self.net, threads) > 1:
            self._split()

    cdef int _split_columns(self, int threads) except -1:
        """self.split for train on threads threads (see Split); returns its parts, 0 when
        the network has a large product (those are split by tiles instead) or the
        examples are too few to split."""
        cdef Net* net = &self.net
        cdef Split* s = &self.split
        cdef Py_ssize_t lengths[MAX_PARTS]
        cdef Py_ssize_t l, k, longest = 0, plan_size, ld
        cdef Py_ssize_t L = net.L, n_L = net.dims[net.L]
        cdef int parts = 1, depth = 0, p
        cdef Py_ssize_t* plans
        cdef double** tables
        cdef Net* view
        cdef str what
        cdef bint padded
        s.parts = 0
        if threads < 2 or net.pack_threads != 0:
            return 0
        while parts * 2 <= min(threads, <int> MAX_PARTS):
            parts *= 2
            depth += 1
        while depth > 0 and _split_lengths(net.m, depth, lengths, 0) != parts:
            parts //= 2
            depth -= 1
        if parts < 2:
            return 0
        s.start[0] = 0
        for p in range(parts):
            s.start[p + 1] = s.start[p] + lengths[p]
            longest = max(longest, lengths[p])
        plan_size = _plan_size(longest)
        plans = <Py_ssize_t*> self._alloc(8 * parts * plan_size,
                                          "the order of the sums over the examples")
        tables = <double**> self._alloc(parts * (L + 1) * sizeof(double*), "the layer tables")
        s.stride = net.n_params + 8 - net.n_params % 8
        s.grads = self._alloc(_bytes(2 * parts, s.stride),
                              f"the partial gradients ({2 * parts} x {s.stride} float64)")
        s.scratch = self._alloc(_bytes(2 * n_L, net.m),
                                f"the loss terms ({2 * n_L} x {net.m} float64)")
        s.copies = self._alloc(_bytes(parts - 1, s.stride),
                               f"the threads' parameters ({parts - 1} x {s.stride} float64)")
        s.done = <long long*> self._alloc(64 * parts, "the threads' progress", True)
        for p in range(parts):
            _plan(lengths[p], plans + p * plan_size)
            view = &s.views[p]
            view[0] = net[0]
            view.m = lengths[p]
            view.view = True
            view.threads = 1
            view.parts = 1
            view.sum_plan = plans + p * plan_size
            view.XT = NULL
            view.descending = False
            view.A = tables + p * (L + 1)
            ld = view.ld = _row_stride(net.dims, L, lengths[p])
            what = f"part {p + 1} of {parts} of the examples ({lengths[p]} of {net.m}"
            # as the whole batch's: the padding columns start at 0
            padded = ld != lengths[p]
            s.X[p] = self._alloc(_bytes(net.dims[0], ld), f"{what}, {net.dims[0]} rows)", padded)
            for k in range(net.dims[0]):
                _copy(self.X + k * net.ld + s.start[p], s.X[p] + k * ld, lengths[p])
            for l in range(1, L + 1):
                view.A[l] = self._alloc(_bytes(net.dims[l], ld),
                                        f"layer {l}'s activations for {what})", padded)
            s.dZ[p] = self._alloc(_bytes(net.widest, ld), f"the gradients dZ for {what})",
                                  padded)
            s.dZ_prev[p] = self._alloc(_bytes(net.widest, ld), f"the gradients dA for {what})",
                                       padded)
        s.parts = parts
        return parts

    cdef void _transpose_examples(self) noexcept:
        """net.XT = X^T when dW1 is a large product and X^T fits in XT_MAX_BYTES (for a
        training of several iterations; a single backward pass packs X^T no slower
        than it is made). Without it (or if the allocation fails) dW1 packs X
        transposed as the other layers do: the same bits."""
        cdef Net* net = &self.net
        cdef Py_ssize_t n0 = net.dims[0], m = net.m, ld = net.ld
        cdef Py_ssize_t xt_ld = (n0 + 7) // 8 * 8, j, j1, r, t
        cdef double* XT
        cdef const double* X = self.X
        if not _large_dw(net.dims[1], n0, m) or <double> 8 * m * xt_ld > XT_MAX_BYTES:
            return
        XT = <double*> _alloc64(<size_t> 8 * m * xt_ld)
        if XT == NULL:
            return
        self.owned.append(<uintptr_t> XT)
        with nogil:
            # blocks of 32 examples, so that the rows written stay in the cache
            for j in range(0, m, 32):
                j1 = min(j + 32, m)
                for r in range(n0):
                    for t in range(j, j1):
                        XT[t * xt_ld + r] = X[r * ld + t]
        net.XT = XT
        net.xt_ld = xt_ld

    cdef int _split(self) except -1:
        """The plans and the sums of the parts of net (see _split_examples)."""
        cdef Net* net = &self.net
        cdef Py_ssize_t l, longest = 0, stride = 0
        cdef int t
        for t in range(net.parts):
            longest = max(longest, net.part_start[t + 1] - net.part_start[t])
        for l in range(1, net.L + 1):
            stride = max(stride, net.dims[l] * net.dims[l - 1] + net.dims[l])
        net.part_plan_size = _plan_size(longest)
        net.part_stride = stride + 8 - stride % 8
        net.part_plans = <Py_ssize_t*> self._alloc(
            8 * net.parts * net.part_plan_size, "the order of the sums over the examples")
        net.part_sums = self._alloc(
            _bytes(net.parts, net.part_stride),
            f"the partial sums over the examples ({net.parts} x {net.part_stride} float64)")
        for t in range(net.parts):
            _plan(net.part_start[t + 1] - net.part_start[t], net.part_plans + t * net.part_plan_size)
        return 0

    cdef double* _alloc(self, object size, str what, bint zero=False) except NULL:
        """An aligned block of size bytes (all 0 when zero), freed with the workspace;
        MemoryError naming it."""
        cdef void* block = NULL
        if size <= PY_SSIZE_T_MAX - 128:
            block = _alloc64(max(<size_t> size, 64))
        if block == NULL:
            raise MemoryError(f"cannot allocate {size:,} bytes for {what}")
        self.owned.append(<uintptr_t> block)
        if zero:
            memset(block, 0, <size_t> size)
        return <double*> block

    def __dealloc__(self):
        if self.owned is not None:
            for block in self.owned:
                _free64(<void*> <uintptr_t> block)
        free(self.net.w_off)


def forward(const double[:, ::1] X, const double[::1] params, const Py_ssize_t[::1] dims,
            int activation, int threads):
    """AL = forward pass of X, shape (n_L, m)."""
    cdef Py_ssize_t m = X.shape[1]
    cdef _Workspace ws = _Workspace(X, dims, activation, threads, False)
    cdef Py_ssize_t L = dims.shape[0] - 1, l
    out = np.empty((dims[L], m))
    cdef double[:, ::1] AL = out
    with nogil:
        _forward(&ws.net, ws.X, &params[0])
        for l in range(dims[L]):
            _copy(ws.net.A[L] + l * ws.net.ld, &AL[l, 0], m)
    return out


cdef void _copy(const double* src, double* dst, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(size):
        dst[j] = src[j]


def gradients(const double[:, ::1] X, const double[:, ::1] Y, const double[::1] params,
              const Py_ssize_t[::1] dims, int activation, int threads):
    """(cost, grads) with grads in the layout of params."""
    cdef Py_ssize_t m = X.shape[1]
    cdef Py_ssize_t L = dims.shape[0] - 1
    cdef _Workspace ws = _Workspace(X, dims, activation, threads, False)
    grads_out = np.empty(ws.net.n_params)
    cdef double[::1] grads = grads_out
    cdef double cost
    with nogil:
        _forward(&ws.net, ws.X, &params[0])
        cost = _loss(ws.net.A[L], &Y[0, 0], ws.dZ, dims[L], m, ws.net.ld, ws.net.loss_plan,
                         ws.net.threads)
        _backward(&ws.net, ws.X, &Y[0, 0], &params[0], ws.grads, ws.dZ, ws.dZ_prev)
        _copy(ws.grads, &grads[0], ws.net.n_params)
    return cost, grads_out


cdef bint _step(Net* net, double* params, const double* grads) noexcept nogil:
    """params -= net.rate grads for every parameter whose step _backward has not taken
    already (see _fused_step); False when a parameter, of either, is then inf or nan.
    Resets the threads' reports of the steps taken in _backward."""
    cdef Py_ssize_t l, start = 0
    cdef bint finite = True
    cdef double bad = 0.0
    cdef int t
    cdef double* report
    for l in range(1, net.L + 1):
        if _fused_step(net, l):
            if net.w_off[l] > start:
                finite = _descend_all(params + start, grads + start, net.w_off[l] - start,
                                      net.rate, net.threads) and finite
            start = net.b_off[l]
    finite = _descend_all(params + start, grads + start, net.n_params - start, net.rate,
                          net.threads) and finite
    for t in range(net.pack_threads):
        report = net.packs + t * PACK_STRIDE + PACK_STRIDE - 8
        bad = bad + report[0]
        report[0] = 0.0
    return finite and not isnan(bad)


cdef bint _descend_all(double* params, const double* grads, Py_ssize_t size,
                       double learning_rate, int threads) noexcept nogil:
    """_descend, in chunks over threads when there are many parameters (a network of a
    million parameters spends a millisecond an iteration on it): each value's update
    does not depend on the chunk it is in, and whether any is inf or nan does not
    depend on the order the chunks report it."""
    cdef Py_ssize_t c, chunks = (size + DESCEND_CHUNK - 1) // DESCEND_CHUNK
    cdef int bad = 0
    if threads > 1 and size >= PARALLEL_DESCEND:
        for c in prange(chunks, num_threads=threads, schedule="static"):
            bad += not _descend(params + c * DESCEND_CHUNK, grads + c * DESCEND_CHUNK,
                                min(<Py_ssize_t> DESCEND_CHUNK, size - c * DESCEND_CHUNK),
                                learning_rate)
        return bad == 0
    return _descend(params, grads, size, learning_rate)


cdef bint _descend(double* params, const double* grads, Py_ssize_t size,
                   double learning_rate) noexcept nogil:
    """params -= learning_rate grads; False when a parameter is then inf or nan.

    The test adds v - v of every new value: 0 for a finite v, nan otherwise,
    whatever the order, so it costs one vector add per four parameters.
    """
    cdef Py_ssize_t p
    cdef Py_ssize_t body = size - size % 4
    cdef vec lr = splat(learning_rate), v, bad = splat(0.0)
    cdef double lanes[4]
    cdef double tail = 0.0
    for p in range(0, body, 4):
        v = vload(params + p) - lr * vload(grads + p)
        vstore(params + p, v)
        bad = bad + (v - v)
    for p in range(body, size):
        params[p] = params[p] - learning_rate * grads[p]
        tail = tail + (params[p] - params[p])
    vstore(lanes, bad)
    return not (isnan(lanes[0]) or isnan(lanes[1]) or isnan(lanes[2]) or isnan(lanes[3])
                or isnan(tail))


def train(const double[:, ::1] X, const double[:, ::1] Y, double[::1] params,
          const Py_ssize_t[::1] dims, int activation, double learning_rate,
          Py_ssize_t num_iterations, Py_ssize_t record_every, double[::1] costs, int threads):
    """Gradient descent on params in place; costs[i // record_every] at each recorded i.

    Returns -1, or the iteration after whose update a parameter was inf or nan: the
    training stops there, params holding that update and costs the ones before it.
    """
    global _block_count
    cdef Py_ssize_t m = X.shape[1]
    cdef Py_ssize_t L = dims.shape[0] - 1
    # params is updated in place when it is 64-byte aligned (kernel._flatten makes it
    # so), else in an aligned copy.
    cdef bint aligned = (<uintptr_t> &params[0]) % 64 == 0
    cdef _Workspace ws = _Workspace(X, dims, activation, threads, not aligned)
    if num_iterations > 1:
        # once, for every iteration (one iteration gathers it no slower)
        ws._transpose_examples()
    cdef Py_ssize_t it = 0, end, done, diverged = -1, block, since = 0
    cdef Py_ssize_t interval = PROBE_EVERY
    cdef bint probing = False, faster, warming, warmed = False
    cdef Py_ssize_t n_params = ws.net.n_params
    cdef double* P = &params[0] if aligned else ws.params
    cdef double cost, start, elapsed
    # Seconds per iteration on 1 thread and on all threads, -1 while not measured.
    cdef double per_iteration[2]
    per_iteration[0] = per_iteration[1] = -1.0
    cdef double work = 0.0
    cdef Py_ssize_t l
    for l in range(1, L + 1):
        work += <double> dims[l] * dims[l - 1] * m
    # Whether to compare one thread with all (threads > 1 only).
    cdef bint switching = threads > 1 and work < STAY_PARALLEL_WORK and not ALWAYS_ALL
    # A network without a large product goes over threads by its examples (Split).
    cdef bint split = ws._split_columns(threads) > 1
    cdef Py_ssize_t stopped, length
    # The first block, on one thread: 16 iterations, or as many as make FIRST_BLOCK_WORK
    # (at least 2); at m = 30000 16 of them were a tenth of a 100-iteration training.
    block = max(2, min(16, <Py_ssize_t> (FIRST_BLOCK_WORK / max(work, 1.0))))
    ws.net.rate = learning_rate
    ws.net.descending = True
    for l in range(ws.net.pack_threads):
        ws.net.packs[l * PACK_STRIDE + PACK_STRIDE - 8] = 0.0
    if switching:
        _block_count = 0
    with nogil:
        if not aligned:
            _copy(&params[0], P, n_params)
        if switching:
            ws.net.threads = 1  # the first block: one thread
        while it < num_iterations and diverged < 0:
            # Blocks of iterations, each on 1 thread or on all, whichever was faster
            # last, from one thread (all are tried first while PROBE_SECONDS of
            # training are left); the other is tried again after PROBE_EVERY blocks,
            # then after twice as many each time it is still slower. On a machine busy with other work
            # the threads can be much slower than one. The result does not depend on
            # the choice (see the module's docstring).
            # A probe is short: the count tried may be many times slower. A probe of
            # the split is at least SPLIT_PROBE_LENGTH at one thread's speed. A probe
            # on the threads starts with one iteration that is not timed: it wakes
            # them. Timed, that iteration took 0.75-4 ms on a virtual machine whose
            # other core had been idle through the block before (the next ones of
            # [2, 10, 5, 1] at m = 30000 take 0.3 ms on two threads), and decided 14
            # of 15 such trainings for one thread, at half the speed of two.
            warming = probing and ws.net.threads > 1 and not warmed
            length = block
            if warming:
                length = 1
            elif probing:
                length = max(1, block // 16)
                if split and ws.net.threads > 1:
                    length = max(length, <Py_ssize_t> (SPLIT_PROBE_LENGTH / per_iteration[0]))
            end = num_iterations if not switching else min(it + length, num_iterations)
            start = _now() if switching and not warming else 0.0
            done = it
            if split and ws.net.threads > 1:
                stopped = _split_block(&ws.split, &ws.net, &Y[0, 0], P, it, end, record_every,
                                       &costs[0])
                if stopped >= 0:
                    diverged = it = stopped
                else:
                    it = end
            while it < end and diverged < 0:
                _forward(&ws.net, ws.X, P)
                if it % record_every == 0:
                    cost = _loss(ws.net.A[L], &Y[0, 0], ws.dZ, dims[L], m,
                                 ws.net.ld, ws.net.loss_plan, ws.net.threads)
                    costs[it // record_every] = cost
                _backward(&ws.net, ws.X, &Y[0, 0], P, ws.grads, ws.dZ, ws.dZ_prev)
                if not _step(&ws.net, P, ws.grads):
                    diverged = it
                    break
                it += 1
            if not switching or it == done:
                continue
            _log_block(ws.net.threads, it - done, not warming)
            warmed = warming
            if warming:
                continue  # the probe itself next
            elapsed = _now() - start
            per_iteration[ws.net.threads > 1] = elapsed / (it - done)
            since += 1
            if per_iteration[1] < 0:
                # Only one thread so far: all of them, in a short probe, once enough
                # training is left for the probe to be worth its risk.
                if (num_iterations - it) * per_iteration[0] >= (
                        SPLIT_PROBE_SECONDS if split else PROBE_SECONDS):
                    probing = True
                    ws.net.threads = threads
            elif probing or since >= interval:
                if probing:
                    # The block just run tried the count that was slower (or not known).
                    faster = per_iteration[ws.net.threads > 1] < per_iteration[ws.net.threads == 1]
                    interval = PROBE_EVERY if faster else min(interval * 2, <Py_ssize_t> 1024)
                    since = 0
                    probing = False
                    ws.net.threads = 1 if per_iteration[0] <= per_iteration[1] else threads
                else:
                    probing = True
                    ws.net.threads = 1 if ws.net.threads > 1 else threads
            elif per_iteration[ws.net.threads > 1] > per_iteration[ws.net.threads == 1]:
                # The count kept was slower this block than the other last was (the
                # machine got busier): the other, at once.
                ws.net.threads = 1 if ws.net.threads > 1 else threads
            # About BLOCK_SECONDS a block at the speed last measured on that count
            # (SPLIT_BLOCK_SECONDS on the split, so that a training of some
            # milliseconds can still leave it when another program takes a core).
            if per_iteration[ws.net.threads > 1] > 0:
                block = max(1, min(1 << 16, <Py_ssize_t> (
                    (SPLIT_BLOCK_SECONDS if split and ws.net.threads > 1 else BLOCK_SECONDS)
                    / per_iteration[ws.net.threads > 1])))
        if not aligned:
            _copy(P, &params[0], n_params)
    return diverged


cdef double _now() noexcept with gil:
    return perf_counter()
