"""Reproducible parallel random numbers from the counter-based Philox4x32-10 generator.

Element ``i`` of a draw is a pure function of ``(seed, step, i)``: the same on 1 or 64 threads,
and any slice can be regenerated without the rest. All of mlsci_fast's simulations draw their
random numbers this way (each from its own stream), which is what makes them bitwise
reproducible and exactly resumable.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _seed, _threads
from ._validation import check_scalar

__all__ = ["normal", "philox4x32", "uniform"]


def _size(size: int | tuple[int, ...]) -> tuple[int, ...]:
    try:
        shape = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    except TypeError:
        raise TypeError(f"size must be an int or a tuple of ints, got {type(size).__name__} {size!r}") from None
    for n in shape:
        check_scalar(n, "size", numbers.Integral, min_val=0)
    return tuple(int(n) for n in shape)


def _draw(kind: str, size, seed, step, n_threads) -> np.ndarray:
    shape = _size(size)
    seed = _seed.resolve(seed)
    step = int(check_scalar(step, "step", numbers.Integral, min_val=0, max_val=2**32 - 1))
    n = int(np.prod(shape, dtype=np.int64))
    return getattr(_core.random, kind)(n, seed, step, _threads.resolve(n_threads)).reshape(shape)


def uniform(
    size: int | tuple[int, ...],
    seed: int | None = None,
    *,
    low: float = 0.0,
    high: float = 1.0,
    step: int = 0,
    n_threads: int | None = None,
) -> np.ndarray:
    """Uniform doubles in [low, high) with 53 random bits each.

    Parameters
    ----------
    size : int or tuple of int
        Output shape.
    seed : int in [0, 2**64) or None
        None draws fresh entropy (the draw cannot then be repeated).
    low, high : float
        The interval.
    step : int in [0, 2**32)
        An independent stream for each step (e.g. one per iteration of an outer loop).
    n_threads : int, optional
        Threads to use; the result does not depend on it.
    """
    low = float(check_scalar(low, "low"))
    high = float(check_scalar(high, "high"))
    if not high > low:
        raise ValueError(f"high must be > low, got low={low}, high={high}")
    u = _draw("uniform", size, seed, step, n_threads)
    if (low, high) != (0.0, 1.0):
        u *= high - low
        u += low
    return u


def normal(
    size: int | tuple[int, ...],
    seed: int | None = None,
    *,
    loc: float = 0.0,
    scale: float = 1.0,
    step: int = 0,
    n_threads: int | None = None,
) -> np.ndarray:
    """Normal deviates (Box-Muller on Philox uniforms); see `uniform` for the parameters."""
    loc = float(check_scalar(loc, "loc"))
    scale = float(check_scalar(scale, "scale", min_val=0.0))
    z = _draw("normal", size, seed, step, n_threads)
    if (loc, scale) != (0.0, 1.0):
        z *= scale
        z += loc
    return z


def _as_words(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "ui":
        raise TypeError(f"{name} must hold unsigned 32-bit integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        raise ValueError(f"{name} must hold integers in [0, 2**32), got values in [{arr.min()}, {arr.max()}]")
    return np.ascontiguousarray(arr, dtype=np.uint32)


def philox4x32(counters: ArrayLike, keys: ArrayLike, rounds: int = 10) -> np.ndarray:
    """The raw Philox4x32 bijection, row by row: (n, 4) counters and (n, 2) keys of uint32.

    For checking the generator against published known-answer vectors (Random123's
    kat_vectors) or another implementation.
    """
    c = _as_words(counters, "counters")
    k = _as_words(keys, "keys")
    if c.ndim != 2 or c.shape[1] != 4:
        raise ValueError(f"counters must have shape (n, 4), got {c.shape}")
    if k.shape != (c.shape[0], 2):
        raise ValueError(f"keys must have shape ({c.shape[0]}, 2), got {k.shape}")
    if rounds not in (7, 10):
        raise ValueError(f"rounds must be 7 or 10, got {rounds!r}")
    return _core.random.philox4x32(c, k, int(rounds))
