"""NSGA-II for several objectives at once (Deb, Pratap, Agarwal & Meyarivan 2002).

Force-field fitting trades energy errors against force and geometry errors: there is no single
best parameter set, but a Pareto front of them. `NSGA2` finds it with the same operators, islands,
determinism and checkpoints as `GeneticAlgorithm`; selection and survival use non-dominated
sorting and crowding distance, in C++.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _plotting
from .._io import atomic_savez, load_npz
from .._validation import check_scalar
from .engine import _FORMAT, GeneticAlgorithm, _array_checker
from .problems import Problem

__all__ = ["NSGA2", "ParetoResult"]


@dataclasses.dataclass(eq=False)
class ParetoResult:
    """The non-dominated individuals of the final population (`pareto_x`, `pareto_f`, sorted by
    the first objective), the whole `population` and its `objectives`, and per generation the
    size of the first front and the smallest value of each objective (`history`)."""

    pareto_x: np.ndarray
    pareto_f: np.ndarray
    population: np.ndarray
    objectives: np.ndarray
    history: dict[str, np.ndarray]
    n_evaluations: int
    n_generations: int
    seed: int
    elapsed: float
    interrupted: bool = False  # stopped early by Ctrl-C

    def plot(self, path: str | os.PathLike | None = None, names: list[str] | None = None, *, ax=None):
        """The population in objective space with its Pareto front (pairs of objectives).

        Returns the Figure; with `path`, also saves it. ax: one Axes per pair of objectives.
        """
        m = self.objectives.shape[1]
        names = names or [f"f{k + 1}" for k in range(m)]
        pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
        fig, axes, owned = _plotting.subplots(ax, len(pairs), path=path, figsize=(4.5 * len(pairs), 4))
        for ax, (i, j) in zip(axes, pairs):
            ax.scatter(self.objectives[:, i], self.objectives[:, j], s=8, color="0.7", label="population")
            ax.scatter(self.pareto_f[:, i], self.pareto_f[:, j], s=12, color="tab:red", label="Pareto front")
            ax.set_xlabel(names[i])
            ax.set_ylabel(names[j])
        axes[0].legend(fontsize=8)
        return _plotting.finish(fig, path, owned)


class NSGA2(GeneticAlgorithm):
    """NSGA-II: minimise several objectives; returns the Pareto front.

    Parameters
    ----------
    fitness : callable
        Called once per generation with the whole population, an (n, dim) array; returns the
        objectives, shape (n, n_objectives), all minimised (negate one to maximise it). +inf marks
        an infeasible individual; NaN is an error naming the generation and the individual.
    bounds : array (dim, 2)
    n_objectives : int
    population_size, crossover, crossover_prob, eta_c, blend_alpha, mutation, mutation_prob,
    eta_m, sigma, islands, migration_interval, n_migrants, initial_population, seed, n_threads
        As for `GeneticAlgorithm`. Parents are chosen by binary tournament on (Pareto rank,
        crowding distance); survival keeps the best fronts of parents and children together.
    """

    def __init__(
        self,
        fitness: Callable[[np.ndarray], ArrayLike],
        bounds: ArrayLike,
        n_objectives: int,
        *,
        population_size: int = 100,
        crossover: str = "sbx",
        crossover_prob: float = 0.9,
        eta_c: float = 15.0,
        blend_alpha: float = 0.5,
        mutation: str = "polynomial",
        mutation_prob: float | None = None,
        eta_m: float = 20.0,
        sigma: float = 0.1,
        islands: int = 1,
        migration_interval: int = 10,
        n_migrants: int = 1,
        initial_population: ArrayLike | None = None,
        seed: int | None = None,
        n_threads: int | None = None,
    ):
        if isinstance(fitness, Problem) or not callable(fitness):
            raise TypeError("NSGA2 needs a Python function returning the objectives, shape (n, n_objectives)")
        super().__init__(
            fitness, bounds, population_size=population_size, selection="tournament", tournament_size=2,
            crossover=crossover, crossover_prob=crossover_prob, eta_c=eta_c, blend_alpha=blend_alpha,
            mutation=mutation, mutation_prob=mutation_prob, eta_m=eta_m, sigma=sigma, survival="elitist", elitism=0,
            islands=islands, migration_interval=migration_interval, n_migrants=n_migrants,
            initial_population=initial_population, seed=seed, n_threads=n_threads,
        )
        self.n_objectives = int(check_scalar(n_objectives, "n_objectives", numbers.Integral, min_val=1))
        self._settings = dict(
            n_objectives=self.n_objectives, population_size=population_size, crossover=crossover,
            crossover_prob=crossover_prob, eta_c=eta_c, blend_alpha=blend_alpha, mutation=mutation,
            mutation_prob=mutation_prob, eta_m=eta_m, sigma=sigma, islands=islands,
            migration_interval=migration_interval, n_migrants=n_migrants,
        )
        self._obj: np.ndarray | None = None
        self._mo = {"front_size": np.zeros(1), "min": np.zeros((1, self.n_objectives))}

    def _objectives(self, X: np.ndarray) -> np.ndarray:
        f = np.asarray(self.fitness_fn(X))
        n, m = X.shape[0], self.n_objectives
        if f.shape != (n, m) and not (m == 1 and f.shape == (n,)):
            raise ValueError(
                f"the fitness function was called with {n} individuals and returned shape {f.shape}; "
                f"it must return shape ({n}, {m}), one row of {m} objectives per individual"
            )
        if f.dtype.kind not in "biuf":
            raise ValueError(f"the fitness function must return real numbers, got dtype {f.dtype}")
        return np.ascontiguousarray(f.reshape(n, m), dtype=np.float64)

    def _grow(self, rows: int) -> None:
        super()._grow(rows)
        have = len(self._mo["front_size"])
        if have < rows:
            fs = np.zeros(rows)
            mn = np.full((rows, self.n_objectives), np.nan)
            fs[:have], mn[:have] = self._mo["front_size"], self._mo["min"]
            self._mo = {"front_size": fs, "min": mn}

    def _record(self) -> None:
        g = self.generation
        self._mo["front_size"][g] = int(np.sum(self._fit < 1.0))  # rank 0 (summed over islands)
        self._mo["min"][g] = self._obj.min(axis=0)

    def _initialize(self) -> None:
        self._obj = self._objectives(self._pop)
        bad = np.argwhere(np.isnan(self._obj))
        if bad.size:
            raise ValueError(f"objective {bad[0][1]} is NaN for individual {bad[0][0]} of the initial population")
        n = self._cfg.pop_size
        self._fit = np.concatenate(
            [_core.ga.nsga2_keys(np.ascontiguousarray(self._obj[i * n : (i + 1) * n]))
             for i in range(self._cfg.islands)]
        )
        _core.ga.start(*self._state())
        self._record()

    def _step(self, n: int, nt: int) -> None:
        kids = _core.ga.make_offspring(*self._state(), nt)
        _core.ga.nsga2_survive(*self._state(), self._obj, kids, self._objectives(kids), nt)
        self._record()

    def _progress_text(self) -> str:
        return f"first front {int(self._mo['front_size'][self.generation])}"

    def result(self) -> ParetoResult:
        g = self.generation
        front = self._fit < 1.0
        order = np.lexsort(self._obj[front].T[::-1])
        return ParetoResult(
            pareto_x=self._pop[front][order].copy(), pareto_f=self._obj[front][order].copy(),
            population=self._pop.copy(), objectives=self._obj.copy(),
            history={"front_size": self._mo["front_size"][: g + 1].copy(), "min": self._mo["min"][: g + 1].copy()},
            n_evaluations=int(self._counters[1]), n_generations=g, seed=self.seed, elapsed=self._elapsed,
            interrupted=self.interrupted,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the run to .npz atomically (as `GeneticAlgorithm.save`, plus the objectives)."""
        if self._fit is None:
            raise ValueError("nothing to save: the algorithm has not run yet")
        g = self.generation
        meta = {"format": _FORMAT, "seed": str(self.seed), "settings": self._settings, "plan": self._plan,
                "elapsed": self._elapsed, "problem": None, "nsga2": True}
        h = self._history
        atomic_savez(path, meta, bounds=self.bounds, population=self._pop, fitness=self._fit, best_x=self._best_x,
                     best_f=self._best_f, counters=self._counters, objectives=self._obj,
                     mo_front_size=self._mo["front_size"][: g + 1], mo_min=self._mo["min"][: g + 1],
                     **{f"history_{k}": v[: g + 1] for k, v in h.items()})

    @classmethod
    def load(cls, path: str | os.PathLike, fitness: Callable | None = None, *, n_threads: int | None = None) -> Any:
        """Rebuild a run from `save` or a checkpoint; pass the fitness function again."""
        if fitness is None:
            raise ValueError("pass the fitness function: NSGA2 checkpoints do not store Python code")
        meta, a = load_npz(path, _FORMAT, "NSGA2 checkpoint")
        if not meta.get("nsga2"):
            raise ValueError(f"{path} is a GeneticAlgorithm checkpoint, not an NSGA2 one")
        ga = super().load.__func__(cls, path, fitness, n_threads=n_threads)
        array, rows, m = _array_checker(a, path), ga.generation + 1, ga.n_objectives
        try:
            ga._obj = array("objectives", (ga._pop.shape[0], m))
            ga._mo = {"front_size": array("mo_front_size", (rows,)), "min": array("mo_min", (rows, m))}
        except KeyError as exc:
            raise ValueError(f"{path} is corrupt: missing {exc}") from None
        if np.isnan(ga._obj).any():
            raise ValueError(f"{path} is corrupt: the objectives hold NaN")
        return ga
