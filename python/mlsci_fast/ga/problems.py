"""Built-in problems for the genetic algorithm, evaluated in C++ (whole populations, all threads).

Each has sensible default `bounds` and its known global minimum `optimum`; calling one on an
(n, dim) array returns the n fitness values, so you can check it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _threads
from .._validation import as_float_array, check_scalar

__all__ = ["Ackley", "LennardJonesCluster", "Problem", "Rastrigin", "Rosenbrock", "Sphere"]

# Global minima of LJ clusters (reduced units) from the Cambridge Cluster Database
# (Wales & Doye 1997, J. Phys. Chem. A 101:5111).
LJ_MINIMA = {
    2: -1.0, 3: -3.0, 4: -6.0, 5: -9.103852, 6: -12.712062, 7: -16.505384, 8: -19.821489, 9: -24.113360,
    10: -28.422532, 11: -32.765970, 12: -37.967600, 13: -44.326801, 14: -47.845157, 15: -52.322627,
    19: -72.659782, 26: -108.315616, 38: -173.928427, 55: -279.248470,
}


class Problem:
    """Base class of the built-in problems."""

    _core_problem: Any
    _params: dict[str, Any]
    optimum: float | None = None

    @property
    def dim(self) -> int:
        return int(self._core_problem.dim)

    @property
    def bounds(self) -> np.ndarray:
        """Default search box, shape (dim, 2)."""
        raise NotImplementedError

    def __call__(self, x: ArrayLike) -> float | np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 0 or arr.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (..., {self.dim}), got {arr.shape}")
        pts = as_float_array(arr.reshape(-1, self.dim), "x", ndim=2, allow_empty=True)
        out = self._core_problem.evaluate(pts, _threads.get_num_threads())
        return float(out[0]) if arr.ndim == 1 else out.reshape(arr.shape[:-1])

    def __reduce__(self):
        return (_rebuild, (type(self).__name__, self._params))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._params.items())})"


def _rebuild(name: str, params: dict[str, Any]) -> Problem:
    return {c.__name__: c for c in (Sphere, Rastrigin, Ackley, Rosenbrock, LennardJonesCluster)}[name](**params)


def _dim(dim: Any, min_val: int = 1) -> int:
    return int(check_scalar(dim, "dim", numbers.Integral, min_val=min_val))


class Sphere(Problem):
    """f(x) = sum x_i^2; minimum 0 at 0; bounds [-5.12, 5.12]."""

    optimum = 0.0

    def __init__(self, dim: int = 30):
        self._params = {"dim": _dim(dim)}
        self._core_problem = _core.ga.sphere(self._params["dim"])

    @property
    def bounds(self) -> np.ndarray:
        return np.tile([-5.12, 5.12], (self.dim, 1))


class Rastrigin(Problem):
    """f(x) = a d + sum (x_i^2 - a cos(2 pi x_i)); minimum 0 at 0; bounds [-5.12, 5.12]."""

    optimum = 0.0

    def __init__(self, dim: int = 30, a: float = 10.0):
        self._params = {"dim": _dim(dim), "a": float(check_scalar(a, "a", numbers.Real, min_val=0.0))}
        self._core_problem = _core.ga.rastrigin(self._params["dim"], self._params["a"])

    @property
    def bounds(self) -> np.ndarray:
        return np.tile([-5.12, 5.12], (self.dim, 1))


class Ackley(Problem):
    """f(x) = -a exp(-b sqrt(mean x^2)) - exp(mean cos(c x)) + a + e; minimum 0 at 0; bounds [-32.768, 32.768]."""

    optimum = 0.0

    def __init__(self, dim: int = 30, a: float = 20.0, b: float = 0.2, c: float = 2 * math.pi):
        self._params = {"dim": _dim(dim), "a": float(a), "b": float(b), "c": float(c)}
        self._core_problem = _core.ga.ackley(self._params["dim"], float(a), float(b), float(c))

    @property
    def bounds(self) -> np.ndarray:
        return np.tile([-32.768, 32.768], (self.dim, 1))


class Rosenbrock(Problem):
    """f(x) = sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum 0 at (1, ..., 1); bounds [-5, 10]."""

    optimum = 0.0

    def __init__(self, dim: int = 30):
        self._params = {"dim": _dim(dim, 2)}
        self._core_problem = _core.ga.rosenbrock(self._params["dim"])

    @property
    def bounds(self) -> np.ndarray:
        return np.tile([-5.0, 10.0], (self.dim, 1))


class LennardJonesCluster(Problem):
    """Energy of n atoms interacting by the Lennard-Jones potential, E = 4 sum_{i<j} (r^-12 - r^-6).

    x holds the coordinates (x0, y0, z0, x1, ...). `optimum` is the Cambridge Cluster Database's
    global minimum where listed here; `gradient(x)` gives dE/dx (for local relaxation).
    """

    def __init__(self, n_atoms: int = 13):
        n = int(check_scalar(n_atoms, "n_atoms", numbers.Integral, min_val=2))
        self._params = {"n_atoms": n}
        self._core_problem = _core.ga.lennard_jones(n)
        self.optimum = LJ_MINIMA.get(n)

    @property
    def n_atoms(self) -> int:
        return self._params["n_atoms"]

    @property
    def bounds(self) -> np.ndarray:
        # A cube holding the cluster at close-packed density with room to spare.
        half = 0.75 * self.n_atoms ** (1.0 / 3.0) + 0.5
        return np.tile([-half, half], (self.dim, 1))

    def energy_and_gradient(self, x: ArrayLike) -> tuple[float, np.ndarray]:
        x = as_float_array(x, "x", ndim=1)
        if x.shape != (self.dim,):
            raise ValueError(f"x must have shape ({self.dim},), got {x.shape}")
        return self._core_problem.evaluate_grad(x)
