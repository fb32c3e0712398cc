"""The genetic algorithm: whole generations in C++, a Python fitness called once per generation."""

from __future__ import annotations

import dataclasses
import numbers
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _plotting, _seed, _threads
from .._io import atomic_savez, load_npz
from .._run import check_every, run_chunks
from .._validation import as_float_array, check_memory, check_scalar
from .problems import Problem, _rebuild

__all__ = ["GAResult", "GeneticAlgorithm"]

_FORMAT = "mlsci_fast.ga/1"
_SELECTION = {"tournament": 0, "rank": 1, "roulette": 2}
_CROSSOVER = {"sbx": 0, "blend": 1, "uniform": 2, "order": 3}
_MUTATION = {"polynomial": 0, "gaussian": 1, "inversion": 2, "swap": 3}
_GENOME = {"real": 0, "integer": 1, "permutation": 2}
_SURVIVAL = {"elitist": 0, "mu+lambda": 1}


@dataclasses.dataclass(eq=False)
class GAResult:
    """What a run found: `best_x`, `best_fitness` (the best ever seen), `history` (best, mean and
    std of the population's fitness per generation, generation 0 being the initial population),
    `n_evaluations`, `seed`, the final `population` and `fitness`, and `elapsed` seconds."""

    best_x: np.ndarray
    best_fitness: float
    history: dict[str, np.ndarray]
    n_evaluations: int
    n_generations: int
    seed: int
    population: np.ndarray
    fitness: np.ndarray
    elapsed: float
    interrupted: bool = False  # stopped early by Ctrl-C

    def plot(self, path: str | os.PathLike | None = None, *, log: bool | None = None, ax=None):
        """Convergence curve: best and mean fitness (with the spread) against generation.

        Returns the Figure; with `path`, also saves it. ax: an Axes to draw into.
        """
        h = self.history
        g = np.arange(len(h["best"]))
        fig, (ax,), owned = _plotting.subplots(ax, 1, path=path, figsize=(7, 4))
        ax.plot(g, h["best"], label="best", color="k")
        ax.plot(g, h["mean"], label="mean", color="tab:blue")
        ax.fill_between(g, h["mean"] - h["std"], h["mean"] + h["std"], color="tab:blue", alpha=0.2, label="mean ± std")
        if log if log is not None else bool(np.all(h["best"] > 0)):
            ax.set_yscale("log")
        ax.set_xlabel("generation")
        ax.set_ylabel("fitness (lower is better)")
        ax.legend()
        return _plotting.finish(fig, path, owned)


class GeneticAlgorithm:
    """A real-coded genetic algorithm that minimises; whole generations run in C++.

    Parameters
    ----------
    problem_or_fitness : Problem or callable
        A built-in problem from `mlsci_fast.ga.problems` (evaluated in C++ on all threads), or a
        Python function called once per generation with the whole offspring population, an
        (n, dim) array, returning n fitness values (never once per individual). Lower is better:
        to maximise g, pass ``maximize=True`` (or minimise -g). Return +inf for an infeasible
        individual; NaN is an error naming the generation and the individual.
    bounds : array (dim, 2), optional
        Lower and upper bound per gene (default: the problem's). Children are kept inside.
    population_size : int
        Individuals per island.
    selection : {"tournament", "rank", "roulette"}
        Tournament of `tournament_size`; linear ranking; fitness-proportional (on worst - f).
    crossover : {"sbx", "blend", "uniform"} (or "order" for permutations)
        With probability `crossover_prob` per pair: simulated binary (`eta_c`), BLX-alpha
        (`blend_alpha`) or uniform.
    mutation : {"polynomial", "gaussian"}
        Per gene with probability `mutation_prob` (default 1/dim): bounded polynomial (`eta_m`) or
        Gaussian with standard deviation `sigma` times the gene's range.
    genome : {"real", "integer", "permutation"}
        Integer genes use the real operators, then round into the bounds (the fitness sees whole
        numbers as floats). A permutation genome (give `n_genes`, no bounds) is an ordering of
        0..n_genes-1, e.g. a tour: crossover "order" (OX) and mutation "inversion" (a 2-opt move,
        the default) or "swap", applied to a child with probability `mutation_prob` (default 0.2).
    survival : {"elitist", "mu+lambda"}
        Generational, the `elitism` best parents replacing the worst children; or the best
        population_size of parents and children together.
    islands, migration_interval, n_migrants
        Islands evolve apart and send their `n_migrants` best around a ring every
        `migration_interval` generations.
    initial_population : array (islands * population_size, dim), optional
        Default: uniform in the bounds.
    maximize : bool
        Maximise a Python fitness instead (the result reports it in your sign).
    seed : int or None
        Same seed, same run, on any number of threads.
    n_threads : int, optional
    """

    def __init__(
        self,
        problem_or_fitness: Problem | Callable[[np.ndarray], ArrayLike],
        bounds: ArrayLike | None = None,
        *,
        population_size: int = 100,
        selection: str = "tournament",
        tournament_size: int = 2,
        crossover: str | None = None,
        crossover_prob: float = 0.9,
        eta_c: float = 15.0,
        blend_alpha: float = 0.5,
        mutation: str | None = None,
        mutation_prob: float | None = None,
        eta_m: float = 20.0,
        sigma: float = 0.1,
        survival: str = "elitist",
        elitism: int = 1,
        islands: int = 1,
        migration_interval: int = 10,
        n_migrants: int = 1,
        initial_population: ArrayLike | None = None,
        maximize: bool = False,
        genome: str = "real",
        n_genes: int | None = None,
        seed: int | None = None,
        n_threads: int | None = None,
    ):
        if genome not in _GENOME:
            raise ValueError(f"genome must be one of {sorted(_GENOME)}, got {genome!r}")
        perm = genome == "permutation"
        crossover = crossover if crossover is not None else ("order" if perm else "sbx")
        mutation = mutation if mutation is not None else ("inversion" if perm else "polynomial")
        if perm:
            if bounds is not None:
                raise ValueError("a permutation genome has no bounds: give n_genes (it permutes 0..n_genes-1)")
            if n_genes is None:
                raise ValueError("n_genes must be given for a permutation genome (it permutes 0..n_genes-1)")
            n_genes = int(check_scalar(n_genes, "n_genes", numbers.Integral, min_val=2))
            bounds = np.tile([0.0, n_genes - 1.0], (n_genes, 1))
        elif n_genes is not None:
            raise ValueError("n_genes is for permutation genomes; give bounds for real and integer genomes")
        if isinstance(problem_or_fitness, Problem):
            self.problem, self.fitness_fn = problem_or_fitness, None
            if maximize:
                raise ValueError("maximize=True is for Python fitness functions; built-in problems are minimised")
        elif callable(problem_or_fitness):
            self.problem, self.fitness_fn = None, problem_or_fitness
        else:
            raise TypeError(f"problem_or_fitness must be a built-in problem or a callable, got {problem_or_fitness!r}")
        if bounds is None:
            if self.problem is None:
                raise ValueError("bounds are required with a Python fitness function: an array of shape (dim, 2)")
            bounds = self.problem.bounds
        b = as_float_array(bounds, "bounds", ndim=2)
        if b.shape[1] != 2:
            raise ValueError(f"bounds must have shape (dim, 2), got {b.shape}")
        bad = np.flatnonzero(~(b[:, 0] < b[:, 1]))
        if bad.size:
            raise ValueError(f"bounds must have lower < upper; gene {bad[0]} has [{b[bad[0], 0]}, {b[bad[0], 1]}]")
        if self.problem is not None and b.shape[0] != self.problem.dim:
            raise ValueError(f"bounds has {b.shape[0]} genes but the problem has dim={self.problem.dim}")
        self.bounds = b
        self.maximize = bool(maximize)
        cfg = _core.ga.Config()
        cfg.dim = b.shape[0]
        cfg.pop_size = int(check_scalar(population_size, "population_size", numbers.Integral, min_val=2))
        cfg.islands = int(check_scalar(islands, "islands", numbers.Integral, min_val=1))
        check_memory(8.0 * cfg.islands * cfg.pop_size * (4 * cfg.dim + 4),
                     f"islands={cfg.islands} x population_size={cfg.pop_size} x {cfg.dim} genes")
        cfg.genome = _GENOME[genome]
        self.genome = genome
        cfg.selection = _choice(selection, _SELECTION, "selection")
        cfg.tournament_size = int(check_scalar(tournament_size, "tournament_size", numbers.Integral, min_val=1))
        cfg.crossover = _choice(crossover, _CROSSOVER, "crossover")
        cfg.crossover_prob = float(check_scalar(crossover_prob, "crossover_prob", numbers.Real, min_val=0, max_val=1))
        cfg.eta_c = float(check_scalar(eta_c, "eta_c", numbers.Real, min_val=0))
        cfg.blend_alpha = float(check_scalar(blend_alpha, "blend_alpha", numbers.Real, min_val=0))
        cfg.mutation = _choice(mutation, _MUTATION, "mutation")
        cfg.mutation_prob = -1.0 if mutation_prob is None else float(
            check_scalar(mutation_prob, "mutation_prob", numbers.Real, min_val=0, max_val=1))
        cfg.eta_m = float(check_scalar(eta_m, "eta_m", numbers.Real, min_val=0))
        cfg.sigma = float(check_scalar(sigma, "sigma", numbers.Real, min_val=0, include_min=False))
        cfg.survival = _choice(survival, _SURVIVAL, "survival")
        cfg.elitism = int(check_scalar(elitism, "elitism", numbers.Integral, min_val=0, max_val=cfg.pop_size))
        cfg.migration_interval = int(check_scalar(migration_interval, "migration_interval", numbers.Integral,
                                                  min_val=0))
        cfg.n_migrants = int(check_scalar(n_migrants, "n_migrants", numbers.Integral, min_val=0,
                                          max_val=cfg.pop_size - 1))
        cfg.lower, cfg.upper = b[:, 0].tolist(), b[:, 1].tolist()
        self.seed = _seed.resolve(seed)
        cfg.seed = self.seed
        cfg.check()
        self._cfg = cfg
        self.n_threads = n_threads
        self._settings = dict(
            population_size=cfg.pop_size, selection=selection, tournament_size=cfg.tournament_size, crossover=crossover,
            crossover_prob=cfg.crossover_prob, eta_c=cfg.eta_c, blend_alpha=cfg.blend_alpha, mutation=mutation,
            mutation_prob=mutation_prob, eta_m=cfg.eta_m, sigma=cfg.sigma, survival=survival, elitism=cfg.elitism,
            islands=cfg.islands, migration_interval=cfg.migration_interval, n_migrants=cfg.n_migrants,
            maximize=self.maximize, genome=genome, n_genes=n_genes,
        )
        n = cfg.islands * cfg.pop_size
        init_rng = np.random.default_rng([self.seed % 2**63, 0x6A])
        if initial_population is None:
            if perm:
                pop = init_rng.permuted(np.tile(np.arange(cfg.dim, dtype=np.float64), (n, 1)), axis=1)
            elif genome == "integer":
                pop = init_rng.integers(np.ceil(b[:, 0]), np.floor(b[:, 1]) + 1, size=(n, cfg.dim)).astype(np.float64)
            else:
                pop = b[:, 0] + init_rng.random((n, cfg.dim)) * (b[:, 1] - b[:, 0])
        else:
            pop = as_float_array(initial_population, "initial_population", ndim=2).copy()
            if pop.shape != (n, cfg.dim):
                raise ValueError("initial_population must have shape (islands * population_size, dim) = "
                                 f"{(n, cfg.dim)}, "
                                 f"got {pop.shape}")
            pop = np.clip(pop, b[:, 0], b[:, 1])
            if perm and not np.all(np.sort(pop, axis=1) == np.arange(cfg.dim)):
                raise ValueError(f"initial_population rows must be permutations of 0..{cfg.dim - 1}")
            if genome == "integer" and not np.all(pop == np.round(pop)):
                raise ValueError("initial_population must hold whole numbers for an integer genome")
        self._pop = np.ascontiguousarray(pop)
        self._fit: np.ndarray | None = None
        self._best_x = np.zeros(cfg.dim)
        self._best_f = np.full(1, np.inf)
        self._counters = np.zeros(2, dtype=np.int64)
        self._history = {k: np.empty(1) for k in ("best", "mean", "std")}
        self._elapsed = 0.0
        self.interrupted = False  # the last run was stopped by Ctrl-C
        self._plan: int | None = None

    @property
    def generation(self) -> int:
        """Generations done."""
        return int(self._counters[0])

    def _evaluate(self, X: np.ndarray) -> np.ndarray:
        if self.problem is not None:
            return self.problem._core_problem.evaluate(X, _threads.resolve(self.n_threads))
        f = np.asarray(self.fitness_fn(X))
        if f.shape != (X.shape[0],) and f.shape != (X.shape[0], 1):
            raise ValueError(
                f"the fitness function was called with {X.shape[0]} individuals, shape {X.shape}, and returned "
                f"shape {f.shape}; it must return one value per individual, shape ({X.shape[0]},)"
            )
        if f.dtype.kind not in "biuf":
            raise ValueError(f"the fitness function must return real numbers, got dtype {f.dtype}")
        f = np.ascontiguousarray(f.reshape(-1), dtype=np.float64)
        return -f if self.maximize else f

    def _grow(self, rows: int) -> None:
        have = len(self._history["best"])
        if have >= rows:
            return
        check_memory(16.0 * rows * len(self._history), f"n_generations={rows - 1}")
        for k, v in self._history.items():
            grown = np.full(rows, np.nan)
            grown[:have] = v
            self._history[k] = grown

    def _state(self):
        h = self._history
        return (self._cfg, self._pop, self._fit, self._best_x, self._best_f, self._counters,
                h["best"], h["mean"], h["std"])

    def run(
        self,
        n_generations: int,
        *,
        progress: bool = False,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
        client: Any = None,
    ) -> GAResult:
        """Evolve `n_generations` more generations (a second call continues) and return the result.

        checkpoint : path, optional
            Save the run atomically every `checkpoint_every` generations (default: about once a
            minute), at the end and when interrupted; ``GeneticAlgorithm.load(path).resume()``
            finishes it exactly as if it had never stopped.
        client : None, "local", a scheduler address or a dask.distributed.Client
            With islands > 1, evolve each island as a Dask task between migrations; the islands
            migrate through the client. The result is the same as without a client, bit for bit
            (with a client, checkpoints are written at every migration).
        """
        n_generations = int(check_scalar(n_generations, "n_generations", numbers.Integral, min_val=0))
        self._plan = self.generation + n_generations
        if client is not None:
            return self._run_islands_on_dask(client, progress, checkpoint)
        return self._run_plan(progress, checkpoint, checkpoint_every)

    # -- islands on Dask ------------------------------------------------------------------------
    def _island_spec(self) -> dict:
        """What a worker needs to rebuild one island of this run."""
        target = self.problem if self.problem is not None else self.fitness_fn
        settings = dict(self._settings, islands=1)
        bounds = None if self.genome == "permutation" else self.bounds
        return dict(target=target, bounds=bounds, settings=settings, seed=self.seed)

    def _run_islands_on_dask(self, client, progress, checkpoint) -> GAResult:
        from ..distributed import release_client, resolve_client

        cfg = self._cfg
        if cfg.islands < 2:
            raise ValueError("client= distributes islands: it needs islands >= 2 (one island runs here)")
        end = self._plan
        self._grow(end + 1)
        if self._fit is None:
            self._initialize()
        c, owned, n_threads = resolve_client(client, cfg.islands)
        spec = self._island_spec()
        n, d = cfg.pop_size, cfg.dim
        started, elapsed0 = time.perf_counter(), self._elapsed

        def advance(_: int) -> None:  # to the next migration, whatever the chunk
            g0 = self.generation
            interval = cfg.migration_interval
            stop = end if interval <= 0 else min(end, (g0 // interval + 1) * interval)
            futures = [
                c.submit(_evolve_island, spec, i, self._pop[i * n:(i + 1) * n].copy(),
                         self._fit[i * n:(i + 1) * n].copy(), g0, stop - g0, n_threads, pure=False, retries=2)
                for i in range(cfg.islands)
            ]
            snapshots = c.gather(futures)
            for j in range(stop - g0):
                for i, (pops, fits) in enumerate(snapshots):
                    self._pop[i * n:(i + 1) * n] = pops[j].reshape(n, d)
                    self._fit[i * n:(i + 1) * n] = fits[j]
                _core.ga.record(*self._state(), g0 + j + 1)

        def commit(write: bool, interrupted: bool) -> None:
            self.interrupted = interrupted
            self._elapsed = elapsed0 + time.perf_counter() - started
            if write:
                self.save(checkpoint)

        try:
            run_chunks(done=lambda: self.generation, total=end, advance=advance, commit=commit, label="ga",
                       unit="generations", progress=progress, checkpoint=checkpoint, checkpoint_every=1,
                       status=self._progress_text, warn_stacklevel=4,
                       resume_hint=f"{type(self).__name__}.load({os.fspath(checkpoint)!r}, ...).resume()"
                       if checkpoint else None)
        finally:
            release_client(c, owned)
        return self.result()

    def resume(self, *, progress: bool = False, checkpoint_every: int | None = None) -> GAResult:
        """Finish the run a checkpoint was written for (see `load`)."""
        if self._plan is None:
            raise ValueError("no unfinished run to resume (use run)")
        return self._run_plan(progress, self._checkpoint_path, checkpoint_every)

    def _run_plan(self, progress, checkpoint, checkpoint_every) -> GAResult:
        self._checkpoint_path = None if checkpoint is None else os.fspath(checkpoint)
        nt = _threads.resolve(self.n_threads)
        started = time.perf_counter()
        elapsed0 = self._elapsed
        end = self._plan
        check_every(checkpoint_every)
        self._grow(end + 1)
        if self._fit is None:
            self._initialize()

        def commit(write: bool, interrupted: bool) -> None:
            self.interrupted = interrupted
            self._elapsed = elapsed0 + time.perf_counter() - started
            if write:
                self.save(checkpoint)

        run_chunks(
            done=lambda: self.generation, total=end, advance=lambda n: self._step(n, nt), commit=commit,
            label="ga", unit="generations", progress=progress, checkpoint=checkpoint,
            checkpoint_every=checkpoint_every, status=self._progress_text, first_chunk=1,
            resume_hint=f"{type(self).__name__}.load({self._checkpoint_path!r}, ...).resume()" if checkpoint else None,
            warn_stacklevel=4)
        return self.result()

    def _sign(self, v):
        return -v if self.maximize else v

    def _initialize(self) -> None:
        self._fit = self._evaluate(self._pop)
        _core.ga.start(*self._state())

    def _step(self, n: int, nt: int) -> None:
        """Up to n generations (a Python fitness runs one per call)."""
        if self.problem is not None:
            _core.ga.run(*self._state(), n, self.problem._core_problem, nt)
            return
        kids = _core.ga.make_offspring(*self._state(), nt)
        _core.ga.survive(*self._state(), kids, self._evaluate(kids), nt)

    def _progress_text(self) -> str:
        return f"best {self._sign(self._best_f[0]):.6g}"

    def result(self) -> GAResult:
        """The result so far."""
        g = self.generation
        hist = {k: v[: g + 1].copy() for k, v in self._history.items()}
        if self.maximize:
            hist["best"], hist["mean"] = -hist["best"], -hist["mean"]
        return GAResult(
            best_x=self._best_x.copy(), best_fitness=float(self._sign(self._best_f[0])), history=hist,
            n_evaluations=int(self._counters[1]), n_generations=g, seed=self.seed, population=self._pop.copy(),
            fitness=self._sign(self._fit).copy(), elapsed=self._elapsed, interrupted=self.interrupted,
        )

    # -- checkpoints ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the run (settings, populations, history, best) to .npz atomically."""
        if self._fit is None:
            raise ValueError("nothing to save: the algorithm has not run yet")
        meta = {
            "format": _FORMAT, "seed": str(self.seed), "settings": self._settings, "plan": self._plan,
            "elapsed": self._elapsed, "problem": None if self.problem is None else
            {"name": type(self.problem).__name__, "params": self.problem._params},
        }
        g = self.generation
        atomic_savez(path, meta, bounds=self.bounds, population=self._pop, fitness=self._fit, best_x=self._best_x,
                     best_f=self._best_f, counters=self._counters,
                     **{f"history_{k}": v[: g + 1] for k, v in self._history.items()})

    @classmethod
    def load(cls, path: str | os.PathLike, fitness: Callable | None = None, *, n_threads: int | None = None):
        """Rebuild a run from `save` or a checkpoint; `resume()` finishes it. A built-in problem
        is restored from the file; a Python fitness must be passed again."""
        meta, a = load_npz(path, _FORMAT, "genetic algorithm checkpoint")
        if fitness is None:
            if meta["problem"] is None:
                raise ValueError(f"{path} was written with a Python fitness function: pass it again")
            fitness = _rebuild(meta["problem"]["name"], meta["problem"]["params"])
        bounds = None if meta["settings"].get("genome") == "permutation" else a["bounds"]
        ga = cls(fitness, bounds, seed=int(meta["seed"]), n_threads=n_threads, **meta["settings"])
        try:
            _restore_checked(ga, meta, a, path)
        except KeyError as exc:
            raise ValueError(f"{path} is corrupt: missing {exc}") from None
        ga._checkpoint_path = os.fspath(path)
        return ga


def _array_checker(a, path) -> Callable:
    """`array(name, shape)`: a checkpoint's array, refused unless it has the expected kind and shape."""
    def array(name: str, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        arr = a[name]
        kinds = "iu" if dtype is np.int64 else "f"
        if arr.dtype.kind not in kinds or arr.shape != shape:
            raise ValueError(f"{path} is corrupt: {name} is {arr.dtype} of shape {arr.shape}, expected {shape}")
        return np.ascontiguousarray(arr, dtype=dtype)
    return array


def _restore_checked(ga: GeneticAlgorithm, meta: dict, a, path) -> None:
    """Copies a checkpoint's arrays onto a fresh `ga`, treating the file as untrusted: every
    array's dtype and shape, and the counters against the history, are checked before any of it
    can reach C++ (a negative generation counter once made resume() write the history at a
    negative index)."""
    array = _array_checker(a, path)
    pop = array("population", ga._pop.shape)
    fit = array("fitness", (ga._pop.shape[0],))
    best_x = array("best_x", ga._best_x.shape)
    best_f = array("best_f", ga._best_f.shape)
    counters = array("counters", (2,), np.int64)
    generation, evaluations = (int(v) for v in counters)
    if generation < 0 or evaluations < 0:
        raise ValueError(f"{path} is corrupt: generation {generation} and evaluations {evaluations} must be >= 0")
    history = {k: array(f"history_{k}", (generation + 1,)) for k in ("best", "mean", "std")}
    if not np.all(np.isfinite(pop)) or np.isnan(fit).any() or np.isnan(best_f).any():
        raise ValueError(f"{path} is corrupt: the population or its fitness holds NaN or infinity")
    plan, elapsed = meta.get("plan"), meta.get("elapsed")
    if plan is not None and (isinstance(plan, bool) or not isinstance(plan, int) or not generation <= plan < 2**40):
        raise ValueError(f"{path} is corrupt: planned generations {plan!r} (at generation {generation})")
    if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < float("inf"):
        raise ValueError(f"{path} is corrupt: elapsed time {elapsed!r}")
    ga._pop, ga._fit, ga._best_x, ga._best_f, ga._counters, ga._history = pop, fit, best_x, best_f, counters, history
    ga._plan, ga._elapsed = plan, float(elapsed)


def _evolve_island(spec: dict, island: int, population: np.ndarray, fitness: np.ndarray, generation: int,
                   n_generations: int, n_threads: int | None = None) -> tuple[list, list]:
    """A Dask task: island `island` of a run alone for `n_generations` generations from
    `generation`, drawing the random numbers it draws in the whole run; returns the population
    and fitness after every generation (the client migrates and records them)."""
    ga = GeneticAlgorithm(spec["target"], spec["bounds"], seed=spec["seed"], n_threads=n_threads, **spec["settings"])
    ga._cfg.island_offset = int(island)
    ga._pop = np.ascontiguousarray(population, dtype=np.float64)
    ga._fit = np.ascontiguousarray(fitness, dtype=np.float64)
    ga._counters[:] = (generation, 0)
    ga._grow(generation + n_generations + 2)
    pops, fits = [], []
    nt = _threads.resolve(n_threads)
    for _ in range(n_generations):
        ga._step(1, nt)
        pops.append(ga._pop.copy())
        fits.append(ga._fit.copy())
    return pops, fits


def _choice(value: str, options: dict[str, int], name: str) -> int:
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return options[value]
