"""BernoulliRBM: exact checks on tiny models (enumeration), statistics against scikit-learn on
digits, determinism, and the Ising link."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM as SkRBM
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlsci_fast.rbm import BernoulliRBM, ising_configurations, ising_observables


def _all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def _exact_visible_distribution(rbm):
    """p(v) by enumerating every visible and hidden state: no free-energy formula used."""
    V, H = _all_states(rbm.components_.shape[1]), _all_states(rbm.components_.shape[0])
    neg_e = (V @ rbm.intercept_visible_)[:, None] + (H @ rbm.intercept_hidden_)[None, :] + V @ rbm.components_.T @ H.T
    logp = np.logaddexp.reduce(neg_e, axis=1)
    p = np.exp(logp - np.logaddexp.reduce(logp))
    return V, p, logp


def _tiny_rbm(seed=0, nv=5, nh=3):
    rng = np.random.default_rng(seed)
    rbm = BernoulliRBM(n_components=nh, n_iter=0, random_state=seed).fit(np.zeros((2, nv)))
    rbm.components_ = rng.normal(0, 1.0, (nh, nv))
    rbm.intercept_hidden_ = rng.normal(0, 0.5, nh)
    rbm.intercept_visible_ = rng.normal(0, 0.5, nv)
    return rbm


def test_free_energy_equals_enumeration():
    rbm = _tiny_rbm()
    V, _, logp_unnormalised = _exact_visible_distribution(rbm)
    np.testing.assert_allclose(-rbm._free_energy(V), logp_unnormalised, rtol=1e-12)


def test_gibbs_chains_sample_the_model_distribution():
    rbm = _tiny_rbm(1)
    V, p, _ = _exact_visible_distribution(rbm)
    samples = rbm.sample(40000, n_steps=60, seed=3)
    codes = samples @ (2 ** np.arange(V.shape[1])[::-1])
    freq = np.bincount(codes.astype(int), minlength=len(V)) / len(samples)
    assert 0.5 * np.abs(freq - p).sum() < 0.02  # total variation distance


@pytest.mark.parametrize("method, k", [("pcd", 1), ("cd", 1), ("cd", 3)])
def test_training_fits_a_small_distribution(method, k):
    # data from a known distribution over 4 bits: the trained model's exact p(v) must approach it
    rng = np.random.default_rng(0)
    V = _all_states(4)
    target = np.array([8, 1, 1, 1, 1, 1, 1, 6, 1, 1, 1, 6, 1, 6, 1, 9], float)
    target /= target.sum()
    X = V[rng.choice(16, size=4000, p=target)]
    rbm = BernoulliRBM(n_components=8, n_iter=40, learning_rate=0.05, batch_size=20, method=method, k=k,
                       momentum=0.5, random_state=0).fit(X)
    _, p, _ = _exact_visible_distribution(rbm)
    emp = np.bincount((X @ [8, 4, 2, 1]).astype(int), minlength=16) / len(X)
    kl = np.sum(emp * np.log(emp / p))
    uniform_kl = np.sum(emp * np.log(emp * 16))
    assert kl < 0.25 * uniform_kl  # an untrained model is near uniform


def test_digits_statistics_match_sklearn():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Xtr, Xte, ytr, yte = X[:1400], X[1400:], y[:1400], y[1400:]
    kw = dict(n_components=64, n_iter=15, learning_rate=0.06, random_state=0)
    ours, ref = BernoulliRBM(**kw).fit(Xtr), SkRBM(**kw).fit(Xtr)
    pl_ours = ours.score_samples(Xte).mean()
    np.testing.assert_array_equal(ours.score_samples(Xte[::-1])[::-1], ours.score_samples(Xte))
    pl_ref = np.mean([ref.score_samples(Xte).mean() for _ in range(10)])
    assert pl_ours > pl_ref - 1.5, (pl_ours, pl_ref)
    acc = [LogisticRegression(max_iter=3000).fit(m.transform(Xtr), ytr).score(m.transform(Xte), yte)
           for m in (ours, ref)]
    assert acc[0] > acc[1] - 0.05, acc
    assert ours.transform(Xte).shape == (len(Xte), 64)
    g = ours.gibbs(Xte[:5])
    assert g.dtype == bool and g.shape == (5, 64)


def test_same_seed_same_model_any_thread_count():
    X = (load_digits().data[:300] > 8).astype(float)
    a = BernoulliRBM(n_components=20, n_iter=3, random_state=4).fit(X)
    b = BernoulliRBM(n_components=20, n_iter=3, random_state=4).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    s1 = BernoulliRBM(n_components=20, n_iter=3, random_state=4, n_threads=1).fit(X).sample(50, n_steps=20, seed=9)
    s3 = BernoulliRBM(n_components=20, n_iter=3, random_state=4, n_threads=3).fit(X).sample(50, n_steps=20, seed=9)
    np.testing.assert_array_equal(s1, s3)
    c = BernoulliRBM(n_components=20, n_iter=3, random_state=5).fit(X)
    assert not np.array_equal(a.components_, c.components_)
    # partial_fit: one update with the batch
    p = BernoulliRBM(n_components=20, random_state=4).partial_fit(X[:50])
    before = p.components_.copy()
    p.partial_fit(X[50:100])
    assert not np.array_equal(before, p.components_)


def test_rbm_learns_ising_configurations():
    # the course's link: an RBM trained on equilibrium spins generates spins of that temperature
    X, T = ising_configurations(8, [1.5, 3.5], 1000, seed=0)
    gen = {}
    assert X.shape == (2000, 64) and set(np.unique(X)) <= {0.0, 1.0}
    for temp in (1.5, 3.5):
        data = ising_observables(X[T == temp], 8)
        rbm = BernoulliRBM(n_components=64, n_iter=200, learning_rate=0.02, batch_size=20, momentum=0.5,
                           random_state=0).fit(X[T == temp])
        gen[temp] = ising_observables(rbm.sample(500, n_steps=1000, seed=1), 8)
        assert abs(gen[temp]["energy"].mean() - data["energy"].mean()) < 0.15
    cold, hot = ising_observables(X[T == 1.5], 8), ising_observables(X[T == 3.5], 8)
    assert cold["abs_m"].mean() > 0.95 and cold["energy"].mean() < -1.9  # ordered phase, near -2
    assert hot["abs_m"].mean() < 0.4
    # the generated spins are ordered when the training spins were, disordered when they were not
    assert abs(gen[1.5]["abs_m"].mean() - cold["abs_m"].mean()) < 0.05
    assert gen[3.5]["abs_m"].mean() < 0.5


def test_bad_input():
    X = np.random.default_rng(0).uniform(size=(20, 4))
    with pytest.warns(UserWarning, match=r"should lie in \[0, 1\]"):
        BernoulliRBM(n_iter=1).fit(X * 3)
    with pytest.raises(ValueError, match="NaN"):
        BernoulliRBM().fit(np.where(X > 0.5, np.nan, X))
    for kw, msg in [({"method": "cd-k"}, "method"), ({"k": 0}, "k"), ({"learning_rate": 0}, "learning_rate"),
                    ({"momentum": 1.0}, "momentum"), ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=msg):
            BernoulliRBM(**kw).fit(X)
    rbm = BernoulliRBM(n_components=3, n_iter=1).fit(X)
    with pytest.raises(ValueError, match="4 features"):
        rbm.transform(X[:, :2])
    with pytest.raises(ValueError, match="init has 2 rows"):
        rbm.sample(3, init=X[:2])
    with pytest.raises(ValueError, match=r"shape \(n, L\*L\)"):
        ising_observables(X, 3)


@parametrize_with_checks([BernoulliRBM(n_components=4, n_iter=2, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():  # the checks use data outside [0, 1]
        warnings.filterwarnings("ignore", message="X should lie in", category=UserWarning)
        check(estimator)
