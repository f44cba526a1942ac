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
  recursively), except dW of a layer with n_l n_{l-1} m >= PARALLEL_WORK, which
  is a packed matrix product summed j = 0, 1, ..., m-1 in order;
- over units (W A, W^T dZ): k = 0, 1, ..., n-1 in order, then the bias.

The order depends on the shapes only, never on the machine or the threads.

Large layers are split over threads by output tiles; each output element is
still computed by one thread, in the order above.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport log, tanh, isnan
from libc.stdlib cimport malloc, free

import numpy as np

cdef extern from "_simd.h" nogil:
    # Four float64 lanes; +, - and * act lane by lane.
    ctypedef double vec "initlab_vec"
    vec vload "initlab_load"(const double* p)
    void vstore "initlab_store"(double* p, vec v)
    vec splat "initlab_splat"(double x)
    double hsum "initlab_hsum"(vec v)
    vec relu "initlab_relu"(vec z)
    vec step "initlab_step"(vec a, double low)
    vec vexp "initlab_exp"(vec x)
    double exp1 "initlab_exp1"(double x)
    int cpu_has_avx2 "initlab_cpu_has_avx2"()
    int COMPILED_AVX2 "INITLAB_COMPILED_AVX2"

cdef enum Activation:
    RELU = 0
    TANH = 1
    SIGMOID = 2
    LEAKY_RELU = 3

cdef double LEAKY_SLOPE = 0.01

cdef enum:
    PAIRWISE_BLOCK = 128
    # Columns of a tile of the matrix product: the tile of B (count x 64, packed
    # for large products) stays in cache while each block of 4 rows of W sweeps it.
    TILE_COLUMNS = 64
    # A matrix product is split over threads from this many multiply-adds on.
    PARALLEL_WORK = 1 << 20


def instruction_set():
    """The instruction set this module was compiled for: "avx2" or "baseline"."""
    return "avx2" if COMPILED_AVX2 else "baseline"


def best_supported():
    """The best build this CPU runs: "avx2" or "baseline"."""
    return "avx2" if cpu_has_avx2() else "baseline"


cdef struct Net:
    Py_ssize_t L            # number of layers
    Py_ssize_t m            # number of examples
    const Py_ssize_t* dims  # n_0, ..., n_L
    Py_ssize_t* w_off       # offset of W{l} in params, l = 1..L (index 0 unused)
    Py_ssize_t* b_off       # offset of b{l} in params
    Py_ssize_t* a_off       # offset of A{l} (n_l x m) in the activations buffer
    Py_ssize_t n_params
    Py_ssize_t n_acts
    Py_ssize_t widest       # max n_l, l >= 1
    int activation
    int threads             # threads for the large matrix products
    Py_ssize_t longest      # the longest sum in a matrix product: max(n_l, m)
    double* packs           # TILE_COLUMNS * longest doubles per thread


cdef int _net_init(Net* net, const Py_ssize_t* dims, Py_ssize_t L, Py_ssize_t m,
                   int activation, int threads) noexcept nogil:
    """Offsets of every layer; returns -1 when out of memory."""
    cdef Py_ssize_t l, p = 0, a = 0
    net.L = L
    net.m = m
    net.dims = dims
    net.activation = activation
    net.threads = threads
    net.widest = 0
    net.w_off = <Py_ssize_t*> malloc(3 * (L + 1) * sizeof(Py_ssize_t))
    if net.w_off == NULL:
        return -1
    net.b_off = net.w_off + (L + 1)
    net.a_off = net.w_off + 2 * (L + 1)
    for l in range(1, L + 1):
        net.w_off[l] = p
        p += dims[l] * dims[l - 1]
        net.b_off[l] = p
        p += dims[l]
        net.a_off[l] = a
        a += dims[l] * m
        if dims[l] > net.widest:
            net.widest = dims[l]
    net.longest = m
    for l in range(L + 1):
        if dims[l] > net.longest:
            net.longest = dims[l]
    net.n_params = p
    net.n_acts = a
    return 0


cdef inline double _pairwise_sum(const double* a, Py_ssize_t n) noexcept nogil:
    """sum_j a[j], in numpy's pairwise order."""
    cdef vec r_lo, r_hi
    cdef double res
    cdef Py_ssize_t i, n2
    if n < 8:
        res = -0.0
        for i in range(n):
            res = res + a[i]
        return res
    if n <= PAIRWISE_BLOCK:
        r_lo = vload(a)
        r_hi = vload(a + 4)
        i = 8
        while i < n - (n % 8):
            r_lo = r_lo + vload(a + i)
            r_hi = r_hi + vload(a + i + 4)
            i += 8
        res = hsum(r_lo) + hsum(r_hi)
        while i < n:
            res = res + a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(a, n2) + _pairwise_sum(a + n2, n - n2)


cdef inline double _pairwise_dot(const double* x, const double* y, Py_ssize_t n) noexcept nogil:
    """sum_j x[j] y[j], the products summed in numpy's pairwise order."""
    cdef vec r_lo, r_hi
    cdef double res
    cdef Py_ssize_t i, n2
    if n < 8:
        res = -0.0
        for i in range(n):
            res = res + x[i] * y[i]
        return res
    if n <= PAIRWISE_BLOCK:
        r_lo = vload(x) * vload(y)
        r_hi = vload(x + 4) * vload(y + 4)
        i = 8
        while i < n - (n % 8):
            r_lo = r_lo + vload(x + i) * vload(y + i)
            r_hi = r_hi + vload(x + i + 4) * vload(y + i + 4)
            i += 8
        res = hsum(r_lo) + hsum(r_hi)
        while i < n:
            res = res + x[i] * y[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_dot(x, y, n2) + _pairwise_dot(x + n2, y + n2, n - n2)


cdef void _pairwise_dot_2x2(const double* x0, const double* x1, const double* y0,
                            const double* y1, Py_ssize_t n, double* out) noexcept nogil:
    """out = [x0.y0, x0.y1, x1.y0, x1.y1], each exactly as _pairwise_dot computes it.

    Four dots at once, so each load feeds two products.
    """
    cdef vec a_lo, a_hi, b_lo, b_hi, c_lo, c_hi, d_lo, d_hi
    cdef vec x0_lo, x0_hi, x1_lo, x1_hi, y0_lo, y0_hi, y1_lo, y1_hi
    cdef double left[4]
    cdef Py_ssize_t i, n2, t
    if n < 8 or n > PAIRWISE_BLOCK:
        if n < 8:
            out[0] = _pairwise_dot(x0, y0, n)
            out[1] = _pairwise_dot(x0, y1, n)
            out[2] = _pairwise_dot(x1, y0, n)
            out[3] = _pairwise_dot(x1, y1, n)
            return
        n2 = n // 2
        n2 -= n2 % 8
        _pairwise_dot_2x2(x0, x1, y0, y1, n2, left)
        _pairwise_dot_2x2(x0 + n2, x1 + n2, y0 + n2, y1 + n2, n - n2, out)
        for t in range(4):
            out[t] = left[t] + out[t]
        return
    x0_lo = vload(x0); x0_hi = vload(x0 + 4); x1_lo = vload(x1); x1_hi = vload(x1 + 4)
    y0_lo = vload(y0); y0_hi = vload(y0 + 4); y1_lo = vload(y1); y1_hi = vload(y1 + 4)
    a_lo = x0_lo * y0_lo; a_hi = x0_hi * y0_hi
    b_lo = x0_lo * y1_lo; b_hi = x0_hi * y1_hi
    c_lo = x1_lo * y0_lo; c_hi = x1_hi * y0_hi
    d_lo = x1_lo * y1_lo; d_hi = x1_hi * y1_hi
    i = 8
    while i < n - (n % 8):
        x0_lo = vload(x0 + i); x0_hi = vload(x0 + i + 4)
        x1_lo = vload(x1 + i); x1_hi = vload(x1 + i + 4)
        y0_lo = vload(y0 + i); y0_hi = vload(y0 + i + 4)
        y1_lo = vload(y1 + i); y1_hi = vload(y1 + i + 4)
        a_lo = a_lo + x0_lo * y0_lo; a_hi = a_hi + x0_hi * y0_hi
        b_lo = b_lo + x0_lo * y1_lo; b_hi = b_hi + x0_hi * y1_hi
        c_lo = c_lo + x1_lo * y0_lo; c_hi = c_hi + x1_hi * y0_hi
        d_lo = d_lo + x1_lo * y1_lo; d_hi = d_hi + x1_hi * y1_hi
        i += 8
    out[0] = hsum(a_lo) + hsum(a_hi)
    out[1] = hsum(b_lo) + hsum(b_hi)
    out[2] = hsum(c_lo) + hsum(c_hi)
    out[3] = hsum(d_lo) + hsum(d_hi)
    while i < n:
        out[0] = out[0] + x0[i] * y0[i]
        out[1] = out[1] + x0[i] * y1[i]
        out[2] = out[2] + x1[i] * y0[i]
        out[3] = out[3] + x1[i] * y1[i]
        i += 1


cdef void _outer_columns(const double* dZ, const double* A_prev, double* dW, Py_ssize_t n,
                         Py_ssize_t n_prev, Py_ssize_t m, Py_ssize_t k) noexcept nogil:
    """Columns k and k + 1 of dW = dZ A_prev^T (column k alone when it is the last)."""
    cdef Py_ssize_t i
    cdef double out[4]
    cdef Py_ssize_t n_even = n - n % 2
    if k + 1 == n_prev:
        for i in range(n):
            dW[i * n_prev + k] = _pairwise_dot(dZ + i * m, A_prev + k * m, m)
        return
    for i in range(0, n_even, 2):
        _pairwise_dot_2x2(dZ + i * m, dZ + (i + 1) * m, A_prev + k * m,
                          A_prev + (k + 1) * m, m, out)
        dW[i * n_prev + k] = out[0]
        dW[i * n_prev + k + 1] = out[1]
        dW[(i + 1) * n_prev + k] = out[2]
        dW[(i + 1) * n_prev + k + 1] = out[3]
    for i in range(n_even, n):
        dW[i * n_prev + k] = _pairwise_dot(dZ + i * m, A_prev + k * m, m)
        dW[i * n_prev + k + 1] = _pairwise_dot(dZ + i * m, A_prev + (k + 1) * m, m)


cdef void _outer(const double* dZ, const double* A_prev, double* dW, Py_ssize_t n,
                 Py_ssize_t n_prev, Py_ssize_t m, int threads) noexcept nogil:
    """dW = dZ A_prev^T: dW[i, k] = sum_j dZ[i, j] A_prev[k, j], each in pairwise order.

    Two rows of A_prev at a time (they stay in cache) against all rows of dZ.
    """
    cdef Py_ssize_t pairs = (n_prev + 1) // 2
    cdef Py_ssize_t p
    if threads > 1 and pairs > 1 and n * n_prev * m >= PARALLEL_WORK:
        for p in prange(pairs, num_threads=threads, schedule="dynamic"):
            _outer_columns(dZ, A_prev, dW, n, n_prev, m, 2 * p)
    else:
        for p in range(pairs):
            _outer_columns(dZ, A_prev, dW, n, n_prev, m, 2 * p)


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
    return o


cdef inline void _block4(const double* W, Py_ssize_t row_step, Py_ssize_t w_step,
                         const double* B, Py_ssize_t b_step, Py_ssize_t count,
                         double* Z, Py_ssize_t z_ld) noexcept nogil:
    """Z[r, 0:8] = sum_k W[r row_step + k w_step] B[k b_step + 0:8], r < 4, k ascending.

    The 4 x 8 partial sums stay in registers for the whole k loop.
    """
    cdef Py_ssize_t k
    cdef vec b0 = vload(B), b1 = vload(B + 4)
    cdef vec w0 = splat(W[0]), w1 = splat(W[row_step])
    cdef vec w2 = splat(W[2 * row_step]), w3 = splat(W[3 * row_step])
    cdef vec s00 = w0 * b0, s01 = w0 * b1, s10 = w1 * b0, s11 = w1 * b1
    cdef vec s20 = w2 * b0, s21 = w2 * b1, s30 = w3 * b0, s31 = w3 * b1
    for k in range(1, count):
        b0 = vload(B + k * b_step)
        b1 = vload(B + k * b_step + 4)
        w0 = splat(W[k * w_step])
        w1 = splat(W[row_step + k * w_step])
        w2 = splat(W[2 * row_step + k * w_step])
        w3 = splat(W[3 * row_step + k * w_step])
        s00 = s00 + w0 * b0
        s01 = s01 + w0 * b1
        s10 = s10 + w1 * b0
        s11 = s11 + w1 * b1
        s20 = s20 + w2 * b0
        s21 = s21 + w2 * b1
        s30 = s30 + w3 * b0
        s31 = s31 + w3 * b1
    vstore(Z, s00)
    vstore(Z + 4, s01)
    vstore(Z + z_ld, s10)
    vstore(Z + z_ld + 4, s11)
    vstore(Z + 2 * z_ld, s20)
    vstore(Z + 2 * z_ld + 4, s21)
    vstore(Z + 3 * z_ld, s30)
    vstore(Z + 3 * z_ld + 4, s31)


cdef inline void _block1(const double* W, Py_ssize_t w_step, const double* B,
                         Py_ssize_t b_step, Py_ssize_t count, double* Z) noexcept nogil:
    """Z[0:8] = sum_k W[k w_step] B[k b_step + 0:8], k ascending: one row of _block4."""
    cdef Py_ssize_t k
    cdef vec w = splat(W[0])
    cdef vec s0 = w * vload(B), s1 = w * vload(B + 4)
    for k in range(1, count):
        w = splat(W[k * w_step])
        s0 = s0 + w * vload(B + k * b_step)
        s1 = s1 + w * vload(B + k * b_step + 4)
    vstore(Z, s0)
    vstore(Z + 4, s1)


cdef inline double _column(const double* W, Py_ssize_t w_step, const double* B,
                           Py_ssize_t b_step, Py_ssize_t count) noexcept nogil:
    """sum_k W[k w_step] B[k b_step], k ascending: one column of _block1."""
    cdef Py_ssize_t k
    cdef double s = W[0] * B[0]
    for k in range(1, count):
        s = s + W[k * w_step] * B[k * b_step]
    return s


cdef void _pack(const Operands* o, Py_ssize_t first, Py_ssize_t strips,
                double* P) noexcept nogil:
    """P[s][k][t] = B(k, first + 8 s + t): the tile's strips, each contiguous in k."""
    cdef Py_ssize_t s, k, t
    cdef const double* src
    cdef double* dst
    for s in range(strips):
        src = o.B + (first + 8 * s) * o.b_col
        dst = P + s * o.count * 8
        for k in range(o.count):
            for t in range(8):
                dst[k * 8 + t] = src[k * o.b_k + t * o.b_col]


cdef void _matmul_tile(const Operands* o, Py_ssize_t first, Py_ssize_t last,
                       double* P) noexcept nogil:
    """Columns [first, last) of _matmul: blocks of 4 rows by 8 columns (_block4),
    then the rows left (_block1), then the columns left (_column).

    With a pack buffer P the tile's strips are read from P, contiguously; without,
    straight from B, which must then have b_col = 1.
    """
    # Locals, not o->...: stores to Z could alias *o, which would force reloads.
    cdef const double* W = o.W
    cdef const double* B = o.B
    cdef double* Z = o.Z
    cdef Py_ssize_t row_step = o.row_step, w_step = o.w_step, z_ld = o.z_ld
    cdef Py_ssize_t b_k = o.b_k, b_col = o.b_col, n = o.n, count = o.count
    cdef Py_ssize_t i, s, j
    cdef Py_ssize_t strips = (last - first) // 8
    cdef Py_ssize_t full = n - n % 4
    cdef Py_ssize_t b_step = b_k
    cdef Py_ssize_t strip_step = 8
    cdef const double* strips_at = B + first
    if P != NULL:
        _pack(o, first, strips, P)
        b_step = 8
        strip_step = 8 * count
        strips_at = P
    for i in range(0, full, 4):
        for s in range(strips):
            _block4(W + i * row_step, row_step, w_step, strips_at + s * strip_step, b_step,
                    count, Z + i * z_ld + first + 8 * s, z_ld)
    for i in range(full, n):
        for s in range(strips):
            _block1(W + i * row_step, w_step, strips_at + s * strip_step, b_step, count,
                    Z + i * z_ld + first + 8 * s)
    for i in range(n):
        for j in range(first + 8 * strips, last):
            Z[i * z_ld + j] = _column(W + i * row_step, w_step, B + j * b_col, b_k, count)


cdef void _matmul(const Operands* o, double* packs, int threads) noexcept nogil:
    """Z(r, c) = sum_k W(r, k) B(k, c), k = 0..count-1 ascending, in tiles of 64 columns.

    packs: TILE_COLUMNS * count doubles per thread, or NULL to read B in place
    (then b_col must be 1). Tiles go to threads when the product is large; each
    element of Z is computed by one thread, in the same order.
    """
    cdef Py_ssize_t tiles = (o.cols + TILE_COLUMNS - 1) // TILE_COLUMNS
    cdef Py_ssize_t t
    cdef Py_ssize_t pack_size = TILE_COLUMNS * o.count
    if packs == NULL:
        # B read in place: one pass over all columns.
        _matmul_tile(o, 0, o.cols, NULL)
        return
    if threads > 1 and tiles > 1 and o.n * o.count * o.cols >= PARALLEL_WORK:
        for t in prange(tiles, num_threads=threads, schedule="dynamic"):
            _matmul_tile(o, t * TILE_COLUMNS, min(t * TILE_COLUMNS + TILE_COLUMNS, o.cols),
                         packs + threadid() * pack_size if packs != NULL else NULL)
    else:
        for t in range(tiles):
            _matmul_tile(o, t * TILE_COLUMNS, min(t * TILE_COLUMNS + TILE_COLUMNS, o.cols), packs)


cdef void _add_bias_activate(double* Z, const double* b, Py_ssize_t n, Py_ssize_t m,
                             int activation) noexcept nogil:
    """A = g(Z + b) in place, b broadcast along the rows."""
    cdef Py_ssize_t i, j
    cdef Py_ssize_t body = m - m % 4
    cdef double* z
    cdef vec bias
    for i in range(n):
        z = Z + i * m
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
    cdef Py_ssize_t j
    cdef double z
    if activation == TANH:
        for j in range(size):
            Z[j] = tanh(Z[j])
    elif activation == SIGMOID:
        for j in range(0, size - size % 4, 4):
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


cdef inline double* _packs_for(const Net* net, const Operands* o) noexcept nogil:
    """Pack B when it must be (b_col != 1) or when the product is large enough to pay."""
    if o.b_col != 1 or o.n * o.count * o.cols >= PARALLEL_WORK:
        return net.packs
    return NULL


cdef void _forward(const Net* net, const double* X, const double* params,
                   double* acts) noexcept nogil:
    """A{l} for l = 1..L into acts; sigmoid on the last layer."""
    cdef Py_ssize_t l
    cdef const double* A_prev = X
    cdef double* A
    cdef Operands o
    for l in range(1, net.L + 1):
        A = acts + net.a_off[l]
        # Z = W A_prev: W(r, k) = W[r n_prev + k], B(k, c) = A_prev[k m + c]
        o = _product(params + net.w_off[l], net.dims[l - 1], 1, A_prev, net.m, 1,
                     A, net.m, net.dims[l], net.dims[l - 1], net.m)
        _matmul(&o, _packs_for(net, &o), net.threads)
        _add_bias_activate(A, params + net.b_off[l], net.dims[l], net.m,
                           SIGMOID if l == net.L else net.activation)
        A_prev = A


cdef double _loss(const double* AL, const double* Y, double* scratch,
                  Py_ssize_t size, Py_ssize_t m) noexcept nogil:
    """(1/m) nansum(-log(AL) Y - log(1 - AL)(1 - Y)); a nan term counts as 0."""
    cdef Py_ssize_t j
    cdef double term
    for j in range(size):
        term = -log(AL[j]) * Y[j] + -log(1.0 - AL[j]) * (1.0 - Y[j])
        scratch[j] = 0.0 if isnan(term) else term
    return 1.0 / m * _pairwise_sum(scratch, size)


cdef void _backward(const Net* net, const double* X, const double* Y, const double* params,
                    const double* acts, double* grads, double* dZ, double* dZ_prev) noexcept nogil:
    """grads = d loss / d params; dZ and dZ_prev are scratch of widest * m each."""
    cdef Py_ssize_t l, i, j, k, n, n_prev
    cdef Py_ssize_t m = net.m
    cdef double inv_m = 1.0 / m
    cdef const double* AL = acts + net.a_off[net.L]
    cdef const double* A_prev
    cdef const double* W
    cdef double* dW
    cdef double* db
    cdef double* swap
    cdef Operands o
    n = net.dims[net.L]
    for j in range(n * m):
        dZ[j] = inv_m * (AL[j] - Y[j])
    for l in range(net.L, 0, -1):
        n = net.dims[l]
        n_prev = net.dims[l - 1]
        A_prev = X if l == 1 else acts + net.a_off[l - 1]
        W = params + net.w_off[l]
        dW = grads + net.w_off[l]
        db = grads + net.b_off[l]
        if n * n_prev * m >= PARALLEL_WORK:
            # dW = dZ A_prev^T as a matrix product, j ascending: dW(i, k) = sum_j
            # dZ[i m + j] A_prev[k m + j]; B is A_prev read transposed while packing.
            o = _product(dZ, m, 1, A_prev, 1, m, dW, n_prev, n, m, n_prev)
            _matmul(&o, net.packs, net.threads)
        else:
            _outer(dZ, A_prev, dW, n, n_prev, m, net.threads)
        for i in range(n):
            db[i] = _pairwise_sum(dZ + i * m, m)
        if l == 1:
            break
        # dA_prev = W^T dZ: W(r, i) = W[i n_prev + r], B(i, c) = dZ[i m + c]
        o = _product(W, 1, n_prev, dZ, m, 1, dZ_prev, m, n_prev, n, m)
        _matmul(&o, _packs_for(net, &o), net.threads)
        _times_derivative(dZ_prev, A_prev, n_prev * m, net.activation)
        swap = dZ
        dZ = dZ_prev
        dZ_prev = swap


cdef class _Workspace:
    """Buffers for one network and batch size, freed with the object."""
    cdef Net net
    cdef double* acts
    cdef double* dZ
    cdef double* dZ_prev

    def __cinit__(self, const Py_ssize_t[::1] dims, Py_ssize_t m, int activation, int threads):
        self.acts = NULL
        self.net.w_off = NULL
        self.net.packs = NULL
        if _net_init(&self.net, &dims[0], dims.shape[0] - 1, m, activation, threads) != 0:
            raise MemoryError()
        self.net.packs = <double*> malloc(threads * TILE_COLUMNS * self.net.longest * sizeof(double))
        if self.net.packs == NULL:
            raise MemoryError()
        self.acts = <double*> malloc((self.net.n_acts + 2 * self.net.widest * m) * sizeof(double))
        if self.acts == NULL:
            raise MemoryError()
        self.dZ = self.acts + self.net.n_acts
        self.dZ_prev = self.dZ + self.net.widest * m

    def __dealloc__(self):
        free(self.acts)
        free(self.net.packs)
        free(self.net.w_off)


def forward(const double[:, ::1] X, const double[::1] params, const Py_ssize_t[::1] dims,
            int activation, int threads):
    """AL = forward pass of X, shape (n_L, m)."""
    cdef Py_ssize_t m = X.shape[1]
    cdef _Workspace ws = _Workspace(dims, m, activation, threads)
    cdef Py_ssize_t L = dims.shape[0] - 1
    out = np.empty((dims[L], m))
    cdef double[:, ::1] AL = out
    with nogil:
        _forward(&ws.net, &X[0, 0], &params[0], ws.acts)
        _copy(ws.acts + ws.net.a_off[L], &AL[0, 0], dims[L] * m)
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
    cdef _Workspace ws = _Workspace(dims, m, activation, threads)
    grads_out = np.empty(ws.net.n_params)
    cdef double[::1] grads = grads_out
    cdef double cost
    with nogil:
        _forward(&ws.net, &X[0, 0], &params[0], ws.acts)
        cost = _loss(ws.acts + ws.net.a_off[L], &Y[0, 0], ws.dZ, dims[L] * m, m)
        _backward(&ws.net, &X[0, 0], &Y[0, 0], &params[0], ws.acts, &grads[0],
                  ws.dZ, ws.dZ_prev)
    return cost, grads_out


def train(const double[:, ::1] X, const double[:, ::1] Y, double[::1] params,
          const Py_ssize_t[::1] dims, int activation, double learning_rate,
          Py_ssize_t num_iterations, Py_ssize_t record_every, double[::1] costs, int threads):
    """Gradient descent on params in place; costs[i // record_every] at each recorded i."""
    cdef Py_ssize_t m = X.shape[1]
    cdef Py_ssize_t L = dims.shape[0] - 1
    cdef _Workspace ws = _Workspace(dims, m, activation, threads)
    grads_out = np.empty(ws.net.n_params)
    cdef double[::1] grads = grads_out
    cdef Py_ssize_t it, p
    cdef Py_ssize_t n_params = ws.net.n_params
    cdef double cost
    with nogil:
        for it in range(num_iterations):
            _forward(&ws.net, &X[0, 0], &params[0], ws.acts)
            if it % record_every == 0:
                cost = _loss(ws.acts + ws.net.a_off[L], &Y[0, 0], ws.dZ, dims[L] * m, m)
                costs[it // record_every] = cost
            _backward(&ws.net, &X[0, 0], &Y[0, 0], &params[0], ws.acts, &grads[0],
                      ws.dZ, ws.dZ_prev)
            for p in range(n_params):
                params[p] = params[p] - learning_rate * grads[p]
