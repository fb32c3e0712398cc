"""Support vector machines: SVC, OneClassSVM and SVR, drop-in replacements for scikit-learn's.

The dual problems are solved by a C++ SMO solver with libsvm's second-order working-set selection
and shrinking (Fan, Chen & Lin, JMLR 2005). Kernel values are cached in float32 like libsvm's, and
the whole kernel matrix is computed at once (tiled GEMM, all threads) when it fits in
``cache_size``, so on the same data and parameters the fitted models equal scikit-learn's to
rounding. Prediction computes kernel blocks with GEMM on all threads.

Parameters, defaults, fitted attributes and the sign and layout conventions (``dual_coef_``,
``intercept_``, one-vs-one ordering) are scikit-learn's, so these estimators work in
``Pipeline``, ``GridSearchCV`` and ``clone`` and pass ``check_estimator``.
"""

from __future__ import annotations

import numbers
import warnings
from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin, RegressorMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _core, _platt, _seed, _threads
from . import random as _random
from ._progress import Progress
from ._validation import as_float_array, check_scalar

__all__ = ["SVC", "LiftFeatures", "OneClassSVM", "SVR", "lift"]

_KERNELS = ("linear", "poly", "rbf", "sigmoid", "precomputed")
# Densifying a sparse X beyond this is refused with a clear error rather than risking the machine.
_MAX_DENSE_BYTES = 4 * 2**30
_PROGRESS_MIN_SAMPLES = 5000  # verbose=True shows a progress line from this problem size on


def _densify(X, name: str = "X"):
    """Sparse input is accepted but densified: the kernels are dense GEMMs."""
    if not hasattr(X, "toarray"):
        return X
    need = X.shape[0] * X.shape[1] * 8
    if need > _MAX_DENSE_BYTES:
        raise ValueError(
            f"{name} is a sparse matrix of shape {X.shape}; mlsci_fast.svm works on dense data and "
            f"densifying it would take {need / 2**30:.1f} GiB (limit {_MAX_DENSE_BYTES / 2**30:.0f} GiB). "
            "Reduce the number of features (e.g. TruncatedSVD) or use a linear model for sparse data."
        )
    return np.ascontiguousarray(X.toarray(), dtype=np.float64)


class _BaseSVM(BaseEstimator):
    """Shared machinery: parameter checks, the solver call, kernel evaluation at predict time."""

    _problem: str  # "c_svc", "one_class" or "epsilon_svr"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        tags.input_tags.sparse = self.kernel != "precomputed"
        return tags

    # -- parameters -------------------------------------------------------------------------
    def _check_params(self) -> None:
        if not (callable(self.kernel) or self.kernel in _KERNELS):
            raise ValueError(f"kernel must be one of {_KERNELS} or a callable, got {self.kernel!r}")
        check_scalar(self.degree, "degree", numbers.Integral, min_val=0)
        if isinstance(self.gamma, str):
            if self.gamma not in ("scale", "auto"):
                raise ValueError(f"gamma must be 'scale', 'auto' or a float >= 0, got {self.gamma!r}")
        else:
            check_scalar(self.gamma, "gamma", numbers.Real, min_val=0.0)
        check_scalar(self.coef0, "coef0", numbers.Real)
        check_scalar(self.tol, "tol", numbers.Real, min_val=0.0, include_min=False)
        check_scalar(self.cache_size, "cache_size", numbers.Real, min_val=0.0, include_min=False)
        check_scalar(self.max_iter, "max_iter", numbers.Integral, min_val=-1)
        if self.max_iter == 0:
            raise ValueError("max_iter must be -1 (no limit) or >= 1, got 0")
        if not isinstance(self.shrinking, (bool, np.bool_)):
            raise TypeError(f"shrinking must be a bool, got {self.shrinking!r}")
        if self.n_threads is not None:
            _threads.resolve(self.n_threads)

    def _kernel_id(self):
        kernel = "precomputed" if callable(self.kernel) else self.kernel
        return getattr(_core.svm.KernelType, kernel)

    def _resolve_gamma(self, X: np.ndarray) -> float:
        if self.kernel == "precomputed" or callable(self.kernel):
            return 0.0
        if self.gamma == "scale":
            var = X.var()
            return 1.0 / (X.shape[1] * var) if var != 0 else 1.0
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        return float(self.gamma)

    # -- input ------------------------------------------------------------------------------
    def _validate_fit_X(self, X, y=None):
        if self.kernel == "precomputed" and hasattr(X, "toarray"):
            raise TypeError("Sparse precomputed kernels are not supported.")
        if y is None:
            X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, order="C")
        else:
            X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64, order="C")
        X = _densify(X)
        if self.kernel == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"Precomputed matrix must be a square matrix. Input is a {X.shape[0]}x{X.shape[1]} matrix."
            )
        return X, y

    def _validate_predict_X(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, order="C", reset=False)
        return _densify(X)

    @staticmethod
    def _sample_weight(sample_weight, n_samples: int) -> np.ndarray:
        if sample_weight is None:
            return np.ones(n_samples)
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim == 0:
            sw = np.full(n_samples, float(sw))
        if sw.shape != (n_samples,):
            raise ValueError(f"sample_weight has shape {sw.shape}, but X has {n_samples} samples")
        if not np.isfinite(sw).all():
            raise ValueError("sample_weight contains NaN or infinity")
        if (sw < 0).any():
            raise ValueError(f"sample_weight must be >= 0, got {sw.min()} for sample {int(np.argmin(sw))}")
        if not (sw > 0).any():
            raise ValueError("Invalid input - all samples have zero or negative weights.")
        return sw

    def _kernel_input(self, X: np.ndarray) -> np.ndarray:
        """The matrix the solver sees: features, or the kernel matrix for callables."""
        if callable(self.kernel):
            return self._call_kernel(X, X)
        return X

    def _call_kernel(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """The user's kernel(X, Y), checked: real, finite, of shape (len(X), len(Y))."""
        K = as_float_array(self.kernel(X, Y), "the kernel callable's result", allow_nonfinite=False)
        if K.shape != (len(X), len(Y)):
            raise ValueError(f"the kernel callable returned shape {K.shape}, expected {(len(X), len(Y))}")
        return K

    # -- solver -----------------------------------------------------------------------------
    def _solve(self, K_or_X, rows, target, upper, *, nu=0.5, epsilon=0.0) -> dict:
        """Solve one dual problem on the samples `rows` (indices into the training data)."""
        if self.kernel == "precomputed" or callable(self.kernel):
            data = np.ascontiguousarray(K_or_X[np.ix_(rows, rows)])
        else:
            data = np.ascontiguousarray(K_or_X[rows])
        # A progress line where a fit takes long enough to want one.
        show = bool(self.verbose) and len(rows) >= _PROGRESS_MIN_SAMPLES
        with Progress(100, f"svm ({len(rows)} samples)", "%", enabled=show) as bar:
            result = self._run_solver(data, target, upper, nu, epsilon, bar)
        if self.verbose:
            cache = "full kernel matrix" if result["full_kernel"] else f"{result['kernel_rows']} kernel rows computed"
            print(
                f"[mlsci_fast.svm] {len(rows)} samples: {result['n_iter']} iterations, "
                f"{int(np.count_nonzero(result['coef']))} SVs, objective {result['objective']:.6g}, {cache}"
            )
        return result

    def _run_solver(self, data, target, upper, nu, epsilon, bar) -> dict:
        tol, start, shown = float(self.tol), [], [0]

        def report(gap: float, n_iter: int) -> None:
            # Done: the violation's way down from its first value to tol, on a log scale.
            if not start:
                start.append(max(gap, tol * 1.001))
            frac = np.log(start[0] / max(gap, tol)) / np.log(start[0] / tol)
            shown[0] = max(shown[0], int(100 * min(max(frac, 0.0), 1.0)))
            bar.update(shown[0], f"max violation {gap:.3g} (tol {tol:g}), {n_iter} iterations")

        return _core.svm.smo_solve(
            getattr(_core.svm.Problem, self._problem),
            data,
            np.ascontiguousarray(target, dtype=np.float64),
            np.ascontiguousarray(upper, dtype=np.float64),
            float(nu),
            float(epsilon),
            self._kernel_id(),
            self._gamma,
            float(self.coef0),
            float(self.degree),
            float(self.tol),
            int(self.max_iter),
            bool(self.shrinking),
            float(self.cache_size),
            _threads.resolve(self.n_threads),
            report if bar.enabled else None,
        )

    def _finish_fit(self, statuses) -> None:
        self.fit_status_ = int(max(statuses))
        if self.fit_status_ == 1:
            warnings.warn(
                f"Solver terminated early (max_iter={self.max_iter}). Consider pre-processing your data "
                "with StandardScaler or MinMaxScaler.",
                ConvergenceWarning,
                stacklevel=3,
            )
        if not (np.isfinite(self._intercept).all() and np.isfinite(self._pair_coef).all()):
            raise ValueError(
                "The dual coefficients or intercepts are not finite. The input data may contain large "
                "values and need to be preprocessed."
            )

    # -- prediction -------------------------------------------------------------------------
    def _raw_decision(self, X) -> np.ndarray:
        """libsvm's decision values, one column per sub-problem: sum coef K(sv, x) - rho."""
        X = self._validate_predict_X(X)
        if self.kernel == "precomputed":
            return X[:, self.support_] @ self._pair_coef + self._intercept
        if callable(self.kernel):
            return self._call_kernel(X, self.support_vectors_) @ self._pair_coef + self._intercept
        return _core.svm.decision_function(
            X,
            self.support_vectors_,
            self._pair_coef,
            self._intercept,
            self._kernel_id(),
            self._gamma,
            float(self.coef0),
            float(self.degree),
            _threads.resolve(self.n_threads),
        )

    @property
    def coef_(self) -> np.ndarray:
        """Primal weights (linear kernel only): one row per sub-problem, read-only."""
        if self.kernel != "linear":
            raise AttributeError("coef_ is only available when using a linear kernel")
        check_is_fitted(self)
        coef = self._pair_coef.T @ self.support_vectors_
        if self._problem == "c_svc" and len(self.classes_) == 2:
            coef = -coef
        coef.flags.writeable = False
        return coef

    @property
    def n_support_(self) -> np.ndarray:
        """Number of support vectors for each class (one entry for OneClassSVM and SVR)."""
        check_is_fitted(self)
        return self._n_support


class SVC(ClassifierMixin, _BaseSVM):
    """C-support vector classification, multi-class by one-vs-one, solved in C++.

    Same parameters, defaults and fitted attributes as `sklearn.svm.SVC`; on the same data the
    fitted model equals scikit-learn's to rounding.

    Parameters
    ----------
    C : float > 0, default=1.0
        Inverse regularisation strength: the box constraint of the dual.
    kernel : {'linear', 'poly', 'rbf', 'sigmoid', 'precomputed'} or callable, default='rbf'
        A callable takes (X, Y) and returns the kernel matrix.
    degree : int >= 0, default=3
        Degree of the 'poly' kernel.
    gamma : {'scale', 'auto'} or float >= 0, default='scale'
        Kernel coefficient for 'rbf', 'poly' and 'sigmoid'; 'scale' is 1 / (n_features * X.var()),
        'auto' is 1 / n_features.
    coef0 : float, default=0.0
        Independent term of the 'poly' and 'sigmoid' kernels.
    shrinking : bool, default=True
        Use the shrinking heuristic.
    probability : bool, default=False
        Also fit Platt sigmoids (one per pair of classes, on decision values from an internal
        5-fold cross-validation, as libsvm does) so that `predict_proba` is available. Costs
        about five extra fits. Multi-class probabilities come from pairwise coupling (Wu, Lin
        & Weng 2004).
    tol : float > 0, default=1e-3
        Stop when the maximal violation of the optimality conditions is below tol.
    cache_size : float > 0, default=200
        Kernel cache in MB. When the whole kernel matrix fits (float32) it is computed at once.
    class_weight : dict or 'balanced', default=None
        Multiply C by the weight of each sample's class.
    verbose : bool, default=False
        Print a summary per solved sub-problem, and for problems of 5,000 samples or more show
        a progress line while solving (the maximal violation of the optimality conditions on
        its way down to tol, on stderr).
    max_iter : int, default=-1
        Iteration limit per sub-problem; -1 for none. Hitting it gives a ConvergenceWarning.
    decision_function_shape : {'ovr', 'ovo'}, default='ovr'
        Shape of `decision_function` for more than two classes.
    break_ties : bool, default=False
        With 'ovr' and more than two classes, predict by the argmax of `decision_function`
        instead of one-vs-one votes.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the cross-validation folds of `probability=True`; unused otherwise.
    n_threads : int, default=None
        Threads for kernel computations; None means `mlsci_fast.get_num_threads()`. Results
        do not depend on it.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    support_ : ndarray of shape (n_SV,)
        Indices of the support vectors, grouped by class.
    support_vectors_ : ndarray of shape (n_SV, n_features)
    n_support_ : ndarray of shape (n_classes,)
    dual_coef_ : ndarray of shape (n_classes - 1, n_SV)
        libsvm's layout of y_i alpha_i over the one-vs-one problems.
    intercept_ : ndarray of shape (n_classes * (n_classes - 1) / 2,)
    coef_ : ndarray of shape (n_classes * (n_classes - 1) / 2, n_features)
        Linear kernel only.
    fit_status_ : int
        0 if every sub-problem converged, 1 if one stopped at max_iter.
    n_iter_ : ndarray of shape (n_classes * (n_classes - 1) / 2,)
        Solver iterations per sub-problem.
    probA_, probB_ : ndarray of shape (n_classes * (n_classes - 1) / 2,)
        Platt sigmoid P(i | i or j) = 1 / (1 + exp(probA_ f + probB_)) per pair, where f is the
        pair's decision value (positive towards the lower class index). Empty unless
        probability=True.
    class_weight_ : ndarray of shape (n_classes,)
    shape_fit_ : tuple
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from mlsci_fast.svm import SVC
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SVC(C=10).fit(X, y)
    >>> clf.n_support_
    array([ 4, 13, 10], dtype=int32)
    """

    _problem = "c_svc"

    def __init__(
        self,
        *,
        C: float = 1.0,
        kernel="rbf",
        degree: int = 3,
        gamma="scale",
        coef0: float = 0.0,
        shrinking: bool = True,
        probability: bool = False,
        tol: float = 1e-3,
        cache_size: float = 200,
        class_weight=None,
        verbose: bool = False,
        max_iter: int = -1,
        decision_function_shape: str = "ovr",
        break_ties: bool = False,
        random_state=None,
        n_threads: int | None = None,
    ):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.probability = probability
        self.tol = tol
        self.cache_size = cache_size
        self.class_weight = class_weight
        self.verbose = verbose
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape
        self.break_ties = break_ties
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> SVC:
        """Fit one C-SVC per pair of classes.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Or (n_samples, n_samples) with kernel='precomputed'. Sparse input is densified.
        y : array-like of shape (n_samples,)
            Class labels (any hashable, e.g. strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Multiplies C per sample; samples of weight 0 are left out of the fit.
        """
        self._check_params()
        check_scalar(self.C, "C", numbers.Real, min_val=0.0, include_min=False)
        if self.decision_function_shape not in ("ovr", "ovo"):
            raise ValueError(
                f"decision_function_shape must be 'ovr' or 'ovo', got {self.decision_function_shape!r}"
            )
        if not isinstance(self.probability, (bool, np.bool_)):
            raise TypeError(f"probability must be a bool, got {self.probability!r}")
        X, y = self._validate_fit_X(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got {len(classes)} class")
        self.classes_ = classes
        self.class_weight_ = compute_class_weight(self.class_weight, classes=classes, y=y)
        sw = self._sample_weight(sample_weight, len(X))
        self._gamma = self._resolve_gamma(X)
        data = self._kernel_input(X)

        k = len(classes)
        members = [np.flatnonzero((y_idx == c) & (sw > 0)) for c in range(k)]
        pairs = list(combinations(range(k), 2))
        results = []
        is_sv = np.zeros(len(X), dtype=bool)
        for i, j in pairs:
            rows = np.concatenate([members[i], members[j]])
            target = np.r_[np.ones(len(members[i])), -np.ones(len(members[j]))]
            upper = self._pair_upper(members, i, j, sw)
            if len(members[i]) == 0 or len(members[j]) == 0:
                raise ValueError(
                    f"classes {classes[i]!r} and {classes[j]!r} need samples with positive weight"
                )
            r = self._solve(data, rows, target, upper)
            is_sv[rows[r["coef"] != 0]] = True
            results.append((rows, r))
        if self.probability:
            seed = _seed.resolve(self.random_state, "random_state")
            platt = [
                self._platt_pair(data, rows, np.r_[np.ones(len(members[i])), -np.ones(len(members[j]))],
                                 r_upper, seed, p)
                for p, ((i, j), (rows, _), r_upper) in enumerate(
                    zip(pairs, results, [self._pair_upper(members, i, j, sw) for i, j in pairs])
                )
            ]
            self.probA_ = np.array([a for a, _ in platt])
            self.probB_ = np.array([b for _, b in platt])
        else:
            self.probA_ = self.probB_ = np.empty(0)

        # libsvm's layout: support vectors grouped by class; for pair (i, j) the coefficients of
        # class i's vectors go to row j - 1 of dual_coef_, those of class j's to row i.
        sv_by_class = [m[is_sv[m]] for m in members]
        self.support_ = np.concatenate(sv_by_class).astype(np.int32)
        self._n_support = np.array([len(s) for s in sv_by_class], dtype=np.int32)
        pos = np.full(len(X), -1)
        pos[self.support_] = np.arange(len(self.support_))
        n_sv = len(self.support_)
        dual = np.zeros((k - 1, n_sv))
        pair_coef = np.zeros((n_sv, len(pairs)))
        rho = np.empty(len(pairs))
        for p, ((i, j), (rows, r)) in enumerate(zip(pairs, results)):
            ni = len(members[i])
            keep = is_sv[rows]
            in_i, in_j = keep[:ni], keep[ni:]
            dual[j - 1, pos[rows[:ni][in_i]]] = r["coef"][:ni][in_i]
            dual[i, pos[rows[ni:][in_j]]] = r["coef"][ni:][in_j]
            pair_coef[pos[rows[keep]], p] = r["coef"][keep]
            rho[p] = r["rho"]
        self._pair_coef = np.ascontiguousarray(pair_coef)
        self._intercept = -rho
        self.support_vectors_ = (
            np.empty((0, 0)) if self.kernel == "precomputed" else np.ascontiguousarray(X[self.support_])
        )
        if k == 2:  # scikit-learn's sign convention: positive decision values mean classes_[1]
            self.dual_coef_, self.intercept_ = -dual, rho.copy()
        else:
            self.dual_coef_, self.intercept_ = dual, -rho
        self.n_iter_ = np.array([r["n_iter"] for _, r in results], dtype=np.int32)
        self.shape_fit_ = X.shape if hasattr(X, "shape") else (len(X),)
        self._finish_fit([r["status"] for _, r in results])
        return self

    def _pair_upper(self, members, i, j, sw) -> np.ndarray:
        """The box bounds C * class weight * sample weight of pair (i, j)'s samples."""
        rows = np.concatenate([members[i], members[j]])
        cw = np.r_[np.full(len(members[i]), self.class_weight_[i]), np.full(len(members[j]), self.class_weight_[j])]
        return self.C * sw[rows] * cw

    def _platt_pair(self, data, rows, target, upper, seed, pair) -> tuple[float, float]:
        """Platt's sigmoid for one pair, fitted on 5-fold cross-validated decision values."""
        n = len(rows)
        perm = np.argsort(_random.uniform(n, seed, step=pair), kind="stable")
        dec = np.empty(n)
        for fold in range(5):
            test = perm[fold * n // 5 : (fold + 1) * n // 5]
            train = np.r_[perm[: fold * n // 5], perm[(fold + 1) * n // 5 :]]
            pos = target[train] > 0
            if pos.all() or not pos.any():  # one class left in the fold: no classifier to fit
                dec[test] = 1.0 if pos.any() else (-1.0 if len(train) else 0.0)
                continue
            r = self._solve(data, rows[train], target[train], upper[train])
            sv = np.flatnonzero(r["coef"])
            coef = np.ascontiguousarray(r["coef"][sv, None])
            test_rows, sv_rows = rows[test], rows[train][sv]
            if self.kernel == "precomputed" or callable(self.kernel):
                dec[test] = data[np.ix_(test_rows, sv_rows)] @ coef[:, 0] - r["rho"]
            else:
                dec[test] = _core.svm.decision_function(
                    np.ascontiguousarray(data[test_rows]), np.ascontiguousarray(data[sv_rows]), coef,
                    np.array([-r["rho"]]), self._kernel_id(), self._gamma, float(self.coef0),
                    float(self.degree), _threads.resolve(self.n_threads),
                )[:, 0]
        return _platt.sigmoid_train(dec, target > 0)

    def _check_proba(self) -> bool:
        if not self.probability:
            raise AttributeError("predict_proba is not available when probability=False")
        return True

    @available_if(_check_proba)
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities, columns in the order of `classes_` (needs probability=True).

        Platt sigmoids turn each pair's decision value into P(i | i or j); pairwise coupling
        combines them. As with libsvm, the argmax of the probabilities may disagree with
        `predict` on points near a boundary, since they come from different models.
        """
        check_is_fitted(self)
        if len(self.probA_) == 0:
            raise AttributeError("predict_proba is not available: the model was fitted with probability=False")
        dec = self._raw_decision(X)
        k = len(self.classes_)
        r = np.zeros((len(dec), k, k))
        for p, (i, j) in enumerate(combinations(range(k), 2)):
            pij = np.clip(_platt.sigmoid_predict(dec[:, p], self.probA_[p], self.probB_[p]),
                          _platt.MIN_PROB, 1.0 - _platt.MIN_PROB)
            r[:, i, j], r[:, j, i] = pij, 1.0 - pij
        if k == 2:
            return np.column_stack([r[:, 0, 1], r[:, 1, 0]])
        return _platt.couple(r)

    @available_if(_check_proba)
    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of `predict_proba`."""
        return np.log(self.predict_proba(X))

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Signed distances to the separating hyperplanes.

        Returns an array of shape (n_samples,) for two classes (positive means classes_[1]),
        else (n_samples, n_classes) for 'ovr' or (n_samples, n_classes * (n_classes - 1) / 2)
        for 'ovo', in scikit-learn's order and scale.
        """
        dec = self._raw_decision(X)
        k = len(self.classes_)
        if k == 2:
            return -dec[:, 0]
        if self.decision_function_shape == "ovo":
            return dec
        return self._ovr_from_ovo(dec, k)

    @staticmethod
    def _ovr_from_ovo(dec: np.ndarray, k: int) -> np.ndarray:
        # Votes per class plus the summed pairwise confidences squashed into (-1/3, 1/3), so the
        # confidences break ties between equal vote counts but never overturn a vote.
        votes = np.zeros((len(dec), k))
        conf = np.zeros((len(dec), k))
        for p, (i, j) in enumerate(combinations(range(k), 2)):
            d = dec[:, p]
            votes[:, i] += d > 0
            votes[:, j] += d <= 0
            conf[:, i] += d
            conf[:, j] -= d
        return votes + conf / (3 * (np.abs(conf) + 1))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class labels by one-vs-one voting (libsvm's rule; ties go to the lower class index)."""
        dec = self._raw_decision(X)
        k = len(self.classes_)
        if self.break_ties and self.decision_function_shape == "ovo":
            raise ValueError("break_ties must be False when decision_function_shape is 'ovo'")
        if self.break_ties and k > 2:
            return self.classes_[np.argmax(self._ovr_from_ovo(dec, k), axis=1)]
        votes = np.zeros((len(dec), k), dtype=np.int64)
        for p, (i, j) in enumerate(combinations(range(k), 2)):
            win_i = dec[:, p] > 0
            votes[:, i] += win_i
            votes[:, j] += ~win_i
        return self.classes_[np.argmax(votes, axis=1)]


class OneClassSVM(OutlierMixin, _BaseSVM):
    """Unsupervised outlier detection: learn "normal" from normal data alone (Schölkopf et al. 2001).

    Same parameters, defaults and fitted attributes as `sklearn.svm.OneClassSVM`. `predict`
    returns +1 for inliers and -1 for outliers.

    Parameters
    ----------
    kernel, degree, gamma, coef0, tol, shrinking, cache_size, verbose, max_iter, n_threads
        As in `SVC`.
    nu : float in (0, 1], default=0.5
        An upper bound on the fraction of training errors and a lower bound on the fraction of
        support vectors.

    Attributes
    ----------
    support_, support_vectors_, dual_coef_ (1, n_SV), intercept_ (1,), n_support_ (1,),
    fit_status_, n_iter_ (int), shape_fit_, n_features_in_
    offset_ : ndarray of shape (1,)
        `decision_function = score_samples - offset_`.
    """

    _problem = "one_class"

    def __init__(
        self,
        *,
        kernel="rbf",
        degree: int = 3,
        gamma="scale",
        coef0: float = 0.0,
        tol: float = 1e-3,
        nu: float = 0.5,
        shrinking: bool = True,
        cache_size: float = 200,
        verbose: bool = False,
        max_iter: int = -1,
        n_threads: int | None = None,
    ):
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.nu = nu
        self.shrinking = shrinking
        self.cache_size = cache_size
        self.verbose = verbose
        self.max_iter = max_iter
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y=None, sample_weight: ArrayLike | None = None) -> OneClassSVM:
        """Learn the support of the data in X (y is ignored)."""
        self._check_params()
        check_scalar(self.nu, "nu", numbers.Real, min_val=0.0, max_val=1.0, include_min=False)
        X, _ = self._validate_fit_X(X)
        sw = self._sample_weight(sample_weight, len(X))
        self._gamma = self._resolve_gamma(X)
        rows = np.flatnonzero(sw > 0)
        r = self._solve(self._kernel_input(X), rows, np.zeros(len(rows)), sw[rows], nu=self.nu)
        _set_single_problem(self, X, rows, r)
        self.offset_ = -self.intercept_
        self._finish_fit([r["status"]])
        return self

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """The unshifted decision function: sum_i alpha_i K(x_i, x); higher is more normal."""
        return self._raw_decision(X)[:, 0] - self._intercept[0]

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Signed distance to the boundary: positive inside (inliers), negative outside."""
        return self._raw_decision(X)[:, 0]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """+1 for inliers, -1 for outliers."""
        return np.where(self.decision_function(X) > 0, 1, -1)


class SVR(RegressorMixin, _BaseSVM):
    """Epsilon-support vector regression, solved in C++.

    Same parameters, defaults and fitted attributes as `sklearn.svm.SVR`.

    Parameters
    ----------
    kernel, degree, gamma, coef0, tol, shrinking, cache_size, verbose, max_iter, n_threads
        As in `SVC`.
    C : float > 0, default=1.0
    epsilon : float >= 0, default=0.1
        Width of the tube within which errors are not penalised.

    Attributes
    ----------
    support_, support_vectors_, dual_coef_ (1, n_SV), intercept_ (1,), n_support_ (1,),
    coef_ (linear kernel), fit_status_, n_iter_ (int), shape_fit_, n_features_in_
    """

    _problem = "epsilon_svr"

    def __init__(
        self,
        *,
        kernel="rbf",
        degree: int = 3,
        gamma="scale",
        coef0: float = 0.0,
        tol: float = 1e-3,
        C: float = 1.0,
        epsilon: float = 0.1,
        shrinking: bool = True,
        cache_size: float = 200,
        verbose: bool = False,
        max_iter: int = -1,
        n_threads: int | None = None,
    ):
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.C = C
        self.epsilon = epsilon
        self.shrinking = shrinking
        self.cache_size = cache_size
        self.verbose = verbose
        self.max_iter = max_iter
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> SVR:
        """Fit the regression function to (X, y)."""
        self._check_params()
        check_scalar(self.C, "C", numbers.Real, min_val=0.0, include_min=False)
        check_scalar(self.epsilon, "epsilon", numbers.Real, min_val=0.0)
        X, y = self._validate_fit_X(X, y)
        y = column_or_1d(y, warn=True).astype(np.float64)
        sw = self._sample_weight(sample_weight, len(X))
        self._gamma = self._resolve_gamma(X)
        rows = np.flatnonzero(sw > 0)
        r = self._solve(self._kernel_input(X), rows, y[rows], self.C * sw[rows], epsilon=self.epsilon)
        _set_single_problem(self, X, rows, r)
        self._finish_fit([r["status"]])
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets: sum_i dual_coef_i K(x_i, x) + intercept_."""
        return self._raw_decision(X)[:, 0]


def _set_single_problem(est: _BaseSVM, X, rows: np.ndarray, r: dict) -> None:
    """Fitted attributes of a one-problem model (one-class, SVR)."""
    nz = r["coef"] != 0
    est.support_ = rows[nz].astype(np.int32)
    est._n_support = np.array([nz.sum()], dtype=np.int32)
    est.dual_coef_ = r["coef"][nz][None, :].copy()
    est.intercept_ = np.array([-r["rho"]])
    est._pair_coef = np.ascontiguousarray(est.dual_coef_.T)
    est._intercept = est.intercept_.copy()
    est.support_vectors_ = (
        np.empty((0, 0)) if est.kernel == "precomputed" else np.ascontiguousarray(X[est.support_])
    )
    est.n_iter_ = int(r["n_iter"])
    est.shape_fit_ = X.shape if hasattr(X, "shape") else (len(X),)


_LIFTS = {
    "radius": lambda X: np.sqrt(np.einsum("ij,ij->i", X, X)),
    "squared_radius": lambda X: np.einsum("ij,ij->i", X, X),
}


def lift(X: ArrayLike, func="radius") -> np.ndarray:
    """Append new features computed from X: the kernel trick done by hand.

    Points that no line separates may become separable by a plane once a feature such as their
    distance to the origin is added: two concentric rings in 2-D become two stacked rings in 3-D.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    func : 'radius', 'squared_radius' or callable, default='radius'
        'radius' appends |x|, 'squared_radius' |x|^2 (the feature map of a degree-2 polynomial
        kernel's radial part). A callable takes the (n_samples, n_features) array and returns an
        array of shape (n_samples,) or (n_samples, k).

    Returns
    -------
    ndarray of shape (n_samples, n_features + k)
    """
    from ._validation import as_float_array

    X = as_float_array(X, "X")
    if isinstance(func, str):
        if func not in _LIFTS:
            raise ValueError(f"func must be one of {sorted(_LIFTS)} or a callable, got {func!r}")
        extra = _LIFTS[func](X)
    elif callable(func):
        extra = np.asarray(func(X), dtype=np.float64)
    else:
        raise TypeError(f"func must be a string or a callable, got {type(func).__name__}")
    if extra.ndim == 1:
        extra = extra[:, None]
    if extra.ndim != 2 or extra.shape[0] != X.shape[0]:
        raise ValueError(
            f"func must return shape ({X.shape[0]},) or ({X.shape[0]}, k), got {extra.shape}"
        )
    if not np.isfinite(extra).all():
        raise ValueError("func returned NaN or infinity")
    return np.hstack([X, extra])


class LiftFeatures(TransformerMixin, BaseEstimator):
    """`lift` as a scikit-learn transformer, for pipelines: ``make_pipeline(LiftFeatures(),
    SVC(kernel="linear"))`` separates concentric rings with a plane.

    Parameters
    ----------
    func : 'radius', 'squared_radius' or callable, default='radius'
        See `lift`.
    """

    def __init__(self, func="radius"):
        self.func = func

    def fit(self, X: ArrayLike, y=None) -> LiftFeatures:
        X = validate_data(self, X, dtype=np.float64)
        self.n_output_features_ = lift(X[:1], self.func).shape[1]
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return lift(X, self.func)
