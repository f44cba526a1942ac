"""Type stub of the compiled kernel (_kernel.pyx; _kernel_avx2 and _kernel_avx512 are the
same source)."""

import numpy as np
import numpy.typing as npt

_F64 = npt.NDArray[np.float64]
_Dims = npt.NDArray[np.intp]

def instruction_set() -> str: ...
def best_supported() -> str: ...
def build() -> dict[str, str | bool]: ...
def peak_flops(threads: int, seconds: float, fused: bool = False) -> float: ...
def forward(X: _F64, params: _F64, dims: _Dims, activation: int, threads: int) -> _F64: ...
def gradients(
    X: _F64, Y: _F64, params: _F64, dims: _Dims, activation: int, threads: int
) -> tuple[float, _F64]: ...
def train(
    X: _F64,
    Y: _F64,
    params: _F64,
    dims: _Dims,
    activation: int,
    learning_rate: float,
    num_iterations: int,
    record_every: int,
    costs: _F64,
    threads: int,
) -> int: ...
def _set_probe_seconds(seconds: float) -> float: ...
