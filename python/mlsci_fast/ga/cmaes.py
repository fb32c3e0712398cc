"""CMA-ES with IPOP restarts: sampling and update in C++, a Python fitness called once per generation."""

from __future__ import annotations

import dataclasses
import numbers
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _plotting, _seed
from .._io import atomic_savez, load_npz
from .._run import check_every, run_chunks
from .._validation import as_float_array, check_scalar

__all__ = ["CMAES", "CMAESResult"]

_FORMAT = "mlsci_fast.ga.cmaes/1"
_STATE = ("mean", "cov", "basis", "scales", "pc", "ps", "best_x", "scalars", "counters", "recent")
_GEN, _GEN_IN_START, _RESTART, _LAMBDA, _EVALS, _FINISHED = range(6)


@dataclasses.dataclass
class CMAESResult:
    """The best point found (`best_x`, `best_fitness`), the history per generation (`best` and
    `mean` of the generation's values, `sigma`, `evaluations` so far, `restart`), the restarts
    (generation, stop reason, the new population size), counts, the seed and the time taken."""

    best_x: np.ndarray
    best_fitness: float
    history: dict
    restarts: list
    n_evaluations: int
    n_generations: int
    finished: bool
    seed: int
    elapsed: float
    interrupted: bool = False

    def plot(self, path: str | os.PathLike | None = None, *, ax=None):
        """Best value per generation against evaluations, restarts marked. Returns the Figure."""
        fig, axes, owned = _plotting.subplots(ax, 1, path=path, figsize=(5.6, 4.0))
        ax = axes[0]
        h = self.history
        best = np.minimum.accumulate(h["best"])
        ax.plot(h["evaluations"], best, label="best so far")
        ax.plot(h["evaluations"], h["best"], ".", ms=2, alpha=0.5, label="generation's best")
        for r in self.restarts:
            ax.axvline(h["evaluations"][r["generation"] - 1], color="grey", lw=0.6, ls=":")
        if np.all(best[np.isfinite(best)] > 0):
            ax.set_yscale("log")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("fitness (lower is better)")
        ax.set_title(f"CMA-ES, {len(self.restarts)} restart(s)")
        ax.legend()
        return _plotting.finish(fig, path, owned)


class CMAES:
    """Hansen's CMA-ES with IPOP restarts, minimising `fitness` within `bounds`.

    The (mu/mu_w, lambda) evolution strategy with cumulative step-size adaptation and rank-one
    plus rank-mu covariance updates (N. Hansen, "The CMA Evolution Strategy: A Tutorial",
    arXiv:1604.00772, with its default constants), searching the box scaled to the unit cube
    (samples outside are mirrored in). When a start stops (its values stall, its steps vanish,
    its covariance degenerates or it runs too long), IPOP restarts it from a uniform point with
    twice the population (Auger & Hansen 2005), at most `max_restarts` times. Sampling and
    update run in C++; the normals of every sample come from one Philox stream keyed by
    (seed, generation, sample, restart), so a seed gives the same run on any thread count and
    a checkpointed run resumes exactly.

    Parameters
    ----------
    fitness : callable
        Called once per generation with the samples, an (n, dim) array; returns n values (lower
        is better; +inf for an infeasible point, NaN is an error naming the sample).
    bounds : array (dim, 2)
    x0 : array (dim,), optional
        The first start's mean (default: uniform in the box).
    sigma0 : float
        The initial step size as a fraction of each gene's range (default 0.3).
    population_size : int, optional
        The first start's lambda (default 4 + floor(3 ln dim)).
    max_restarts : int
        IPOP restarts after the first start (default 9).
    tol_fun, tol_x : float
        A start stops when its best values over the last 10 + 30 dim / lambda generations and
        the current ones span less than `tol_fun`, or when every step is below `tol_x` of the
        range.
    maximize : bool
    seed : int or None
    """

    def __init__(self, fitness: Callable[[np.ndarray], ArrayLike], bounds: ArrayLike, *,
                 x0: ArrayLike | None = None, sigma0: float = 0.3, population_size: int | None = None,
                 max_restarts: int = 9, tol_fun: float = 1e-12, tol_x: float = 1e-11, maximize: bool = False,
                 seed: int | None = None):
        if not callable(fitness):
            raise TypeError(f"fitness must be callable, got {fitness!r}")
        b = as_float_array(bounds, "bounds", ndim=2)
        if b.shape[1] != 2:
            raise ValueError(f"bounds must have shape (dim, 2), got {b.shape}")
        bad = np.flatnonzero(~(b[:, 0] < b[:, 1]))
        if bad.size:
            raise ValueError(f"bounds must have lower < upper; gene {bad[0]} has [{b[bad[0], 0]}, {b[bad[0], 1]}]")
        self.fitness_fn, self.bounds, self.maximize = fitness, b, bool(maximize)
        cfg = _core.ga.CmaesConfig()
        cfg.dim = b.shape[0]
        cfg.lambda0 = 0 if population_size is None else int(
            check_scalar(population_size, "population_size", numbers.Integral, min_val=4, max_val=2**20))
        cfg.sigma0 = float(check_scalar(sigma0, "sigma0", numbers.Real, min_val=0, include_min=False, max_val=1))
        cfg.max_restarts = int(check_scalar(max_restarts, "max_restarts", numbers.Integral, min_val=0, max_val=20))
        cfg.tol_fun = float(check_scalar(tol_fun, "tol_fun", numbers.Real, min_val=0))
        cfg.tol_x = float(check_scalar(tol_x, "tol_x", numbers.Real, min_val=0))
        cfg.lower, cfg.upper = b[:, 0].tolist(), b[:, 1].tolist()
        self.seed = _seed.resolve(seed)
        cfg.seed = self.seed
        cfg.check()
        self._cfg = cfg
        if (2 ** cfg.max_restarts) * (cfg.lambda0 or _core.ga.cmaes_default_lambda(cfg.dim)) > 2**22:
            raise ValueError("population_size x 2^max_restarts exceeds 4 million samples a generation; "
                             "lower max_restarts")
        self._settings = dict(sigma0=cfg.sigma0, population_size=population_size, max_restarts=cfg.max_restarts,
                              tol_fun=cfg.tol_fun, tol_x=cfg.tol_x, maximize=self.maximize)
        d = cfg.dim
        self._state = dict(mean=np.zeros(d), cov=np.zeros((d, d)), basis=np.zeros((d, d)), scales=np.zeros(d),
                           pc=np.zeros(d), ps=np.zeros(d), best_x=np.zeros(d), scalars=np.zeros(2),
                           counters=np.zeros(6, dtype=np.int64),
                           recent=np.zeros(_core.ga.cmaes_recent_capacity(d)))
        start = None
        if x0 is not None:
            start = as_float_array(x0, "x0", ndim=1)
            if start.shape != (d,):
                raise ValueError(f"x0 must have {d} values, got shape {start.shape}")
            if np.any(start < b[:, 0]) or np.any(start > b[:, 1]):
                raise ValueError("x0 must lie within the bounds")
        self._settings["x0"] = None if start is None else start.tolist()
        _core.ga.cmaes_init(cfg, *self._arrays(), np.ascontiguousarray(start) if start is not None else None)
        self._history: dict[str, list] = {k: [] for k in ("best", "mean", "sigma", "evaluations", "restart")}
        self._restarts: list[dict] = []
        self._elapsed = 0.0
        self._plan: int | None = None
        self.interrupted = False
        self._checkpoint_path: str | None = None

    def _arrays(self):
        return [self._state[k] for k in _STATE]

    @property
    def n_evaluations(self) -> int:
        return int(self._state["counters"][_EVALS])

    @property
    def finished(self) -> bool:
        """Whether every start (the last restart included) has stopped."""
        return bool(self._state["counters"][_FINISHED])

    def _evaluate(self, X: np.ndarray, client) -> np.ndarray:
        if client is None:
            f = np.asarray(self.fitness_fn(X))
        else:
            chunks = np.array_split(X, min(len(X), max(1, len(client.scheduler_info().get("workers", {})))))
            f = np.concatenate([np.asarray(v).reshape(-1) for v in
                                client.gather(client.map(self.fitness_fn, chunks, pure=False))])
        if f.shape != (X.shape[0],) and f.shape != (X.shape[0], 1):
            raise ValueError(f"the fitness function was called with {X.shape[0]} samples and returned shape "
                             f"{f.shape}; it must return one value per sample")
        if f.dtype.kind not in "biuf":
            raise ValueError(f"the fitness function must return real numbers, got dtype {f.dtype}")
        f = np.ascontiguousarray(f.reshape(-1), dtype=np.float64)
        return -f if self.maximize else f

    def _generation(self, client) -> None:
        steps, X = _core.ga.cmaes_ask(self._cfg, *self._arrays())
        f = self._evaluate(X, client)
        lam = int(self._state["counters"][_LAMBDA])
        sigma = float(self._state["scalars"][0])
        reason = _core.ga.cmaes_tell(self._cfg, *self._arrays(), steps, X, f)
        c = self._state["counters"]
        h = self._history
        finite = f[np.isfinite(f)]
        h["best"].append(float(f.min()))
        h["mean"].append(float(finite.mean()) if finite.size else float("inf"))
        h["sigma"].append(sigma)
        h["evaluations"].append(int(c[_EVALS]))
        h["restart"].append(int(c[_RESTART]) - (1 if reason and not c[_FINISHED] else 0))
        if reason:
            self._restarts.append(dict(generation=int(c[_GEN]), reason=reason,
                                       population_size=int(c[_LAMBDA]) if not c[_FINISHED] else lam,
                                       restarted=not bool(c[_FINISHED])))

    def run(self, max_evaluations: int, *, progress: bool = False, checkpoint: str | os.PathLike | None = None,
            checkpoint_every: int | None = None, client: Any = None) -> CMAESResult:
        """Run until `max_evaluations` more evaluations (a generation is never cut) or until the
        last restart stops; a second call continues. `checkpoint`: save atomically every
        `checkpoint_every` evaluations (default about once a minute), at the end and on Ctrl-C;
        ``CMAES.load(path, fitness).resume()`` finishes exactly as an uninterrupted run.
        `client` ("local", a scheduler address or a dask Client): evaluate each generation's
        samples on Dask, split into one chunk per worker (the same values, the same run)."""
        n = int(check_scalar(max_evaluations, "max_evaluations", numbers.Integral, min_val=1))
        self._plan = self.n_evaluations + n
        return self._run_plan(progress, checkpoint, checkpoint_every, client)

    def resume(self, *, progress: bool = False, checkpoint_every: int | None = None, client: Any = None
               ) -> CMAESResult:
        """Finish the run a checkpoint was written for (see `load`)."""
        if self._plan is None:
            raise ValueError("no unfinished run to resume (use run)")
        return self._run_plan(progress, self._checkpoint_path, checkpoint_every, client)

    def _run_plan(self, progress, checkpoint, checkpoint_every, client) -> CMAESResult:
        from ..distributed import release_client, resolve_client

        self._checkpoint_path = None if checkpoint is None else os.fspath(checkpoint)
        check_every(checkpoint_every)
        end = self._plan
        started, elapsed0 = time.perf_counter(), self._elapsed
        c, owned = (None, False) if client is None else resolve_client(client, 64)[:2]

        def done() -> int:
            return end if self.finished else min(self.n_evaluations, end)

        def advance(n: int) -> None:
            target = self.n_evaluations + n
            while not self.finished and self.n_evaluations < min(target, end):
                self._generation(c)

        def commit(write: bool, interrupted: bool) -> None:
            self.interrupted = interrupted
            self._elapsed = elapsed0 + time.perf_counter() - started
            if write:
                self.save(checkpoint)

        try:
            run_chunks(done=done, total=end, advance=advance, commit=commit, label="cma-es", unit="evaluations",
                       progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                       status=lambda: f"best {self._sign(self._state['scalars'][1]):.6g}, "
                                      f"restart {int(self._state['counters'][_RESTART])}",
                       first_chunk=int(self._state["counters"][_LAMBDA]),
                       resume_hint=f"CMAES.load({self._checkpoint_path!r}, fitness).resume()" if checkpoint else None,
                       warn_stacklevel=4)
        finally:
            if c is not None:
                release_client(c, owned)
        return self.result()

    def _sign(self, v):
        return -v if self.maximize else v

    def result(self) -> CMAESResult:
        """The result so far."""
        h = {k: np.array(v, dtype=np.int64 if k in ("evaluations", "restart") else np.float64)
             for k, v in self._history.items()}
        if self.maximize:
            h["best"], h["mean"] = -h["best"], -h["mean"]
        best = float(self._sign(self._state["scalars"][1]))
        return CMAESResult(best_x=self._state["best_x"].copy(), best_fitness=best,
                           history=h, restarts=[dict(r) for r in self._restarts], n_evaluations=self.n_evaluations,
                           n_generations=int(self._state["counters"][_GEN]), finished=self.finished, seed=self.seed,
                           elapsed=self._elapsed, interrupted=self.interrupted)

    # -- checkpoints ------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the run (settings, state, history) to .npz atomically."""
        meta = {"format": _FORMAT, "seed": str(self.seed), "settings": self._settings, "plan": self._plan,
                "elapsed": self._elapsed, "restarts": self._restarts}
        hist = {f"history_{k}": np.array(v) for k, v in self._history.items()}
        atomic_savez(path, meta, bounds=self.bounds, **{f"state_{k}": v for k, v in self._state.items()}, **hist)

    @classmethod
    def load(cls, path: str | os.PathLike, fitness: Callable) -> CMAES:
        """Rebuild a run from `save` or a checkpoint (the fitness must be passed again);
        `resume()` finishes it."""
        meta, a = load_npz(path, _FORMAT, "CMA-ES checkpoint")
        try:
            settings = dict(meta["settings"])
            es = cls(fitness, a["bounds"], seed=int(meta["seed"]), **settings)
            for k, v in es._state.items():
                arr = a[f"state_{k}"]
                if arr.shape != v.shape or arr.dtype.kind != v.dtype.kind:
                    raise ValueError(f"{path} is corrupt: {k} is {arr.dtype} of shape {arr.shape}")
                may_be_inf = k in ("recent", "scalars")  # the best value and recent bests may be +inf
                if arr.dtype.kind == "f" and (np.isnan(arr).any() or (not may_be_inf and not np.isfinite(arr).all())):
                    raise ValueError(f"{path} is corrupt: {k} holds NaN or infinity")
                es._state[k] = np.ascontiguousarray(arr)
            c = es._state["counters"]
            if np.any(c < 0) or c[_LAMBDA] < 4 or c[_RESTART] > es._cfg.max_restarts or c[_FINISHED] not in (0, 1):
                raise ValueError(f"{path} is corrupt: counters {c.tolist()}")
            n = int(c[_GEN])
            for k in es._history:
                h = a[f"history_{k}"]
                if h.shape != (n,):
                    raise ValueError(f"{path} is corrupt: history {k} has shape {h.shape}, expected ({n},)")
                es._history[k] = h.tolist()
        except KeyError as exc:
            raise ValueError(f"{path} is corrupt: missing {exc}") from None
        plan, elapsed = meta.get("plan"), meta.get("elapsed")
        if plan is not None and (isinstance(plan, bool) or not isinstance(plan, int) or plan < 0):
            raise ValueError(f"{path} is corrupt: planned evaluations {plan!r}")
        if isinstance(elapsed, bool) or not isinstance(elapsed, (int, float)) or not 0 <= elapsed < float("inf"):
            raise ValueError(f"{path} is corrupt: elapsed time {elapsed!r}")
        es._plan, es._elapsed = plan, float(elapsed)
        es._restarts = [dict(r) for r in meta.get("restarts", [])]
        es._checkpoint_path = os.fspath(path)
        return es
