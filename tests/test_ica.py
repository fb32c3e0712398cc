"""FastICA against scikit-learn's, the cocktail party, and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import decomposition as skd
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from mlsci_fast.ica import FastICA, make_cocktail_party, match_sources


def _mixed(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 20, n)
    S = np.c_[np.sin(3 * t), np.sign(np.sin(5.3 * t)), rng.laplace(size=n), rng.uniform(-1, 1, n)]
    A = rng.normal(size=(5, 4))  # 5 sensors, 4 sources
    return S, S @ A.T + 0.01 * rng.normal(size=(n, 5))


@pytest.mark.parametrize("algorithm", ["parallel", "deflation"])
@pytest.mark.parametrize("fun", ["logcosh", "exp", "cube"])
@pytest.mark.parametrize("whiten", ["unit-variance", "arbitrary-variance"])
def test_same_start_same_result_as_sklearn(algorithm, fun, whiten):
    _, X = _mixed()
    w0 = np.random.default_rng(1).normal(size=(4, 4))
    kw = dict(n_components=4, algorithm=algorithm, fun=fun, whiten=whiten, w_init=w0, max_iter=500, tol=1e-6)
    ours = FastICA(**kw)
    S = ours.fit_transform(X)
    ref = skd.FastICA(**kw)
    Sr = ref.fit_transform(X)
    np.testing.assert_allclose(ours.components_, ref.components_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.mixing_, ref.mixing_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.whitening_, ref.whitening_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(S, Sr, rtol=1e-6, atol=1e-8)
    assert ours.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.transform(X[:50]), ref.transform(X[:50]), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("solver", ["svd", "eigh"])
def test_any_start_recovers_the_sources_like_sklearn(solver):
    S_true, X = _mixed()
    ours = FastICA(n_components=4, random_state=0, whiten_solver=solver).fit_transform(X)
    ref = skd.FastICA(n_components=4, random_state=3).fit_transform(X)
    assert match_sources(ref, ours).correlation.min() > 0.999  # same sources up to sign/order
    assert match_sources(S_true, ours).correlation.min() > 0.99


def test_cocktail_party_is_unmixed():
    room = make_cocktail_party(duration=3.0, seed=0)
    assert room.mixtures.shape == (24000, 3) and room.names == ("voice", "music", "noise")
    S = FastICA(n_components=3, random_state=0).fit_transform(room.mixtures)
    match = match_sources(room.sources, S)
    assert match.correlation.min() > 0.98
    # the mixtures themselves are poor copies of any one source
    raw = match_sources(room.sources, room.mixtures)
    assert raw.correlation.min() < 0.9
    np.testing.assert_allclose(np.corrcoef(match.aligned[:, 0], room.sources[:, 0])[0, 1], match.correlation[0])
    again = make_cocktail_party(duration=3.0, seed=0)
    np.testing.assert_array_equal(again.mixtures, room.mixtures)


def test_round_trip_and_determinism_and_pipeline():
    _, X = _mixed()
    ica = FastICA(random_state=5).fit(X)
    assert ica.components_.shape == (5, 5)
    np.testing.assert_allclose(ica.inverse_transform(ica.transform(X)), X, atol=1e-8)
    np.testing.assert_array_equal(FastICA(random_state=5).fit(X).components_, ica.components_)
    S = make_pipeline(StandardScaler(), FastICA(n_components=4, random_state=0)).fit_transform(X)
    assert S.shape == (len(X), 4)
    np.testing.assert_allclose(S.std(axis=0), 1.0, rtol=1e-10)


def test_callable_fun_and_alpha():
    _, X = _mixed()

    def my_g(x, scale=1.0):
        g = np.tanh(scale * x)
        return g, scale * (1 - (g**2).mean(axis=-1))

    a = FastICA(n_components=4, fun=my_g, fun_args={"scale": 1.5}, random_state=0).fit(X)
    b = FastICA(n_components=4, fun="logcosh", fun_args={"alpha": 1.5}, random_state=0).fit(X)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-10)


def test_bad_input():
    _, X = _mixed(200)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FastICA().fit(Xn)
    with pytest.raises(ValueError, match="minimum of 2"):
        FastICA().fit(X[:1])
    with pytest.raises(ValueError, match="rank"):
        FastICA(n_components=3).fit(np.c_[X[:, 0], X[:, 0] * 2, X[:, 0] - 1])
    with pytest.raises(ValueError, match="w_init has shape"):
        FastICA(n_components=3, w_init=np.eye(2)).fit(X)
    for kw, msg in [({"algorithm": "fixed"}, "algorithm"), ({"fun": "tanh"}, "fun"), ({"whiten": True}, "whiten"),
                    ({"max_iter": 0}, "max_iter"), ({"fun_args": {"beta": 1}}, "alpha"),
                    ({"whiten_solver": "qr"}, "whiten_solver"), ({"n_components": 0}, "n_components")]:
        with pytest.raises(ValueError, match=msg):
            FastICA(**kw).fit(X)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        FastICA(max_iter=1, tol=1e-12, random_state=0).fit(X)
    with pytest.warns(UserWarning, match="too large"):
        FastICA(n_components=9, random_state=0).fit(X)
    ica = FastICA(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="5 features"):
        ica.transform(X[:, :3])
    with pytest.raises(ValueError, match="2 components"):
        ica.inverse_transform(np.ones((3, 4)))
    with pytest.raises(ValueError, match="fewer than"):
        match_sources(np.ones((10, 3)), np.ones((10, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FastICA(n_components=2, random_state=0).fit(X)


@parametrize_with_checks([FastICA(random_state=0, max_iter=1000, tol=1e-3)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
