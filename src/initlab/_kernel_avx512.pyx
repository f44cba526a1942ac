# The kernel of _kernel.pyx, compiled with AVX-512 (F, DQ, VL, BW) enabled (see setup.py).
# initlab.kernel imports it only on a CPU that has AVX-512; its results are the
# same bits as the baseline build's.
include "_kernel.pyx"
