"""Proposal moves for `EnsembleSampler`, with emcee's names and defaults.

Mix moves as emcee does: ``moves=[(DEMove(), 0.8), (DESnookerMove(), 0.2)]`` picks one move per
step with those probabilities.
"""

from __future__ import annotations

import numbers
from typing import Any

from .._validation import check_scalar

__all__ = ["DEMove", "DESnookerMove", "Move", "StretchMove"]


class Move:
    """Base class of the ensemble moves."""

    _kind: int

    def _row(self, weight: float) -> tuple[int, float, float, float, float, float]:
        raise NotImplementedError

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class StretchMove(Move):
    """Goodman & Weare's (2010) affine-invariant stretch move.

    Parameters
    ----------
    a : float
        The stretch scale, > 1: z is drawn from g(z) ~ 1/sqrt(z) on [1/a, a].
    """

    def __init__(self, a: float = 2.0):
        self.a = float(check_scalar(a, "a", numbers.Real, min_val=1.0, include_min=False))

    def _row(self, weight):
        return (0, weight, self.a, 0.0, 0.0, 0.0)


class DEMove(Move):
    """Differential-evolution move (ter Braak 2006): x + gamma0 (x_a - x_b) + N(0, sigma^2 I).

    Parameters
    ----------
    sigma : float
        Standard deviation of the small per-coordinate jitter that makes the chain irreducible.
    gamma0 : float, optional
        Step scale; default 2.38 / sqrt(2 ndim), optimal for Gaussian targets.
    """

    def __init__(self, sigma: float = 1.0e-5, gamma0: float | None = None):
        self.sigma = float(check_scalar(sigma, "sigma", numbers.Real, min_val=0.0))
        self.gamma0 = None if gamma0 is None else float(
            check_scalar(gamma0, "gamma0", numbers.Real, min_val=0.0, include_min=False))

    def _row(self, weight):
        return (1, weight, 0.0, 0.0 if self.gamma0 is None else self.gamma0, self.sigma, 0.0)


class DESnookerMove(Move):
    """Differential-evolution snooker move (ter Braak & Vrugt 2008).

    Moves a walker along the line through it and a random other walker z, by `gammas` times the
    projection of the difference of two more walkers on that line, with the Hastings factor
    (|x' - z| / |x - z|)^(ndim - 1). (emcee 3.1.6 and earlier scale this move and its factor
    differently from the paper; this follows the paper.)

    Parameters
    ----------
    gammas : float
        Step scale; 1.7 ~ 2.38 / sqrt(2) as recommended by ter Braak & Vrugt.
    """

    def __init__(self, gammas: float = 1.7):
        self.gammas = float(check_scalar(gammas, "gammas", numbers.Real, min_val=0.0, include_min=False))

    def _row(self, weight):
        return (2, weight, 0.0, 0.0, 0.0, self.gammas)


def _normalize(moves: Any) -> list[tuple[Move, float]]:
    """emcee's `moves` argument -> [(move, weight), ...]."""
    if moves is None:
        return [(StretchMove(), 1.0)]
    if isinstance(moves, Move):
        return [(moves, 1.0)]
    try:
        items = list(moves)
    except TypeError:
        raise TypeError(f"moves must be a Move, a list of Moves or a list of (Move, weight), got {moves!r}") from None
    if not items:
        raise ValueError("moves must not be empty")
    out = []
    for item in items:
        if isinstance(item, Move):
            move, weight = item, 1.0
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Move):
            move, weight = item
            weight = float(check_scalar(weight, "move weight", numbers.Real, min_val=0.0, include_min=False))
        else:
            raise TypeError(f"each entry of moves must be a Move or a (Move, weight) pair, got {item!r}")
        out.append((move, weight))
    total = sum(w for _, w in out)
    return [(m, w / total) for m, w in out]


_BY_KIND = {0: StretchMove, 1: DEMove, 2: DESnookerMove}


def _from_row(row) -> tuple[Move, float]:
    kind, weight, a, gamma0, sigma, gamma = row
    kind = int(kind)
    if kind == 0:
        return StretchMove(a), weight
    if kind == 1:
        return DEMove(sigma, gamma0 if gamma0 > 0 else None), weight
    if kind == 2:
        return DESnookerMove(gamma), weight
    raise ValueError(f"unknown move kind {kind}")
