"""MCMC diagnostics: autocorrelation times, split-R-hat, bulk and tail effective sample sizes.

- `integrated_time`: the integrated autocorrelation time of an ensemble chain with Sokal's
  automatic window, averaged over walkers as in emcee (Foreman-Mackey et al. 2013; the
  walker-averaged estimator follows Goodman & Weare 2010).
- `split_rhat`, `ess_bulk`, `ess_tail`: the rank-normalised diagnostics of Vehtari, Gelman,
  Simpson, Carpenter & Bürkner (2021), "Rank-normalization, folding, and localization: an improved
  R-hat", Bayesian Analysis 16(2), for arrays of shape (n_chains, n_draws).
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri
from scipy.stats import rankdata

__all__ = [
    "AutocorrError",
    "autocorr_function",
    "ess",
    "ess_bulk",
    "ess_tail",
    "integrated_time",
    "split_rhat",
    "summary",
    "to_arviz",
]


class AutocorrError(Exception):
    """The chain is too short to trust the autocorrelation-time estimate; `.tau` holds it."""

    def __init__(self, tau: np.ndarray, msg: str):
        super().__init__(msg)
        self.tau = tau


def autocorr_function(x: ArrayLike) -> np.ndarray:
    """The normalised autocorrelation function of a 1-D series (FFT, O(n log n))."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {x.shape}")
    n = len(x)
    if n == 0:
        raise ValueError("x must not be empty")
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x - x.mean(), n=size)
    acf = np.fft.irfft(f * np.conj(f), n=size)[:n]
    if acf[0] <= 0:
        return np.ones(n)  # a constant series: perfectly correlated (a stuck walker)
    return acf / acf[0]


def _auto_window(taus: np.ndarray, c: float) -> int:
    below = np.arange(len(taus)) < c * taus
    return int(np.argmin(below)) if not below.all() else len(taus) - 1


def integrated_time(x: ArrayLike, c: float = 5.0, tol: float = 50.0, quiet: bool = False) -> np.ndarray:
    """Integrated autocorrelation time of each parameter, in steps (emcee's estimator).

    Parameters
    ----------
    x : array-like, shape (n_steps,), (n_steps, n_walkers) or (n_steps, n_walkers, ndim)
    c : float
        Sokal's window constant: the sum runs to the smallest lag M with M >= c tau(M).
    tol : float
        The chain must be longer than tol * tau for a reliable estimate.
    quiet : bool
        Warn instead of raising AutocorrError when the chain is too short.
    """
    for name, value in (("c", c), ("tol", tol)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (np.isfinite(c) and c > 0):
        raise ValueError(f"c must be a positive finite number, got {c}")
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol}")
    x = _real(x, "x")
    if x.ndim == 1:
        x = x[:, None, None]
    elif x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(f"x must have shape (n_steps[, n_walkers[, ndim]]), got {x.shape}")
    n_t, n_w, n_d = x.shape
    tau = np.empty(n_d)
    for d in range(n_d):
        f = np.zeros(n_t)
        for k in range(n_w):
            f += autocorr_function(x[:, k, d])
        taus = 2.0 * np.cumsum(f / n_w) - 1.0
        tau[d] = taus[_auto_window(taus, c)]
    too_short = tol * tau > n_t
    if np.any(too_short):
        msg = (
            f"the chain is shorter than {tol:g} autocorrelation times for {int(too_short.sum())} parameter(s) "
            f"(N/{tol:g} = {n_t / tol:.1f}; tau: {np.array2string(tau, precision=1)}): run it longer before trusting "
            "tau"
        )
        if not quiet:
            raise AutocorrError(tau, msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=2)
    return tau


# -- Vehtari et al. (2021) ------------------------------------------------------------------


def _real(x: ArrayLike, name: str) -> np.ndarray:
    """x as float64; complex input is refused (casting would drop the imaginary part)."""
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got complex values")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _invalid(x: np.ndarray) -> bool:
    """NaN draws: the diagnostics are then NaN, as ArviZ's are (infinite draws still have ranks)."""
    return bool(np.isnan(x).any())


def _chains(x: ArrayLike, name: str = "x") -> np.ndarray:
    x = _real(x, name)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n_chains, n_draws), got {x.shape}")
    if x.shape[1] < 4:
        raise ValueError(f"{name} needs at least 4 draws per chain, got {x.shape[1]}")
    return x


def _split(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half :]], axis=0)


def _rank_normalize(x: np.ndarray) -> np.ndarray:
    r = rankdata(x, method="average").reshape(x.shape)
    return ndtri((r - 0.375) / (x.size + 0.25))


def _rhat(x: np.ndarray) -> float:
    n = x.shape[1]
    w = np.mean(np.var(x, axis=1, ddof=1))
    b = n * np.var(np.mean(x, axis=1), ddof=1)
    if w == 0:
        return float("nan")
    return float(np.sqrt(((n - 1) / n * w + b / n) / w))


def ess(x: ArrayLike) -> float:
    """Effective sample size of chains x (n_chains, n_draws), with Geyer's initial monotone
    sequence (no splitting or rank normalisation: see ess_bulk for the robust version)."""
    x = _chains(x)
    m, n = x.shape
    if _invalid(x) or np.all(x == x.flat[0]):
        return float("nan")
    size = 1 << (2 * n - 1).bit_length()
    centred = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n] / n
    mean_acov = acov.mean(axis=0)
    mean_var = mean_acov[0] * n / (n - 1)
    var_plus = mean_var * (n - 1) / n
    if m > 1:
        var_plus += np.var(x.mean(axis=1), ddof=1)
    rho = np.zeros(n)
    rho[0] = 1.0
    even, odd = 1.0, 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[1] = odd
    t = 1
    while t < n - 3 and even + odd > 0:
        even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    # Geyer's initial monotone sequence: pair sums may not increase.
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    total = m * n
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1.0 / np.log10(total))
    return float(total / tau)


def split_rhat(x: ArrayLike) -> float:
    """Rank-normalised split-R-hat (max of the bulk and folded-tail versions); < 1.01 is good."""
    x = _chains(x)
    if _invalid(x):
        return float("nan")
    s = _split(x)
    bulk = _rhat(_rank_normalize(s))
    folded = _rhat(_rank_normalize(_split(np.abs(x - np.median(x)))))
    return float(max(bulk, folded))


def ess_bulk(x: ArrayLike) -> float:
    """Bulk effective sample size: ESS of the rank-normalised split chains."""
    x = _chains(x)
    return float("nan") if _invalid(x) else ess(_rank_normalize(_split(x)))


def ess_tail(x: ArrayLike, prob: tuple[float, float] = (0.05, 0.95)) -> float:
    """Tail effective sample size: the smaller ESS of the indicators x <= q5% and x <= q95%."""
    x = _chains(x)
    if _invalid(x):
        return float("nan")
    lo, hi = np.quantile(x, prob)
    return float(min(ess(_split((x <= lo).astype(np.float64))), ess(_split((x <= hi).astype(np.float64)))))


def summary(samples: ArrayLike, names: list[str] | None = None) -> str:
    """A table of mean, sd, 5/50/95% quantiles, bulk/tail ESS and split-R-hat per parameter.

    samples : array of shape (n_chains, n_draws, ndim) (walkers count as chains).
    """
    x = _real(samples, "samples")
    if x.ndim != 3:
        raise ValueError(f"samples must have shape (n_chains, n_draws, ndim), got {x.shape}")
    if names is not None and len(names) != x.shape[2]:
        raise ValueError(f"names has {len(names)} entries but samples has {x.shape[2]} parameters")
    names = list(names) if names is not None else [f"x[{i}]" for i in range(x.shape[2])]
    width = max(8, *(len(n) for n in names))
    head = (f"{'':<{width}} {'mean':>10} {'sd':>10} {'5%':>10} {'50%':>10} {'95%':>10} "
            f"{'ess_bulk':>9} {'ess_tail':>9} {'r_hat':>6}")
    lines = [head]
    for i, name in enumerate(names):
        v = x[:, :, i]
        q = np.quantile(v, (0.05, 0.5, 0.95))
        lines.append(
            f"{name:<{width}} {v.mean():>10.4g} {v.std(ddof=1):>10.4g} {q[0]:>10.4g} {q[1]:>10.4g} {q[2]:>10.4g} "
            f"{ess_bulk(v):>9.0f} {ess_tail(v):>9.0f} {split_rhat(v):>6.3f}"
        )
    return "\n".join(lines)


def to_arviz(chain: np.ndarray, log_prob: np.ndarray, names: list[str]):
    """An ArviZ InferenceData from a chain (n_steps, n_walkers, ndim): walkers become chains."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # ArviZ announces its refactor on import
            import arviz as az
    except ImportError:
        raise ImportError("to_arviz needs ArviZ: pip install arviz (or mlsci_fast[all])") from None
    chain = np.asarray(chain)
    posterior = {name: np.ascontiguousarray(chain[:, :, i].T) for i, name in enumerate(names)}
    return az.from_dict(posterior=posterior, sample_stats={"lp": np.ascontiguousarray(np.asarray(log_prob).T)})
