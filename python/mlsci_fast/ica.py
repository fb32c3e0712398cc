"""Independent component analysis: FastICA and the cocktail-party problem.

Several microphones in a room each record a different mixture of the same voices; ICA recovers
the voices (up to order, sign and loudness) by finding the directions in which the recordings
are least Gaussian. `FastICA` is Hyvärinen's fixed-point algorithm (Hyvärinen 1999; Hyvärinen &
Oja 2000) with scikit-learn's parameters and attributes; `make_cocktail_party` builds a
reproducible room of speech-like, music-like and noise sources, and `match_sources` pairs
recovered sources with true ones and reports how well each was recovered.

Examples
--------
>>> from mlsci_fast.ica import FastICA, make_cocktail_party, match_sources
>>> room = make_cocktail_party(duration=2.0, seed=0)
>>> S = FastICA(n_components=3, random_state=0).fit_transform(room.mixtures)
>>> match = match_sources(room.sources, S)
>>> bool(match.correlation.min() > 0.95)
True
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg
from scipy.optimize import linear_sum_assignment
from scipy.signal import lfilter
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _seed
from ._validation import check_memory, check_scalar

__all__ = ["CocktailParty", "FastICA", "SourceMatch", "make_cocktail_party", "match_sources"]


# ---- contrast functions: g (the derivative of the contrast) and the mean of g' per row ----------
def _logcosh(x, alpha=1.0):
    # in place: x is a fresh W @ X product; the mean of g^2 without a temporary
    if alpha != 1.0:
        x *= alpha
    g = np.tanh(x, out=x)
    gp_mean = alpha * (1.0 - np.einsum("ij,ij->i", g, g) / g.shape[-1])
    return g, gp_mean


def _exp(x):
    e = np.exp(-0.5 * x * x)
    return x * e, np.mean((1.0 - x * x) * e, axis=-1)


def _cube(x):
    return x**3, np.mean(3.0 * x * x, axis=-1)


_FUNS = {"logcosh": _logcosh, "exp": _exp, "cube": _cube}


def _sym_decorrelation(W: np.ndarray) -> np.ndarray:
    """W <- (W W^T)^(-1/2) W: rows orthonormal, as close to W as possible."""
    s, u = linalg.eigh(W @ W.T)
    s = np.clip(s, np.finfo(W.dtype).tiny, None)
    return (u * (1.0 / np.sqrt(s))) @ u.T @ W


class FastICA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """FastICA: unmix linearly mixed, non-Gaussian sources (scikit-learn's `FastICA` API).

    Parameters
    ----------
    n_components : int or None, default=None
        Number of sources; None keeps all features.
    algorithm : {"parallel", "deflation"}, default="parallel"
        "parallel" updates every unmixing direction at once and decorrelates them
        symmetrically; "deflation" extracts the sources one after another (Gram-Schmidt).
    whiten : {"unit-variance", "arbitrary-variance"} or False, default="unit-variance"
        Whiten the data first (PCA to `n_components`, unit variance). "unit-variance" also
        rescales the recovered sources to unit variance. False: the data must already be white.
    fun : {"logcosh", "exp", "cube"} or callable, default="logcosh"
        The contrast's derivative g. "logcosh" is a good general choice, "exp" is robust for
        super-Gaussian (speech-like, spiky) sources, "cube" is kurtosis (fast, outlier-prone).
        A callable takes x of shape (n_components, n_samples) (and `fun_args`) and returns
        (g(x), mean over samples of g'(x)) with shapes (n_components, n_samples), (n_components,).
    fun_args : dict or None, default=None
        Extra arguments of `fun`; "logcosh" takes {"alpha": 1.0} (1 <= alpha <= 2).
    max_iter : int, default=200
        Fixed-point iterations (per component for "deflation").
    tol : float, default=1e-4
        Convergence: the largest change of |cos| between successive unmixing directions.
    w_init : array of shape (n_components, n_components) or None, default=None
        Initial unmixing matrix; None draws one from `random_state`.
    whiten_solver : {"svd", "eigh"}, default="svd"
        "svd" is the most accurate; "eigh" (of the covariance) is faster when n_samples is much
        larger than n_features and the data are well conditioned.
    random_state : int, numpy Generator or None, default=None
        Seeds `w_init` when it is not given.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The unmixing matrix: sources = (X - mean_) @ components_.T.
    mixing_ : ndarray of shape (n_features, n_components)
        Its pseudo-inverse: X ~ sources @ mixing_.T + mean_.
    mean_ : ndarray of shape (n_features,)
        Only with whitening.
    whitening_ : ndarray of shape (n_components, n_features)
        Only with whitening.
    n_iter_ : int
        Iterations run (for "deflation", the most any component needed).
    converged_ : bool
        Whether `tol` was reached within `max_iter` (else a ConvergenceWarning was issued).
    n_features_in_ : int
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        algorithm: str = "parallel",
        whiten="unit-variance",
        fun="logcosh",
        fun_args: dict | None = None,
        max_iter: int = 200,
        tol: float = 1e-4,
        w_init: ArrayLike | None = None,
        whiten_solver: str = "svd",
        random_state=None,
    ):
        self.n_components = n_components
        self.algorithm = algorithm
        self.whiten = whiten
        self.fun = fun
        self.fun_args = fun_args
        self.max_iter = max_iter
        self.tol = tol
        self.w_init = w_init
        self.whiten_solver = whiten_solver
        self.random_state = random_state

    # -- checks -----------------------------------------------------------------------------
    def _check_params(self, n_samples: int, n_features: int) -> int:
        if self.algorithm not in ("parallel", "deflation"):
            raise ValueError(f"algorithm must be 'parallel' or 'deflation', got {self.algorithm!r}")
        if self.whiten not in ("unit-variance", "arbitrary-variance", False):
            raise ValueError(f"whiten must be 'unit-variance', 'arbitrary-variance' or False, got {self.whiten!r}")
        if not (callable(self.fun) or self.fun in _FUNS):
            raise ValueError(f"fun must be 'logcosh', 'exp', 'cube' or a callable, got {self.fun!r}")
        if self.whiten_solver not in ("svd", "eigh"):
            raise ValueError(f"whiten_solver must be 'svd' or 'eigh', got {self.whiten_solver!r}")
        check_scalar(self.max_iter, "max_iter", numbers.Integral, min_val=1)
        check_scalar(self.tol, "tol", numbers.Real, min_val=0.0)
        if self.fun_args is not None and not isinstance(self.fun_args, dict):
            raise TypeError(f"fun_args must be a dict or None, got {type(self.fun_args).__name__}")
        if self.fun == "logcosh" and self.fun_args:
            unknown = set(self.fun_args) - {"alpha"}
            if unknown:
                raise ValueError(f"fun='logcosh' takes only fun_args={{'alpha': ...}}, got {sorted(unknown)}")
            check_scalar(self.fun_args.get("alpha", 1.0), "fun_args['alpha']", numbers.Real, min_val=1.0, max_val=2.0)
        if n_samples < 2:
            raise ValueError(f"FastICA needs at least 2 samples, got {n_samples}")
        limit = min(n_samples, n_features)
        if self.n_components is None:
            return limit if self.whiten else n_features
        k = check_scalar(self.n_components, "n_components", numbers.Integral, min_val=1)
        if self.whiten is False:
            if k != n_features:
                warnings.warn(f"n_components={k} is ignored without whitening: all {n_features} features are kept",
                              UserWarning, stacklevel=3)
            return n_features
        if k > limit:
            warnings.warn(f"n_components={k} is too large: it is set to min(n_samples, n_features) = {limit}",
                          UserWarning, stacklevel=3)
            k = limit
        return k

    def _g(self):
        if callable(self.fun):
            args = self.fun_args or {}
            return lambda x: self.fun(x, **args)
        if self.fun == "logcosh":
            alpha = float((self.fun_args or {}).get("alpha", 1.0))
            return lambda x: _logcosh(x, alpha)
        return _FUNS[self.fun]

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y=None) -> FastICA:
        """Estimate the unmixing matrix from X of shape (n_samples, n_features)."""
        self._fit(X, compute_sources=False)
        return self

    def fit_transform(self, X: ArrayLike, y=None) -> np.ndarray:
        """Estimate the unmixing matrix and return the sources, shape (n_samples, n_components)."""
        return self._fit(X, compute_sources=True)

    def _fit(self, X, compute_sources: bool):
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        n, d = X.shape
        k = self._check_params(n, d)
        XT = X.T.astype(X.dtype, copy=True)  # (d, n): samples along the fast axis
        if self.whiten:
            mean = XT.mean(axis=1)
            XT -= mean[:, None]
            if self.whiten_solver == "eigh":
                ev, u = linalg.eigh(XT @ XT.T)
                order = np.argsort(ev)[::-1]
                ev, u = ev[order], u[:, order]
                eps = np.finfo(ev.dtype).eps * 10
                if np.any(ev[:k] < eps):
                    warnings.warn("the covariance is (nearly) singular; whiten_solver='svd' is more accurate",
                                  UserWarning, stacklevel=3)
                s = np.sqrt(np.clip(ev, eps, None))
            else:
                u, s = linalg.svd(XT, full_matrices=False, check_finite=False)[:2]
            if np.any(s[:k] <= np.finfo(s.dtype).eps * s[0]):
                raise ValueError(
                    f"X has rank < n_components={k} (after centring): fewer independent directions than sources; "
                    "lower n_components or remove linearly dependent features"
                )
            u = u * np.sign(u[0])  # a fixed sign per direction: reproducible whitening
            K = (u / s).T[:k]
            X1 = (K @ XT) * math.sqrt(n)  # a Python float keeps float32 data float32
        else:
            X1 = XT
        if self.w_init is None:
            rng = np.random.default_rng(_seed.resolve(self.random_state, "random_state"))
            w_init = rng.standard_normal((k, k)).astype(X1.dtype)
        else:
            w_init = np.asarray(self.w_init, dtype=X1.dtype)
            if w_init.shape != (k, k):
                raise ValueError(f"w_init has shape {w_init.shape}; it must be (n_components, n_components) = {(k, k)}")
            if not np.isfinite(w_init).all():
                raise ValueError("w_init contains NaN or infinity")
        g = self._g()
        if self.algorithm == "parallel":
            W, self.n_iter_, self.converged_ = _parallel(X1, w_init, g, self.tol, self.max_iter)
        else:
            W, self.n_iter_, self.converged_ = _deflation(X1, w_init, g, self.tol, self.max_iter)
        if not self.converged_:
            warnings.warn(
                f"FastICA did not converge in max_iter={self.max_iter} iterations (tol={self.tol}); "
                "raise max_iter or tol, or try fun='exp' or another random_state",
                ConvergenceWarning, stacklevel=3,
            )
        S = None
        if self.whiten:
            unmix = W @ K
            if compute_sources or self.whiten == "unit-variance":
                S = (unmix @ XT).T
            if self.whiten == "unit-variance":
                std = S.std(axis=0)
                S /= std
                W = W / std[:, None]
                unmix = W @ K
            self.components_ = unmix
            self.mean_ = mean
            self.whitening_ = K
        else:
            self.components_ = W
            if compute_sources:
                S = (W @ XT).T
        self.mixing_ = linalg.pinv(self.components_, check_finite=False)
        self._n_features_out = self.components_.shape[0]
        return S

    # -- transforms -------------------------------------------------------------------------
    def transform(self, X: ArrayLike, copy: bool = True) -> np.ndarray:
        """The sources of X: (X - mean_) @ components_.T."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], copy=copy, reset=False)
        if self.whiten:
            X = X - self.mean_
        return X @ self.components_.T

    def inverse_transform(self, X: ArrayLike, copy: bool = True) -> np.ndarray:
        """Mix sources back: X @ mixing_.T + mean_."""
        check_is_fitted(self)
        from sklearn.utils import check_array

        X = check_array(X, dtype=[np.float64, np.float32], copy=copy)
        if X.shape[1] != self.mixing_.shape[1]:
            raise ValueError(f"X has {X.shape[1]} sources but the model has {self.mixing_.shape[1]} components")
        out = X @ self.mixing_.T
        if self.whiten:
            out += self.mean_
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _parallel(X, w_init, g, tol, max_iter):
    W = _sym_decorrelation(w_init)
    n = X.shape[1]
    for it in range(1, max_iter + 1):
        gwx, gp = g(W @ X)
        W1 = _sym_decorrelation(gwx @ X.T / n - gp[:, None] * W)
        lim = np.max(np.abs(np.abs(np.einsum("ij,ij->i", W1, W)) - 1.0))
        W = W1
        if lim < tol:
            return W, it, True
    return W, max_iter, False


def _deflation(X, w_init, g, tol, max_iter):
    k = w_init.shape[0]
    W = np.zeros((k, k), dtype=X.dtype)
    n_iter, converged = 0, True
    for j in range(k):
        w = w_init[j].copy()
        w /= np.linalg.norm(w)  # decorrelated from the found components after the first step
        done = False
        for it in range(1, max_iter + 1):
            gwx, gp = g((w @ X)[None, :])
            w1 = (X * gwx).mean(axis=1) - gp[0] * w
            w1 -= W[:j].T @ (W[:j] @ w1)
            w1 /= np.linalg.norm(w1)
            lim = abs(abs(w1 @ w) - 1.0)
            w = w1
            if lim < tol:
                done = True
                break
        n_iter = max(n_iter, it)
        converged &= done
        W[j] = w
    return W, n_iter, converged


# ---- the cocktail party ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CocktailParty:
    """Sources, the mixing matrix and what the microphones record.

    sources: (n_samples, n_sources) in [-1, 1]; mixing: (n_mics, n_sources);
    mixtures = sources @ mixing.T (+ sensor noise): (n_samples, n_mics); names: the sources'.
    """

    sources: np.ndarray
    mixing: np.ndarray
    mixtures: np.ndarray
    sample_rate: int
    names: tuple[str, ...]


def make_cocktail_party(
    duration: float = 4.0,
    *,
    sample_rate: int = 8000,
    n_mics: int = 3,
    sensor_noise: float = 0.0,
    seed=None,
) -> CocktailParty:
    """Three sound sources in a room, recorded by `n_mics` microphones.

    The sources: a speech-like voice (a glottal pulse train at a wandering pitch, shaped by
    two formant resonances and switched on and off in syllables), music (a melody of harmonic
    tones with decaying envelopes) and noise (uniform, like a fan). The mixing matrix has
    positive gains drawn at random (each microphone hears every source), kept well conditioned.

    Parameters
    ----------
    duration : float
        Seconds of sound.
    sample_rate : int
        Samples per second.
    n_mics : int
        Microphones (>= 3 so that the three sources can be separated).
    sensor_noise : float
        Standard deviation of independent Gaussian noise added to each microphone.
    seed : int, numpy Generator or None
    """
    check_scalar(duration, "duration", numbers.Real, min_val=0.0, include_min=False)
    check_scalar(sample_rate, "sample_rate", numbers.Integral, min_val=100)
    check_scalar(n_mics, "n_mics", numbers.Integral, min_val=3)
    check_scalar(sensor_noise, "sensor_noise", numbers.Real, min_val=0.0)
    if not (math.isfinite(duration) and math.isfinite(sensor_noise)):
        raise ValueError(f"duration and sensor_noise must be finite, got {duration} and {sensor_noise}")
    samples = duration * sample_rate
    # the sources, a dozen float64 temporaries of their length, and the recordings
    check_memory(8.0 * samples * (15 + 2 * n_mics), f"duration={duration}, sample_rate={sample_rate}, n_mics={n_mics}")
    rng = np.random.default_rng(_seed.resolve(seed))
    n = int(round(samples))
    if n < 100:
        raise ValueError(f"duration * sample_rate gives {n} samples; need at least 100")
    t = np.arange(n) / sample_rate

    # voice: pulse train at 110-160 Hz through two formant resonators, in syllables
    pitch = 130 + 25 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 2 * np.pi))
    phase = np.cumsum(pitch) / sample_rate
    pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
    voice = np.zeros(n)
    for f, bw in ((rng.uniform(500, 800), 80.0), (rng.uniform(1100, 1800), 120.0)):
        r = np.exp(-np.pi * bw / sample_rate)
        a1, a2 = 2 * r * np.cos(2 * np.pi * f / sample_rate), -r * r
        voice += lfilter([1.0], [1.0, -a1, -a2], pulses)
    syllables = np.clip(np.sin(2 * np.pi * 3.1 * t + rng.uniform(0, 2 * np.pi)), 0, None) ** 0.5
    voice *= syllables

    # music: a melody of harmonic notes (A minor pentatonic) with plucked envelopes
    notes = 220.0 * 2 ** (np.array([0, 3, 5, 7, 10, 12]) / 12)
    note_len = int(0.25 * sample_rate)
    music = np.zeros(n)
    for start in range(0, n, note_len):
        f = rng.choice(notes)
        tt = np.arange(min(note_len, n - start)) / sample_rate
        tone = sum(np.sin(2 * np.pi * h * f * tt) / h for h in (1, 2, 3))
        music[start:start + len(tt)] = tone * np.exp(-6 * tt)

    noise = rng.uniform(-1, 1, n)
    S = np.c_[voice, music, noise]
    S -= S.mean(axis=0)
    S /= np.abs(S).max(axis=0)
    while True:
        A = rng.uniform(0.3, 1.0, (n_mics, 3))
        if np.linalg.cond(A) < 10:
            break
    X = S @ A.T
    if sensor_noise > 0:
        X = X + rng.normal(0, sensor_noise, X.shape)
    return CocktailParty(S, A, X, int(sample_rate), ("voice", "music", "noise"))


@dataclass(frozen=True)
class SourceMatch:
    """Which recovered source is which true one, and how well it was recovered.

    order[i] is the column of the estimate that matches true source i; sign[i] is +1 or -1;
    correlation[i] is |corr| between them (1 = perfect); aligned is the estimate reordered,
    sign-flipped and scaled to the true sources' standard deviation.
    """

    order: np.ndarray
    sign: np.ndarray
    correlation: np.ndarray
    aligned: np.ndarray


def match_sources(true_sources: ArrayLike, estimated: ArrayLike) -> SourceMatch:
    """Pair estimated sources with true ones (ICA recovers them in any order, sign and scale).

    The pairing maximises the total absolute correlation (Hungarian algorithm).
    """
    S = np.asarray(true_sources, dtype=float)
    E = np.asarray(estimated, dtype=float)
    if S.ndim != 2 or E.ndim != 2 or len(S) != len(E):
        raise ValueError(f"true_sources and estimated must be 2-D with the same rows, got {S.shape} and {E.shape}")
    if E.shape[1] < S.shape[1]:
        raise ValueError(f"estimated has {E.shape[1]} sources, fewer than the {S.shape[1]} true ones")
    Sc = (S - S.mean(0)) / S.std(0)
    Ec = (E - E.mean(0)) / E.std(0)
    C = Sc.T @ Ec / len(S)
    rows, cols = linear_sum_assignment(-np.abs(C))
    order = cols[np.argsort(rows)]
    corr = C[np.arange(S.shape[1]), order]
    sign = np.sign(corr)
    aligned = Ec[:, order] * sign * S.std(0) + S.mean(0)
    return SourceMatch(order, sign, np.abs(corr), aligned)
