"""Platt scaling and pairwise coupling against independent references, and SVC.predict_proba
against scikit-learn's (which draws its cross-validation folds with another generator)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn import svm as sk
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, make_classification
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from mlsci_fast import _platt, svm


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _sklearn_proba(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.9 deprecates probability
        return sk.SVC(probability=True, **params).fit(X, y)


@pytest.mark.parametrize("shift", [0.0, 1.5])
def test_sigmoid_train_maximises_the_likelihood(shift, rng):
    dec = rng.normal(size=400) * 2
    positive = rng.uniform(size=400) < 1 / (1 + np.exp(-(1.7 * dec + shift)))
    A, B = _platt.sigmoid_train(dec, positive)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    t = np.where(positive, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def nll(ab):
        z = dec * ab[0] + ab[1]
        return np.sum(np.logaddexp(0, z) - (1 - t) * z)

    ref = minimize(nll, [0.0, 0.0], method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose([A, B], ref, atol=1e-4)
    assert A < 0  # larger decision values mean the positive class


def test_sigmoid_train_on_separable_data_stays_finite():
    A, B = _platt.sigmoid_train(np.r_[-np.ones(50) * 3, np.ones(50) * 3], np.r_[np.zeros(50), np.ones(50)] > 0)
    assert np.isfinite([A, B]).all() and A < 0


@pytest.mark.parametrize("k", [3, 4, 6])
def test_coupling_solves_the_quadratic_program(k, rng):
    n = 50
    r = np.zeros((n, k, k))
    for i in range(k):
        for j in range(i + 1, k):
            r[:, i, j] = rng.uniform(0.05, 0.95, n)
            r[:, j, i] = 1 - r[:, i, j]
    p = _platt.couple(r)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    for s in range(n):
        # Wu, Lin & Weng's problem: min p^T Q p subject to sum(p) = 1, solved exactly (KKT).
        Q = -r[s].T * r[s]
        np.fill_diagonal(Q, (r[s] ** 2).sum(axis=0) - np.diag(r[s]) ** 2)
        kkt = np.block([[2 * Q, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
        exact = np.linalg.solve(kkt, np.r_[np.zeros(k), 1.0])[:k]
        np.testing.assert_allclose(p[s], exact, atol=5e-3)


def test_coupling_of_consistent_pairs_recovers_the_probabilities():
    truth = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    r = truth[:, :, None] / (truth[:, :, None] + truth[:, None, :])
    np.testing.assert_allclose(_platt.couple(r), truth, atol=2e-3)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_predict_proba_close_to_sklearn(loader):
    X, y = _scaled(loader)
    ours = svm.SVC(probability=True, random_state=0).fit(X, y)
    ref = _sklearn_proba(X, y, random_state=0)
    p, p_ref = ours.predict_proba(X), ref.predict_proba(X)
    assert p.shape == p_ref.shape
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert np.all((p > 0) & (p < 1))
    assert np.abs(p - p_ref).mean() < 0.01
    assert log_loss(y, p) < 1.15 * log_loss(y, p_ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        np.testing.assert_allclose(ours.probA_, ref.probA_, rtol=0.25)
    np.testing.assert_allclose(np.log(p), ours.predict_log_proba(X))
    # Probabilities and predictions agree away from the boundaries.
    sure = p.max(axis=1) > 0.8
    np.testing.assert_array_equal(ours.classes_[p[sure].argmax(axis=1)], ours.predict(X)[sure])


def test_proba_only_with_probability_true():
    X, y = _scaled(load_iris)
    model = svm.SVC().fit(X, y)
    assert not hasattr(model, "predict_proba") and not hasattr(model, "predict_log_proba")
    assert model.probA_.shape == (0,)
    with pytest.raises(TypeError, match="probability must be a bool"):
        svm.SVC(probability="yes").fit(X, y)


def test_proba_reproducible_and_thread_independent():
    X, y = make_classification(500, 8, n_classes=3, n_informative=4, random_state=2)
    base = svm.SVC(probability=True, random_state=7, cache_size=0.05)
    ref = clone(base).set_params(n_threads=1).fit(X, y)
    for n_threads in (2, 3):
        other = clone(base).set_params(n_threads=n_threads).fit(X, y)
        np.testing.assert_array_equal(other.probA_, ref.probA_)
        np.testing.assert_array_equal(other.predict_proba(X), ref.predict_proba(X))
    moved = clone(base).set_params(random_state=8).fit(X, y)
    assert not np.array_equal(moved.probA_, ref.probA_)  # other folds, other sigmoid


def test_proba_with_precomputed_kernel_matches_features():
    from sklearn.metrics.pairwise import rbf_kernel

    X, y = _scaled(load_iris)
    K = rbf_kernel(X, gamma=0.25)
    a = svm.SVC(kernel="precomputed", probability=True, random_state=1).fit(K, y)
    b = svm.SVC(gamma=0.25, probability=True, random_state=1).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(K), b.predict_proba(X), atol=1e-3)
