"""Seeds: every stochastic function takes `seed: int | None` (estimators: `random_state`)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["resolve"]

_MAX_SEED = 2**64


def resolve(seed: Any, name: str = "seed") -> int:
    """Return the 64-bit integer seed the kernels use.

    None draws fresh entropy (store the returned value to reproduce the run). An int must lie
    in [0, 2**64). A numpy Generator or RandomState (scikit-learn's `random_state`) gives one
    draw from it, so it is advanced as scikit-learn would advance it.
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, _MAX_SEED, dtype=np.uint64))
    if isinstance(seed, np.random.RandomState):
        return int(seed.randint(0, 2**63, dtype=np.int64))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an int, None or a numpy Generator, got {type(seed).__name__} {seed!r}")
    if not 0 <= int(seed) < _MAX_SEED:
        raise ValueError(f"{name} must be in [0, 2**64), got {seed}")
    return int(seed)
