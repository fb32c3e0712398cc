"""Check and clean data before any fit: a report in plain words, and a reproducible `Cleaner`.

A model is only as good as its data. `data_report` looks for what most often spoils a
scientific data set: missing values, duplicated rows (a measurement logged twice), constant
columns (a sensor that was unplugged), outliers (robust z-score or Tukey's IQR fences), columns
on wildly different scales or with a few values in the wrong unit (mm among m), and imbalanced
classes, and says what it found. `Cleaner` applies chosen fixes as a scikit-learn transformer
(fit on training data, then the same fixes on new data); dropping rows is a separate, explicit
step (`fit_resample`) that counts and reports every row it drops, with the reason.

Examples
--------
>>> import numpy as np
>>> from mlsci_fast.preprocessing import Cleaner, data_report
>>> X = np.array([[1.0, 5.0, 0.0], [2.0, np.nan, 0.0], [3.0, 7.0, 0.0], [3.0, 7.0, 0.0], [250.0, 6.0, 0.0]])
>>> report = data_report(X, feature_names=["a", "b", "c"])
>>> report.n_missing, report.duplicate_rows.tolist(), report.constant_columns
(1, [3], ['c'])
>>> Xc, _ = Cleaner(outliers="drop").fit_resample(X)
>>> Xc.shape
(3, 2)
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _plotting
from ._validation import check_scalar

__all__ = ["Cleaner", "DataReport", "data_report", "outlier_mask"]

_log = logging.getLogger("mlsci_fast")
_UNIT_FACTORS = (100.0, 1000.0, 1e6)  # cm/m, mm/m or g/kg, um/m or mg/kg


# ---- input -------------------------------------------------------------------------------------
def _as_table(X, feature_names=None) -> tuple[np.ndarray, list[str]]:
    """A 2-D float array (NaN allowed) and column names; refuses non-numeric columns by name."""
    names = None
    if hasattr(X, "columns") and hasattr(X, "dtypes"):  # a pandas DataFrame
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        bad = [str(c) for c, t in zip(X.columns, X.dtypes) if not (is_numeric_dtype(t) or is_bool_dtype(t))]
        if bad:
            raise TypeError(f"X has non-numeric columns {bad}; encode them (e.g. OneHotEncoder) or drop them first")
        names = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=float, na_value=np.nan)
    try:
        A = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as e:
        raise TypeError(f"X must hold numbers (NaN for missing values): {e}") from None
    if A.ndim == 1:
        raise ValueError("X must be 2-D (n_samples, n_features); reshape a single feature with X.reshape(-1, 1)")
    if A.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {A.ndim}-D")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"X is empty: shape {A.shape}")
    if np.isinf(A).any():
        r, c = np.argwhere(np.isinf(A))[0]
        raise ValueError(f"X contains infinity (first at row {r}, column {c}); use NaN for missing values")
    if feature_names is not None:
        if len(feature_names) != A.shape[1]:
            raise ValueError(f"feature_names has {len(feature_names)} entries, X has {A.shape[1]} columns")
        names = [str(f) for f in feature_names]
    return A, names or [f"x{i}" for i in range(A.shape[1])]


def outlier_mask(X: ArrayLike, method: str = "robust_z", threshold: float | None = None) -> np.ndarray:
    """Boolean mask of outlying values, column by column (NaN is never an outlier).

    method="robust_z": |0.6745 (x - median) / MAD| > threshold (default 3.5; Iglewicz &
    Hoaglin 1993), robust to the outliers themselves. method="iqr": outside Tukey's fences
    [Q1 - k IQR, Q3 + k IQR] with k = threshold (default 1.5). Columns whose MAD or IQR is zero
    flag nothing (a spread of zero cannot say what is far).
    """
    A, _ = _as_table(X)
    lo, hi = _fences(A, method, threshold)
    with np.errstate(invalid="ignore"):
        return (A < lo) | (A > hi)


def _fences(A: np.ndarray, method: str, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    if method not in ("robust_z", "iqr"):
        raise ValueError(f"method must be 'robust_z' or 'iqr', got {method!r}")
    k = (3.5 if method == "robust_z" else 1.5) if threshold is None else float(
        check_scalar(threshold, "threshold", numbers.Real, min_val=0.0, include_min=False))
    with np.errstate(invalid="ignore"), _quiet_nan():
        if method == "robust_z":
            med = np.nanmedian(A, axis=0)
            mad = np.nanmedian(np.abs(A - med), axis=0)
            half = k * mad / 0.6745
            lo, hi = med - half, med + half
        else:
            q1, q3 = np.nanpercentile(A, [25, 75], axis=0)
            lo, hi = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
    spread_zero = ~(hi > lo)
    lo = np.where(spread_zero, -np.inf, lo)
    hi = np.where(spread_zero, np.inf, hi)
    return lo, hi


@contextlib.contextmanager
def _quiet_nan():
    """All-NaN columns make numpy warn "All-NaN slice"; the report names such columns itself."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ---- the report ----------------------------------------------------------------------------------
@dataclass
class DataReport:
    """What `data_report` found. `findings` are the plain-language lines of `str(report)`."""

    n_samples: int
    n_features: int
    feature_names: list[str]
    missing_per_column: np.ndarray
    rows_with_missing: np.ndarray
    duplicate_rows: np.ndarray          # rows equal to an earlier row (the first copy is kept)
    constant_columns: list[str]
    empty_columns: list[str]            # every value missing
    outliers_per_column: np.ndarray
    outlier_rows: np.ndarray
    outlier_method: str
    column_scale: np.ndarray            # IQR (or std if the IQR is 0) per column
    scale_ratio: float                  # largest / smallest non-zero column scale
    unit_suspects: dict = field(default_factory=dict)  # column -> (factor, row indices)
    class_counts: dict | None = None
    imbalance_ratio: float | None = None
    findings: list[str] = field(default_factory=list)

    @property
    def n_missing(self) -> int:
        return int(self.missing_per_column.sum())

    @property
    def is_clean(self) -> bool:
        """True when nothing was found that a Cleaner would fix."""
        return not (self.n_missing or len(self.duplicate_rows) or self.constant_columns
                    or self.outlier_rows.size or self.unit_suspects)

    def __str__(self) -> str:
        head = f"Data report: {self.n_samples} rows x {self.n_features} columns"
        return "\n".join([head] + [f"- {line}" for line in self.findings])

    def plot(self, ax=None):
        """Four small panels: missing values, outliers and scale per column, class counts."""
        fig, axes, owned = _plotting.subplots(ax, 4, path=None, figsize=(14, 3.2))
        x = np.arange(self.n_features)
        short = [n if len(n) <= 10 else n[:9] + "~" for n in self.feature_names]
        rot = 90 if self.n_features > 8 else (40 if self.n_features > 3 else 0)
        axes[0].bar(x, self.missing_per_column, color="tab:red")
        axes[0].set_title("missing values")
        axes[1].bar(x, self.outliers_per_column, color="tab:orange")
        axes[1].set_title(f"outliers ({self.outlier_method})")
        scale = np.where(self.column_scale > 0, self.column_scale, np.nan)
        axes[2].bar(x, scale, color="tab:blue")
        axes[2].set_yscale("log")
        axes[2].set_title(f"column scale (max/min {self.scale_ratio:.3g})")
        for a in axes[:3]:
            a.set_xticks(x, short, rotation=rot, fontsize=8)
        if self.class_counts:
            labels = [str(k) for k in self.class_counts]
            axes[3].bar(labels, list(self.class_counts.values()), color="tab:green")
            axes[3].set_title(f"classes (imbalance {self.imbalance_ratio:.3g}:1)")
        else:
            axes[3].axis("off")
            axes[3].text(0.5, 0.5, "no class labels given", ha="center", va="center")
        if owned:
            fig.tight_layout()
        return axes


def data_report(
    X: ArrayLike,
    y: ArrayLike | None = None,
    *,
    feature_names: list[str] | None = None,
    outlier_method: str = "robust_z",
    threshold: float | None = None,
    max_scale_ratio: float = 100.0,
    max_imbalance: float = 3.0,
) -> DataReport:
    """Look for missing values, duplicates, constant columns, outliers, unit and scale problems,
    and class imbalance; `print(report)` says what was found in plain words.

    Parameters
    ----------
    X : array-like or pandas DataFrame of shape (n_samples, n_features)
        Numbers; NaN (or pandas NA) marks a missing value.
    y : array-like of shape (n_samples,), optional
        Class labels: their balance is reported. Regression targets: pass None.
    feature_names : list of str, optional
        Defaults to a DataFrame's columns, else x0, x1, ...
    outlier_method, threshold
        See `outlier_mask`.
    max_scale_ratio : float, default=100
        Columns whose typical spreads differ by more than this call for scaling.
    max_imbalance : float, default=3
        A largest-to-smallest class ratio above this is reported as imbalance.
    """
    A, names = _as_table(X, feature_names)
    check_scalar(max_scale_ratio, "max_scale_ratio", numbers.Real, min_val=1.0)
    check_scalar(max_imbalance, "max_imbalance", numbers.Real, min_val=1.0)
    n, d = A.shape
    nan = np.isnan(A)
    missing = nan.sum(axis=0)
    rows_missing = np.flatnonzero(nan.any(axis=1))
    empty = [names[j] for j in range(d) if missing[j] == n]

    # duplicates: rows equal to an earlier one, NaN equal to NaN
    key = np.where(nan, np.inf, A)  # inf cannot occur in X, so it stands for NaN here
    _, first = np.unique(key, axis=0, return_index=True)
    dup = np.setdiff1d(np.arange(n), first)

    with _quiet_nan():
        lo_v, hi_v = np.nanmin(A, axis=0), np.nanmax(A, axis=0)
    constant = [names[j] for j in range(d) if missing[j] < n and lo_v[j] == hi_v[j]]

    out = outlier_mask(A, outlier_method, threshold)
    out_per_col = out.sum(axis=0)
    out_rows = np.flatnonzero(out.any(axis=1))

    with _quiet_nan():
        q1, q3 = np.nanpercentile(A, [25, 75], axis=0)
        std = np.nanstd(A, axis=0)
    scale = np.where(q3 - q1 > 0, q3 - q1, std)
    scale = np.nan_to_num(scale)
    positive = scale[scale > 0]
    ratio = float(positive.max() / positive.min()) if positive.size else 1.0

    # A unit mix-up (mm among m, g among kg) in a column of positive magnitudes: a few values
    # ~100x, ~1000x or ~1e6x off the median while the bulk of the column is compact (within 10x
    # of its median), so a heavy tail is not mistaken for one.
    suspects = {}
    for j in range(d):
        col = A[:, j]
        ok = ~np.isnan(col)
        if ok.sum() < 10 or not (col[ok] > 0).all():
            continue
        lr = np.log10(col / np.median(col[ok]))
        for f in _UNIT_FACTORS:
            hit = np.flatnonzero(ok & (np.abs(np.abs(lr) - np.log10(f)) < 0.5))
            rest = ok.copy()
            rest[hit] = False
            if 0 < len(hit) <= 0.25 * ok.sum() and np.percentile(np.abs(lr[rest]), 99) < 1.0:
                suspects[names[j]] = (f, hit)
                break

    counts = ratio_cls = None
    if y is not None:
        yy = np.asarray(y)
        if yy.ndim != 1 or len(yy) != n:
            raise ValueError(f"y must be 1-D with {n} entries (one per row of X), got shape {yy.shape}")
        labels, c = np.unique(yy, return_counts=True)
        counts = {k.item() if hasattr(k, "item") else k: int(v) for k, v in zip(labels, c)}
        ratio_cls = float(c.max() / c.min())

    lines = []
    if missing.sum():
        worst = np.argsort(missing)[::-1][: min(3, d)]
        detail = ", ".join(f"{names[j]} {missing[j]} ({100 * missing[j] / n:.1f}%)" for j in worst if missing[j])
        lines.append(f"{int(missing.sum())} missing values in {len(rows_missing)} rows; most in: {detail}.")
    if empty:
        lines.append(f"columns with no values at all: {empty}; drop them.")
    if len(dup):
        lines.append(f"{len(dup)} duplicated rows (a copy of an earlier row), e.g. rows {dup[:5].tolist()}.")
    if constant:
        lines.append(f"constant columns (carry no information): {constant}.")
    if out_rows.size:
        worst = np.argsort(out_per_col)[::-1][: min(3, d)]
        detail = ", ".join(f"{names[j]} {out_per_col[j]}" for j in worst if out_per_col[j])
        lines.append(f"{int(out_per_col.sum())} outlying values ({outlier_method}) in {len(out_rows)} rows; "
                     f"most in: {detail}.")
    for name, (f, rows) in suspects.items():
        lines.append(f"column {name}: {len(rows)} values are ~{f:g}x off the column's typical size "
                     f"(rows {rows[:5].tolist()}): a unit mix-up (e.g. mm among m)?")
    if ratio > max_scale_ratio:
        big, small = names[int(np.argmax(scale))], names[int(np.argmin(np.where(scale > 0, scale, np.inf)))]
        lines.append(f"column scales differ by {ratio:.3g}x ({big} vs {small}): scale the features "
                     "before distance- or gradient-based models (SVM, k-NN, neural networks).")
    if ratio_cls is not None and ratio_cls > max_imbalance:
        lines.append(f"classes are imbalanced {ratio_cls:.3g}:1 ({counts}): use class_weight='balanced' "
                     "or a stratified split, and judge by balanced accuracy, not accuracy.")
    if not lines:
        lines.append("nothing suspicious found.")
    return DataReport(n, d, names, missing, rows_missing, dup, constant, empty, out_per_col, out_rows,
                      outlier_method, scale, ratio, suspects, counts, ratio_cls, lines)


# ---- the cleaner ---------------------------------------------------------------------------------
class Cleaner(TransformerMixin, BaseEstimator):
    """Apply data fixes reproducibly: learn them on training data, apply the same to new data.

    `transform` never drops rows (so `Cleaner` works inside a `Pipeline`): it drops constant
    and empty columns, imputes missing values, clips outliers to the training fences and scales.
    `fit_resample(X, y)` cleans a training set and may drop rows (duplicates, rows with outliers
    when ``outliers="drop"``, rows with missing values when ``impute=None``); it counts every
    dropped row in `dropped_rows_` (reason -> row indices), logs a warning saying how many, and
    returns the kept rows of X and y.

    Parameters
    ----------
    impute : {"median", "mean"} or None, default="median"
        Fill missing values with the column's training median or mean. None: leave them (and
        `fit_resample` drops rows that have any).
    drop_constant : bool, default=True
        Drop columns that are constant (or entirely missing) in the training data.
    outliers : {"clip", "drop"} or None, default="clip"
        "clip": limit values to the training fences. "drop": `fit_resample` drops rows with an
        outlier (`transform` then clips). None: leave them.
    outlier_method : {"robust_z", "iqr"}, default="robust_z"
    threshold : float or None, default=None
        Fence width (see `outlier_mask`).
    drop_duplicates : bool, default=True
        `fit_resample` drops rows equal to an earlier row.
    scale : {"robust", "standard"} or None, default=None
        After the fixes, centre and scale each column: "robust" by median and IQR, "standard"
        by mean and standard deviation.

    Attributes
    ----------
    kept_columns_ : ndarray of int
        Columns of the input that the output keeps.
    fill_values_, lower_, upper_, center_, scale_ : ndarray
        What was learnt (per kept column).
    dropped_rows_ : dict
        After `fit_resample`: reason -> indices of dropped rows (of the input).
    report_ : DataReport
        The report of the training data.
    """

    def __init__(
        self,
        *,
        impute: str | None = "median",
        drop_constant: bool = True,
        outliers: str | None = "clip",
        outlier_method: str = "robust_z",
        threshold: float | None = None,
        drop_duplicates: bool = True,
        scale: str | None = None,
    ):
        self.impute = impute
        self.drop_constant = drop_constant
        self.outliers = outliers
        self.outlier_method = outlier_method
        self.threshold = threshold
        self.drop_duplicates = drop_duplicates
        self.scale = scale

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _check(self):
        if self.impute not in ("median", "mean", None):
            raise ValueError(f"impute must be 'median', 'mean' or None, got {self.impute!r}")
        if self.outliers not in ("clip", "drop", None):
            raise ValueError(f"outliers must be 'clip', 'drop' or None, got {self.outliers!r}")
        if self.scale not in ("robust", "standard", None):
            raise ValueError(f"scale must be 'robust', 'standard' or None, got {self.scale!r}")
        if self.outlier_method not in ("robust_z", "iqr"):
            raise ValueError(f"outlier_method must be 'robust_z' or 'iqr', got {self.outlier_method!r}")
        for name in ("drop_constant", "drop_duplicates"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def fit(self, X: ArrayLike, y=None) -> Cleaner:
        """Learn the columns to keep, fill values, fences and scaling from X."""
        self._check()
        names = None
        if hasattr(X, "columns"):
            _, names = _as_table(X)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        A, names = _as_table(X, names)
        if len(A) < 2:
            raise ValueError("Cleaner needs at least 2 samples to learn fill values and fences, got n_samples = 1")
        self.report_ = data_report(A, feature_names=names, outlier_method=self.outlier_method,
                                   threshold=self.threshold)
        n = len(A)
        nan = np.isnan(A)
        keep = np.ones(A.shape[1], bool)
        keep &= nan.sum(axis=0) < n  # an empty column cannot be imputed
        if self.drop_constant:
            keep &= ~np.isin(np.array(names), self.report_.constant_columns)
        if not keep.any():
            raise ValueError("every column is constant or empty: nothing would be left to learn from")
        self.kept_columns_ = np.flatnonzero(keep)
        self._names = [names[j] for j in self.kept_columns_]
        K = A[:, keep]
        with _quiet_nan():
            if self.impute == "mean":
                self.fill_values_ = np.nanmean(K, axis=0)
            else:
                self.fill_values_ = np.nanmedian(K, axis=0)
        self.lower_, self.upper_ = _fences(K, self.outlier_method, self.threshold)
        K = self._fix(K)
        if self.scale == "robust":
            with _quiet_nan():
                q1, med, q3 = np.nanpercentile(K, [25, 50, 75], axis=0)
            self.center_, s = med, q3 - q1
        elif self.scale == "standard":
            with _quiet_nan():
                self.center_, s = np.nanmean(K, axis=0), np.nanstd(K, axis=0)
        else:
            self.center_, s = np.zeros(K.shape[1]), np.ones(K.shape[1])
        self.scale_ = np.where(s > 0, s, 1.0)
        return self

    def _fix(self, K: np.ndarray) -> np.ndarray:
        K = K.copy()
        if self.impute is not None:
            nan = np.isnan(K)
            K[nan] = np.take(self.fill_values_, np.nonzero(nan)[1])
        if self.outliers is not None:
            with np.errstate(invalid="ignore"):
                K = np.clip(K, self.lower_, self.upper_)
        return K

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Keep the fitted columns, impute, clip and scale. Never drops rows."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        K = self._fix(X[:, self.kept_columns_])
        return (K - self.center_) / self.scale_

    def fit_resample(self, X: ArrayLike, y: ArrayLike | None = None):
        """Fit, then return the cleaned training rows (X, y) with dropped rows counted.

        Returns
        -------
        X_clean : ndarray of shape (n_kept, n_kept_columns)
        y_clean : ndarray of shape (n_kept,) or None
        """
        self.fit(X)
        A = np.asarray(validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False))
        n = len(A)
        if y is not None:
            y = np.asarray(y)
            if len(y) != n:
                raise ValueError(f"y has {len(y)} entries, X has {n} rows")
        K = A[:, self.kept_columns_]
        drop: dict[str, np.ndarray] = {}
        if self.drop_duplicates:
            dup = self.report_.duplicate_rows
            if len(dup):
                drop["duplicate"] = dup
        if self.impute is None:
            miss = np.flatnonzero(np.isnan(K).any(axis=1))
            if len(miss):
                drop["missing"] = miss
        if self.outliers == "drop":
            with np.errstate(invalid="ignore"):
                out = np.flatnonzero(((K < self.lower_) | (K > self.upper_)).any(axis=1))
            if len(out):
                drop["outlier"] = out
        gone = np.unique(np.concatenate(list(drop.values()))) if drop else np.empty(0, int)
        self.dropped_rows_ = drop
        if len(gone) == n:
            raise ValueError(f"cleaning would drop every row ({', '.join(f'{k}: {len(v)}' for k, v in drop.items())}); "
                             "loosen the threshold or impute instead of dropping")
        if len(gone):
            _log.warning("Cleaner dropped %d of %d rows (%s)", len(gone), n,
                         ", ".join(f"{k}: {len(v)}" for k, v in drop.items()))
        keep = np.setdiff1d(np.arange(n), gone)
        Xc = (self._fix(K[keep]) - self.center_) / self.scale_
        return Xc, (None if y is None else y[keep])

    def summary(self) -> str:
        """What the cleaner learnt and (after fit_resample) dropped, in plain words."""
        check_is_fitted(self)
        names = self.report_.feature_names
        lines = [str(self.report_), "Cleaner:"]
        gone = [n for j, n in enumerate(names) if j not in set(self.kept_columns_.tolist())]
        lines.append(f"- keeps {len(self.kept_columns_)} of {len(names)} columns" + (f"; drops {gone}" if gone else ""))
        if self.impute:
            lines.append(f"- fills missing values with the training {self.impute}")
        if self.outliers:
            lines.append(f"- clips values to the {self.outlier_method} fences learnt on the training data")
        if self.scale:
            lines.append(f"- scales columns ({self.scale})")
        if hasattr(self, "dropped_rows_"):
            total = len(np.unique(np.concatenate(list(self.dropped_rows_.values())))) if self.dropped_rows_ else 0
            detail = ", ".join(f"{k}: {len(v)}" for k, v in self.dropped_rows_.items()) or "none"
            lines.append(f"- fit_resample dropped {total} rows ({detail})")
        return "\n".join(lines)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self)
        if input_features is not None:
            if len(input_features) != self.n_features_in_:
                raise ValueError(f"input_features has {len(input_features)} names, X had {self.n_features_in_} columns")
            return np.asarray([str(input_features[j]) for j in self.kept_columns_], dtype=object)
        return np.asarray(self._names, dtype=object)
