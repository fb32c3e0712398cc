"""GARFfield's objective and `fit`: a GA (or NSGA-II) over genes, then an L-BFGS-B polish."""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import time
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _plotting, _threads
from .._validation import as_float_array, check_scalar
from .parameters import _Parameters
from .reaxff import ReaxFFParameters
from .training import TrainingSet

# --------------------------------------------------------------------------------------------
# The objective


class Objective:
    """GARFfield's objective for a GA: called with a population of genes, (n, len(genes)), it
    returns (n,) weighted errors (or (n, k) objectives with ``multi_objective=True``).

    The error of one parameter set is
    ``weights["energy"] * mean_s w_s (dE_s / N_s)^2 + weights["forces"] * mean_c w_c dF_c^2 +
    weights["relative"] * mean_r w_r dR_r^2``, each mean weighted by the structures' (or relative
    energies') own weights: per-atom energies, force components per Å and relative energies in
    the parameters' `energy_unit` (eV for Tersoff, kcal/mol for ReaxFF, as LAMMPS's "metal" and
    "real" units; the training set's references must be in the same). With
    ``multi_objective=True`` the three terms that the training set has are returned as separate
    columns, for NSGA-II. Every structure of every individual is evaluated in C++
    in parallel; the neighbour lists are built once for the largest cut-off the bounds allow.
    """

    def __init__(self, training_set: TrainingSet, parameters: _Parameters, genes: Sequence[str],
                 bounds: ArrayLike, *, weights: dict[str, float] | None = None, multi_objective: bool = False,
                 n_threads: int | None = None):
        if not isinstance(training_set, TrainingSet):
            raise TypeError("training_set must be a TrainingSet")
        if not len(training_set):
            raise ValueError("the training set is empty")
        if not isinstance(parameters, (_Parameters, ReaxFFParameters)):
            raise TypeError("parameters must be TersoffParameters or ReaxFFParameters")
        genes = list(genes)
        if not genes:
            raise ValueError("genes must name at least one parameter to fit")
        if len(set(genes)) != len(genes):
            raise ValueError("genes has duplicates")
        slots = [parameters.gene_slots(g) for g in genes]
        overlap = np.concatenate(slots)
        if len(np.unique(overlap)) != len(overlap):
            raise ValueError("two genes set the same parameter value")
        b = as_float_array(bounds, "bounds", ndim=2)
        if b.shape != (len(genes), 2):
            raise ValueError(f"bounds must have shape ({len(genes)}, 2), one row per gene, got {b.shape}")
        bad = np.flatnonzero(~(b[:, 0] < b[:, 1]))
        if bad.size:
            raise ValueError(f"bounds must have lower < upper; gene {genes[bad[0]]!r} has {b[bad[0]].tolist()}")
        w = {"energy": 1.0, "forces": 1.0, "relative": 1.0}
        for k, v in (weights or {}).items():
            if k not in w:
                raise ValueError(f"weights keys are 'energy', 'forces', 'relative'; got {k!r}")
            w[k] = float(check_scalar(v, f"weights[{k!r}]", numbers.Real, min_val=0))
        parameters._check_gene_bounds(genes, b)
        self.training_set, self.parameters, self.genes, self.bounds = training_set, parameters.copy(), genes, b
        self.weights = w
        self.multi_objective = bool(multi_objective)
        self.n_threads = n_threads
        S = training_set.structures
        self._has_e = np.array([s.energy is not None for s in S])
        self._has_f = np.array([s.forces is not None for s in S], dtype=np.uint8)
        self._n = np.array([s.n_atoms for s in S], dtype=np.float64)
        self._e_ref = np.array([s.energy if s.energy is not None else 0.0 for s in S])
        self._w = np.array([s.weight for s in S])
        self._ref_f = np.ascontiguousarray(np.concatenate(
            [s.forces if s.forces is not None else np.zeros((s.n_atoms, 3)) for s in S]))
        rel = training_set.relative
        self._rel = np.zeros((len(rel), len(S)))
        for r, item in enumerate(rel):
            for i, c in item.terms:
                self._rel[r, i] += c
        self._rel_ref = np.array([r.reference for r in rel])
        self._rel_w = np.array([r.weight for r in rel])
        self.terms = [k for k, present in (("energy", self._has_e.any() and (self._w[self._has_e] > 0).any()),
                                           ("forces", bool(self._has_f.any())), ("relative", len(rel) > 0))
                      if present]
        if not self.terms:
            raise ValueError("the training set has no reference energies, forces or relative energies")
        # The neighbour lists must reach the largest cut-off any individual can have.
        widest = self.parameters.with_genes(genes, b[:, 1][None, :])[0]
        self.cutoff = max(self.parameters._with_table(widest).cutoff(), parameters.cutoff())
        self._elements = parameters._dataset_elements(training_set.elements)
        self._check_bounds()

    def _check_bounds(self) -> None:
        # Every individual inside the bounds must be a valid parameter set: check the corners
        # of the box that decide validity (lower and upper of every gene).
        lo = self.parameters.with_genes(self.genes, self.bounds[:, 0][None, :])[0]
        hi = self.parameters.with_genes(self.genes, self.bounds[:, 1][None, :])[0]
        data = self.training_set._dataset(self._elements, self.cutoff, self.n_threads)
        for name, t in (("lower", lo), ("upper", hi)):
            try:
                self.parameters._population(data, self._elements, t[None], np.zeros(len(self.training_set), np.uint8),
                                            self._ref_f, _threads.resolve(self.n_threads))
            except ValueError as exc:
                raise ValueError(f"the {name} bounds give invalid parameters: {exc}") from None
        if self.parameters.model == "tersoff":
            R = [g for g in self.genes if g.startswith(("R:", "D:"))]
            if R:
                # D <= R must hold across the box: the smallest R with the largest D.
                t = self.parameters.with_genes(self.genes, np.where([g.startswith("D:") for g in self.genes],
                                                                    self.bounds[:, 1], self.bounds[:, 0])[None, :])[0]
                if np.any(t[..., 11] > t[..., 10]):
                    raise ValueError("the bounds of R and D allow D > R; narrow them")

    @property
    def n_objectives(self) -> int:
        return len(self.terms) if self.multi_objective else 1

    def parameters_of(self, x: ArrayLike) -> _Parameters:
        """The full parameter set of one individual."""
        x = as_float_array(x, "x", ndim=1)
        if x.shape != (len(self.genes),):
            raise ValueError(f"x must have {len(self.genes)} genes, got {x.shape}")
        return self.parameters._with_table(self.parameters.with_genes(self.genes, x[None])[0])

    def terms_of(self, X: ArrayLike) -> np.ndarray:
        """(n, 3) mean squared errors (energy per atom, forces, relative) of each individual."""
        X = as_float_array(X, "X", ndim=2)
        if X.shape[1] != len(self.genes):
            raise ValueError(f"X must have {len(self.genes)} columns (one per gene), got {X.shape[1]}")
        tables = self.parameters.with_genes(self.genes, X)
        data = self.training_set._dataset(self._elements, self.cutoff, self.n_threads)
        e, sse = self.parameters._population(data, self._elements, tables, self._has_f, self._ref_f,
                                             _threads.resolve(self.n_threads))[:2]
        out = np.zeros((X.shape[0], 3))
        we = self._w * self._has_e
        if we.sum() > 0:
            out[:, 0] = (np.square((e - self._e_ref) / self._n) @ we) / we.sum()
        wf = self._w * self._has_f
        if wf.sum() > 0:
            out[:, 1] = (sse @ self._w) / (3 * self._n @ wf)
        if len(self._rel_ref):
            d = e @ self._rel.T - self._rel_ref
            out[:, 2] = (np.square(d) @ self._rel_w) / max(self._rel_w.sum(), 1e-300)
        return out

    def __call__(self, X: np.ndarray) -> np.ndarray:
        t = self.terms_of(X)
        cols = [("energy", "forces", "relative").index(k) for k in self.terms]
        if self.multi_objective:
            return t[:, cols]
        w = np.array([self.weights["energy"], self.weights["forces"], self.weights["relative"]])
        return t @ w



# --------------------------------------------------------------------------------------------
# Fitting


@dataclasses.dataclass(eq=False)
class ForceFieldFit:
    """The fitted `parameters`, the optimiser's result (`ga_result`: a GAResult, a ParetoResult
    when multi-objective, or a CMAESResult), the `genes` and their `bounds`, `initial` and fitted
    `errors` on the training set, and the seconds it took."""

    parameters: _Parameters
    genes: list[str]
    bounds: np.ndarray
    ga_result: Any
    initial_errors: dict[str, float]
    errors: dict[str, float]
    n_evaluations: int
    elapsed: float
    front: list[_Parameters] | None = None

    def summary(self) -> str:
        rows = [f"{'':>16} {'initial':>12} {'fitted':>12}"]
        u = self.parameters.energy_unit
        units = {"energy_rmse": f"{u}/atom", "force_rmse": f"{u}/Å", "relative_rmse": u}
        for k, u in units.items():
            if not math.isnan(self.errors[k]):
                rows.append(f"{k:>16} {self.initial_errors[k]:12.5g} {self.errors[k]:12.5g} {u}")
        rows.append(f"{self.n_evaluations} parameter sets evaluated in {self.elapsed:.1f} s")
        return "\n".join(rows)

    def plot(self, training_set: TrainingSet | None = None, path: str | os.PathLike | None = None, *, ax=None):
        """Convergence of the GA and, given a training set, predicted vs reference energies.

        Returns the Figure; with `path`, also saves it. ax: one Axes (two with a training set).
        """
        ncols = 2 if training_set is not None else 1
        fig, axes, owned = _plotting.subplots(ax, ncols, path=path, figsize=(5.2 * ncols, 4.2))
        ax = axes[0]
        h = self.ga_result.history
        if "best" in h:
            ax.semilogy(h["best"], label="best")
            ax.semilogy(h["mean"], label="mean", alpha=0.6)
            ax.set_ylabel("objective")
            ax.legend()
        else:
            ax.semilogy(h["min"])
            ax.set_ylabel("best of each objective")
        ax.set_xlabel("generation")
        ax.set_title("CMA-ES convergence" if "sigma" in h else "GA convergence")
        if training_set is not None:
            ax = axes[1]
            e, _ = training_set.compute(self.parameters, forces=False)
            ref = np.array([np.nan if s.energy is None else s.energy / s.n_atoms for s in training_set.structures])
            n = np.array([s.n_atoms for s in training_set.structures])
            ax.plot(ref, e / n, ".", ms=5)
            lim = [np.nanmin(ref), np.nanmax(ref)]
            ax.plot(lim, lim, "k-", lw=0.8)
            ax.set_xlabel(f"reference energy ({self.parameters.energy_unit}/atom)")
            ax.set_ylabel(f"fitted energy ({self.parameters.energy_unit}/atom)")
            ax.set_title("energies")
        return _plotting.finish(fig, path, owned)


def fit(
    training_set: TrainingSet,
    parameters: _Parameters,
    genes: Sequence[str],
    bounds: ArrayLike | float = 0.25,
    *,
    weights: dict[str, float] | None = None,
    multi_objective: bool = False,
    optimizer: str = "ga",
    population_size: int = 64,
    n_generations: int = 150,
    islands: int = 1,
    migration_interval: int = 10,
    seed: int | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    client: Any = None,
    polish: bool = True,
    polish_iterations: int = 200,
    n_threads: int | None = None,
    **ga_options: Any,
) -> ForceFieldFit:
    """Fit the `genes` of `parameters` to `training_set` by a genetic algorithm.

    Parameters
    ----------
    training_set : TrainingSet
    parameters : TersoffParameters or ReaxFFParameters
        The starting set; values not in `genes` stay as they are.
    genes : list of str
        The parameters to search, e.g. ``["A:Si-Si", "B:Si-Si", "lambda1:Si-Si", "c:Si"]``.
    bounds : float or array (len(genes), 2)
        A float f searches each gene within ``value * (1 - f, 1 + f)`` of its starting value
        (a zero value within (-f, f)); or explicit bounds.
    weights : dict
        Weights of the "energy", "forces" and "relative" terms (default 1 each).
    multi_objective : bool
        Search the Pareto front of the three errors by NSGA-II; `parameters` is then the member
        of the front with the smallest weighted error, and `front` all of them.
    optimizer : {"ga", "cmaes"}
        The search before the polish (single objective): our GA, or CMA-ES with IPOP restarts
        (`mlsci_fast.ga.CMAES`, starting at `parameters` with its default population, for the
        same budget of population_size x (n_generations + 1) evaluations; Shchygol et al., JCTC
        2019, found CMA-ES reached the lowest ReaxFF errors most often). `islands` and
        `migration_interval` are the GA's; other `ga_options` go to the chosen optimiser.
    population_size, n_generations, islands, migration_interval, seed, progress, checkpoint,
    client, ga_options
        Passed to `GeneticAlgorithm` (or `NSGA2`) and its `run`; same seed, same fit.
    polish : bool
        Refine the GA's best individual by L-BFGS-B within the bounds (single objective only),
        with central-difference gradients whose 2 len(genes) parameter sets are evaluated as one
        population, in parallel: the GA finds the basin, the local search its bottom -- the
        exponents and prefactors of a bond-order potential are too tightly coupled for a GA
        alone to settle them. At most `polish_iterations` iterations.
    """
    from ..ga.engine import GeneticAlgorithm
    from ..ga.nsga2 import NSGA2

    if not isinstance(parameters, (_Parameters, ReaxFFParameters)):
        raise TypeError("parameters must be TersoffParameters or ReaxFFParameters")
    genes = list(genes)
    if isinstance(bounds, numbers.Real) and not isinstance(bounds, bool):
        f = float(check_scalar(bounds, "bounds", numbers.Real, min_val=0, include_min=False))
        v = np.array([parameters.get(g) for g in genes])
        span = np.where(v == 0, f, np.abs(v) * f)
        bounds = np.stack([v - span, v + span], axis=1)
    if optimizer not in ("ga", "cmaes"):
        raise ValueError(f"optimizer must be 'ga' or 'cmaes', got {optimizer!r}")
    if optimizer == "cmaes" and multi_objective:
        raise ValueError("multi_objective=True searches a Pareto front with NSGA-II; optimizer='cmaes' is single "
                         "objective")
    objective = Objective(training_set, parameters, genes, bounds, weights=weights,
                          multi_objective=multi_objective, n_threads=n_threads)
    start = np.array([parameters.get(g) for g in genes])
    initial_errors = training_set.errors(parameters, n_threads=n_threads)
    t0 = time.perf_counter()
    if optimizer == "cmaes":
        from ..ga.cmaes import CMAES

        x0 = np.clip(start, objective.bounds[:, 0], objective.bounds[:, 1])
        es = CMAES(objective, objective.bounds, x0=x0, seed=seed, **ga_options)
        budget = int(check_scalar(population_size, "population_size", numbers.Integral, min_val=1)) * (
            int(check_scalar(n_generations, "n_generations", numbers.Integral, min_val=0)) + 1)
        res = es.run(budget, progress=progress, checkpoint=checkpoint, client=client)
        best_x, n_eval = res.best_x, int(res.n_evaluations)
        if polish:
            best_x, n_polish = _polish(objective, best_x, polish_iterations, progress)
            n_eval += n_polish
        fitted = objective.parameters_of(best_x)
        return ForceFieldFit(fitted, genes, objective.bounds, res, initial_errors,
                             training_set.errors(fitted, n_threads=n_threads), n_eval,
                             time.perf_counter() - t0, None)
    if multi_objective:
        ga = NSGA2(objective, objective.bounds, objective.n_objectives, population_size=population_size,
                   islands=islands, migration_interval=migration_interval, seed=seed, n_threads=n_threads, **ga_options)
    else:
        ga = GeneticAlgorithm(objective, objective.bounds, population_size=population_size, islands=islands,
                              migration_interval=migration_interval, seed=seed, n_threads=n_threads, **ga_options)
    # The starting set is one of the first population, so the fit can only improve on it.
    ga._pop[0] = np.clip(start, objective.bounds[:, 0], objective.bounds[:, 1])
    res = ga.run(n_generations, progress=progress, checkpoint=checkpoint, client=client)
    front = None
    if multi_objective:
        X = res.pareto_x
        w = np.array([objective.weights[k] for k in objective.terms])
        best = int(np.argmin(res.pareto_f @ w))
        front = [objective.parameters_of(x) for x in X]
        fitted = front[best]
        n_eval = int(res.n_evaluations)
    else:
        best_x, n_eval = res.best_x, int(res.n_evaluations)
        if polish:
            best_x, n_polish = _polish(objective, best_x, polish_iterations, progress)
            n_eval += n_polish
        fitted = objective.parameters_of(best_x)
    elapsed = time.perf_counter() - t0
    return ForceFieldFit(fitted, genes, objective.bounds, res, initial_errors,
                         training_set.errors(fitted, n_threads=n_threads), n_eval, elapsed, front)


def _polish(objective: Objective, x0: np.ndarray, max_iter: int, progress: bool) -> tuple[np.ndarray, int]:
    """L-BFGS-B on the scalar objective in coordinates scaled to the unit box."""
    from scipy.optimize import minimize

    from .._progress import Progress

    lo, hi = objective.bounds[:, 0], objective.bounds[:, 1]
    span = hi - lo
    d = len(lo)
    h = 1e-7
    count = [0]
    last = [np.inf]

    def fun(u):
        u = np.clip(u, 0.0, 1.0)
        # The centre and the 2 d displaced points in one population call; one-sided steps at a bound.
        up = np.minimum(u + h, 1.0)
        dn = np.maximum(u - h, 0.0)
        pts = np.vstack([u, u + np.diag(up - u), u + np.diag(dn - u)])
        f = objective(lo + pts * span)
        count[0] += len(pts)
        last[0] = f[0]
        grad = (f[1:d + 1] - f[d + 1:]) / (up - dn)
        return float(f[0]), grad

    u0 = np.clip((x0 - lo) / span, 0.0, 1.0)
    f0 = fun(u0)[0]
    with Progress(int(max_iter), "polish", "iterations", enabled=progress) as bar:
        done = [0]

        def step(xk):
            done[0] += 1
            bar.update(done[0], f"objective {last[0]:.6g}")

        res = minimize(fun, u0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * d, callback=step,
                       options={"maxiter": int(max_iter), "ftol": 1e-15, "gtol": 1e-12})
    u = np.clip(res.x, 0.0, 1.0)
    if not res.fun <= f0:
        u = u0
    return lo + u * span, count[0]
