"""Built-in target densities, evaluated in C++ (no Python and no GIL inside a sampler's loop).

Pass one to a sampler in place of a Python ``log_prob`` function and the whole run stays in
C++. Each is also callable from Python, so you can check it: ``target(x)`` is the log-density
of one point ``x`` of shape ``(ndim,)`` or of many, shape ``(n, ndim)``; ``target.gradient(x)``
is its gradient (what HMC uses).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _threads
from .._validation import as_float_array, check_scalar

__all__ = ["Funnel", "Gaussian", "GaussianMixture", "LinearRegression", "LogisticRegression", "Rosenbrock", "Target"]


class Target:
    """Base class of the built-in targets (do not instantiate it directly)."""

    _core_target: Any
    _params: dict[str, Any]

    @property
    def ndim(self) -> int:
        """The number of parameters."""
        return int(self._core_target.dim)

    @property
    def param_names(self) -> list[str]:
        """A name for each parameter, in order."""
        return [f"x[{i}]" for i in range(self.ndim)]

    def _points(self, x: ArrayLike) -> tuple[np.ndarray, tuple[int, ...]]:
        arr = np.asarray(x)
        if arr.ndim == 0 or arr.shape[-1] != self.ndim:
            raise ValueError(f"x must have shape (..., {self.ndim}) for this {type(self).__name__}, got {arr.shape}")
        lead = arr.shape[:-1]
        pts = as_float_array(arr.reshape(-1, self.ndim), "x", ndim=2, allow_empty=True, allow_nonfinite=True)
        return pts, lead

    def __call__(self, x: ArrayLike) -> float | np.ndarray:
        """log p(x) for x of shape (ndim,) (a float) or (..., ndim) (an array of shape ...)."""
        return self.log_prob(x)

    def log_prob(self, x: ArrayLike) -> float | np.ndarray:
        """log p(x) for x of shape (ndim,) (a float) or (..., ndim) (an array of shape ...)."""
        pts, lead = self._points(x)
        out = self._core_target.log_prob(pts, _threads.get_num_threads())
        return float(out[0]) if lead == () else out.reshape(lead)

    def log_prob_and_gradient(self, x: ArrayLike) -> tuple[float | np.ndarray, np.ndarray]:
        """(log p(x), d log p / dx) for x of shape (ndim,) or (..., ndim)."""
        pts, lead = self._points(x)
        lp, grad = self._core_target.log_prob_grad(pts, _threads.get_num_threads())
        if lead == ():
            return float(lp[0]), grad[0]
        return lp.reshape(lead), grad.reshape(*lead, self.ndim)

    def gradient(self, x: ArrayLike) -> np.ndarray:
        """d log p / dx for x of shape (ndim,) or (..., ndim)."""
        return self.log_prob_and_gradient(x)[1]

    def __reduce__(self):
        # Rebuilt from its parameters, so targets pickle (Dask ships them to workers).
        return (_rebuild, (type(self).__name__, self._params))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}" if not isinstance(v, np.ndarray) else f"{k}=<array {v.shape}>" for k, v in self._params.items()
        )
        return f"{type(self).__name__}({shown})"

    def _spec(self) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
        """(class name, scalar parameters, array parameters): how a checkpoint stores the target."""
        scalars = {k: v for k, v in self._params.items() if not isinstance(v, np.ndarray)}
        arrays = {k: v for k, v in self._params.items() if isinstance(v, np.ndarray)}
        return type(self).__name__, scalars, arrays


def _rebuild(name: str, params: dict[str, Any]) -> Target:
    return _CLASSES[name](**params)


def _from_spec(name: str, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> Target:
    if name not in _CLASSES:
        raise ValueError(f"unknown built-in target {name!r}")
    return _CLASSES[name](**scalars, **arrays)


def _positive_int(v: Any, name: str, min_val: int = 1) -> int:
    return int(check_scalar(v, name, numbers.Integral, min_val=min_val))


def _positive_float(v: Any, name: str) -> float:
    v = float(check_scalar(v, name, numbers.Real))
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be finite and > 0, got {v}")
    return v


def _prior(prior_scale: Any) -> float:
    return 0.0 if prior_scale is None else _positive_float(prior_scale, "prior_scale")


class Gaussian(Target):
    """Multivariate normal N(mean, cov).

    Parameters
    ----------
    mean : array-like, shape (ndim,)
    cov : array-like, shape (ndim, ndim) or (ndim,) or scalar
        Symmetric positive definite covariance; a vector is a diagonal, a scalar a multiple of
        the identity.
    """

    def __init__(self, mean: ArrayLike, cov: ArrayLike):
        mean = as_float_array(mean, "mean", ndim=1)
        d = mean.shape[0]
        cov_arr = np.asarray(cov)
        if cov_arr.dtype.kind not in "biuf":  # complex or strings: refused by name, not cast
            cov_arr = as_float_array(cov_arr, "cov", ndim=cov_arr.ndim, allow_empty=True)
        cov_arr = cov_arr.astype(np.float64)
        if cov_arr.ndim == 0:
            cov_arr = np.eye(d) * cov_arr
        elif cov_arr.ndim == 1:
            if cov_arr.shape != (d,):
                raise ValueError(f"cov as a vector must have shape ({d},), got {cov_arr.shape}")
            cov_arr = np.diag(cov_arr)
        cov_arr = as_float_array(cov_arr, "cov", ndim=2)
        if cov_arr.shape != (d, d):
            raise ValueError(f"cov must have shape ({d}, {d}) to match mean, got {cov_arr.shape}")
        self._params = {"mean": mean, "cov": cov_arr}
        self._core_target = _core.mcmc.gaussian(mean, cov_arr)

    @property
    def mean(self) -> np.ndarray:
        return self._params["mean"]

    @property
    def cov(self) -> np.ndarray:
        return self._params["cov"]


class GaussianMixture(Target):
    """Mixture sum_k w_k N(means[k], covs[k]); the weights are normalised.

    Parameters
    ----------
    weights : array-like, shape (n_components,)
    means : array-like, shape (n_components, ndim)
    covs : array-like, shape (n_components, ndim, ndim)
    """

    def __init__(self, weights: ArrayLike, means: ArrayLike, covs: ArrayLike):
        weights = as_float_array(weights, "weights", ndim=1)
        means = as_float_array(means, "means", ndim=2)
        covs = as_float_array(covs, "covs", ndim=3)
        k, d = means.shape
        if weights.shape != (k,):
            raise ValueError(f"weights must have shape ({k},) to match means, got {weights.shape}")
        if covs.shape != (k, d, d):
            raise ValueError(f"covs must have shape ({k}, {d}, {d}) to match means, got {covs.shape}")
        self._params = {"weights": weights, "means": means, "covs": covs}
        self._core_target = _core.mcmc.gaussian_mixture(weights, means, covs)


class Funnel(Target):
    """Neal's funnel: v ~ N(0, scale^2), x_i | v ~ N(0, exp(v)) for i = 1..ndim-1.

    The parameter vector is (v, x_1, ..., x_{ndim-1}). Its neck (v << 0) defeats samplers with
    one global step size: a standard stress test.
    """

    def __init__(self, ndim: int = 10, scale: float = 3.0):
        ndim = _positive_int(ndim, "ndim", 2)
        scale = _positive_float(scale, "scale")
        self._params = {"ndim": ndim, "scale": scale}
        self._core_target = _core.mcmc.funnel(ndim, scale)

    @property
    def param_names(self) -> list[str]:
        return ["v"] + [f"x[{i}]" for i in range(1, self.ndim)]


class Rosenbrock(Target):
    """The Rosenbrock "banana": log p(x) = -sum_i [b (x_{i+1} - x_i^2)^2 + (a - x_i)^2] / scale.

    The defaults (ndim=2, a=1, b=100, scale=20) are Goodman & Weare's (2010) test density; a
    larger ndim chains the 2-D term over consecutive coordinates.
    """

    def __init__(self, a: float = 1.0, b: float = 100.0, *, ndim: int = 2, scale: float = 20.0):
        ndim = _positive_int(ndim, "ndim", 2)
        a = float(check_scalar(a, "a", numbers.Real))
        b = _positive_float(b, "b")
        scale = _positive_float(scale, "scale")
        self._params = {"a": a, "b": b, "ndim": ndim, "scale": scale}
        self._core_target = _core.mcmc.rosenbrock(ndim, a, b, scale)


def _regression_data(X: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    X = as_float_array(X, "X", ndim=2)
    y = as_float_array(y, "y", ndim=1)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} values")
    return X, y


class LinearRegression(Target):
    """Posterior of Bayesian linear regression y = intercept + X coef + N(0, sigma^2).

    Parameters (in order): the intercept (if `fit_intercept`), the coefficients, and log(sigma)
    when `sigma` is None (unknown noise, with the scale-invariant prior p(sigma) ~ 1/sigma).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    y : array-like, shape (n_samples,)
    sigma : float or None
        The noise standard deviation if known; None samples log(sigma) too.
    prior_scale : float or None
        Each coefficient (and the intercept) ~ N(0, prior_scale^2); None is a flat prior.
    fit_intercept : bool

    Notes
    -----
    The data are reduced once to a QR factorisation of the design matrix, so each evaluation
    costs O(n_features^2) whatever the number of samples, without the round-off of the normal
    equations.
    """

    def __init__(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        sigma: float | None = None,
        prior_scale: float | None = None,
        fit_intercept: bool = True,
    ):
        X, y = _regression_data(X, y)
        sigma_v = 0.0 if sigma is None else _positive_float(sigma, "sigma")
        self._params = {"X": X, "y": y, "sigma": sigma, "prior_scale": prior_scale,
                        "fit_intercept": bool(fit_intercept)}
        self._core_target = _core.mcmc.linear_regression(X, y, bool(fit_intercept), sigma_v, _prior(prior_scale))

    @property
    def param_names(self) -> list[str]:
        p = self._params["X"].shape[1]
        names = (["intercept"] if self._params["fit_intercept"] else []) + [f"coef[{j}]" for j in range(p)]
        return names + (["log_sigma"] if self._params["sigma"] is None else [])


class LogisticRegression(Target):
    """Posterior of Bayesian logistic regression P(y = 1 | x) = 1 / (1 + exp(-(intercept + x . coef))).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Standardise the columns first, so that one prior scale suits every coefficient.
    y : array-like, shape (n_samples,)
        Labels 0 and 1 (or False and True).
    prior_scale : float or None
        Each coefficient (and the intercept) ~ N(0, prior_scale^2); None is a flat prior, which
        has no proper posterior when the classes are separable.
    fit_intercept : bool
    """

    def __init__(self, X: ArrayLike, y: ArrayLike, *, prior_scale: float | None = 5.0, fit_intercept: bool = True):
        X, y = _regression_data(X, y)
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            raise ValueError(f"y must contain only 0 and 1, found {y[bad][0]!r} (encode the classes as 0/1 first)")
        self._params = {"X": X, "y": y, "prior_scale": prior_scale, "fit_intercept": bool(fit_intercept)}
        self._core_target = _core.mcmc.logistic_regression(X, y, bool(fit_intercept), _prior(prior_scale))

    @property
    def param_names(self) -> list[str]:
        p = self._params["X"].shape[1]
        return (["intercept"] if self._params["fit_intercept"] else []) + [f"coef[{j}]" for j in range(p)]


_CLASSES = {c.__name__: c
            for c in (Gaussian, GaussianMixture, Funnel, Rosenbrock, LinearRegression, LogisticRegression)}
