# The kernel of _kernel.pyx, compiled with AVX2 and FMA enabled (see setup.py).
# initlab.kernel imports it only on a CPU that has AVX2 and FMA; its results are the
# same bits as the baseline build's.
include "_kernel.pyx"
