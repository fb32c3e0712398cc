"""Decision trees against scikit-learn's: the same tree up to ties, the same text export,
thread-count determinism, histogram mode, and clear errors on bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn import tree as sktree
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlsci_fast.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text, plot_tree


# ---- an independent reference for "equally good split" ---------------------------------------
def _weighted_impurity(y, w, criterion, n_classes):
    """Weight times impurity of one side, computed directly from its samples."""
    W = w.sum()
    if W == 0:
        return 0.0
    if criterion == "squared_error":
        mean = np.sum(w * y) / W
        return float(np.sum(w * (y - mean) ** 2))
    p = np.bincount(y, weights=w, minlength=n_classes) / W
    if criterion == "gini":
        return float(W * (1.0 - np.sum(p * p)))
    p = p[p > 0]
    return float(-W * np.sum(p * np.log(p)))


def _assert_same_tree(ours, ref, X, y, w, criterion, *, allow_ties=True):
    """Walk both trees together. Matching nodes must agree in every array; where the split
    differs, both splits must be equally good on the node's samples (a tie), and the subtrees
    below are not compared. Returns the number of nodes compared."""
    a, b = ours.tree_, ref.tree_
    X32 = X.astype(np.float32)
    n_classes = a.value.shape[2]
    scale = float(np.var(y)) if criterion == "squared_error" else 1.0
    stack = [(0, 0, np.ones(len(X), bool))]
    compared = ties = 0
    while stack:
        i, j, mask = stack.pop()
        compared += 1
        assert a.n_node_samples[i] == b.n_node_samples[j]
        np.testing.assert_allclose(a.weighted_n_node_samples[i], b.weighted_n_node_samples[j], rtol=1e-12)
        np.testing.assert_allclose(a.impurity[i], b.impurity[j], rtol=1e-9, atol=1e-9 * scale)
        np.testing.assert_allclose(a.value[i], b.value[j], rtol=1e-9, atol=1e-12)
        a_leaf, b_leaf = a.children_left[i] == -1, b.children_left[j] == -1
        if a_leaf != b_leaf:
            # scikit-learn splits a pure node when rounding leaves its impurity just above
            # machine epsilon (non-integer weights, equal y); ours stops there, as it should
            assert a_leaf and abs(b.impurity[j]) <= 1e-9 * scale, f"node {i}/{j}: one tree splits, the other does not"
            ties += 1
            continue
        if a_leaf:
            continue
        if a.feature[i] != b.feature[j] or a.threshold[i] != b.threshold[j]:
            assert allow_ties, (f"node {i}: split differs ({a.feature[i]}, {a.threshold[i]}) "
                                f"vs ({b.feature[j]}, {b.threshold[j]})")
            costs = []
            for f, t in ((a.feature[i], a.threshold[i]), (b.feature[j], b.threshold[j])):
                left = mask & (X32[:, f] <= t)
                right = mask & ~(X32[:, f] <= t)
                costs.append(_weighted_impurity(y[left], w[left], criterion, n_classes)
                             + _weighted_impurity(y[right], w[right], criterion, n_classes))
            assert costs[0] == pytest.approx(costs[1], rel=1e-9, abs=1e-9), f"node {i}: not a tie: {costs}"
            ties += 1
            continue
        go_left = X32[:, a.feature[i]] <= a.threshold[i]
        stack.append((a.children_right[i], b.children_right[j], mask & ~go_left))
        stack.append((a.children_left[i], b.children_left[j], mask & go_left))
    return compared, ties


def _classification(n=3000, d=12, classes=2, seed=0):
    # noisy labels and overlapping classes: few candidate splits are exactly equally good
    X, y = make_classification(n, d, n_informative=min(6, d), n_redundant=0, n_classes=classes,
                               n_clusters_per_class=1, flip_y=0.1, class_sep=0.7, random_state=seed)
    return X, y


# ---- parity with scikit-learn ----------------------------------------------------------------
# Depths at which these trees have no ties (two splits exactly equally good, e.g. two features
# that each peel off one sample of the same class); deeper, see the test below.
@pytest.mark.parametrize("classes, criterion, depth",
                         [(2, "gini", 2), (2, "entropy", 4), (4, "gini", 5), (4, "entropy", 4)])
def test_depth_limited_classifier_equals_sklearn_exactly(classes, criterion, depth):
    X, y = _classification(classes=classes)
    kw = dict(criterion=criterion, max_depth=depth)
    ours = DecisionTreeClassifier(**kw).fit(X, y)
    ref = sktree.DecisionTreeClassifier(random_state=0, **kw).fit(X, y)
    _assert_same_tree(ours, ref, X, y, np.ones(len(y)), criterion, allow_ties=False)
    np.testing.assert_array_equal(ours.tree_.feature, ref.tree_.feature)
    np.testing.assert_array_equal(ours.tree_.threshold, ref.tree_.threshold)
    np.testing.assert_array_equal(ours.tree_.children_left, ref.tree_.children_left)
    np.testing.assert_array_equal(ours.tree_.n_node_samples, ref.tree_.n_node_samples)
    np.testing.assert_allclose(ours.tree_.impurity, ref.tree_.impurity, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.tree_.value, ref.tree_.value, rtol=1e-12)
    np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, rtol=1e-9)
    Xt, _ = _classification(classes=classes, seed=1)
    np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
    np.testing.assert_allclose(ours.predict_proba(Xt), ref.predict_proba(Xt), rtol=1e-12)
    np.testing.assert_array_equal(ours.apply(Xt), ref.apply(Xt))
    assert (ours.decision_path(Xt) != ref.decision_path(Xt)).nnz == 0
    assert export_text(ours) == sktree.export_text(ref)
    assert export_text(ours, max_depth=1, show_weights=True) == sktree.export_text(ref, max_depth=1, show_weights=True)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"criterion": "entropy"},
        {"min_samples_leaf": 5},
        {"min_samples_split": 20, "max_depth": 9},
        {"min_weight_fraction_leaf": 0.01},
        {"min_impurity_decrease": 1e-3},
        {"class_weight": "balanced"},
        {"min_samples_leaf": 0.01},
    ],
)
def test_fully_grown_classifier_equals_sklearn_up_to_ties(params):
    X, y = _classification(classes=3)
    ours = DecisionTreeClassifier(**params).fit(X, y)
    ref = sktree.DecisionTreeClassifier(random_state=0, **params).fit(X, y)
    w = compute_sample_weight(params.get("class_weight"), y)
    compared, ties = _assert_same_tree(ours, ref, X, y, w, ours.criterion)
    assert compared > 0.3 * ref.tree_.node_count
    if ties == 0:
        np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    else:  # the subtrees below a tie differ, but fit the training data as well
        assert abs(ours.score(X, y) - ref.score(X, y)) < 0.01


def test_sample_weight_equals_sklearn():
    X, y = _classification(classes=2)
    w = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    ours = DecisionTreeClassifier(max_depth=6).fit(X, y, sample_weight=w)
    ref = sktree.DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y, sample_weight=w)
    _assert_same_tree(ours, ref, X, y, w, "gini")


@pytest.mark.parametrize("params", [{"max_depth": 6}, {}, {"min_samples_leaf": 3}])
def test_regressor_equals_sklearn(params):
    X, y = make_regression(2000, 8, noise=5.0, random_state=0)
    ours = DecisionTreeRegressor(**params).fit(X, y)
    ref = sktree.DecisionTreeRegressor(random_state=0, **params).fit(X, y)
    _assert_same_tree(ours, ref, X, y, np.ones(len(y)), "squared_error")
    Xt, _ = make_regression(500, 8, random_state=1)
    if "max_depth" in params:
        np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), rtol=1e-9)
        np.testing.assert_allclose(ours.feature_importances_, ref.feature_importances_, rtol=1e-7)
        assert export_text(ours) == sktree.export_text(ref)


def test_real_datasets_equal_sklearn():
    for loader in (load_iris, load_breast_cancer):
        X, y = loader(return_X_y=True)
        ours = DecisionTreeClassifier().fit(X, y)
        ref = sktree.DecisionTreeClassifier(random_state=0).fit(X, y)
        _assert_same_tree(ours, ref, X, y, np.ones(len(y)), "gini")
    X, y = load_diabetes(return_X_y=True)
    _assert_same_tree(DecisionTreeRegressor(max_depth=8).fit(X, y),
                      sktree.DecisionTreeRegressor(max_depth=8, random_state=0).fit(X, y),
                      X, y, np.ones(len(y)), "squared_error")


# ---- histogram mode ------------------------------------------------------------------------------
def test_histogram_equals_exact_when_every_value_has_its_bin():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 40, size=(3000, 6)).astype(float)
    y = ((X[:, 0] + 2 * X[:, 1] - X[:, 2] + rng.normal(0, 8, 3000)) > 40).astype(int)
    exact = DecisionTreeClassifier().fit(X, y)
    hist = DecisionTreeClassifier(splitter="hist").fit(X, y)
    # the same splits; only the thresholds differ where a node lacks some values: the exact
    # split sits halfway between the node's own neighbours, the histogram's at the global edge
    for name in ("feature", "children_left", "n_node_samples"):
        np.testing.assert_array_equal(getattr(hist.tree_, name), getattr(exact.tree_, name))
    np.testing.assert_allclose(hist.tree_.impurity, exact.tree_.impurity, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(hist.apply(X), exact.apply(X))


def test_histogram_accuracy_close_to_exact_on_continuous_data():
    X, y = _classification(n=6000, classes=2)
    Xt, yt = X[4000:], y[4000:]
    exact = DecisionTreeClassifier(max_depth=10).fit(X[:4000], y[:4000]).score(Xt, yt)
    hist = DecisionTreeClassifier(max_depth=10, splitter="hist", max_bins=32).fit(X[:4000], y[:4000])
    assert hist.score(Xt, yt) > exact - 0.03
    assert np.unique(hist.tree_.threshold[hist.tree_.feature == 0]).size <= 31
    Xr, yr = make_regression(4000, 6, noise=1.0, random_state=0)
    r = DecisionTreeRegressor(splitter="hist", max_depth=8).fit(Xr[:3000], yr[:3000])
    e = DecisionTreeRegressor(max_depth=8).fit(Xr[:3000], yr[:3000])
    assert r.score(Xr[3000:], yr[3000:]) > e.score(Xr[3000:], yr[3000:]) - 0.05


# ---- determinism ---------------------------------------------------------------------------------
@pytest.mark.parametrize("splitter", ["best", "hist"])
@pytest.mark.parametrize("max_features", [None, "sqrt"])
def test_same_tree_for_any_thread_count(splitter, max_features):
    # big enough that large nodes split their feature loops into tasks and subtrees run as tasks
    X, y = _classification(n=30000, d=10, classes=3)
    trees = [
        DecisionTreeClassifier(splitter=splitter, max_features=max_features, random_state=7, n_threads=nt)
        .fit(X, y).tree_
        for nt in (1, 2, 3)
    ]
    for t in trees[1:]:
        for name in ("feature", "threshold", "children_left", "children_right", "impurity", "value"):
            np.testing.assert_array_equal(getattr(t, name), getattr(trees[0], name))


def test_max_features_draw_follows_the_seed():
    X, y = _classification(classes=2)
    a = DecisionTreeClassifier(max_features=3, random_state=1).fit(X, y).tree_
    b = DecisionTreeClassifier(max_features=3, random_state=1).fit(X, y).tree_
    c = DecisionTreeClassifier(max_features=3, random_state=2).fit(X, y).tree_
    np.testing.assert_array_equal(a.feature, b.feature)
    assert a.node_count != c.node_count or not np.array_equal(a.feature, c.feature)
    # the root examined only 3 of 12 features: its split is the best among some 3, not all
    full = DecisionTreeClassifier(max_depth=1).fit(X, y).tree_
    assert a.impurity[0] == full.impurity[0]


def test_pickle_and_clone_and_pipeline():
    X, y = _classification(classes=2)
    clf = DecisionTreeClassifier(max_depth=4).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    assert clone(clf).get_params() == clf.get_params()
    pipe = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=3)).fit(X, y)
    assert pipe.score(X, y) > 0.7
    grid = GridSearchCV(DecisionTreeClassifier(), {"max_depth": [2, 4]}, cv=3).fit(X, y)
    assert grid.best_params_["max_depth"] in (2, 4)


def test_string_labels_and_single_sample_and_constant_features():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    clf = DecisionTreeClassifier().fit(X, ["cat", "cat", "dog", "dog"])
    assert list(clf.predict([[0.2, 5.0], [2.7, -1.0]])) == ["cat", "dog"]
    assert clf.tree_.feature[0] == 0 and clf.tree_.threshold[0] == 1.5
    one = DecisionTreeClassifier().fit([[1.0, 2.0]], [3])
    assert one.tree_.node_count == 1 and one.predict([[9.0, 9.0]])[0] == 3
    const = DecisionTreeRegressor().fit(np.ones((10, 3)), np.arange(10.0))
    assert const.tree_.node_count == 1 and const.predict([[1.0, 1.0, 1.0]])[0] == pytest.approx(4.5)


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_input_gets_clear_errors():
    X, y = _classification(n=50, d=3)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DecisionTreeClassifier().fit(Xn, y)
    Xi = X.copy()
    Xi[0, 0] = 1e300  # overflows float32
    with pytest.raises(ValueError, match="infinity|too large"):
        DecisionTreeClassifier().fit(Xi, y)
    with pytest.raises(ValueError, match="0 sample"):
        DecisionTreeClassifier().fit(np.empty((0, 3)), [])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DecisionTreeClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="multi-output"):
        DecisionTreeRegressor().fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="NaN"):
        DecisionTreeRegressor().fit(X, np.where(y == 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="sample_weight must be >= 0"):
        DecisionTreeClassifier().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        DecisionTreeClassifier().fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sums to zero"):
        DecisionTreeClassifier().fit(X, y, sample_weight=np.zeros(len(y)))
    for params, msg in [
        ({"criterion": "mse"}, "criterion"),
        ({"splitter": "random"}, "not implemented"),
        ({"max_depth": 0}, "max_depth"),
        ({"min_samples_leaf": 0}, "min_samples_leaf"),
        ({"min_samples_split": 1}, "min_samples_split"),
        ({"max_features": "half"}, "max_features"),
        ({"max_features": 4}, "max_features"),
        ({"max_bins": 1}, "max_bins"),
        ({"min_weight_fraction_leaf": 0.7}, "min_weight_fraction_leaf"),
        ({"n_threads": 0}, "n_threads"),
    ]:
        with pytest.raises(ValueError, match=msg):
            DecisionTreeClassifier(**params).fit(X, y)
    with pytest.raises(NotFittedError):
        DecisionTreeClassifier().predict(X)
    clf = DecisionTreeClassifier().fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError, match="feature_names has 2"):
        export_text(clf, feature_names=["a", "b"])


def test_tampered_tree_arrays_are_refused_not_followed():
    X, y = _classification(n=200, d=3)
    clf = DecisionTreeClassifier(max_depth=3).fit(X, y)
    bad = clf.tree_.children_left.copy()
    bad[0] = 0  # a loop
    object.__setattr__(clf.tree_, "children_left", bad)
    with pytest.raises(ValueError, match="inconsistent at node 0"):
        clf.predict(X)


def test_plot_tree_draws_every_node(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = load_iris(return_X_y=True)
    clf = DecisionTreeClassifier(max_depth=3).fit(X, y)
    ax = plot_tree(clf, feature_names=load_iris().feature_names, class_names=load_iris().target_names)
    assert len(ax.texts) == clf.tree_.node_count
    ax.figure.savefig(tmp_path / "tree.png")
    plt.close(ax.figure)
    reg = DecisionTreeRegressor(max_depth=6).fit(X, y)
    depth = np.zeros(reg.tree_.node_count, int)
    for k in range(reg.tree_.node_count):
        for child in (reg.tree_.children_left[k], reg.tree_.children_right[k]):
            if child != -1:
                depth[child] = depth[k] + 1
    ax = plot_tree(reg, max_depth=2)
    assert len(ax.texts) == np.count_nonzero(depth <= 2) < reg.tree_.node_count
    plt.close(ax.figure)


@parametrize_with_checks([DecisionTreeClassifier(), DecisionTreeRegressor(), DecisionTreeClassifier(splitter="hist")])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("class_weight, match", [
    ({0: -1.0, 1: 1.0}, r"finite weights >= 0, got \{0: -1.0\}"),
    ({0: float("nan"), 1: 1.0}, "finite weights >= 0"),
    ({0: float("inf"), 1: 1.0}, "finite weights >= 0"),
    ({0: 0.0, 1: 0.0}, "every sample with weight 0"),
])
def test_bad_class_weight_is_refused(class_weight, match):
    """Negative or NaN class weights used to fit a tree silently."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match=match):
        DecisionTreeClassifier(class_weight=class_weight).fit(X, y)
