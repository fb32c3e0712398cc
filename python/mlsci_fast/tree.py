"""Decision trees with the split search in C++/OpenMP: drop-in for scikit-learn's.

`DecisionTreeClassifier` and `DecisionTreeRegressor` take scikit-learn's parameters and give its
fitted attributes (`tree_`, `feature_importances_`, `classes_`, ...). With ``splitter="best"``
(the default) the splits are exact and chosen by scikit-learn's rules, so the tree equals
scikit-learn's up to ties between equally good splits, which scikit-learn breaks by the random
order it visits features in, and this tree by feature index. What is faster: each feature is
sorted once and every node's samples are partitioned stably instead of re-sorted, and subtrees
grow in parallel. ``splitter="hist"`` splits between at most `max_bins` quantile bins per
feature (LightGBM's histogram method): faster still on large data, thresholds restricted to the
bin edges.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> from mlsci_fast.tree import DecisionTreeClassifier, export_text
>>> X, y = load_iris(return_X_y=True)
>>> clf = DecisionTreeClassifier(max_depth=2).fit(X, y)
>>> print(export_text(clf, feature_names=["sepal length", "sepal width", "petal length", "petal width"]))
|--- petal length <= 2.45
|   |--- class: 0
|--- petal length >  2.45
|   |--- petal width <= 1.75
|   |   |--- class: 1
|   |--- petal width >  1.75
|   |   |--- class: 2
<BLANKLINE>
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import _core, _plotting, _seed, _threads
from ._validation import check_scalar

__all__ = ["DecisionTreeClassifier", "DecisionTreeRegressor", "Tree", "export_text", "plot_tree"]

_CRITERIA = {"gini": 0, "entropy": 1, "log_loss": 1, "squared_error": 2}
_INT32_MAX = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Tree:
    """The fitted tree's arrays, with scikit-learn's `tree_` attribute names.

    Nodes are numbered in depth-first pre-order (left child first). Leaves have
    ``children_left == children_right == -1`` and ``feature == threshold == -2``. A sample goes
    to the left child when ``X[:, feature] <= threshold``, with X rounded to float32 first (as
    in scikit-learn). `value` has shape (node_count, 1, n_classes) for classifiers (the weighted
    class fractions of the node's training samples) and (node_count, 1, 1) for regressors (their
    weighted mean).
    """

    children_left: np.ndarray
    children_right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    impurity: np.ndarray
    n_node_samples: np.ndarray
    weighted_n_node_samples: np.ndarray
    value: np.ndarray
    max_depth: int
    n_features: int

    @property
    def node_count(self) -> int:
        return len(self.feature)

    @property
    def n_leaves(self) -> int:
        return int(np.count_nonzero(self.children_left == -1))

    @property
    def n_outputs(self) -> int:
        return 1

    def compute_feature_importances(self, normalize: bool = True) -> np.ndarray:
        """Total weighted impurity decrease per feature (Breiman's mean decrease in impurity)."""
        inner = np.flatnonzero(self.children_left != -1)
        left, right = self.children_left[inner], self.children_right[inner]
        w, imp = self.weighted_n_node_samples, self.impurity
        gain = w[inner] * imp[inner] - w[left] * imp[left] - w[right] * imp[right]
        importances = np.zeros(self.n_features)
        np.add.at(importances, self.feature[inner], gain)
        importances /= w[0]
        if normalize:
            total = importances.sum()
            if total > 0:
                importances /= total
        return importances


class _BaseTree(BaseEstimator):
    """What the classifier and the regressor share: parameters, the kernel call, traversal."""

    _regression = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # -- parameters -------------------------------------------------------------------------
    def _resolved_params(self, n_samples: int, n_features: int, total_weight: float) -> dict:
        allowed = ("squared_error",) if self._regression else ("gini", "entropy", "log_loss")
        if self.criterion not in allowed:
            raise ValueError(f"criterion must be one of {allowed}, got {self.criterion!r}")
        if self.splitter not in ("best", "hist"):
            hint = " (splitter='random' is not implemented)" if self.splitter == "random" else ""
            raise ValueError(f"splitter must be 'best' or 'hist', got {self.splitter!r}{hint}")
        check_scalar(self.max_bins, "max_bins", numbers.Integral, min_val=2, max_val=256)
        if self.max_depth is None:
            max_depth = _INT32_MAX
        else:
            max_depth = check_scalar(self.max_depth, "max_depth", numbers.Integral, min_val=1)
        msl = self.min_samples_leaf
        if isinstance(msl, numbers.Integral) and not isinstance(msl, bool):
            min_leaf = check_scalar(msl, "min_samples_leaf", numbers.Integral, min_val=1)
        else:
            frac = check_scalar(msl, "min_samples_leaf", numbers.Real, min_val=0.0, max_val=1.0,
                                include_min=False, include_max=False)
            min_leaf = max(1, math.ceil(frac * n_samples))
        mss = self.min_samples_split
        if isinstance(mss, numbers.Integral) and not isinstance(mss, bool):
            min_split = check_scalar(mss, "min_samples_split", numbers.Integral, min_val=2)
        else:
            frac = check_scalar(mss, "min_samples_split", numbers.Real, min_val=0.0, max_val=1.0,
                                include_min=False)
            min_split = max(2, math.ceil(frac * n_samples))
        min_split = max(min_split, 2 * min_leaf)
        wfrac = check_scalar(self.min_weight_fraction_leaf, "min_weight_fraction_leaf", numbers.Real,
                             min_val=0.0, max_val=0.5)
        mid = check_scalar(self.min_impurity_decrease, "min_impurity_decrease", numbers.Real, min_val=0.0)
        mf = self.max_features
        if mf is None:
            max_features = n_features
        elif isinstance(mf, str):
            if mf == "sqrt":
                max_features = max(1, int(math.sqrt(n_features)))
            elif mf == "log2":
                max_features = max(1, int(math.log2(n_features)))
            else:
                raise ValueError(f"max_features must be 'sqrt', 'log2', an int, a float or None, got {mf!r}")
        elif isinstance(mf, numbers.Integral) and not isinstance(mf, bool):
            max_features = check_scalar(mf, "max_features", numbers.Integral, min_val=1, max_val=n_features)
        else:
            frac = check_scalar(mf, "max_features", numbers.Real, min_val=0.0, max_val=1.0, include_min=False)
            max_features = max(1, int(frac * n_features))
        if self.n_threads is not None:
            _threads.resolve(self.n_threads)
        self.max_features_ = max_features
        return dict(
            criterion=_CRITERIA[self.criterion],
            max_depth=max_depth,
            min_samples_split=min_split,
            min_samples_leaf=min_leaf,
            min_weight_leaf=wfrac * total_weight,
            min_impurity_decrease=float(mid),
            max_features=max_features,
            histogram=self.splitter == "hist",
            max_bins=int(self.max_bins),
        )

    # -- fitting ----------------------------------------------------------------------------
    def _fit(self, X, y_class, n_classes, y_reg, sample_weight):
        if sample_weight is not None and not (sample_weight > 0).all():
            # Samples of weight zero take no part (as in scikit-learn): they neither count
            # towards min_samples_leaf nor appear in n_node_samples.
            keep = sample_weight > 0
            X, sample_weight = np.ascontiguousarray(X[keep]), np.ascontiguousarray(sample_weight[keep])
            y_class = None if y_class is None else np.ascontiguousarray(y_class[keep])
            y_reg = None if y_reg is None else np.ascontiguousarray(y_reg[keep])
        n = X.shape[0]
        total = float(sample_weight.sum()) if sample_weight is not None else float(n)
        params = self._resolved_params(n, X.shape[1], total)
        seed = _seed.resolve(self.random_state, "random_state")
        arrays = _core.tree.fit(
            X, y_class, n_classes, y_reg, sample_weight, seed=seed,
            n_threads=_threads.resolve(self.n_threads), **params,
        )
        value = arrays.pop("value")
        self.tree_ = Tree(value=value.reshape(len(value), 1, value.shape[1]), n_features=X.shape[1], **arrays)
        self.n_outputs_ = 1
        return self

    @staticmethod
    def _sample_weight(sample_weight, n: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.ndim == 0:
            sw = np.full(n, float(sw))
        if sw.shape != (n,):
            raise ValueError(f"sample_weight has shape {sw.shape}, but X has {n} samples")
        if not np.isfinite(sw).all():
            raise ValueError("sample_weight contains NaN or infinity")
        if (sw < 0).any():
            raise ValueError("sample_weight must be >= 0; negative values were given")
        if sw.sum() <= 0:
            raise ValueError("sample_weight sums to zero: at least one sample needs a positive weight")
        return np.ascontiguousarray(sw)

    def _validate_X_predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        with np.errstate(over="ignore"):
            return validate_data(self, X, dtype=np.float32, order="C", reset=False)

    # -- traversal --------------------------------------------------------------------------
    def apply(self, X: ArrayLike) -> np.ndarray:
        """Index of the leaf each sample ends up in."""
        X = self._validate_X_predict(X)
        t = self.tree_
        return _core.tree.apply(
            t.children_left, t.children_right, t.feature, t.threshold, X, _threads.resolve(self.n_threads)
        )

    def decision_path(self, X: ArrayLike):
        """Sparse (n_samples, node_count) indicator of the nodes each sample passes through."""
        from scipy.sparse import csr_matrix

        X = self._validate_X_predict(X)
        t = self.tree_
        n = len(X)
        node = np.zeros(n, dtype=np.int64)
        rows, cols = [np.arange(n)], [node]
        active = np.flatnonzero(t.children_left[node] != -1)
        while active.size:
            cur = node[active]
            go_left = X[active, t.feature[cur]].astype(np.float64) <= t.threshold[cur]
            node = node.copy()
            node[active] = np.where(go_left, t.children_left[cur], t.children_right[cur])
            rows.append(active)
            cols.append(node[active])
            active = active[t.children_left[node[active]] != -1]
        r, c = np.concatenate(rows), np.concatenate(cols)
        order = np.lexsort((c, r))
        return csr_matrix((np.ones(len(r), dtype=np.int64), (r[order], c[order])), shape=(n, t.node_count))

    def get_depth(self) -> int:
        """The depth of the tree (a single leaf has depth 0)."""
        check_is_fitted(self)
        return int(self.tree_.max_depth)

    def get_n_leaves(self) -> int:
        check_is_fitted(self)
        return self.tree_.n_leaves

    @property
    def feature_importances_(self) -> np.ndarray:
        """Normalised total impurity decrease brought by each feature."""
        check_is_fitted(self)
        return self.tree_.compute_feature_importances()


class DecisionTreeClassifier(ClassifierMixin, _BaseTree):
    """A CART classification tree; scikit-learn's `DecisionTreeClassifier`, with a parallel fit.

    Parameters
    ----------
    criterion : {"gini", "entropy", "log_loss"}, default="gini"
        Impurity measure ("log_loss" is "entropy", as in scikit-learn).
    splitter : {"best", "hist"}, default="best"
        "best": the exact best split (scikit-learn's rule). "hist": the best split between
        quantile bins (at most `max_bins` per feature), faster on large data.
    max_depth : int or None, default=None
        None grows until leaves are pure or hold fewer than `min_samples_split` samples.
    min_samples_split : int or float, default=2
        Minimum samples to split a node (a float is a fraction of n_samples, rounded up).
    min_samples_leaf : int or float, default=1
        Minimum samples in each leaf.
    min_weight_fraction_leaf : float, default=0.0
        Minimum fraction of the total sample weight in each leaf.
    max_features : int, float, {"sqrt", "log2"} or None, default=None
        Features examined per node, drawn at random per node (constant features do not count).
    random_state : int, numpy Generator or None, default=None
        Seeds the per-node feature draw when `max_features` < n_features. The draw is a
        function of the seed and the node's path, so results do not depend on the thread count.
    min_impurity_decrease : float, default=0.0
        A node is split only if the weighted impurity decrease is at least this.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into `sample_weight`.
    max_bins : int, default=255
        Bins per feature for ``splitter="hist"`` (2 to 256).
    n_threads : int or None, default=None
        Threads for fit and predict; None uses `mlsci_fast.get_num_threads()`.

    Attributes
    ----------
    classes_ : ndarray
    n_classes_ : int
    n_features_in_ : int
    max_features_ : int
    n_outputs_ : int
    tree_ : Tree
    feature_importances_ : ndarray of shape (n_features,)

    Notes
    -----
    X is rounded to float32 (as scikit-learn does). NaN in X is refused with a ValueError; impute
    first (e.g. `mlsci_fast.preprocessing.Cleaner`). Multi-output y is not supported.
    """

    def __init__(
        self,
        *,
        criterion: str = "gini",
        splitter: str = "best",
        max_depth: int | None = None,
        min_samples_split: int | float = 2,
        min_samples_leaf: int | float = 1,
        min_weight_fraction_leaf: float = 0.0,
        max_features: int | float | str | None = None,
        random_state=None,
        min_impurity_decrease: float = 0.0,
        class_weight=None,
        max_bins: int = 255,
        n_threads: int | None = None,
    ):
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.min_impurity_decrease = min_impurity_decrease
        self.class_weight = class_weight
        self.max_bins = max_bins
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> DecisionTreeClassifier:
        """Grow the tree on (X, y), optionally weighting samples."""
        with np.errstate(over="ignore"):  # too large for float32 -> inf -> a clear error below
            X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True)
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(f"y has {y.shape[1]} columns; multi-output trees are not supported, pass one column")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) > 256:
            raise ValueError(f"y has {len(classes)} classes; at most 256 are supported")
        self.classes_ = classes
        self.n_classes_ = len(classes)
        sw = self._sample_weight(sample_weight, len(X))
        if self.class_weight is not None:
            if isinstance(self.class_weight, dict):
                bad = {k: v for k, v in self.class_weight.items()
                       if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0}
                if bad:
                    raise ValueError(f"class_weight must map classes to finite weights >= 0, got {bad}")
            cw = compute_sample_weight(self.class_weight, y)
            sw = np.ascontiguousarray(cw if sw is None else sw * cw)
            if not np.any(sw > 0):
                raise ValueError("class_weight and sample_weight leave every sample with weight 0")
        return self._fit(X, codes.astype(np.int32), len(classes), None, sw)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities: the weighted class fractions of the leaf's training samples."""
        leaves = self.apply(X)
        proba = self.tree_.value[leaves, 0, :]
        norm = proba.sum(axis=1, keepdims=True)
        norm[norm == 0] = 1.0
        return proba / norm

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class (ties: the first in `classes_`)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class DecisionTreeRegressor(RegressorMixin, _BaseTree):
    """A CART regression tree (squared error); scikit-learn's `DecisionTreeRegressor`.

    Parameters are those of `DecisionTreeClassifier` without `class_weight`;
    `criterion` is "squared_error".
    """

    _regression = True

    def __init__(
        self,
        *,
        criterion: str = "squared_error",
        splitter: str = "best",
        max_depth: int | None = None,
        min_samples_split: int | float = 2,
        min_samples_leaf: int | float = 1,
        min_weight_fraction_leaf: float = 0.0,
        max_features: int | float | str | None = None,
        random_state=None,
        min_impurity_decrease: float = 0.0,
        max_bins: int = 255,
        n_threads: int | None = None,
    ):
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.min_impurity_decrease = min_impurity_decrease
        self.max_bins = max_bins
        self.n_threads = n_threads

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> DecisionTreeRegressor:
        """Grow the tree on (X, y), optionally weighting samples."""
        with np.errstate(over="ignore"):
            X, y = validate_data(self, X, y, dtype=np.float32, order="C", multi_output=True, y_numeric=True)
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(f"y has {y.shape[1]} columns; multi-output trees are not supported, pass one column")
        y = np.ascontiguousarray(column_or_1d(y, warn=True), dtype=np.float64)
        sw = self._sample_weight(sample_weight, len(X))
        return self._fit(X, None, 0, y, sw)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The weighted mean of the training targets in each sample's leaf."""
        leaves = self.apply(X)
        return self.tree_.value[leaves, 0, 0]


# ---- export -------------------------------------------------------------------------------------
def _names(est, feature_names):
    n = est.tree_.n_features
    if feature_names is None:
        names = getattr(est, "feature_names_in_", None)
        return list(names) if names is not None else [f"feature_{i}" for i in range(n)]
    if len(feature_names) != n:
        raise ValueError(f"feature_names has {len(feature_names)} entries, the tree has {n} features")
    return [str(f) for f in feature_names]


def _leaf_text(est, node, class_names, decimals, show_weights):
    t = est.tree_
    if isinstance(est, DecisionTreeClassifier):
        classes = class_names if class_names is not None else est.classes_
        label = f"class: {classes[int(np.argmax(t.value[node, 0]))]}"
        if show_weights:
            w = t.value[node, 0] * t.weighted_n_node_samples[node]
            label = "weights: [" + ", ".join(f"{v:.{decimals}f}" for v in w) + f"] {label}"
        return label
    return f"value: [{t.value[node, 0, 0]:.{decimals}f}]"


def _heights(t: Tree) -> np.ndarray:
    # Children come after their parent in pre-order, so one backward pass suffices.
    h = np.zeros(t.node_count, dtype=np.int64)
    for k in range(t.node_count - 1, -1, -1):
        if t.children_left[k] != -1:
            h[k] = 1 + max(h[t.children_left[k]], h[t.children_right[k]])
    return h


def _depths_and_parents(t: Tree) -> tuple[np.ndarray, np.ndarray]:
    depth = np.zeros(t.node_count, dtype=np.int64)
    parent = np.full(t.node_count, -1, dtype=np.int64)
    inner = np.flatnonzero(t.children_left != -1)
    parent[t.children_left[inner]] = inner
    parent[t.children_right[inner]] = inner
    for k in range(1, t.node_count):
        depth[k] = depth[parent[k]] + 1
    return depth, parent


def export_text(
    estimator,
    *,
    feature_names=None,
    class_names=None,
    max_depth: int = 10,
    decimals: int = 2,
    show_weights: bool = False,
) -> str:
    """The tree's rules as indented text (scikit-learn's `export_text` layout).

    Parameters
    ----------
    estimator : fitted DecisionTreeClassifier or DecisionTreeRegressor
    feature_names : list of str, optional
        Defaults to `feature_names_in_` when the model was fitted on a DataFrame, else
        feature_0, feature_1, ...
    class_names : list of str, optional
        Names for `classes_`, in order.
    max_depth : int, default=10
        Splits deeper than this are summarised as "truncated branch of depth k".
    decimals : int, default=2
        Digits shown for thresholds and values.
    show_weights : bool, default=False
        Classifiers: also show the weighted class counts of each leaf.
    """
    check_is_fitted(estimator, "tree_")
    check_scalar(max_depth, "max_depth", numbers.Integral, min_val=0)
    check_scalar(decimals, "decimals", numbers.Integral, min_val=0)
    if class_names is not None and isinstance(estimator, DecisionTreeClassifier):
        if len(class_names) != len(estimator.classes_):
            raise ValueError(f"class_names has {len(class_names)} entries, "
                             f"the model has {len(estimator.classes_)} classes")
    names = _names(estimator, feature_names)
    t = estimator.tree_
    lines: list[str] = []

    height = _heights(t)

    stack = [(0, 0, None)]
    while stack:
        node, depth, rule = stack.pop()
        indent = "|   " * depth
        if rule is not None:
            lines.append(f"{indent[:-4]}|--- {rule}")
        if t.children_left[node] == -1:
            lines.append(f"{indent}|--- {_leaf_text(estimator, node, class_names, decimals, show_weights)}")
            continue
        if depth > max_depth:
            lines.append(f"{indent}|--- truncated branch of depth {height[node] + 1}")
            continue
        name, thr = names[t.feature[node]], t.threshold[node]
        stack.append((int(t.children_right[node]), depth + 1, f"{name} >  {thr:.{decimals}f}"))
        stack.append((int(t.children_left[node]), depth + 1, f"{name} <= {thr:.{decimals}f}"))
    return "\n".join(lines) + "\n"


def plot_tree(
    estimator,
    *,
    ax=None,
    feature_names=None,
    class_names=None,
    max_depth: int | None = None,
    filled: bool = True,
    fontsize: float | None = None,
    decimals: int = 2,
):
    """Draw the tree with matplotlib: one box per node (rule, impurity, samples, value).

    Leaves sit side by side in depth-first order, each parent centred above its children; boxes
    are coloured by the majority class (classifiers) or by the value (regressors) when `filled`.
    Returns the matplotlib Axes.
    """
    from matplotlib import colormaps

    check_is_fitted(estimator, "tree_")
    names = _names(estimator, feature_names)
    t = estimator.tree_
    limit = t.max_depth if max_depth is None else check_scalar(max_depth, "max_depth", numbers.Integral, min_val=0)
    is_clf = isinstance(estimator, DecisionTreeClassifier)
    classes = (class_names if class_names is not None else estimator.classes_) if is_clf else None

    # Terminal nodes (leaves, or nodes at the depth limit) side by side in pre-order; each parent
    # centred over its children (computed backwards: children come after their parent).
    depth, parent = _depths_and_parents(t)
    shown = depth <= limit
    terminal = shown & ((t.children_left == -1) | (depth == limit))
    xs = np.zeros(t.node_count)
    xs[terminal] = np.arange(np.count_nonzero(terminal))
    for k in range(t.node_count - 1, -1, -1):
        if shown[k] and not terminal[k]:
            xs[k] = 0.5 * (xs[t.children_left[k]] + xs[t.children_right[k]])
    pos = {int(k): (xs[k], int(depth[k])) for k in np.flatnonzero(shown)}
    width = max(float(np.count_nonzero(terminal)), 1.0)
    size = (min(2.2 * width, 40), 1.6 * (min(limit, t.max_depth) + 1))
    _, (ax,), _ = _plotting.subplots(ax, 1, path=None, figsize=size)
    cmap = colormaps["tab10"]
    vmin, vmax = (t.value[:, 0, 0].min(), t.value[:, 0, 0].max()) if not is_clf else (0, 1)
    fs = fontsize or max(5.0, 10.0 - 0.15 * width)
    for node, (x, depth) in pos.items():
        lines = []
        leaf = t.children_left[node] == -1
        if not leaf and depth < limit:
            lines.append(f"{names[t.feature[node]]} <= {t.threshold[node]:.{decimals}f}")
        lines.append(f"{estimator.criterion} = {t.impurity[node]:.{decimals + 1}f}")
        lines.append(f"samples = {t.n_node_samples[node]}")
        if is_clf:
            k = int(np.argmax(t.value[node, 0]))
            lines.append(f"class = {classes[k]}")
            frac = t.value[node, 0, k]
            alpha = 0.15 + 0.75 * frac  # blended with white, so the box stays opaque over the edges
            color = tuple(1 - alpha + alpha * c for c in cmap(k % 10)[:3]) if filled else "white"
        else:
            v = t.value[node, 0, 0]
            lines.append(f"value = {v:.{decimals}f}")
            shade = 0.0 if vmax == vmin else (v - vmin) / (vmax - vmin)
            color = colormaps["viridis"](shade) if filled else "white"
        if not leaf and depth >= limit:
            lines.append("(...)")
        ax.text(x / width, 1 - (depth + 0.5) / (limit + 1), "\n".join(lines), ha="center", va="center",
                fontsize=fs, bbox=dict(boxstyle="round", fc=color, ec="0.3"))
        if node != 0:
            px, pd = pos[int(parent[node])]
            ax.plot([px / width, x / width],
                    [1 - (pd + 0.5) / (limit + 1), 1 - (depth + 0.5) / (limit + 1)],
                    color="0.4", lw=0.8, zorder=0)
    ax.set_xlim(-0.5 / width, 1 - 0.5 / width)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    return ax
