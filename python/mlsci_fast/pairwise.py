"""Kernel matrices and distances between the rows of two arrays, multi-threaded.

The same functions, names and defaults as `sklearn.metrics.pairwise`, computed in cache-sized
tiles (one GEMM per tile, the kernel's map applied while the tile is in cache) on all threads.
With ``Y=None`` only the upper triangle is computed and mirrored, so ``K(X)`` is exactly symmetric.
These are the kernels the SVM solver uses.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from . import _core, _threads
from ._validation import as_float_array, check_scalar

__all__ = [
    "euclidean_distances",
    "linear_kernel",
    "polynomial_kernel",
    "rbf_kernel",
    "sigmoid_kernel",
]


def _xy(X: ArrayLike, Y: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, bool]:
    X = as_float_array(X, "X")
    if Y is None:
        return X, X, True
    Y = as_float_array(Y, "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError(
            f"Incompatible dimension for X and Y matrices: X has {X.shape[1]} features "
            f"but Y has {Y.shape[1]}"
        )
    return X, Y, False


def _gamma(gamma: float | None, n_features: int) -> float:
    if gamma is None:
        return 1.0 / n_features
    return float(check_scalar(gamma, "gamma", numbers.Real, min_val=0.0))


def _gram(X, Y, kernel, gamma, coef0, degree, n_threads) -> np.ndarray:
    X, Y, symmetric = _xy(X, Y)
    gamma = _gamma(gamma, X.shape[1])
    coef0 = float(check_scalar(coef0, "coef0", numbers.Real))
    degree = float(check_scalar(degree, "degree", numbers.Real, min_val=1.0))
    return _core.svm.gram_matrix(
        X, Y, getattr(_core.svm.KernelType, kernel), gamma, coef0, degree, symmetric,
        _threads.resolve(n_threads),
    )


def euclidean_distances(
    X: ArrayLike, Y: ArrayLike | None = None, *, squared: bool = False, n_threads: int | None = None
) -> np.ndarray:
    """Distances between the rows of X and the rows of Y.

    Computed as ``sqrt(|x|^2 - 2 x.y + |y|^2)`` (clipped at 0), like scikit-learn's float64 path:
    fast, but distances much smaller than the norms lose relative precision.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features), default=None
        None means Y = X; the diagonal is then exactly 0.
    squared : bool, default=False
        Return squared distances.
    n_threads : int, default=None
        Threads to use; None means `mlsci_fast.get_num_threads()`.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)
    """
    X, Y, symmetric = _xy(X, Y)
    return _core.svm.euclidean_distances(X, Y, bool(squared), symmetric, _threads.resolve(n_threads))


def linear_kernel(X: ArrayLike, Y: ArrayLike | None = None, *, n_threads: int | None = None) -> np.ndarray:
    """The linear kernel ``K(x, y) = x . y``; see `rbf_kernel` for the parameters."""
    return _gram(X, Y, "linear", 1.0, 0.0, 1.0, n_threads)


def polynomial_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    degree: float = 3,
    gamma: float | None = None,
    coef0: float = 1,
    *,
    n_threads: int | None = None,
) -> np.ndarray:
    """The polynomial kernel ``K(x, y) = (gamma x . y + coef0)^degree``.

    `degree` must be >= 1 and `gamma` >= 0 (None means 1 / n_features), as in scikit-learn.
    See `rbf_kernel` for the other parameters.
    """
    return _gram(X, Y, "poly", gamma, coef0, degree, n_threads)


def rbf_kernel(
    X: ArrayLike, Y: ArrayLike | None = None, gamma: float | None = None, *, n_threads: int | None = None
) -> np.ndarray:
    """The RBF (Gaussian) kernel ``K(x, y) = exp(-gamma |x - y|^2)``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features), default=None
        None means Y = X: only half the matrix is computed, and the result is exactly symmetric
        with ones on the diagonal.
    gamma : float >= 0, default=None
        None means 1 / n_features.
    n_threads : int, default=None
        Threads to use; None means `mlsci_fast.get_num_threads()`. The result does not depend on it.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)

    Examples
    --------
    >>> import numpy as np
    >>> from mlsci_fast.pairwise import rbf_kernel
    >>> rbf_kernel(np.array([[0.0, 0.0], [1.0, 1.0]]), gamma=0.5).round(4)
    array([[1.    , 0.3679],
           [0.3679, 1.    ]])
    """
    return _gram(X, Y, "rbf", gamma, 0.0, 1.0, n_threads)


def sigmoid_kernel(
    X: ArrayLike,
    Y: ArrayLike | None = None,
    gamma: float | None = None,
    coef0: float = 1,
    *,
    n_threads: int | None = None,
) -> np.ndarray:
    """The sigmoid kernel ``K(x, y) = tanh(gamma x . y + coef0)``; see `rbf_kernel`."""
    return _gram(X, Y, "sigmoid", gamma, coef0, 1.0, n_threads)
