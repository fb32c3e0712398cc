"""The Ising model: fast, reproducible Monte Carlo on square and cubic lattices, and exact results.

``simulate`` runs checkerboard Metropolis or heat-bath sweeps in C++ on all threads. Every random
number is a pure function of the seed, the sweep and a fixed block of sites (a site, a row, a
run of rows; never the thread that draws it), so a run gives bitwise the same lattice and time
series on 1 or 64 threads, and a run resumed from a checkpoint equals one that never stopped.
Long runs go in chunks: a progress line, atomic checkpoints, and Ctrl-C stops cleanly and
returns what was done.

The exact 2-D results (Onsager 1944; Yang 1952) and brute-force enumeration of small lattices are
here too, to check simulations against.

Units: k_B = 1, energies per spin, E = -J sum_<ij> s_i s_j - h sum_i s_i over nearest neighbours
with periodic boundaries.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _plotting, _run, _seed, _threads
from ._io import atomic_savez, check_meta, load_npz
from ._progress import Progress
from ._validation import check_memory, check_scalar
from .mcmc import diagnostics as _diagnostics

__all__ = [
    "IsingResult",
    "ScanResult",
    "configuration_observables",
    "configurations",
    "critical_temperature",
    "exact_enumeration",
    "load",
    "onsager_energy",
    "onsager_magnetization",
    "onsager_specific_heat",
    "parallel_tempering",
    "TemperingResult",
    "resume",
    "simulate",
    "temperature_scan",
]

ALGORITHMS = ("metropolis", "heatbath", "wolff", "swendsen-wang", "multispin")
_CLUSTER = ("wolff", "swendsen-wang")


def _check_algorithm(algorithm, L: int, dim, J, h) -> None:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if algorithm in _CLUSTER and (h != 0 or not J > 0):
        raise ValueError(f"algorithm={algorithm!r} needs h = 0 and J > 0, got h={h!r}, J={J!r}")
    if algorithm == "multispin" and dim != 2:
        raise ValueError(f"algorithm='multispin' is 2-D only, got dim={dim!r}; use 'metropolis' in 3-D")
    if algorithm == "multispin" and L % 128:
        raise ValueError(
            f"algorithm='multispin' needs L a multiple of 128 (64 strips of an even number of rows), got L={L}; "
            "use 'metropolis' for other sizes"
        )


_FORMAT = "mlsci_fast.ising/1"
_START_STEP = 2**32 - 1  # the random-number step reserved for the random initial lattice


# -- exact results ----------------------------------------------------------------------------


def critical_temperature(J: float = 1.0) -> float:
    """T_c = 2 J / ln(1 + sqrt 2) of the infinite square lattice (about 2.269 J)."""
    return 2.0 * float(check_scalar(J, "J", numbers.Real)) / math.log1p(math.sqrt(2.0))


def _beta_k(T: ArrayLike, J: float) -> tuple[np.ndarray, np.ndarray]:
    if np.iscomplexobj(T):
        raise ValueError("T must be real")
    T = np.asarray(T, dtype=np.float64)
    if np.any(~np.isfinite(T)) or np.any(T <= 0):
        raise ValueError("T must be finite and > 0")
    if isinstance(J, bool) or not isinstance(J, (int, float, np.integer, np.floating)) or not np.isfinite(J):
        raise ValueError(f"J must be a finite real number, got {J!r}")
    K = J / T  # beta J
    return T, K


def _modulus(K: np.ndarray) -> np.ndarray:
    """k^2 with k = 2 sinh(2K) / cosh^2(2K); k -> 1 at T_c, where K(k) diverges only
    logarithmically against a linearly vanishing factor: keep k^2 just below 1."""
    k = 2.0 * np.sinh(2 * K) / np.cosh(2 * K) ** 2
    return np.minimum(k * k, np.nextafter(1.0, 0.0))


def onsager_energy(T: ArrayLike, J: float = 1.0) -> np.ndarray:
    """Energy per spin of the infinite square lattice at zero field (Onsager 1944)."""
    from scipy.special import ellipk

    _, K = _beta_k(T, J)
    t2 = np.tanh(2 * K) ** 2
    return -J / np.tanh(2 * K) * (1.0 + (2.0 / np.pi) * (2.0 * t2 - 1.0) * ellipk(_modulus(K)))


def onsager_magnetization(T: ArrayLike, J: float = 1.0) -> np.ndarray:
    """Spontaneous magnetisation per spin of the infinite square lattice (Yang 1952); 0 above T_c."""
    T, K = _beta_k(T, J)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = (1.0 - np.sinh(2 * K) ** -4) ** 0.125
    return np.where(T < critical_temperature(J), m, 0.0)


def onsager_specific_heat(T: ArrayLike, J: float = 1.0) -> np.ndarray:
    """Specific heat per spin of the infinite square lattice at zero field (Onsager 1944)."""
    from scipy.special import ellipe, ellipk

    _, K = _beta_k(T, J)
    t2 = np.tanh(2 * K) ** 2
    m = _modulus(K)
    Kk, Ek = ellipk(m), ellipe(m)
    return (4.0 / np.pi) * (K / np.tanh(2 * K)) ** 2 * (
        Kk - Ek - (1.0 - t2) * (np.pi / 2.0 + (2.0 * t2 - 1.0) * Kk)
    )


def exact_enumeration(L: int, T: float, J: float = 1.0, h: float = 0.0) -> dict[str, float]:
    """Exact thermal averages of a periodic L x L lattice by summing over all 2^(L^2) states.

    For checking simulations on small lattices (L <= 4 is instant; L = 5 takes about ten
    seconds). The states are streamed in blocks into a histogram of (bond sum, magnetisation), so
    memory stays at a few MB whatever L.

    Returns
    -------
    dict with 'energy' (<E>/N), 'abs_magnetization' (<|M|>/N), 'magnetization' (<M>/N),
    'm2' (<M^2>/N^2), 'm4', 'e2' (<E^2>/N^2), 'specific_heat' (per spin) and
    'susceptibility' (of |M|, per spin), as `IsingResult.summary` defines them.
    """
    L = int(check_scalar(L, "L", numbers.Integral, min_val=2, max_val=5))
    T = float(check_scalar(T, "T", numbers.Real, min_val=0.0, include_min=False))
    J = float(check_scalar(J, "J", numbers.Real))
    h = float(check_scalar(h, "h", numbers.Real))
    N = L * L
    counts = np.zeros((4 * N + 1) * (2 * N + 1), dtype=np.int64)  # index (bonds + 2N) * (2N + 1) + M + N
    shifts = np.arange(N, dtype=np.int64)
    block = 1 << min(N, 16)
    for first in range(0, 2**N, block):
        states = np.arange(first, first + block, dtype=np.int64)
        s = (((states[:, None] >> shifts) & 1) * 2 - 1).astype(np.int8).reshape(-1, L, L)
        bonds = (s * np.roll(s, 1, axis=1)).sum(axis=(1, 2)) + (s * np.roll(s, 1, axis=2)).sum(axis=(1, 2))
        counts += np.bincount((bonds + 2 * N) * (2 * N + 1) + s.sum(axis=(1, 2)) + N, minlength=counts.size)
    seen = np.flatnonzero(counts)
    bonds, M = np.divmod(seen, 2 * N + 1)
    bonds, M = (bonds - 2 * N).astype(np.float64), (M - N).astype(np.float64)
    E = -J * bonds - h * M
    w = counts[seen] * np.exp(-(E - E.min()) / T)
    w /= w.sum()
    e, m = E / N, M / N
    out = {
        "energy": float(w @ e),
        "abs_magnetization": float(w @ np.abs(m)),
        "magnetization": float(w @ m),
        "e2": float(w @ e**2),
        "m2": float(w @ m**2),
        "m4": float(w @ m**4),
    }
    out["specific_heat"] = N * (out["e2"] - out["energy"] ** 2) / T**2
    out["susceptibility"] = N * (out["m2"] - out["abs_magnetization"] ** 2) / T
    return out


# -- statistics -------------------------------------------------------------------------------


def _autocorr_time(x: np.ndarray, c: float = 5.0) -> float:
    """Integrated autocorrelation time with Sokal's automatic window (as emcee estimates it)."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 4 or np.var(x) == 0:
        return 1.0
    taus = 2.0 * np.cumsum(_diagnostics.autocorr_function(x)) - 1.0
    return float(max(1.0, taus[_diagnostics._auto_window(taus, c)]))


def _jackknife(series: list[np.ndarray], stat, n_blocks: int = 32) -> tuple[float, float]:
    """Value and jackknife error of stat(*series) from n_blocks contiguous blocks; the blocks are
    long compared with the autocorrelation time whenever the run is, so correlations are honoured."""
    n = len(series[0])
    value = float(stat(*series))
    if n < 2 * n_blocks:
        return value, float("nan")
    edges = np.linspace(0, n, n_blocks + 1).astype(int)
    keep = np.ones(n, dtype=bool)
    leave_out = []
    for b in range(n_blocks):
        keep[:] = True
        keep[edges[b] : edges[b + 1]] = False
        leave_out.append(stat(*[x[keep] for x in series]))
    leave_out = np.asarray(leave_out)
    err = math.sqrt((n_blocks - 1) / n_blocks * np.sum((leave_out - leave_out.mean()) ** 2))
    return value, float(err)


def _summarize(energy: np.ndarray, magnetization: np.ndarray, N: int, T: float) -> dict[str, Any]:
    """Observables per spin with jackknife errors from one temperature's series (see
    IsingResult.summary)."""
    e, m = np.asarray(energy), np.abs(np.asarray(magnetization))
    out: dict[str, Any] = {}
    out["energy"] = _jackknife([e], np.mean)
    out["abs_magnetization"] = _jackknife([m], np.mean)
    out["specific_heat"] = _jackknife([e], lambda x: N * np.var(x) / T**2)
    out["susceptibility"] = _jackknife([m], lambda x: N * (np.mean(x**2) - np.mean(x) ** 2) / T)
    out["binder"] = _jackknife([m], lambda x: 1.0 - np.mean(x**4) / (3.0 * np.mean(x**2) ** 2))
    out["tau_energy"] = _autocorr_time(e)
    out["tau_abs_magnetization"] = _autocorr_time(m)
    out["n_measurements"] = len(e)
    return out


# -- results ----------------------------------------------------------------------------------


@dataclasses.dataclass
class IsingResult:
    """A simulation's time series, final lattice and settings.

    `energy` and `magnetization` hold one value per measurement, per spin; `spins` is the final
    lattice (int8, +1/-1). `summary()` gives averages with errors; `plot()` draws the series and
    the lattice; `save()`/`load()` keep it in one .npz file.
    """

    L: int
    dim: int
    T: float
    J: float
    h: float
    algorithm: str
    seed: int
    n_sweeps: int
    n_burnin: int
    measure_every: int
    start: str
    energy: np.ndarray
    magnetization: np.ndarray
    spins: np.ndarray
    sweeps_done: int = 0
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def n_spins(self) -> int:
        return int(self.L**self.dim)

    @property
    def complete(self) -> bool:
        return self.sweeps_done >= self.n_burnin + self.n_sweeps

    def summary(self) -> dict[str, Any]:
        """Averages per spin with jackknife errors over 32 blocks of the time series.

        energy <e>; abs_magnetization <|m|>; specific_heat N (<e^2> - <e>^2) / T^2;
        susceptibility N (<m^2> - <|m|>^2) / T; binder 1 - <m^4> / (3 <m^2>^2); tau_energy and
        tau_abs_magnetization, the integrated autocorrelation times in measurements.
        """
        if len(self.energy) == 0:
            raise ValueError("no measurements yet: the run has not passed its burn-in")
        return _summarize(self.energy, self.magnetization, self.n_spins, self.T)

    def plot(self, path: str | os.PathLike | None = None, *, ax=None):
        """Energy and |magnetisation| against sweeps, and the final lattice (a slice for 3-D).

        Returns the matplotlib Figure; with `path`, also saves it there. ax: three Axes to draw
        into (the figure is then the caller's to lay out). The backend is never changed.
        """
        sweeps = self.n_burnin + self.measure_every * np.arange(1, len(self.energy) + 1)
        fig, axes, owned = _plotting.subplots(ax, 3, path=path, figsize=(13, 3.8))
        axes[0].plot(sweeps, self.energy, lw=0.7)
        axes[0].set_xlabel("sweep")
        axes[0].set_ylabel("energy per spin")
        axes[1].plot(sweeps, np.abs(self.magnetization), lw=0.7, color="tab:red")
        axes[1].set_xlabel("sweep")
        axes[1].set_ylabel("|magnetisation| per spin")
        if self.dim == 2 and self.J == 1.0 and self.h == 0.0:
            axes[0].axhline(float(onsager_energy(self.T)), color="k", ls="--", lw=1, label="Onsager, L = inf")
            axes[1].axhline(float(onsager_magnetization(self.T)), color="k", ls="--", lw=1)
            axes[0].legend(loc="best", fontsize=8)
        lattice = self.spins if self.dim == 2 else self.spins[0]
        axes[2].imshow(lattice, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
        axes[2].set_title(f"L = {self.L}, T = {self.T:g}" + (" (slice z = 0)" if self.dim == 3 else ""))
        axes[2].set_xticks([])
        axes[2].set_yticks([])
        return _plotting.finish(fig, path, owned)

    def save(self, path: str | os.PathLike) -> None:
        """Write the result (and everything needed to resume it) to one .npz file, atomically."""
        meta = {k: getattr(self, k) for k in _META_FIELDS}
        meta["format"] = _FORMAT
        meta["seed"] = str(self.seed)  # 64-bit: JSON numbers lose precision beyond 2^53
        atomic_savez(
            path,
            meta,
            energy=self.energy,
            magnetization=self.magnetization,
            spins=self.spins,
        )


_META_FIELDS = (
    "L", "dim", "T", "J", "h", "algorithm", "seed", "n_sweeps", "n_burnin", "measure_every", "start",
    "sweeps_done", "elapsed", "interrupted",
)


def load(path: str | os.PathLike) -> IsingResult | TemperingResult:
    """Read a result or checkpoint written by `IsingResult.save` or `simulate(checkpoint=...)`,
    or by `TemperingResult.save` or `parallel_tempering(checkpoint=...)`."""
    path = os.fspath(path)
    what = "Ising result or checkpoint"
    meta, data = load_npz(path, (_FORMAT, _TEMPERING_FORMAT), what)
    tempering = meta["format"] == _TEMPERING_FORMAT
    try:
        arrays = {k: data[k] for k in (_TEMPERING_ARRAYS if tempering else ("energy", "magnetization", "spins"))}
    except KeyError as exc:
        raise ValueError(f"{path} is not an mlsci_fast {what}: missing {exc}") from None
    common = {"L": (int, 2, 2**20), "dim": (int, 2, 3), "J": (float, None, None), "h": (float, None, None),
              "algorithm": (str, ALGORITHMS, None), "seed": (str, None, None), "n_burnin": (int, 0, 2**31 - 1),
              "elapsed": (float, 0, None), "interrupted": (bool, None, None)}
    if tempering:
        check_meta(meta, {**common, "n_rounds": (int, 0, 2**31 - 1), "sweeps_per_round": (int, 1, 2**31 - 1),
                          "rounds_done": (int, 0, 2**31 - 1)}, path)
        return _tempering_from(meta, arrays, path)
    check_meta(meta, {**common, "T": (float, 1e-300, None), "n_sweeps": (int, 0, 2**31 - 1),
                      "measure_every": (int, 1, 2**31 - 1), "start": (str, None, None),
                      "sweeps_done": (int, 0, 2**31 - 1)}, path)
    meta.pop("format")
    try:
        meta["seed"] = int(meta["seed"])
        result = IsingResult(**meta, **arrays)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path} is corrupt: {exc}") from None
    if result.sweeps_done > result.n_burnin + result.n_sweeps or result.n_burnin + result.n_sweeps >= 2**31:
        raise ValueError(f"{path} is corrupt: sweeps_done={result.sweeps_done} of "
                         f"n_burnin + n_sweeps = {result.n_burnin + result.n_sweeps}")
    _check_consistent(result, path)
    return result


def _check_consistent(r: IsingResult, path: str) -> None:
    shape = (r.L,) * r.dim
    expected = max(0, r.sweeps_done - r.n_burnin) // r.measure_every
    problems = []
    if r.spins.shape != shape or r.spins.dtype != np.int8 or not np.all(np.abs(r.spins) == 1):
        problems.append(f"spins must be int8 +-1 of shape {shape}")
    if len(r.energy) != expected or len(r.magnetization) != expected:
        problems.append(f"expected {expected} measurements after {r.sweeps_done} sweeps, found {len(r.energy)}")
    if r.algorithm not in ALGORITHMS:
        problems.append(f"unknown algorithm {r.algorithm!r}")
    if problems:
        raise ValueError(f"{path} is corrupt: " + "; ".join(problems))


# -- simulation -------------------------------------------------------------------------------


# The most a run needs per site while it runs: the lattice (1 byte) and a cluster algorithm's
# labels and stack (16). A random start is written in place (no temporaries).
_BYTES_PER_SITE = 17


def _initial_spins(L: int, dim: int, start, seed: int) -> np.ndarray:
    shape = (L,) * dim
    if isinstance(start, str):
        if start == "cold":
            return np.ones(shape, dtype=np.int8)
        if start == "random":
            # +1 where uniform(L**dim, seed, step=_START_STEP) < 0.5, written a byte a site in C++
            return _core.random.spins(L**dim, seed, _START_STEP, _threads.resolve(None)).reshape(shape)
        raise ValueError(f"start must be 'random', 'cold' or an array of +-1, got {start!r}")
    spins = np.asarray(start)
    if np.iscomplexobj(spins) or spins.dtype.kind not in "biuf":
        raise ValueError(f"start must be an array of real +1/-1 values, got dtype {spins.dtype}")
    if spins.shape != shape or not np.all(np.abs(spins) == 1):
        raise ValueError(f"start must be an array of +1/-1 of shape {shape}, got shape {spins.shape}")
    return np.array(spins, dtype=np.int8, order="C")  # a copy: the run must not write into the caller's array


def simulate(
    L: int,
    T: float,
    n_sweeps: int,
    *,
    dim: int = 2,
    algorithm: str = "metropolis",
    J: float = 1.0,
    h: float = 0.0,
    n_burnin: int = 0,
    measure_every: int = 1,
    start="random",
    seed: int | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    n_threads: int | None = None,
) -> IsingResult:
    """Monte Carlo simulation of the Ising model at temperature T.

    Near T_c prefer 'wolff': its autocorrelation time grows far more slowly with L than the
    local updates' (critical slowing down).

    Parameters
    ----------
    L : int
        Linear size; even (the checkerboard update needs it), >= 2. N = L^dim spins.
    T : float > 0
        Temperature (k_B = 1); T_c = 2.269 J in 2-D, about 4.5115 J in 3-D.
    n_sweeps : int >= 0
        Measured sweeps (one sweep = one update attempt per spin), after the burn-in.
    dim : {2, 3}
        Square or simple-cubic lattice, periodic boundaries.
    algorithm : {'metropolis', 'heatbath', 'wolff', 'swendsen-wang', 'multispin'}
        Checkerboard Metropolis; heat-bath (Glauber); or a cluster algorithm, which beats critical
        slowing down near T_c (needs h = 0 and J > 0): Wolff single-cluster flips, or
        Swendsen-Wang, which splits the whole lattice into clusters and flips each with
        probability 1/2 (its bond draws run on all threads). For 'wolff' one "sweep" is one
        cluster flip: near T_c a cluster holds a good fraction of the lattice, far above it only a
        few spins, so raise n_sweeps there. Metropolis acceptances are exact to the double
        p = min(1, exp(-beta dE)) (each is decided by comparing random bits with p's binary
        expansion, not a 32-bit uniform with a rounded threshold). 'multispin' is the same
        checkerboard Metropolis with 64 spins per machine word, the fastest path for large
        lattices (2-D, L a multiple of 128): the same Markov chain in law, but other random
        numbers, so other lattices.
    J, h : float
        Coupling and field.
    n_burnin : int >= 0
        Sweeps before the first measurement.
    measure_every : int >= 1
        Measure energy and magnetisation every this many sweeps.
    start : 'random', 'cold' or array of +1/-1
        Initial lattice: random (from the seed), all +1, or your own.
    seed : int or None
        None draws fresh entropy (stored on the result).
    progress : bool
        Print a progress line to stderr.
    checkpoint : path, optional
        Write the run's state to this .npz file (atomically) every `checkpoint_every` sweeps, at
        the end, and on Ctrl-C; `resume(path)` continues it bit for bit.
    checkpoint_every : int, optional
        Sweeps between checkpoints; by default about one a minute.
    n_threads : int, optional
        Threads; the result does not depend on it.

    Returns
    -------
    IsingResult
        On Ctrl-C, the part done so far, with `interrupted=True`.
    """
    L = int(check_scalar(L, "L", numbers.Integral, min_val=2))
    if L % 2:
        raise ValueError(f"L must be even (the checkerboard update needs it), got {L}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    _check_algorithm(algorithm, L, dim, J, h)
    result = IsingResult(
        L=L,
        dim=int(dim),
        T=float(check_scalar(T, "T", numbers.Real, min_val=0.0, include_min=False)),
        J=float(check_scalar(J, "J", numbers.Real)),
        h=float(check_scalar(h, "h", numbers.Real)),
        algorithm=algorithm,
        seed=_seed.resolve(seed),
        n_sweeps=int(check_scalar(n_sweeps, "n_sweeps", numbers.Integral, min_val=0)),
        n_burnin=int(check_scalar(n_burnin, "n_burnin", numbers.Integral, min_val=0)),
        measure_every=int(check_scalar(measure_every, "measure_every", numbers.Integral, min_val=1)),
        start=start if isinstance(start, str) else "array",
        energy=np.empty(0),
        magnetization=np.empty(0),
        spins=np.empty(0, dtype=np.int8),
    )
    if result.n_burnin + result.n_sweeps >= 2**31:
        raise ValueError("n_burnin + n_sweeps must be < 2**31")
    check_memory(L**result.dim * _BYTES_PER_SITE + 32 * (result.n_sweeps // result.measure_every),
                 f"L={L}, dim={dim}, n_sweeps={n_sweeps}, measure_every={measure_every}")
    result.spins = _initial_spins(L, result.dim, start, result.seed)
    return _run_simulation(result, progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           n_threads=n_threads)


def resume(checkpoint: str | os.PathLike, *, progress: bool = False, checkpoint_every: int | None = None,
           n_threads: int | None = None) -> IsingResult | TemperingResult:
    """Continue a run (`simulate` or `parallel_tempering`) from its checkpoint; the result equals
    the uninterrupted run's, bit for bit.

    The checkpoint file keeps being updated as the run goes on.
    """
    result = load(checkpoint)
    result.interrupted = False
    run = _run_tempering if isinstance(result, TemperingResult) else _run_simulation
    return run(result, progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
               n_threads=n_threads)


def _run_simulation(r: IsingResult, *, progress, checkpoint, checkpoint_every, n_threads) -> IsingResult:
    nt = _threads.resolve(n_threads)
    n_meas = r.n_sweeps // r.measure_every
    energy = np.empty(n_meas)
    magnetization = np.empty(n_meas)
    done_meas = len(r.energy)
    energy[:done_meas], magnetization[:done_meas] = r.energy, r.magnetization
    update = getattr(_core.ising.Update, r.algorithm.replace("-", "_"))
    beta = 1.0 / r.T
    started = time.perf_counter()
    elapsed0 = r.elapsed

    def advance(n: int) -> bool:
        nonlocal done_meas
        sweeps, measured, stopped = _core.ising.run_sweeps(
            r.spins, r.dim, r.J, r.h, beta, update, r.seed, 0, r.sweeps_done, n, r.measure_every,
            r.n_burnin, energy[done_meas:], magnetization[done_meas:], nt,
        )
        r.sweeps_done += sweeps
        done_meas += measured
        return stopped

    def commit(write: bool, interrupted: bool):
        r.interrupted = interrupted
        r.energy, r.magnetization = energy[:done_meas].copy(), magnetization[:done_meas].copy()
        r.elapsed = elapsed0 + time.perf_counter() - started
        if write:
            r.save(checkpoint)

    first = r.sweeps_done

    def status() -> str:
        flips = (r.sweeps_done - first) * r.n_spins
        return f"{flips / max(time.perf_counter() - started, 1e-9) / 1e9:.2f} flips/ns"

    # The first chunk is about 2e7 updates (a multi-spin sweep costs about 1/64 of a plain one),
    # later chunks about _run.CHUNK_SECONDS; the kernel sees Ctrl-C after every sweep.
    cost = max(1, r.n_spins // 64) if r.algorithm == "multispin" else r.n_spins
    _run.run_chunks(
        done=lambda: r.sweeps_done, total=r.n_burnin + r.n_sweeps, advance=advance, commit=commit,
        label=f"ising L={r.L} T={r.T:g}", unit="sweeps", progress=progress, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every, status=status, first_chunk=int(2e7 // cost),
        resume_hint=f"mlsci_fast.ising.resume({os.fspath(checkpoint)!r})" if checkpoint is not None else None,
        warn_stacklevel=4)
    return r


# -- temperature scans ------------------------------------------------------------------------

_SCAN_KEYS = ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder")


@dataclasses.dataclass(eq=False)
class ScanResult:
    """Observables against temperature: `table[name]` and `table[name + "_err"]` for name in
    energy, abs_magnetization, specific_heat, susceptibility, binder (per spin, jackknife errors),
    plus tau_energy and tau_abs_magnetization; `results` holds each run's IsingResult when kept."""

    L: int
    dim: int
    J: float
    h: float
    algorithm: str
    seed: int
    temperatures: np.ndarray
    table: dict[str, np.ndarray]
    results: list[IsingResult] | None
    elapsed: float
    interrupted: bool = False  # Ctrl-C: the temperatures finished before it only

    def plot(self, path: str | os.PathLike | None = None, *, ax=None):
        """E, |M|, C, chi and the Binder cumulant against T, with Onsager's curves in 2-D.

        Returns the Figure; with `path`, also saves it. ax: five Axes to draw into.
        """
        fig, axes, owned = _plotting.subplots(ax, 5, path=path, figsize=(18, 3.6))
        self._draw(axes)
        return _plotting.finish(fig, path, owned)

    def _draw(self, axes) -> None:
        T = self.temperatures
        labels = ("energy per spin", "|magnetisation| per spin", "specific heat", "susceptibility", "Binder cumulant")
        exact = self.dim == 2 and self.J == 1.0 and self.h == 0.0
        Tf = np.linspace(T.min(), T.max(), 400)
        for ax, key, label in zip(axes, _SCAN_KEYS, labels):
            ax.errorbar(T, self.table[key], yerr=self.table[key + "_err"], fmt="o", ms=3, label=f"L = {self.L}")
            ax.set_xlabel("T")
            ax.set_title(label, fontsize=9)
            if exact and key in ("energy", "abs_magnetization", "specific_heat"):
                f = {"energy": onsager_energy, "abs_magnetization": onsager_magnetization,
                     "specific_heat": onsager_specific_heat}[key]
                ax.plot(Tf, f(Tf), "k--", lw=1, label="Onsager, L = inf")
            if self.dim == 2:
                ax.axvline(critical_temperature(self.J), color="0.7", lw=0.8)
        axes[0].legend(fontsize=8)


def _unit_seed(seed: int, i: int) -> int:
    return int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0])


def _scan_unit(kwargs: dict, unit: tuple[int, float], n_threads: int | None = None):
    i, T = unit
    with _run.propagate_interrupts():  # Ctrl-C stops the scan, not only this temperature
        r = simulate(T=T, seed=_unit_seed(kwargs["seed"], i), n_threads=n_threads,
                     **{k: v for k, v in kwargs.items() if k not in ("seed", "keep")})
    return r.summary(), (r if kwargs["keep"] else None)


def temperature_scan(
    L: int,
    temperatures: ArrayLike,
    n_sweeps: int,
    *,
    dim: int = 2,
    algorithm: str = "metropolis",
    J: float = 1.0,
    h: float = 0.0,
    n_burnin: int = 0,
    measure_every: int = 1,
    start="random",
    seed: int | None = None,
    keep_results: bool = False,
    progress: bool = False,
    client: Any = None,
) -> ScanResult:
    """One simulation per temperature (as `simulate`), here or on a Dask cluster; a table of
    observables against T.

    Temperature i runs with a seed derived from (seed, i), so the table is the same whether
    the temperatures run here, one after another, or as Dask tasks (``client="local"``, a
    scheduler address or a `dask.distributed.Client`: see `mlsci_fast.distributed`).

    Ctrl-C stops the scan: the temperatures finished before it are returned, with
    `interrupted=True` and a RuntimeWarning.
    """
    from .distributed import map_units

    temps = np.asarray(temperatures, dtype=np.float64).reshape(-1)
    if temps.size == 0 or not np.all(np.isfinite(temps)) or np.any(temps <= 0):
        raise ValueError("temperatures must be a non-empty array of finite values > 0")
    seed = _seed.resolve(seed)
    kwargs = dict(L=L, n_sweeps=n_sweeps, dim=dim, algorithm=algorithm, J=J, h=h, n_burnin=n_burnin,
                  measure_every=measure_every, start=start, seed=seed, keep=bool(keep_results))
    # Bad arguments fail here, at once, rather than in every task.
    simulate(L, float(temps[0]), 0, dim=dim, algorithm=algorithm, J=J, h=h, measure_every=measure_every,
             start=start, seed=seed, n_threads=1)
    if int(check_scalar(n_sweeps, "n_sweeps", numbers.Integral, min_val=1)) < measure_every:
        raise ValueError(f"n_sweeps={n_sweeps} gives no measurement with measure_every={measure_every}")
    started = time.perf_counter()
    out = map_units(functools.partial(_scan_unit, kwargs), list(enumerate(temps.tolist())), client=client,
                    progress=progress, label=f"ising L={L} scan", partial=True)
    interrupted = len(out) < len(temps)
    temps = temps[:len(out)]
    table: dict[str, np.ndarray] = {}
    for key in _SCAN_KEYS:
        table[key] = np.array([s[key][0] for s, _ in out])
        table[key + "_err"] = np.array([s[key][1] for s, _ in out])
    for key in ("tau_energy", "tau_abs_magnetization"):
        table[key] = np.array([s[key] for s, _ in out])
    return ScanResult(L=int(L), dim=int(dim), J=float(J), h=float(h), algorithm=algorithm, seed=seed,
                      temperatures=temps, table=table, results=[r for _, r in out] if keep_results else None,
                      elapsed=time.perf_counter() - started, interrupted=interrupted)


# -- parallel tempering -----------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class TemperingResult:
    """A replica-exchange run: per temperature (column t of `energy` and `magnetization`, one row
    per round after the burn-in) the series of whatever configuration sat at that temperature;
    `spins[t]`, the final lattice at temperature t (`lattice_at[t]` says which of the R lattices
    it is); `swap_acceptance[t]`, the fraction of accepted swaps between temperatures t and t + 1.
    `summary()` and `plot()` give the observables against T."""

    L: int
    dim: int
    J: float
    h: float
    algorithm: str
    seed: int
    temperatures: np.ndarray
    n_rounds: int
    n_burnin: int
    sweeps_per_round: int
    energy: np.ndarray
    magnetization: np.ndarray
    spins: np.ndarray
    lattice_at: np.ndarray
    attempts: np.ndarray
    accepted: np.ndarray
    rounds_done: int = 0
    elapsed: float = 0.0
    interrupted: bool = False

    @property
    def n_spins(self) -> int:
        return int(self.L**self.dim)

    @property
    def swap_acceptance(self) -> np.ndarray:
        return self.accepted / np.maximum(self.attempts, 1)

    def summary(self) -> ScanResult:
        """The observables at every temperature as a `ScanResult` (its `table` and `plot()`)."""
        if len(self.energy) == 0:
            raise ValueError("no measurements yet: the run has not passed its burn-in")
        per_t = [_summarize(self.energy[:, t], self.magnetization[:, t], self.n_spins, float(T))
                 for t, T in enumerate(self.temperatures)]
        table: dict[str, np.ndarray] = {}
        for key in _SCAN_KEYS:
            table[key] = np.array([s[key][0] for s in per_t])
            table[key + "_err"] = np.array([s[key][1] for s in per_t])
        for key in ("tau_energy", "tau_abs_magnetization"):
            table[key] = np.array([s[key] for s in per_t])
        return ScanResult(L=self.L, dim=self.dim, J=self.J, h=self.h, algorithm=f"tempering/{self.algorithm}",
                          seed=self.seed, temperatures=self.temperatures, table=table, results=None,
                          elapsed=self.elapsed)

    def plot(self, path: str | os.PathLike | None = None, *, ax=None):
        """E, |M|, C, chi and the Binder cumulant against T (Onsager's curves in 2-D) and the swap
        acceptance between neighbouring temperatures.

        Returns the Figure; with `path`, also saves it. ax: six Axes to draw into.
        """
        fig, axes, owned = _plotting.subplots(ax, 6, path=path, figsize=(13, 7), ncols=3)
        self.summary()._draw(axes[:5])
        mid = 0.5 * (self.temperatures[1:] + self.temperatures[:-1])
        axes[5].plot(mid, self.swap_acceptance, "o-")
        axes[5].set_xlabel("T (between neighbours)")
        axes[5].set_title("swap acceptance", fontsize=9)
        axes[5].set_ylim(0, 1.05)
        return _plotting.finish(fig, path, owned)

    def save(self, path: str | os.PathLike) -> None:
        """Write the result (and everything needed to resume it) to one .npz file, atomically."""
        meta = {k: getattr(self, k) for k in _TEMPERING_META}
        meta["format"] = _TEMPERING_FORMAT
        meta["seed"] = str(self.seed)
        atomic_savez(path, meta, **{k: getattr(self, k) for k in _TEMPERING_ARRAYS})


_TEMPERING_FORMAT = "mlsci_fast.ising.TemperingResult/1"
_TEMPERING_META = ("L", "dim", "J", "h", "algorithm", "seed", "n_rounds", "n_burnin", "sweeps_per_round",
                   "rounds_done", "elapsed", "interrupted")
_TEMPERING_ARRAYS = ("temperatures", "energy", "magnetization", "spins", "lattice_at", "attempts", "accepted")


def _tempering_from(meta: dict, arrays: dict, path: str) -> TemperingResult:
    meta.pop("format")
    meta["seed"] = int(meta["seed"])
    try:
        r = TemperingResult(**meta, **arrays)
    except TypeError as exc:
        raise ValueError(f"{path} is corrupt: {exc}") from None
    R = len(r.temperatures)
    rows = max(0, r.rounds_done - r.n_burnin)
    problems = []
    t = r.temperatures
    if t.ndim != 1 or R < 2 or t.dtype.kind != "f" or not np.all(np.isfinite(t)) or np.any(t <= 0):
        problems.append("temperatures must be at least 2 finite values > 0")
    if r.lattice_at.dtype.kind not in "iu" or r.attempts.dtype.kind not in "iu" or r.accepted.dtype.kind not in "iu":
        problems.append("lattice_at, attempts and accepted must be integers")
    elif r.lattice_at.shape != (R,):
        problems.append(f"lattice_at must have {R} entries")
    if r.rounds_done > r.n_burnin + r.n_rounds or (r.n_burnin + r.n_rounds) * r.sweeps_per_round >= 2**31:
        problems.append(f"rounds_done={r.rounds_done} of n_burnin + n_rounds = {r.n_burnin + r.n_rounds}")
    if problems:
        raise ValueError(f"{path} is corrupt: " + "; ".join(problems))
    if r.spins.shape != (R,) + (r.L,) * r.dim or r.spins.dtype != np.int8 or not np.all(np.abs(r.spins) == 1):
        problems.append("spins must be int8 +-1 of shape (R, L, ...)")
    if sorted(r.lattice_at.tolist()) != list(range(R)) or r.attempts.shape != (R - 1,) or r.accepted.shape != (R - 1,):
        problems.append("the replica bookkeeping is inconsistent")
    if r.energy.shape != (rows, R) or r.magnetization.shape != (rows, R):
        problems.append(f"expected {rows} rows of measurements after {r.rounds_done} rounds")
    if r.algorithm not in ALGORITHMS:
        problems.append(f"unknown algorithm {r.algorithm!r}")
    if problems:
        raise ValueError(f"{path} is corrupt: " + "; ".join(problems))
    return r


def parallel_tempering(
    L: int,
    temperatures: ArrayLike,
    n_rounds: int,
    *,
    sweeps_per_round: int = 1,
    dim: int = 2,
    algorithm: str = "metropolis",
    J: float = 1.0,
    h: float = 0.0,
    n_burnin: int = 0,
    start="random",
    seed: int | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    n_threads: int | None = None,
) -> TemperingResult:
    """Parallel tempering (replica exchange): one lattice per temperature, swapped between
    neighbouring temperatures so that low-temperature configurations cross barriers at high T.

    Each round every lattice does `sweeps_per_round` sweeps of `algorithm` at its current
    temperature; then neighbouring temperatures (even pairs on even rounds, odd pairs on odd
    rounds) swap configurations with probability min(1, exp((1/T_t - 1/T_t+1)(E_t - E_t+1))).
    The energy and magnetisation per spin at every temperature are recorded after each round.
    Everything runs in C++; the result does not depend on the thread count, and a run split
    into chunks (as Ctrl-C and the progress line do) equals an unsplit one.

    Parameters
    ----------
    L, dim, algorithm, J, h : as in `simulate`.
    temperatures : array of R >= 2 increasing temperatures > 0
        The ladder; a geometric ladder with swap acceptance around 0.2-0.5 everywhere works well
        (`TemperingResult.swap_acceptance` reports it).
    n_rounds : int >= 0
        Measured rounds, after `n_burnin` rounds.
    start : 'random' or 'cold'
        Initial lattices (random ones differ per replica).
    seed, progress, n_threads : as in `simulate`.
    checkpoint, checkpoint_every : as in `simulate`, counted in rounds; `resume(path)` continues
        the run bit for bit.

    Returns
    -------
    TemperingResult
        On Ctrl-C, the rounds done so far, with `interrupted=True`.
    """
    L = int(check_scalar(L, "L", numbers.Integral, min_val=2))
    if L % 2:
        raise ValueError(f"L must be even (the checkerboard update needs it), got {L}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    _check_algorithm(algorithm, L, dim, J, h)
    temps = np.asarray(temperatures, dtype=np.float64).reshape(-1)
    if temps.size < 2:
        raise ValueError(f"temperatures needs at least 2 values, got {temps.size}")
    if not np.all(np.isfinite(temps)) or np.any(temps <= 0) or np.any(np.diff(temps) <= 0):
        raise ValueError("temperatures must be finite, > 0 and strictly increasing")
    if not (isinstance(start, str) and start in ("random", "cold")):
        raise ValueError(f"start must be 'random' or 'cold', got {start!r}")
    n_rounds = int(check_scalar(n_rounds, "n_rounds", numbers.Integral, min_val=0))
    n_burnin = int(check_scalar(n_burnin, "n_burnin", numbers.Integral, min_val=0))
    spr = int(check_scalar(sweeps_per_round, "sweeps_per_round", numbers.Integral, min_val=1))
    if (n_rounds + n_burnin) * spr >= 2**31:
        raise ValueError("(n_burnin + n_rounds) * sweeps_per_round must be < 2**31")
    J = float(check_scalar(J, "J", numbers.Real))
    h = float(check_scalar(h, "h", numbers.Real))
    seed = _seed.resolve(seed)
    R = temps.size
    check_memory(R * L**dim * (2 + _BYTES_PER_SITE) + 64 * R * (n_burnin + n_rounds),
                 f"{R} temperatures, L={L}, dim={dim}, n_rounds={n_rounds}")
    spins = np.stack([_initial_spins(L, dim, start, _unit_seed(seed, r)) for r in range(R)])
    result = TemperingResult(
        L=L, dim=int(dim), J=J, h=h, algorithm=algorithm, seed=seed, temperatures=temps, n_rounds=n_rounds,
        n_burnin=n_burnin, sweeps_per_round=spr, energy=np.empty((0, R)), magnetization=np.empty((0, R)),
        spins=spins, lattice_at=np.arange(R, dtype=np.int32), attempts=np.zeros(R - 1, dtype=np.int64),
        accepted=np.zeros(R - 1, dtype=np.int64),
    )
    return _run_tempering(result, progress=progress, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                          n_threads=n_threads)


def _run_tempering(r: TemperingResult, *, progress, checkpoint, checkpoint_every, n_threads) -> TemperingResult:
    nt = _threads.resolve(n_threads)
    update = getattr(_core.ising.Update, r.algorithm.replace("-", "_"))
    betas = 1.0 / r.temperatures
    R = len(r.temperatures)
    total = r.n_burnin + r.n_rounds
    energy = np.empty((total, R))
    magnetization = np.empty((total, R))
    kept = len(r.energy)
    energy[r.n_burnin:r.n_burnin + kept], magnetization[r.n_burnin:r.n_burnin + kept] = r.energy, r.magnetization
    # The kernel keeps lattices by id; results list them by temperature slot.
    lattices = np.empty_like(r.spins)
    lattices[r.lattice_at] = r.spins
    started = time.perf_counter()
    elapsed0 = r.elapsed

    def advance(n: int) -> bool:
        done, stopped = _core.ising.parallel_tempering(
            lattices, r.lattice_at, r.attempts, r.accepted, r.dim, r.J, r.h, betas, update, r.seed,
            r.rounds_done, n, r.sweeps_per_round, energy[r.rounds_done:], magnetization[r.rounds_done:], nt,
        )
        r.rounds_done += done
        return stopped

    def commit(write: bool, interrupted: bool):
        r.interrupted = interrupted
        r.energy = energy[r.n_burnin:max(r.n_burnin, r.rounds_done)].copy()
        r.magnetization = magnetization[r.n_burnin:max(r.n_burnin, r.rounds_done)].copy()
        r.spins = lattices[r.lattice_at]
        r.elapsed = elapsed0 + time.perf_counter() - started
        if write:
            r.save(checkpoint)

    _run.run_chunks(
        done=lambda: r.rounds_done, total=total, advance=advance, commit=commit,
        label=f"tempering L={r.L} R={R}", unit="rounds", progress=progress, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every, status=lambda: f"swaps {np.mean(r.swap_acceptance):.2f}",
        first_chunk=int(2e7 // (R * r.sweeps_per_round * r.n_spins)),
        resume_hint=f"mlsci_fast.ising.resume({os.fspath(checkpoint)!r})" if checkpoint is not None else None,
        warn_stacklevel=4)
    return r


# -- configurations as data (for RBMs and the RG lessons) --------------------------------------


def configurations(
    L: int,
    temperatures,
    n_per_temperature: int,
    *,
    n_burnin: int = 200,
    sweeps_between: int = 5,
    algorithm: str = "swendsen-wang",
    seed=None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Equilibrium 2-D Ising configurations, flattened to {0, 1}: training data for an RBM
    (`mlsci_fast.rbm`, which imports this as `ising_configurations`).

    One chain per temperature: `n_burnin` sweeps, then a configuration every `sweeps_between`
    sweeps (Swendsen-Wang cluster updates by default: every sweep updates the whole lattice and
    beats critical slowing down, so successive configurations are nearly independent at any T;
    Wolff's single-cluster "sweeps" flip only a few spins far above T_c).

    Returns
    -------
    X : ndarray of shape (len(temperatures) * n_per_temperature, L * L), values 0/1
        Spin up = 1, spin down = 0.
    T : ndarray of shape (len(X),)
        The temperature of each row.
    """
    temps = np.atleast_1d(np.asarray(temperatures, dtype=float))
    check_scalar(n_per_temperature, "n_per_temperature", numbers.Integral, min_val=1)
    check_scalar(sweeps_between, "sweeps_between", numbers.Integral, min_val=1)
    check_scalar(n_burnin, "n_burnin", numbers.Integral, min_val=0)
    base = _seed.resolve(seed)
    rows, labels = [], []
    with Progress(len(temps) * int(n_per_temperature), "ising", "configurations", enabled=progress) as bar:
        for t_i, T in enumerate(temps):
            r = simulate(L, float(T), max(1, n_burnin), algorithm=algorithm, seed=(base + 7 * t_i) % 2**64)
            spins = r.spins
            for k in range(int(n_per_temperature)):
                r = simulate(L, float(T), sweeps_between, algorithm=algorithm, start=spins,
                                   seed=(base + 7 * t_i + 1_000_003 * (k + 1)) % 2**64)
                spins = r.spins
                rows.append((spins.ravel() > 0).astype(np.float64))
                labels.append(T)
                bar.update(len(rows))
    return np.array(rows), np.array(labels)


def configuration_observables(X: ArrayLike, L: int, J: float = 1.0) -> dict[str, np.ndarray]:
    """Magnetisation and energy per spin of flattened L x L configurations in {0, 1} (periodic),
    e.g. an RBM's samples (`mlsci_fast.rbm` imports this as `ising_observables`).

    Returns {"m": mean spin (signed), "abs_m": |m|, "energy": E / N with E = -J sum_<ij> s_i s_j}.
    """
    S = np.asarray(X, dtype=float)
    if S.ndim != 2 or S.shape[1] != L * L:
        raise ValueError(f"X must have shape (n, L*L) = (n, {L * L}), got {S.shape}")
    s = (2 * S - 1).reshape(-1, L, L)
    m = s.mean(axis=(1, 2))
    e = -J * (s * np.roll(s, 1, axis=1) + s * np.roll(s, 1, axis=2)).sum(axis=(1, 2)) / (L * L)
    return {"m": m, "abs_m": np.abs(m), "energy": e}
