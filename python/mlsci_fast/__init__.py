"""mlsci_fast: C++-accelerated tools for the course "Machine Learning in Sciences".

Hot kernels are C++17 with OpenMP and Eigen; this package gives them scikit-learn- and
emcee-style Python interfaces. Threads: `set_num_threads`, `get_num_threads`, OMP_NUM_THREADS
and threadpoolctl all work; results never depend on the thread count.
"""

from __future__ import annotations

from . import _openmp

_openmp.before_load()  # how our OpenMP threads wait: set before the extension loads libgomp
from . import _core  # noqa: E402

_openmp.after_load()
from . import pairwise, random  # noqa: E402
from ._config import show_config  # noqa: E402
from ._results import load  # noqa: E402
from ._threads import get_num_threads, max_threads, set_num_threads  # noqa: E402

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "get_num_threads",
    "load",
    "max_threads",
    "pairwise",
    "random",
    "set_num_threads",
    "show_config",
]
