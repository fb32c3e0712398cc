"""The number of OpenMP threads the kernels use.

Order of precedence: an explicit `n_threads=` argument, then `set_num_threads(n)`, then the
OpenMP default, which follows OMP_NUM_THREADS and threadpoolctl's limits.

At most `max_threads()` threads (4 per processor this process may run on): results never
depend on the count, more threads than that only wait for each other, and the OpenMP runtime
cannot start thousands (it crashes or exits). An explicit count above it is refused; an
OpenMP default above it (a large OMP_NUM_THREADS) is capped with a warning.
"""

from __future__ import annotations

import numbers
import warnings

from . import _core

__all__ = ["get_num_threads", "max_threads", "resolve", "set_num_threads"]

_num_threads: int | None = None
_warned_default: int | None = None


def set_num_threads(n: int | None) -> None:
    """Set the number of threads every kernel uses; None restores the OpenMP default."""
    global _num_threads
    _num_threads = None if n is None else _check(n, "n")


def get_num_threads() -> int:
    """The number of threads a kernel called now without `n_threads` would use."""
    if _num_threads is not None:
        return _num_threads
    default, cap = int(_core.openmp_max_threads()), max_threads()
    if default > cap:
        global _warned_default
        if _warned_default != default:
            _warned_default = default
            warnings.warn(f"the OpenMP default of {default} threads (OMP_NUM_THREADS) is more than this machine "
                          f"can use; mlsci_fast uses {cap} (4 per processor)", RuntimeWarning, stacklevel=2)
        return cap
    return default


def max_threads() -> int:
    """The most threads a kernel may use: 4 per processor this process may run on."""
    return int(_core.max_threads())


def resolve(n_threads: int | None) -> int:
    """The thread count for one kernel call: `n_threads` if given, else `get_num_threads()`."""
    return get_num_threads() if n_threads is None else _check(n_threads, "n_threads")


def _check(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a positive int or None, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    if n > max_threads():
        raise ValueError(f"{name} must be at most {max_threads()} (4 per processor on this machine), got {n}")
    return int(n)
