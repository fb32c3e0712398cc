"""Independent chains with warmup adaptation: NUTS, static HMC and adaptive random-walk Metropolis.

The loop runs in C++, one chain per thread. A built-in target (`mlsci_fast.mcmc.targets`) is
evaluated in C++ too; a Python function also works (one point per call, one chain at a time).
Warmup follows Stan: dual-averaging step size toward `target_accept`, and a diagonal or dense
metric estimated from doubling windows of warmup draws. Chain ``c`` draws its random numbers
from (seed, iteration, c) only, so results do not depend on the thread count and a run resumed
from a checkpoint equals one that never stopped.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _seed, _threads
from .._io import atomic_savez, check_meta, load_npz
from .._run import run_chunks
from .._validation import as_float_array, check_memory, check_scalar
from ..distributed import map_units
from . import diagnostics
from .targets import Target, _from_spec

__all__ = ["ChainResult", "hmc", "load", "metropolis", "nuts", "resume"]

_FORMAT = "mlsci_fast.mcmc.chains/1"
_ALGORITHMS = {"metropolis": 0, "hmc": 1, "nuts": 2}
_STATE = ("x", "lp", "grad", "adapt", "metric", "w_mean", "w_m2", "iteration")
_TRACE = ("draws", "trace_lp", "accept", "step_size", "energy", "n_steps", "tree_depth", "divergent")


@dataclasses.dataclass(eq=False)
class ChainResult:
    """Draws and sampler statistics of n_chains chains, warmup included.

    ``samples()`` gives the post-warmup draws, shape (n_chains, n_samples, ndim). Per-iteration
    statistics (shape (n_chains, n_warmup + n_samples)): ``trace_lp`` (log density), ``accept``
    (acceptance statistic), ``step_size``, ``energy`` (Hamiltonian after the momentum refresh),
    ``n_steps`` (leapfrog steps), ``tree_depth``, ``divergent``.
    """

    algorithm: str
    seed: int
    n_warmup: int
    n_samples: int
    n_chains: int
    ndim: int
    settings: dict[str, Any]
    names: list[str]
    draws: np.ndarray
    trace_lp: np.ndarray
    accept: np.ndarray
    step_size: np.ndarray
    energy: np.ndarray
    n_steps: np.ndarray
    tree_depth: np.ndarray
    divergent: np.ndarray
    state: dict[str, np.ndarray]
    elapsed: float = 0.0
    target: Target | None = dataclasses.field(default=None, repr=False)
    interrupted: bool = False  # stopped early by Ctrl-C (then `complete` is False)

    @property
    def iterations_done(self) -> int:
        """Iterations completed by every chain (warmup included)."""
        return int(self.state["iteration"].min())

    @property
    def complete(self) -> bool:
        return self.iterations_done >= self.n_warmup + self.n_samples

    def samples(self, *, warmup: bool = False, flat: bool = False) -> np.ndarray:
        """Draws after warmup (or the warmup draws), (n_chains, n, ndim); flat: (n_chains * n, ndim)."""
        done = self.iterations_done
        sl = slice(0, min(done, self.n_warmup)) if warmup else slice(self.n_warmup, done)
        out = self.draws[:, sl]
        return out.reshape(-1, self.ndim) if flat else out.copy()

    @property
    def n_divergent(self) -> int:
        """Divergent transitions after warmup (any is a warning sign: see `summary`)."""
        return int(self.divergent[:, self.n_warmup : self.iterations_done].sum())

    @property
    def final_step_size(self) -> np.ndarray:
        """The adapted step size of each chain."""
        return np.exp(self.state["adapt"][:, 0])

    @property
    def inverse_metric(self) -> np.ndarray:
        """The adapted inverse metric (covariance) of each chain: (n_chains, ndim) or (n_chains, ndim, ndim)."""
        return self.state["metric"].copy()

    def summary(self) -> str:
        """Mean, sd, quantiles, bulk/tail ESS and split-R-hat per parameter, and sampler health."""
        text = diagnostics.summary(self.samples(), names=self.names)
        post = slice(self.n_warmup, self.iterations_done)
        extra = (
            f"\n{self.algorithm}: {self.n_chains} chains x {self.iterations_done - self.n_warmup} draws after "
            f"{self.n_warmup} warmup; mean acceptance {self.accept[:, post].mean():.3f}, "
            f"step size {np.array2string(self.final_step_size, precision=3)}"
        )
        if self.algorithm == "nuts":
            depth = self.tree_depth[:, post]
            max_depth = self.settings["max_tree_depth"]
            extra += f", mean tree depth {depth.mean():.2f} ({int((depth >= max_depth).sum())} at the maximum)"
        if self.algorithm != "metropolis":
            extra += f", {self.n_divergent} divergent"
        return text + extra

    def to_arviz(self):
        """An ArviZ InferenceData with posterior draws and sample_stats (diverging, lp, ...)."""
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                import arviz as az
        except ImportError:
            raise ImportError("to_arviz needs ArviZ: pip install arviz") from None
        post = slice(self.n_warmup, self.iterations_done)
        s = self.samples()
        posterior = {name: np.ascontiguousarray(s[:, :, i]) for i, name in enumerate(self.names)}
        stats = {
            "lp": self.trace_lp[:, post],
            "acceptance_rate": self.accept[:, post],
            "step_size": self.step_size[:, post],
            "n_steps": self.n_steps[:, post],
            "diverging": self.divergent[:, post].astype(bool),
        }
        if self.algorithm != "metropolis":
            stats["energy"] = self.energy[:, post]
        if self.algorithm == "nuts":
            stats["tree_depth"] = self.tree_depth[:, post]
        return az.from_dict(posterior=posterior, sample_stats=stats)

    def plot(self, path: str | os.PathLike | None = None):
        """Trace plot of every chain (warmup shaded) and a corner plot of the samples; returns the
        two figures. With `path` ("out.png"), writes out_trace.png and out_corner.png. For either
        panel alone in your own Axes, call `plots.trace` or `plots.corner` with ``ax=``."""
        from .plots import corner, trace

        stem, ext = (None, None) if path is None else os.path.splitext(os.fspath(path))
        chain = np.moveaxis(self.draws[:, : self.iterations_done], 0, 1)
        fig1 = trace(chain, self.names, warmup=self.n_warmup,
                     path=None if path is None else f"{stem}_trace{ext or '.png'}")
        fig2 = corner(self.samples(flat=True), self.names,
                      path=None if path is None else f"{stem}_corner{ext or '.png'}")
        return fig1, fig2

    # -- files --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> None:
        """Write the result and the sampler state (to resume) to one .npz file, atomically."""
        meta = {
            "format": _FORMAT,
            "algorithm": self.algorithm,
            "seed": str(self.seed),
            "n_warmup": self.n_warmup,
            "n_samples": self.n_samples,
            "n_chains": self.n_chains,
            "ndim": self.ndim,
            "settings": self.settings,
            "names": self.names,
            "elapsed": self.elapsed,
            "interrupted": bool(self.interrupted),
            "target": None,
        }
        arrays = {k: getattr(self, k) for k in _TRACE}
        arrays.update({f"state_{k}": v for k, v in self.state.items()})
        if self.target is not None:
            name, scalars, tarrays = self.target._spec()
            meta["target"] = {"name": name, "scalars": scalars, "arrays": sorted(tarrays)}
            arrays.update({f"target_{k}": v for k, v in tarrays.items()})
        atomic_savez(path, meta, **arrays)


# The most leapfrog steps an HMC iteration may take: one iteration runs without a stop check,
# and a path longer than this is a mistake (a smaller step size and NUTS are the remedy).
_MAX_LEAPFROG = 2**16

def load(path: str | os.PathLike) -> ChainResult:
    """Read a result or checkpoint written by `ChainResult.save` or `nuts(..., checkpoint=...)`."""
    meta, arrays = load_npz(path, _FORMAT, "chain result or checkpoint")
    check_meta(meta, {"algorithm": (str, _ALGORITHMS, None), "seed": (str, None, None),
                      "n_warmup": (int, 0, 2**31 - 1), "n_samples": (int, 1, 2**31 - 1), "n_chains": (int, 1, 2**20),
                      "ndim": (int, 1, 2**20), "elapsed": (float, 0, None), "settings": (dict, None, None),
                      "names": (list, None, None)}, path)
    if isinstance(meta["settings"], dict):  # files from before these settings existed
        meta["settings"].setdefault("jitter", 0.0)
        meta["settings"].setdefault("first_chain", 0)
    check_meta(meta["settings"], {"metric": (str, ("diag", "dense"), None), "target_accept": (float, 0, 1),
                                  "max_tree_depth": (int, 1, 30), "n_leapfrog": (int, 1, _MAX_LEAPFROG),
                                  "jitter": (float, 0, 1), "adapt_step_size": (bool, None, None),
                                  "adapt_metric": (bool, None, None), "first_chain": (int, 0, 2**31 - 1)}, path)
    if meta["n_warmup"] + meta["n_samples"] >= 2**31 or len(meta["names"]) != meta["ndim"]:
        raise ValueError(f"{path} is corrupt: n_warmup + n_samples must be < 2**31 and names must have ndim entries")
    target = None
    if meta["target"] is not None:
        spec = meta["target"]
        target = _from_spec(spec["name"], spec["scalars"], {k: arrays[f"target_{k}"] for k in spec["arrays"]})
    try:
        r = ChainResult(
            algorithm=meta["algorithm"], seed=int(meta["seed"]), n_warmup=int(meta["n_warmup"]),
            n_samples=int(meta["n_samples"]), n_chains=int(meta["n_chains"]), ndim=int(meta["ndim"]),
            settings=meta["settings"], names=meta["names"], elapsed=float(meta["elapsed"]), target=target,
            interrupted=bool(meta.get("interrupted", False)),
            state={k: np.ascontiguousarray(arrays[f"state_{k}"]) for k in _STATE},
            **{k: np.ascontiguousarray(arrays[k]) for k in _TRACE},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is corrupt: {exc}") from None
    _check_shapes(r, os.fspath(path))
    return r


def _check_shapes(r: ChainResult, path: str) -> None:
    n, d, total = r.n_chains, r.ndim, r.n_warmup + r.n_samples
    msize = (d, d) if r.settings["metric"] == "dense" else (d,)
    want = {"x": (n, d), "lp": (n,), "grad": (n, d), "adapt": (n, _core.mcmc.ADAPT_SIZE), "metric": (n, *msize),
            "w_mean": (n, d), "w_m2": (n, *msize), "iteration": (n,)}
    bad = [k for k, shape in want.items() if r.state[k].shape != shape]
    bad += [k for k in _TRACE if getattr(r, k).shape != ((n, total, d) if k == "draws" else (n, total))]
    if bad:
        raise ValueError(f"{path} is corrupt: wrong shapes for {', '.join(bad)}")
    dtypes = {**{k: np.float64 for k in _STATE}, "iteration": np.int64, "draws": np.float64,
              "trace_lp": np.float64, "accept": np.float64, "step_size": np.float64, "energy": np.float64,
              "n_steps": np.int32, "tree_depth": np.int32, "divergent": np.int8}
    bad = [k for k, t in dtypes.items() if (r.state[k] if k in r.state else getattr(r, k)).dtype != t]
    if bad:
        raise ValueError(f"{path} is corrupt: wrong dtypes for {', '.join(bad)}")
    it = r.state["iteration"]
    if np.any(it < 0) or np.any(it > total):
        raise ValueError(f"{path} is corrupt: the chains' iteration counters {it.tolist()} are not in [0, {total}]")


def _config(r: ChainResult):
    cfg = _core.mcmc.ChainConfig()
    s = r.settings
    cfg.algorithm = _ALGORITHMS[r.algorithm]
    cfg.ndim = r.ndim
    cfg.dense_metric = s["metric"] == "dense"
    cfg.adapt_step_size = s["adapt_step_size"]
    cfg.adapt_metric = s["adapt_metric"]
    cfg.target_accept = s["target_accept"]
    cfg.max_tree_depth = s["max_tree_depth"]
    cfg.n_leapfrog = s["n_leapfrog"]
    cfg.step_jitter = s.get("jitter", 0.0)
    cfg.n_warmup = r.n_warmup
    cfg.seed = r.seed
    return cfg


def _core_target(target: Any, ndim: int | None, gradient: bool):
    """(core target, ndim, Target or None) for a built-in target or a Python function."""
    if isinstance(target, Target):
        if ndim is not None and ndim != target.ndim:
            raise ValueError(f"ndim={ndim} but the target has {target.ndim} parameters")
        return target._core_target, target.ndim, target
    if not callable(target):
        raise TypeError(f"log_prob must be a built-in target or a callable, got {type(target).__name__}")
    if ndim is None:
        raise ValueError("ndim is required with a Python log_prob function")
    ndim = int(check_scalar(ndim, "ndim", numbers.Integral, min_val=1))
    if gradient:
        def lp_only(x):
            return _checked(target(x), ndim, gradient=True)[0]

        def lp_grad(x):
            return _checked(target(x), ndim, gradient=True)

        return _core.mcmc.callback_target(ndim, lp_only, lp_grad), ndim, None

    def lp(x):
        return _checked(target(x), ndim, gradient=False)

    return _core.mcmc.callback_target(ndim, lp, None), ndim, None


def _checked(value: Any, ndim: int, gradient: bool):
    if gradient:
        if not (isinstance(value, tuple) and len(value) == 2):
            raise ValueError("log_prob must return (log p(x), gradient) for HMC and NUTS")
        lp, g = value
        g = np.ascontiguousarray(g, dtype=np.float64)
        if g.shape != (ndim,):
            raise ValueError(f"the gradient must have shape ({ndim},), got {g.shape}")
        return float(lp), g
    return float(value)


def _initial_points(x0, n_chains, ndim, seed, core_target, first_chain=0) -> np.ndarray:
    if x0 is not None:
        x = as_float_array(x0, "x0", ndim=np.ndim(x0))
        if x.shape == (ndim,):
            x = np.tile(x, (n_chains, 1))
        if x.shape != (n_chains, ndim):
            raise ValueError(f"x0 must have shape ({ndim},) or (n_chains, ndim) = ({n_chains}, {ndim}), got {x.shape}")
        return np.array(x, dtype=np.float64, order="C", copy=True)  # the kernel writes to it
    # Stan's default: uniform in (-2, 2), redrawn (up to 100 times) where the density is zero.
    x = np.empty((n_chains, ndim))
    for c in range(n_chains):
        for attempt in range(100):
            x[c] = np.random.default_rng([seed % 2**63, first_chain + c, attempt]).uniform(-2, 2, ndim)
            if np.isfinite(core_target.log_prob(x[c], 1)):
                break
    return x


def _sample(
    algorithm: str, log_prob: Any, n_samples: int, *, n_warmup: int, n_chains: int, x0, metric: str,
    target_accept: float, max_tree_depth: int, n_leapfrog: int, jitter: float, step_size: float | None,
    adapt_step_size: bool,
    adapt_metric: bool, seed, progress: bool, n_threads, checkpoint, checkpoint_every, ndim, names,
    client: Any = None, first_chain: int = 0,
) -> ChainResult:
    n_samples = int(check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1))
    n_warmup = int(check_scalar(n_warmup, "n_warmup", numbers.Integral, min_val=0))
    n_chains = int(check_scalar(n_chains, "n_chains", numbers.Integral, min_val=1))
    if metric not in ("diag", "dense"):
        raise ValueError(f"metric must be 'diag' or 'dense', got {metric!r}")
    target_accept = float(check_scalar(target_accept, "target_accept", numbers.Real, min_val=0, max_val=1,
                                       include_min=False, include_max=False))
    max_tree_depth = int(check_scalar(max_tree_depth, "max_tree_depth", numbers.Integral, min_val=1, max_val=30))
    n_leapfrog = int(check_scalar(n_leapfrog, "n_leapfrog", numbers.Integral, min_val=1, max_val=_MAX_LEAPFROG))
    jitter = float(check_scalar(jitter, "jitter", numbers.Real, min_val=0, max_val=1, include_max=False))
    if step_size is not None:
        step_size = float(check_scalar(step_size, "step_size", numbers.Real, min_val=0, include_min=False))
    core_target, ndim, target = _core_target(log_prob, ndim, gradient=algorithm != "metropolis")
    seed = _seed.resolve(seed)
    if names is None:
        names = target.param_names if target is not None else [f"x[{i}]" for i in range(ndim)]
    elif len(names) != ndim:
        raise ValueError(f"names has {len(names)} entries for {ndim} parameters")
    total = n_warmup + n_samples
    msize = (ndim, ndim) if metric == "dense" else (ndim,)
    check_memory(8.0 * n_chains * (total * (ndim + 7) + 3 * int(np.prod(msize)) + 4 * ndim),
                 f"n_chains={n_chains}, n_warmup + n_samples={total}, ndim={ndim}")
    x_start = _initial_points(x0, n_chains, ndim, seed, core_target, first_chain)
    if client is not None:
        if checkpoint is not None:
            raise ValueError("checkpoint cannot be combined with client (each chain runs on its own worker)")
        kwargs = dict(algorithm=algorithm, log_prob=log_prob, n_samples=n_samples, n_warmup=n_warmup, metric=metric,
                      target_accept=target_accept, max_tree_depth=max_tree_depth, n_leapfrog=n_leapfrog,
                      jitter=jitter, step_size=step_size, adapt_step_size=adapt_step_size,
                      adapt_metric=adapt_metric, seed=seed, ndim=ndim, names=names)
        units = [(c, x_start[c]) for c in range(n_chains)]
        parts = map_units(functools.partial(_one_chain, kwargs), units, client=client, progress=progress,
                          label=f"{algorithm} chains")
        return _merge(parts)
    state = {
        "x": x_start,
        "lp": np.zeros(n_chains),
        "grad": np.zeros((n_chains, ndim)),
        "adapt": np.zeros((n_chains, _core.mcmc.ADAPT_SIZE)),
        "metric": np.tile(np.eye(ndim) if metric == "dense" else np.ones(ndim), (n_chains, *([1] * len(msize)))),
        "w_mean": np.zeros((n_chains, ndim)),
        "w_m2": np.zeros((n_chains, *msize)),
        "iteration": np.zeros(n_chains, dtype=np.int64),
    }
    r = ChainResult(
        algorithm=algorithm, seed=seed, n_warmup=n_warmup, n_samples=n_samples, n_chains=n_chains, ndim=ndim,
        settings={"metric": metric, "target_accept": target_accept, "max_tree_depth": max_tree_depth,
                  "n_leapfrog": n_leapfrog, "jitter": jitter, "adapt_step_size": bool(adapt_step_size),
                  "adapt_metric": bool(adapt_metric), "first_chain": int(first_chain)},
        names=list(names),
        draws=np.full((n_chains, total, ndim), np.nan), trace_lp=np.full((n_chains, total), np.nan),
        accept=np.full((n_chains, total), np.nan), step_size=np.full((n_chains, total), np.nan),
        energy=np.full((n_chains, total), np.nan), n_steps=np.zeros((n_chains, total), dtype=np.int32),
        tree_depth=np.zeros((n_chains, total), dtype=np.int32), divergent=np.zeros((n_chains, total), dtype=np.int8),
        state=state, target=target,
    )
    _core.mcmc.init_chains(_config(r), *(state[k] for k in _STATE), -1.0 if step_size is None else step_size,
                           core_target)
    return _run(r, core_target, progress=progress, n_threads=n_threads, checkpoint=checkpoint,
                checkpoint_every=checkpoint_every)


def _one_chain(kwargs: dict, unit: tuple[int, np.ndarray], n_threads: int | None = None) -> ChainResult:
    """Chain `c` alone (a Dask task): the same numbers as chain c of a local run."""
    c, x0 = unit
    return _sample(n_chains=1, x0=x0[None, :], first_chain=c, progress=False, n_threads=n_threads, checkpoint=None,
                   checkpoint_every=None, **kwargs)


def _merge(parts: list[ChainResult]) -> ChainResult:
    first = parts[0]
    cat = {k: np.concatenate([getattr(p, k) for p in parts]) for k in _TRACE}
    state = {k: np.concatenate([p.state[k] for p in parts]) for k in _STATE}
    settings = dict(first.settings, first_chain=0)
    return dataclasses.replace(first, n_chains=sum(p.n_chains for p in parts), state=state, settings=settings,
                               elapsed=max(p.elapsed for p in parts), **cat)


def _run(r: ChainResult, core_target, *, progress, n_threads, checkpoint, checkpoint_every) -> ChainResult:
    cfg = _config(r)
    nt = _threads.resolve(n_threads)
    started = time.perf_counter()
    elapsed0 = r.elapsed

    def advance(n: int) -> None:
        _core.mcmc.run_chains(cfg, *(r.state[k] for k in _STATE), *(getattr(r, k) for k in _TRACE),
                              r.settings.get("first_chain", 0), r.iterations_done + n, core_target, nt)

    def commit(write: bool, interrupted: bool) -> None:
        r.interrupted = interrupted
        r.elapsed = elapsed0 + time.perf_counter() - started
        if write:
            r.save(checkpoint)

    def status() -> str:
        phase = "warmup" if r.iterations_done <= r.n_warmup else "sampling"
        return f"{phase}, step size {np.exp(r.state['adapt'][:, 0]).mean():.3g}"

    run_chunks(
        done=lambda: r.iterations_done, total=r.n_warmup + r.n_samples, advance=advance, commit=commit,
        label=f"{r.algorithm} ({r.n_chains} chains)", unit="iterations", progress=progress,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, status=status, first_chunk=5,
        resume_hint=f"mlsci_fast.mcmc.resume({os.fspath(checkpoint)!r})" if checkpoint is not None else None,
        warn_stacklevel=5)
    return r


_COMMON_DOC = """
    n_warmup : int
        Warmup (adaptation) iterations per chain; their draws are kept but not in `samples()`.
    n_chains : int
        Independent chains, run in parallel (one per thread).
    x0 : array, shape (ndim,) or (n_chains, ndim), optional
        Starting points; by default uniform in (-2, 2) per chain (Stan's default), redrawn where
        the density is zero.
    metric : {"diag", "dense"}
        The adapted inverse metric: a diagonal, or a full covariance (best for correlated
        posteriors of modest dimension).
    seed : int or None
        None draws fresh entropy (recorded on the result).
    progress : bool
        A progress line on stderr.
    n_threads : int, optional
        Threads for built-in targets (Python functions run on one thread).
    checkpoint : path, optional
        Save the run atomically every `checkpoint_every` iterations (default about once a
        minute), at the end and when interrupted; `mcmc.resume(path)` continues it bit for bit.
    ndim : int, optional
        Required with a Python function.
    names : list of str, optional
        Parameter names (default: the target's).
    client : None, "local", scheduler address or dask.distributed.Client
        Run each chain as a Dask task (see `mlsci_fast.distributed`): the same numbers as a
        local run. A Python log_prob must be picklable by cloudpickle.

    Returns
    -------
    ChainResult
"""


def _common_doc(f):
    """Append the parameters the three samplers share (an expression after the docstring would
    leave the function without one: Python keeps only a plain literal as ``__doc__``)."""
    f.__doc__ = f.__doc__.rstrip() + "\n" + _COMMON_DOC
    return f


@_common_doc
def nuts(
    log_prob: Target | Callable[[np.ndarray], tuple[float, np.ndarray]],
    n_samples: int = 1000,
    *,
    n_warmup: int = 1000,
    n_chains: int = 4,
    x0: ArrayLike | None = None,
    metric: str = "diag",
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    step_size: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    n_threads: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    ndim: int | None = None,
    names: list[str] | None = None,
    client: Any = None,
) -> ChainResult:
    """The No-U-Turn sampler (multinomial, with Stan's warmup), `n_chains` chains in parallel.

    Parameters
    ----------
    log_prob : Target or callable
        A built-in target, or a Python function x -> (log p(x), gradient).
    n_samples : int
        Draws per chain after warmup.
    target_accept : float
        The mean acceptance statistic the step size is tuned toward (raise it, e.g. to 0.95,
        when there are divergences).
    max_tree_depth : int
        At most 2**max_tree_depth leapfrog steps per iteration.
    step_size : float, optional
        Initial step size (default: found by Stan's heuristic).
    """
    return _sample("nuts", log_prob, n_samples, n_warmup=n_warmup, n_chains=n_chains, x0=x0, metric=metric,
                   target_accept=target_accept, max_tree_depth=max_tree_depth, n_leapfrog=1, jitter=0.0,
                   step_size=step_size,
                   adapt_step_size=True, adapt_metric=True, seed=seed, progress=progress, n_threads=n_threads,
                   checkpoint=checkpoint, checkpoint_every=checkpoint_every, ndim=ndim, names=names,
                   client=client)


@_common_doc
def hmc(
    log_prob: Target | Callable[[np.ndarray], tuple[float, np.ndarray]],
    n_samples: int = 1000,
    *,
    n_leapfrog: int = 20,
    jitter: float = 0.2,
    n_warmup: int = 1000,
    n_chains: int = 4,
    x0: ArrayLike | None = None,
    metric: str = "diag",
    target_accept: float = 0.8,
    step_size: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    n_threads: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    ndim: int | None = None,
    names: list[str] | None = None,
    client: Any = None,
) -> ChainResult:
    """Hamiltonian Monte Carlo with `n_leapfrog` leapfrog steps per iteration (Neal 2011).

    Step size and metric are adapted during warmup as for `nuts`.

    Parameters
    ----------
    log_prob : Target or callable
        A built-in target, or a Python function x -> (log p(x), gradient).
    n_samples : int
        Draws per chain after warmup.
    n_leapfrog : int
        Leapfrog steps per iteration (the path length is n_leapfrog * step size), at most 65,536
        (NUTS's default tree depth of 10 stops at 1,023; an iteration cannot be interrupted).
    jitter : float
        Each iteration's step size is step_size * exp(jitter * u), u uniform in (-1, 1), so a
        fixed path length cannot resonate with the target (Neal 2011); 0 turns it off.
    target_accept : float
        The mean acceptance probability the step size is tuned toward.
    step_size : float, optional
        Initial step size (default: found by Stan's heuristic).
    """
    return _sample("hmc", log_prob, n_samples, n_warmup=n_warmup, n_chains=n_chains, x0=x0, metric=metric,
                   target_accept=target_accept, max_tree_depth=10, n_leapfrog=n_leapfrog, jitter=jitter,
                   step_size=step_size,
                   adapt_step_size=True, adapt_metric=True, seed=seed, progress=progress, n_threads=n_threads,
                   checkpoint=checkpoint, checkpoint_every=checkpoint_every, ndim=ndim, names=names,
                   client=client)


@_common_doc
def metropolis(
    log_prob: Target | Callable[[np.ndarray], float],
    n_samples: int = 10000,
    *,
    n_warmup: int = 5000,
    n_chains: int = 4,
    x0: ArrayLike | None = None,
    metric: str = "dense",
    target_accept: float = 0.234,
    step_size: float | None = None,
    adapt: bool = True,
    seed: int | None = None,
    progress: bool = False,
    n_threads: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    ndim: int | None = None,
    names: list[str] | None = None,
    client: Any = None,
) -> ChainResult:
    """Random-walk Metropolis with a Gaussian proposal adapted during warmup only.

    The proposal is N(x, step_size^2 C): C is estimated from warmup draws (the `metric`
    windows, as for `nuts`) and the scale is tuned toward `target_accept` (0.234 is optimal for
    Gaussian-like targets in many dimensions; Roberts, Gelman & Gilks 1997). After warmup the
    proposal is fixed, so the chain is a valid Markov chain.

    Parameters
    ----------
    log_prob : Target or callable
        A built-in target, or a Python function x -> log p(x).
    n_samples : int
        Draws per chain after warmup.
    step_size : float, optional
        Initial proposal scale (default 2.38 / sqrt(ndim)).
    adapt : bool
        False: keep `step_size` and the identity proposal covariance throughout.
    """
    return _sample("metropolis", log_prob, n_samples, n_warmup=n_warmup, n_chains=n_chains, x0=x0, metric=metric,
                   target_accept=target_accept, max_tree_depth=10, n_leapfrog=1, jitter=0.0, step_size=step_size,
                   adapt_step_size=adapt, adapt_metric=adapt, seed=seed, progress=progress, n_threads=n_threads,
                   checkpoint=checkpoint, checkpoint_every=checkpoint_every, ndim=ndim, names=names,
                   client=client)


def resume(
    checkpoint: str | os.PathLike,
    log_prob: Any = None,
    *,
    progress: bool = False,
    n_threads: int | None = None,
    checkpoint_every: int | None = None,
) -> ChainResult:
    """Finish a run from its checkpoint; equals the uninterrupted run, bit for bit.

    A built-in target is restored from the file; a Python log_prob must be passed again.
    """
    r = load(checkpoint)
    if log_prob is None:
        if r.target is None:
            raise ValueError(f"{checkpoint} was written with a Python log_prob: pass it again")
        log_prob = r.target
    core_target, _, target = _core_target(log_prob, r.ndim, gradient=r.algorithm != "metropolis")
    r.target = target
    return _run(r, core_target, progress=progress, n_threads=n_threads, checkpoint=checkpoint,
                checkpoint_every=checkpoint_every)
