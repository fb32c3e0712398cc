"""mlsci_fast: C++-accelerated tools for the course "Machine Learning in Sciences".

Hot kernels are C++17 with OpenMP and Eigen; this package gives them scikit-learn- and
emcee-style Python interfaces. Threads: `set_num_threads`, `get_num_threads`, OMP_NUM_THREADS
and threadpoolctl all work; results never depend on the thread count.
"""

from __future__ import annotations

from . import _core, pairwise, random
from ._config import show_config
from ._threads import get_num_threads, set_num_threads

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "get_num_threads",
    "pairwise",
    "random",
    "set_num_threads",
    "show_config",
]
