"""The number of OpenMP threads the kernels use.

Order of precedence: an explicit `n_threads=` argument, then `set_num_threads(n)`, then the
OpenMP default, which follows OMP_NUM_THREADS and threadpoolctl's limits.
"""

from __future__ import annotations

import numbers

from . import _core

__all__ = ["get_num_threads", "resolve", "set_num_threads"]

_num_threads: int | None = None


def set_num_threads(n: int | None) -> None:
    """Set the number of threads every kernel uses; None restores the OpenMP default."""
    global _num_threads
    _num_threads = None if n is None else _check(n, "n")


def get_num_threads() -> int:
    """The number of threads a kernel called now without `n_threads` would use."""
    return _num_threads if _num_threads is not None else int(_core.openmp_max_threads())


def resolve(n_threads: int | None) -> int:
    """The thread count for one kernel call: `n_threads` if given, else `get_num_threads()`."""
    return get_num_threads() if n_threads is None else _check(n_threads, "n_threads")


def _check(n: object, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name} must be a positive int or None, got {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"{name} must be >= 1, got {n}")
    return int(n)
