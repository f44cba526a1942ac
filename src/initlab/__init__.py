"""initlab: the "Initialization" deep-learning assignment, with a compiled reference kernel.

- ``initlab.reference``: the numpy reference, the executable specification;
- ``initlab.kernel``: the same entry points compiled (``forward``, ``gradients``, ``train``);
- ``initlab.datasets``: the course's circles and planar data, bit for bit.
"""

from importlib.metadata import PackageNotFoundError, version

from initlab.datasets import load_circles, load_planar
from initlab.reference import initialize_parameters

try:
    __version__ = version("initlab")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = ["__version__", "initialize_parameters", "load_circles", "load_planar"]
