"""The affine-invariant ensemble sampler, with emcee's interface and the step loop in C++."""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _seed, _threads
from .._io import atomic_savez, check_meta, load_npz
from .._progress import Progress
from .._run import run_chunks
from .._validation import as_float_array, check_memory, check_scalar
from . import diagnostics
from .moves import _from_row, _normalize
from .targets import Target, _from_spec

__all__ = ["EnsembleSampler", "State", "run_chains"]

_FORMAT = "mlsci_fast.mcmc.ensemble/1"


class State:
    """The walkers' positions and log-probabilities after `iteration` stored steps.

    Unpacks like emcee's State: ``coords, log_prob, random_state = state`` (random_state is
    always None: the random numbers are a function of the seed and the step).
    """

    __slots__ = ("coords", "iteration", "log_prob")

    def __init__(self, coords: ArrayLike, log_prob: ArrayLike | None = None, iteration: int = 0):
        self.coords = np.array(coords, dtype=np.float64)
        self.log_prob = None if log_prob is None else np.array(log_prob, dtype=np.float64)
        self.iteration = int(iteration)

    @property
    def random_state(self) -> None:
        return None

    def __iter__(self):
        return iter((self.coords, self.log_prob, None))

    def __repr__(self) -> str:
        return f"State(coords=<{self.coords.shape}>, iteration={self.iteration})"


class EnsembleSampler:
    """Goodman & Weare's affine-invariant ensemble sampler (emcee's interface, a C++ loop).

    Parameters
    ----------
    nwalkers : int
        Number of walkers, at least 2 * ndim (emcee's rule; `live_dangerously=True` lifts it).
    ndim : int
        Number of parameters.
    log_prob_fn : Target or callable
        A built-in target from `mlsci_fast.mcmc.targets` (the whole run stays in C++, on all
        threads), or a Python function returning log p(x) (-inf outside the support). With
        `vectorize=True` it is called once per half-ensemble with an (n, ndim) array and must
        return n values.
    moves : Move, list of Move, or list of (Move, weight)
        Default `StretchMove()`. See `mlsci_fast.mcmc.moves`.
    args, kwargs
        Extra arguments for a Python `log_prob_fn`.
    vectorize : bool
        Whether a Python `log_prob_fn` takes a whole batch of points.
    randomize_split : bool
        Shuffle the walkers into the two halves at every step (emcee's default).
    live_dangerously : bool
        Allow fewer than 2 * ndim walkers.
    seed : int or None
        None draws fresh entropy; the value used is `sampler.seed`. The same seed gives the same
        chain whatever the thread count.
    parameter_names : list of str, optional
        Names for `to_arviz` and `summary`; by default the target's names.
    n_threads : int, optional
        Threads for built-in targets (default: `mlsci_fast.get_num_threads()`).

    Notes
    -----
    The chain is stored in memory as in emcee's default backend; `run_mcmc(checkpoint=...)`
    also writes it to disk atomically, and `EnsembleSampler.load` plus `resume` continue a run
    bit for bit.
    """

    def __init__(
        self,
        nwalkers: int,
        ndim: int,
        log_prob_fn: Target | Callable[..., Any],
        *,
        moves: Any = None,
        args: tuple | list | None = None,
        kwargs: dict | None = None,
        vectorize: bool = False,
        randomize_split: bool = True,
        live_dangerously: bool = False,
        seed: int | None = None,
        parameter_names: list[str] | None = None,
        n_threads: int | None = None,
    ):
        self.nwalkers = int(check_scalar(nwalkers, "nwalkers", numbers.Integral, min_val=2))
        self.ndim = int(check_scalar(ndim, "ndim", numbers.Integral, min_val=1))
        check_memory(8.0 * self.nwalkers * (4 * self.ndim + 8), f"nwalkers={self.nwalkers}, ndim={self.ndim}")
        if self.nwalkers < 2 * self.ndim and not live_dangerously:
            raise ValueError(
                f"nwalkers={self.nwalkers} is fewer than twice ndim={self.ndim}: the walkers would be stuck in a "
                "lower-dimensional subspace (use at least 2 * ndim walkers, or live_dangerously=True)"
            )
        if isinstance(log_prob_fn, Target):
            if log_prob_fn.ndim != self.ndim:
                raise ValueError(f"ndim={self.ndim} but the target {log_prob_fn!r} has {log_prob_fn.ndim} parameters")
            if args or kwargs:
                raise ValueError("args and kwargs are for Python log_prob functions, not built-in targets")
        elif not callable(log_prob_fn):
            raise TypeError(f"log_prob_fn must be a built-in target or a callable, got {type(log_prob_fn).__name__}")
        self.log_prob_fn = log_prob_fn
        self._moves = _normalize(moves)
        need = max({0: 1, 1: 2, 2: 3}[m._row(w)[0]] for m, w in self._moves)
        if self.nwalkers // 2 < need:
            raise ValueError(f"nwalkers={self.nwalkers} is too few for these moves (need at least {2 * need})")
        self.args = tuple(args or ())
        self.kwargs = dict(kwargs or {})
        self.vectorize = bool(vectorize)
        self.randomize_split = bool(randomize_split)
        self.seed = _seed.resolve(seed)
        self.n_threads = n_threads
        if parameter_names is not None:
            parameter_names = [str(n) for n in parameter_names]
            if len(parameter_names) != self.ndim:
                raise ValueError(f"parameter_names has {len(parameter_names)} names for ndim={self.ndim}")
        self.parameter_names = parameter_names
        self._chain_id = 0
        self._counters = np.zeros(2, dtype=np.int64)  # [random-number step (never reset), rows stored]
        self._coords: np.ndarray | None = None
        self._lp: np.ndarray | None = None
        self._plan: dict[str, Any] | None = None  # the run a checkpoint belongs to
        self._checkpoint_path: str | None = None
        self.interrupted = False  # the last run_mcmc/resume was stopped by Ctrl-C
        self.reset()

    # -- bookkeeping --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the stored chain and acceptance counts; keep the last position (as emcee does)."""
        self._accepted = np.zeros(self.nwalkers, dtype=np.int64)
        self._steps_at_reset = int(self._counters[0])
        self._counters[1] = 0
        self._chain = np.empty((0, self.nwalkers, self.ndim))
        self._chain_lp = np.empty((0, self.nwalkers))
        self._thin = (1, int(self._counters[0]))

    @property
    def iteration(self) -> int:
        """Number of stored steps (emcee's meaning; with thin_by > 1, steps run / thin_by)."""
        return int(self._counters[1])

    @property
    def acceptance_fraction(self) -> np.ndarray:
        """Fraction of proposals accepted, per walker, since the last reset."""
        steps = int(self._counters[0]) - self._steps_at_reset
        return self._accepted / max(steps, 1)

    @property
    def names(self) -> list[str]:
        if self.parameter_names is not None:
            return self.parameter_names
        if isinstance(self.log_prob_fn, Target):
            return self.log_prob_fn.param_names
        return [f"x[{i}]" for i in range(self.ndim)]

    def get_chain(self, flat: bool = False, thin: int = 1, discard: int = 0) -> np.ndarray:
        """The stored positions, shape (iteration, nwalkers, ndim), or flat (n, ndim).

        As in emcee: drop the first `discard` steps, then keep every `thin`-th.
        """
        return self._get(self._chain, flat, thin, discard)

    def get_log_prob(self, flat: bool = False, thin: int = 1, discard: int = 0) -> np.ndarray:
        """The stored log-probabilities, shape (iteration, nwalkers), or flat."""
        return self._get(self._chain_lp, flat, thin, discard)

    def _get(self, a: np.ndarray, flat: bool, thin: int, discard: int) -> np.ndarray:
        thin = int(check_scalar(thin, "thin", numbers.Integral, min_val=1))
        discard = int(check_scalar(discard, "discard", numbers.Integral, min_val=0))
        if self.iteration == 0:
            raise AttributeError("there are no samples yet: run the sampler first (run_mcmc)")
        v = a[discard + thin - 1 : self.iteration : thin]
        return v.reshape(-1, *v.shape[2:]) if flat else v.copy()

    def get_last_sample(self) -> State:
        """The walkers' current state."""
        if self._coords is None:
            raise AttributeError("the sampler has not run yet")
        return State(self._coords, self._lp, self.iteration)

    def get_autocorr_time(self, discard: int = 0, thin: int = 1, **kwargs: Any) -> np.ndarray:
        """Integrated autocorrelation time per parameter, in steps (emcee's estimator).

        Keyword arguments go to `mlsci_fast.mcmc.diagnostics.integrated_time` (c, tol, quiet).
        """
        return thin * diagnostics.integrated_time(self.get_chain(discard=discard, thin=thin), **kwargs)

    def summary(self, discard: int = 0, thin: int = 1) -> str:
        """Posterior mean, sd, quantiles, bulk/tail ESS and split-R-hat per parameter, as a table."""
        chain = self.get_chain(discard=discard, thin=thin)
        return diagnostics.summary(np.swapaxes(chain, 0, 1), names=self.names)

    def to_arviz(self, discard: int = 0, thin: int = 1):
        """The chain as an ArviZ InferenceData (walkers as chains), for ArviZ's plots and stats."""
        return diagnostics.to_arviz(
            self.get_chain(discard=discard, thin=thin), self.get_log_prob(discard=discard, thin=thin), self.names
        )

    # -- evaluating log_prob ------------------------------------------------------------------

    def _batch(self, points: np.ndarray) -> np.ndarray:
        """log_prob of each row of points (n, ndim) with a Python log_prob_fn."""
        fn = self.log_prob_fn
        n = points.shape[0]
        if self.vectorize:
            out = np.asarray(fn(points, *self.args, **self.kwargs))
            if out.shape != (n,):
                raise ValueError(
                    f"log_prob_fn was called with {n} points of shape ({n}, {self.ndim}) and returned an array of "
                    f"shape {out.shape}; a vectorized log_prob_fn must return shape ({n},)"
                )
        else:
            out = np.empty(n)
            for i in range(n):
                v = fn(points[i], *self.args, **self.kwargs)
                if isinstance(v, tuple):
                    raise ValueError("log_prob_fn returned a tuple: blobs are not supported, return only log p(x)")
                out[i] = v
        if out.dtype.kind not in "biuf":
            raise ValueError(f"log_prob_fn must return real numbers, got dtype {out.dtype}")
        return np.ascontiguousarray(out, dtype=np.float64)

    def compute_log_prob(self, coords: ArrayLike) -> tuple[np.ndarray, None]:
        """log_prob of each row of coords (n, ndim); returns (log_prob, None) as emcee does."""
        pts = as_float_array(coords, "coords", ndim=2)
        if pts.shape[1] != self.ndim:
            raise ValueError(f"coords must have shape (n, {self.ndim}), got {pts.shape}")
        if isinstance(self.log_prob_fn, Target):
            return np.asarray(self.log_prob_fn(pts), dtype=np.float64).reshape(-1), None
        return self._batch(pts), None

    # -- running ------------------------------------------------------------------------------

    def _start(self, initial_state: Any, skip_initial_state_check: bool) -> None:
        if initial_state is None:
            if self._coords is None:
                raise ValueError("initial_state is None but the sampler has no previous state: "
                                 "pass the walkers' starting positions")
            return
        lp0 = None
        if isinstance(initial_state, State):
            coords, lp0 = initial_state.coords, initial_state.log_prob
        else:
            coords = initial_state
        coords = as_float_array(coords, "initial_state", ndim=2).copy()
        if coords.shape != (self.nwalkers, self.ndim):
            raise ValueError(f"initial_state must have shape (nwalkers, ndim) = ({self.nwalkers}, {self.ndim}), "
                             f"got {coords.shape}")
        if not skip_initial_state_check and not _walkers_independent(coords):
            raise ValueError(
                "the initial walkers are not linearly independent (they lie in a lower-dimensional subspace, or "
                "coincide), so the ensemble can never leave that subspace: start them in a small Gaussian ball, "
                "e.g. p0 = x0 + 1e-4 * np.random.randn(nwalkers, ndim)"
            )
        if lp0 is None:
            lp = self.compute_log_prob(coords)[0]
        else:
            lp = as_float_array(lp0, "initial_state.log_prob", ndim=1, allow_nonfinite=True).copy()
            if lp.shape != (self.nwalkers,):
                raise ValueError(f"initial_state.log_prob must have shape ({self.nwalkers},), got {lp.shape}")
        for bad, what in ((np.isnan(lp), "NaN"), (lp == np.inf, "+inf"), (lp == -np.inf, "-inf (zero probability)")):
            if bad.any():
                raise ValueError(
                    f"log_prob is {what} at the initial position of walkers {np.flatnonzero(bad)[:10].tolist()}"
                    + ("; start every walker inside the support of the target" if "zero" in what else "")
                )
        self._coords, self._lp = coords, np.ascontiguousarray(lp)

    def _grow(self, rows: int) -> None:
        have = self.iteration
        if self._chain.shape[0] - have >= rows:
            return
        check_memory(8.0 * (have + rows) * self.nwalkers * (self.ndim + 1) * (2 if have else 1),
                     f"nsteps={rows} stored steps of nwalkers={self.nwalkers} x ndim={self.ndim}")
        chain = np.empty((have + rows, self.nwalkers, self.ndim))
        chain_lp = np.empty((have + rows, self.nwalkers))
        chain[:have], chain_lp[:have] = self._chain[:have], self._chain_lp[:have]
        self._chain, self._chain_lp = chain, chain_lp

    def _kernel(self, n_steps: int, store: bool) -> None:
        target = self.log_prob_fn._core_target if isinstance(self.log_prob_fn, Target) else None
        _core.mcmc.run_ensemble(
            [m._row(w) for m, w in self._moves], self.nwalkers, self.ndim, self.randomize_split, self.seed,
            self._chain_id, self._coords, self._lp, self._accepted, self._counters,
            self._chain if store else None, self._chain_lp if store else None, self._thin[0], self._thin[1],
            int(n_steps), target, None if target is not None else self._batch, _threads.resolve(self.n_threads),
        )

    def run_mcmc(
        self,
        initial_state: Any,
        nsteps: int,
        *,
        thin_by: int = 1,
        store: bool = True,
        progress: bool = False,
        skip_initial_state_check: bool = False,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int | None = None,
    ) -> State:
        """Run `nsteps` * `thin_by` steps, storing every `thin_by`-th, and return the final state.

        Parameters
        ----------
        initial_state : State, array of shape (nwalkers, ndim), or None
            Where the walkers start; None continues from the last state.
        nsteps : int
            Number of steps to store (emcee's meaning).
        thin_by : int
            Store only every `thin_by`-th step. A walker takes at most 2**32 - 1 steps in all
            (its random numbers are counted by step), so nsteps * thin_by is refused beyond that.
        store : bool
            Whether to keep the chain in memory.
        progress : bool
            Show a progress line (steps, rate, time left, acceptance) on stderr.
        skip_initial_state_check : bool
            Skip the check that the initial walkers are linearly independent.
        checkpoint : path, optional
            Write the sampler's state and chain to this .npz file atomically, every
            `checkpoint_every` steps (default: about once a minute), at the end, and when the
            run is interrupted. Continue with ``EnsembleSampler.load(path).resume()``.

        Ctrl-C stops the run cleanly at a step boundary: the steps done so far are stored, the
        checkpoint (if any) is written, a RuntimeWarning says how far it got, `interrupted` is
        True and the last state is returned (the one Ctrl-C policy of every long run here).
        """
        nsteps = int(check_scalar(nsteps, "nsteps", numbers.Integral, min_val=0))
        thin_by = int(check_scalar(thin_by, "thin_by", numbers.Integral, min_val=1))
        if checkpoint_every is not None:
            checkpoint_every = int(check_scalar(checkpoint_every, "checkpoint_every", numbers.Integral, min_val=1))
        if checkpoint is not None and not store:
            raise ValueError("checkpoint needs store=True (a checkpoint holds the chain)")
        self._start(initial_state, skip_initial_state_check)
        start = int(self._counters[0])
        _check_steps(start, nsteps, thin_by, "nsteps")
        self._plan = {"end": start + nsteps * thin_by, "store": bool(store)}
        if store:
            self._grow(nsteps)
            self._thin = (thin_by, start)
        self._checkpoint_path = None if checkpoint is None else os.fspath(checkpoint)
        self._run_plan(progress, checkpoint_every)
        return self.get_last_sample()

    def resume(self, *, progress: bool = False, checkpoint_every: int | None = None) -> State:
        """Finish the run a checkpoint was written for (see `load`); returns the final state."""
        if self._plan is None:
            raise ValueError("this sampler has no unfinished run to resume (use run_mcmc)")
        if self._plan["store"]:
            self._grow((self._plan["end"] - int(self._counters[0])) // self._thin[0] + 1)
        self._run_plan(progress, checkpoint_every)
        return self.get_last_sample()

    def _run_plan(self, progress: bool, checkpoint_every: int | None) -> None:
        store = self._plan["store"]
        path = self._checkpoint_path

        def commit(write: bool, interrupted: bool) -> None:
            self.interrupted = interrupted
            if write and self._coords is not None:
                self.save(path)

        run_chunks(
            done=lambda: int(self._counters[0]), total=self._plan["end"], advance=lambda n: self._kernel(n, store),
            commit=commit, label="mcmc", unit="steps", progress=progress, checkpoint=path,
            checkpoint_every=checkpoint_every, status=lambda: f"acceptance {self.acceptance_fraction.mean():.2f}",
            first_chunk=16,
            resume_hint=f"mlsci_fast.mcmc.EnsembleSampler.load({path!r}, ...).resume()" if path else None,
            warn_stacklevel=4)

    def sample(
        self,
        initial_state: Any,
        iterations: int = 1,
        *,
        thin_by: int = 1,
        store: bool = True,
        progress: bool = False,
        skip_initial_state_check: bool = False,
    ) -> Iterator[State]:
        """Generator form of `run_mcmc`: yields the state after every `thin_by` steps."""
        iterations = int(check_scalar(iterations, "iterations", numbers.Integral, min_val=0))
        thin_by = int(check_scalar(thin_by, "thin_by", numbers.Integral, min_val=1))
        self._start(initial_state, skip_initial_state_check)
        _check_steps(int(self._counters[0]), iterations, thin_by, "iterations")
        if store:
            self._grow(iterations)
            self._thin = (thin_by, int(self._counters[0]))
        self._plan = None
        with Progress(iterations * thin_by, "mcmc", "steps", enabled=progress) as bar:
            for i in range(iterations):
                self._kernel(thin_by, store)
                bar.update((i + 1) * thin_by)
                yield self.get_last_sample()

    # -- checkpoints --------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the sampler (state, chain, settings, and the built-in target) to .npz atomically."""
        if self._coords is None:
            raise ValueError("nothing to save: the sampler has not run yet")
        meta = {
            "format": _FORMAT,
            "nwalkers": self.nwalkers,
            "ndim": self.ndim,
            "moves": [list(m._row(w)) for m, w in self._moves],
            "randomize_split": self.randomize_split,
            "seed": str(self.seed),  # 64-bit: JSON numbers lose precision beyond 2**53
            "chain_id": self._chain_id,
            "steps_at_reset": self._steps_at_reset,
            "thin": list(self._thin),
            "plan": self._plan,
            "vectorize": self.vectorize,
            "parameter_names": self.parameter_names,
            "target": None,
        }
        arrays = {}
        if isinstance(self.log_prob_fn, Target):
            name, scalars, tarrays = self.log_prob_fn._spec()
            meta["target"] = {"name": name, "scalars": scalars, "arrays": sorted(tarrays)}
            arrays.update({f"target_{k}": v for k, v in tarrays.items()})
        rows = self.iteration
        atomic_savez(
            path,
            meta,
            coords=self._coords,
            log_prob=self._lp,
            accepted=self._accepted,
            counters=self._counters,
            chain=self._chain[:rows],
            chain_lp=self._chain_lp[:rows],
            **arrays,
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        log_prob_fn: Target | Callable[..., Any] | None = None,
        *,
        args: tuple | list | None = None,
        kwargs: dict | None = None,
        n_threads: int | None = None,
    ) -> EnsembleSampler:
        """Rebuild a sampler from `save` or a checkpoint; `resume()` then finishes its run.

        A built-in target is restored from the file; a Python log_prob_fn must be passed again.
        """
        meta, arrays = load_npz(path, _FORMAT, "ensemble sampler checkpoint")
        if log_prob_fn is None:
            spec = meta["target"]
            if spec is None:
                raise ValueError(f"{path} was written with a Python log_prob_fn: pass it as log_prob_fn")
            log_prob_fn = _from_spec(spec["name"], spec["scalars"], {k: arrays[f"target_{k}"] for k in spec["arrays"]})
        moves = [_from_row(r) for r in meta["moves"]]
        s = cls(
            meta["nwalkers"], meta["ndim"], log_prob_fn, moves=moves, args=args, kwargs=kwargs,
            vectorize=meta["vectorize"], randomize_split=meta["randomize_split"], live_dangerously=True,
            seed=int(meta["seed"]), parameter_names=meta["parameter_names"], n_threads=n_threads,
        )
        s._chain_id = int(meta["chain_id"])
        nw, nd = s.nwalkers, s.ndim
        try:
            s._coords = np.ascontiguousarray(arrays["coords"], dtype=np.float64).reshape(nw, nd)
            s._lp = np.ascontiguousarray(arrays["log_prob"], dtype=np.float64).reshape(nw)
            s._accepted = np.ascontiguousarray(arrays["accepted"], dtype=np.int64).reshape(nw)
            s._counters = np.ascontiguousarray(arrays["counters"], dtype=np.int64).reshape(2)
            rows = int(s._counters[1])
            s._chain = np.ascontiguousarray(arrays["chain"], dtype=np.float64).reshape(rows, nw, nd)
            s._chain_lp = np.ascontiguousarray(arrays["chain_lp"], dtype=np.float64).reshape(rows, nw)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path} is corrupt: {exc}") from None
        check_meta(meta, {"steps_at_reset": (int, 0, None), "chain_id": (int, 0, None), "thin": (list, None, None)},
                   path)
        done, thin, plan = int(s._counters[0]), meta["thin"], meta["plan"]
        problems = []
        if not (len(thin) == 2 and all(isinstance(t, int) and not isinstance(t, bool) for t in thin)
                and 1 <= thin[0] < 2**32 and 0 <= thin[1] <= done):
            problems.append(f"thin must be [thin_by >= 1, first step <= {done}], got {thin!r}")
        if not 0 <= done < 2**32 or meta["steps_at_reset"] > done:
            problems.append(f"the step counter {done} (reset at {meta['steps_at_reset']}) is out of range")
        if plan is not None and not (isinstance(plan, dict) and set(plan) == {"end", "store"}
                                     and isinstance(plan["store"], bool) and isinstance(plan["end"], int)
                                     and not isinstance(plan["end"], bool) and done <= plan["end"] < 2**32):
            problems.append(f"plan must be null or {{'end': step in [{done}, 2**32), 'store': bool}}, got {plan!r}")
        if problems:
            raise ValueError(f"{path} is corrupt: " + "; ".join(problems))
        s._steps_at_reset = int(meta["steps_at_reset"])
        s._thin = (int(thin[0]), int(thin[1]))
        s._plan = plan
        s._checkpoint_path = os.fspath(path)
        return s


def _check_steps(done: int, count: int, thin_by: int, name: str) -> None:
    """Refuse, before running, a run that would take a walker past 2**32 - 1 steps."""
    if done + count * thin_by >= 2**32:
        raise ValueError(f"{name} * thin_by = {count} * {thin_by} steps after the {done} already taken exceeds "
                         f"the {2**32 - 1} steps a walker may take (its random numbers are counted by step)")


def _walkers_independent(coords: np.ndarray) -> bool:
    """emcee's test: the centred walkers span all ndim directions with a sane condition number."""
    if not np.all(np.isfinite(coords)):
        return False
    c = coords - coords.mean(axis=0)
    if np.any(np.all(c == 0, axis=0)):
        return False
    c = c / np.sqrt(np.sum(c**2, axis=0))
    return bool(np.linalg.cond(c) < 1e8)


def _ensemble_unit(kwargs: dict, unit: tuple[int, np.ndarray], n_threads: int | None = None) -> EnsembleSampler:
    """Ensemble `c` alone (a Dask task): the same numbers as ensemble c of a local run."""
    c, p0 = unit
    kw = dict(kwargs)
    nsteps, run_kw = kw.pop("nsteps"), kw.pop("run_kw")
    s = EnsembleSampler(**kw, n_threads=n_threads)
    s._chain_id = c
    s.run_mcmc(p0, nsteps, **run_kw)
    return s


def run_chains(
    log_prob_fn: Target | Callable[..., Any],
    nwalkers: int,
    ndim: int,
    initial_state: ArrayLike,
    nsteps: int,
    n_chains: int,
    *,
    client: Any = None,
    progress: bool = False,
    thin_by: int = 1,
    **sampler_kwargs: Any,
) -> list[EnsembleSampler]:
    """Run `n_chains` independent ensembles (e.g. for split-R-hat across ensembles), here or on Dask.

    Parameters
    ----------
    initial_state : array, shape (nwalkers, ndim) or (n_chains, nwalkers, ndim)
        One starting ensemble for all, or one per chain.
    client : None, "local", scheduler address or dask.distributed.Client
        Where the ensembles run (see `mlsci_fast.distributed`); the results are the same.
    sampler_kwargs
        `EnsembleSampler` arguments (moves, seed, args, kwargs, vectorize, ...). With one seed,
        ensemble c draws the random numbers of chain id c, so the ensembles are independent.

    Returns
    -------
    list of EnsembleSampler, one per chain, each run for `nsteps`.
    """
    from ..distributed import map_units

    n_chains = int(check_scalar(n_chains, "n_chains", numbers.Integral, min_val=1))
    p0 = as_float_array(initial_state, "initial_state", ndim=np.ndim(initial_state))
    if p0.shape == (nwalkers, ndim):
        p0 = np.broadcast_to(p0, (n_chains, nwalkers, ndim))
    if p0.shape != (n_chains, nwalkers, ndim):
        raise ValueError(
            f"initial_state must have shape (nwalkers, ndim) or (n_chains, nwalkers, ndim) = "
            f"({n_chains}, {nwalkers}, {ndim}), got {p0.shape}"
        )
    sampler_kwargs.setdefault("seed", None)
    sampler_kwargs["seed"] = _seed.resolve(sampler_kwargs["seed"])
    kwargs = dict(nwalkers=nwalkers, ndim=ndim, log_prob_fn=log_prob_fn, nsteps=nsteps,
                  run_kw={"thin_by": thin_by}, **sampler_kwargs)
    import functools

    units = [(c, np.array(p0[c])) for c in range(n_chains)]
    return map_units(functools.partial(_ensemble_unit, kwargs), units, client=client, progress=progress,
                     label="ensembles")
