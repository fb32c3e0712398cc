"""MCMC: built-in targets against scipy/numpy formulas, the ensemble sampler against analytic
posteriors and emcee, diagnostics against ArviZ and emcee, determinism, resume, bad input."""

import pickle
import warnings

import emcee
import numpy as np
import pytest
from scipy import stats
from scipy.special import log_expit, logsumexp

from mlsci_fast import mcmc
from mlsci_fast.mcmc import diagnostics as diag
from mlsci_fast.mcmc import targets as T


def _spd(rng, d, cond=30.0):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q @ np.diag(np.geomspace(1.0, cond, d)) @ q.T


@pytest.fixture
def linreg_data(rng):
    X = rng.uniform(-2, 2, size=(200, 2))
    y = 0.5 + X @ np.array([1.5, -0.7]) + 0.4 * rng.normal(size=200)
    return X, y


@pytest.fixture
def logreg_data(rng):
    X = rng.normal(size=(300, 3))
    p = 1 / (1 + np.exp(-(0.3 + X @ np.array([1.0, -2.0, 0.5]))))
    return X, (rng.uniform(size=300) < p).astype(float)


def _all_targets(rng, linreg_data, logreg_data):
    d = 4
    cov = _spd(rng, d)
    covs = np.stack([_spd(rng, 3), _spd(rng, 3, 5.0)])
    return [
        T.Gaussian(rng.normal(size=d), cov),
        T.GaussianMixture([0.3, 0.7], rng.normal(size=(2, 3)), covs),
        T.Funnel(5),
        T.Rosenbrock(),
        T.Rosenbrock(0.5, 20.0, ndim=4, scale=3.0),
        T.LinearRegression(*linreg_data),
        T.LinearRegression(*linreg_data, sigma=0.4, prior_scale=3.0, fit_intercept=False),
        T.LogisticRegression(*logreg_data),
        T.LogisticRegression(*logreg_data, prior_scale=None, fit_intercept=False),
    ]


# -- targets ---------------------------------------------------------------------------------


def test_gaussian_and_mixture_match_scipy(rng):
    d = 5
    mean, cov = rng.normal(size=d), _spd(rng, d)
    x = rng.normal(size=(7, d))
    np.testing.assert_allclose(T.Gaussian(mean, cov)(x), stats.multivariate_normal(mean, cov).logpdf(x), rtol=1e-12)
    w = np.array([1.0, 3.0])
    means = rng.normal(size=(2, d))
    covs = np.stack([cov, _spd(rng, d, 3.0)])
    ref = logsumexp(
        [np.log(w[k] / w.sum()) + stats.multivariate_normal(means[k], covs[k]).logpdf(x) for k in range(2)], axis=0
    )
    np.testing.assert_allclose(T.GaussianMixture(w, means, covs)(x), ref, rtol=1e-12)


def test_gaussian_scalar_and_diagonal_cov():
    x = np.array([0.3, -1.0])
    np.testing.assert_allclose(T.Gaussian([0, 0], 2.0)(x), stats.multivariate_normal([0, 0], 2.0).logpdf(x))
    np.testing.assert_allclose(T.Gaussian([0, 0], [1.0, 4.0])(x), stats.multivariate_normal([0, 0], [1, 4]).logpdf(x))


def test_funnel_and_rosenbrock_formulas(rng):
    x = rng.normal(size=(6, 4))
    ref = stats.norm(0, 3).logpdf(x[:, 0]) + stats.norm(0, np.exp(x[:, 0] / 2)[:, None]).logpdf(x[:, 1:]).sum(1)
    np.testing.assert_allclose(T.Funnel(4)(x), ref, rtol=1e-12)
    y = rng.normal(size=(6, 2))
    banana = -(100 * (y[:, 1] - y[:, 0] ** 2) ** 2 + (1 - y[:, 0]) ** 2) / 20  # Goodman & Weare (2010)
    np.testing.assert_allclose(T.Rosenbrock()(y), banana, rtol=1e-12)


def test_linear_regression_matches_direct_formula(rng, linreg_data):
    X, y = linreg_data
    A = np.column_stack([np.ones(len(y)), X])
    theta = rng.normal(size=(5, 4))
    beta, log_s = theta[:, :3], theta[:, 3]
    rss = ((y[None, :] - beta @ A.T) ** 2).sum(1)
    ref = -len(y) * (log_s + 0.5 * np.log(2 * np.pi)) - 0.5 * rss * np.exp(-2 * log_s)
    np.testing.assert_allclose(T.LinearRegression(X, y)(theta), ref, rtol=1e-10)
    # known sigma, Gaussian prior, no intercept
    b = theta[:, :2]
    rss = ((y[None, :] - b @ X.T) ** 2).sum(1)
    ref = stats.norm(0, 0.4).logpdf(y[None, :] - b @ X.T).sum(1) + stats.norm(0, 3.0).logpdf(b).sum(1)
    target = T.LinearRegression(X, y, sigma=0.4, prior_scale=3.0, fit_intercept=False)
    np.testing.assert_allclose(target(b), ref, rtol=1e-10)


def test_linear_regression_is_stable_for_large_offsets(rng):
    # y ~ 1e6 with noise 1e-3: the normal equations would lose every digit of the residual.
    X = rng.uniform(0, 1, size=(500, 1))
    y = 1e6 + 2.0 * X[:, 0] + 1e-3 * rng.normal(size=500)
    beta = np.array([1e6, 2.0, np.log(1e-3)])
    A = np.column_stack([np.ones(500), X])
    rss = np.sum((y - A @ beta[:2]) ** 2)
    ref = -500 * (beta[2] + 0.5 * np.log(2 * np.pi)) - 0.5 * rss / 1e-6
    # The reference itself is only good to ~1e-8 here (residuals of 1e-3 from values of 1e6); the
    # normal equations would be off by orders of magnitude.
    np.testing.assert_allclose(T.LinearRegression(X, y)(beta), ref, rtol=1e-7)


def test_logistic_regression_matches_direct_formula(rng, logreg_data):
    X, y = logreg_data
    A = np.column_stack([np.ones(len(y)), X])
    beta = rng.normal(size=(4, 4))
    z = beta @ A.T
    ref = (y * log_expit(z) + (1 - y) * log_expit(-z)).sum(1) + stats.norm(0, 5.0).logpdf(beta).sum(1)
    np.testing.assert_allclose(T.LogisticRegression(X, y)(beta), ref, rtol=1e-10)


def test_gradients_match_finite_differences(rng, linreg_data, logreg_data):
    for target in _all_targets(rng, linreg_data, logreg_data):
        x = rng.normal(scale=0.5, size=target.ndim)
        g = target.gradient(x)
        h = 1e-6
        fd = np.array([(target(x + h * e) - target(x - h * e)) / (2 * h) for e in np.eye(target.ndim)])
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5 * (1 + np.abs(fd).max()), err_msg=repr(target))
        lp, g2 = target.log_prob_and_gradient(x[None, None, :])
        assert lp.shape == (1, 1) and g2.shape == (1, 1, target.ndim)
        np.testing.assert_allclose(lp[0, 0], target(x), rtol=1e-14)


def test_targets_pickle_and_names(rng, linreg_data, logreg_data):
    for target in _all_targets(rng, linreg_data, logreg_data):
        clone = pickle.loads(pickle.dumps(target))
        x = rng.normal(size=(3, target.ndim))
        np.testing.assert_array_equal(clone(x), target(x))
        assert len(target.param_names) == target.ndim
    assert T.LinearRegression(*linreg_data).param_names == ["intercept", "coef[0]", "coef[1]", "log_sigma"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: T.Gaussian([0, 0], [[1, 0.5], [0.4, 1]]), "symmetric"),
        (lambda: T.Gaussian([0, 0], [[1, 2], [2, 1]]), "positive definite"),
        (lambda: T.Gaussian([0, 0, 0], np.eye(2)), r"shape \(3, 3\)"),
        (lambda: T.Gaussian([0, np.nan], np.eye(2)), "mean"),
        (lambda: T.GaussianMixture([1, -1], np.zeros((2, 2)), np.stack([np.eye(2)] * 2)), "weights"),
        (lambda: T.Funnel(1), "ndim"),
        (lambda: T.Rosenbrock(b=-1), "b must be"),
        (lambda: T.LinearRegression(np.ones((5, 2)), np.ones(4)), "5 rows but y has 4"),
        (lambda: T.LinearRegression(np.ones((5, 2)), np.ones(5), sigma=-1.0), "sigma"),
        (lambda: T.LogisticRegression(np.ones((3, 1)), [0, 1, 2]), "only 0 and 1"),
        (lambda: T.LogisticRegression(np.ones((3, 1)), [0, 1, 1], prior_scale=0), "prior_scale"),
    ],
)
def test_target_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_target_wrong_point_shape():
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        T.Rosenbrock()(np.zeros(3))


# -- the ensemble sampler --------------------------------------------------------------------


def _ball(rng, center, nwalkers, scale=1e-2):
    center = np.asarray(center, dtype=float)
    return center + scale * rng.normal(size=(nwalkers, center.size))


def _check_moments(chain, tau, mean, cov, n_sigma=5.0):
    """Sample mean and covariance against the truth, with errors from the autocorrelation time."""
    n_eff = chain.shape[0] * chain.shape[1] / tau.max()
    flat = chain.reshape(-1, chain.shape[2])
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(flat.mean(0) - mean) < n_sigma * sd / np.sqrt(n_eff)), (flat.mean(0), mean)
    # var(s_ij) ~ (s_ii s_jj + s_ij^2) / n_eff for Gaussian data
    err = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n_eff)
    assert np.all(np.abs(np.cov(flat.T) - cov) < n_sigma * err), np.abs(np.cov(flat.T) - cov) / err


MOVES = {
    "stretch": mcmc.StretchMove(),
    "de": mcmc.DEMove(),
    "snooker": [(mcmc.DEMove(), 0.8), (mcmc.DESnookerMove(), 0.2)],
    "mixed": [(mcmc.StretchMove(a=2.5), 0.5), (mcmc.DEMove(gamma0=0.5), 0.3), (mcmc.DESnookerMove(), 0.2)],
}


@pytest.mark.parametrize("moves", list(MOVES))
def test_gaussian_moments_every_move(rng, seed, moves):
    d = 4
    mean, cov = rng.normal(size=d), _spd(rng, d, 20.0)
    s = mcmc.EnsembleSampler(24, d, T.Gaussian(mean, cov), moves=MOVES[moves], seed=seed)
    s.run_mcmc(_ball(rng, mean, 24), 6000)
    chain = s.get_chain(discard=1000)
    tau = diag.integrated_time(chain)
    _check_moments(chain, tau, mean, cov)
    assert 0.15 < s.acceptance_fraction.mean() < 0.9


def test_python_callable_gives_the_same_moments(rng, seed):
    d = 3
    mean, cov = rng.normal(size=d), _spd(rng, d)
    prec = np.linalg.inv(cov)

    def log_prob(x, shift):
        r = x - shift
        return -0.5 * np.einsum("ij,jk,ik->i", r, prec, r)

    s = mcmc.EnsembleSampler(16, d, log_prob, args=(mean,), vectorize=True, seed=seed)
    s.run_mcmc(_ball(rng, mean, 16), 4000)
    chain = s.get_chain(discard=500)
    _check_moments(chain, diag.integrated_time(chain), mean, cov)


def test_linear_regression_posterior_matches_conjugate_result(rng, seed, linreg_data):
    X, y = linreg_data
    sigma, tau0 = 0.4, 2.0
    A = np.column_stack([np.ones(len(y)), X])
    prec = A.T @ A / sigma**2 + np.eye(3) / tau0**2
    cov = np.linalg.inv(prec)
    mean = cov @ A.T @ y / sigma**2
    s = mcmc.EnsembleSampler(16, 3, T.LinearRegression(X, y, sigma=sigma, prior_scale=tau0), seed=seed)
    s.run_mcmc(_ball(rng, mean, 16, 1e-3), 5000)
    chain = s.get_chain(discard=500)
    _check_moments(chain, diag.integrated_time(chain), mean, cov)


def test_linear_regression_unknown_noise_matches_student_t(rng, seed, linreg_data):
    # Flat prior on beta and p(sigma) ~ 1/sigma: beta | y is Student-t with n - k degrees of
    # freedom around the least-squares fit, scale s^2 (A^T A)^-1 (Gelman et al., BDA3, 14.2).
    X, y = linreg_data
    A = np.column_stack([np.ones(len(y)), X])
    n, k = A.shape
    from sklearn.linear_model import LinearRegression as OLS

    ols = OLS().fit(X, y)
    beta_hat = np.r_[ols.intercept_, ols.coef_]
    s2 = np.sum((y - A @ beta_hat) ** 2) / (n - k)
    nu = n - k
    cov = nu / (nu - 2) * s2 * np.linalg.inv(A.T @ A)
    s = mcmc.EnsembleSampler(16, 4, T.LinearRegression(X, y), seed=seed)
    s.run_mcmc(_ball(rng, np.r_[beta_hat, np.log(np.sqrt(s2))], 16, 1e-3), 5000)
    chain = s.get_chain(discard=500)[:, :, :3]
    _check_moments(chain, diag.integrated_time(chain), beta_hat, cov)


def test_agrees_with_emcee(rng, seed):
    """Same target, same stretch move: marginals indistinguishable (KS on thinned samples at the
    0.1% level) and autocorrelation times within 35% of each other."""
    d = 3
    cov = _spd(rng, d, 10.0)
    prec = np.linalg.inv(cov)
    p0 = _ball(rng, np.zeros(d), 20)

    def log_prob(x):
        return -0.5 * np.einsum("ij,jk,ik->i", x, prec, x)

    ours = mcmc.EnsembleSampler(20, d, T.Gaussian(np.zeros(d), cov), seed=seed)
    ours.run_mcmc(p0, 8000)
    np.random.seed(seed)  # noqa: NPY002 (emcee draws from the global state)
    ref = emcee.EnsembleSampler(20, d, log_prob, vectorize=True)
    ref.run_mcmc(p0, 8000)
    tau_ours = ours.get_autocorr_time(discard=1000)
    tau_ref = ref.get_autocorr_time(discard=1000)
    assert np.all(np.abs(np.log(tau_ours / tau_ref)) < np.log(1.35)), (tau_ours, tau_ref)
    thin = int(np.ceil(max(tau_ours.max(), tau_ref.max())))
    a = ours.get_chain(discard=1000, thin=thin, flat=True)
    b = ref.get_chain(discard=1000, thin=thin, flat=True)
    for i in range(d):
        assert stats.ks_2samp(a[:, i], b[:, i]).pvalue > 1e-3
    np.testing.assert_allclose(ours.acceptance_fraction.mean(), ref.acceptance_fraction.mean(), atol=0.03)


def test_same_results_for_any_thread_count(rng, logreg_data):
    X, y = logreg_data
    # A target costly enough to be spread over threads, and a cheap one that is not.
    for target in (T.LogisticRegression(X, y), T.Gaussian(np.zeros(3), _spd(rng, 3))):
        p0 = _ball(rng, np.zeros(target.ndim), 16)
        runs = []
        for n_threads in (1, 2):
            s = mcmc.EnsembleSampler(16, target.ndim, target, seed=7, n_threads=n_threads, moves=MOVES["mixed"])
            s.run_mcmc(p0, 200)
            runs.append((s.get_chain(), s.get_log_prob(), s.acceptance_fraction))
        for a, b in zip(*runs):
            np.testing.assert_array_equal(a, b)


def test_same_seed_same_chain_different_seed_different_chain(rng):
    g = T.Gaussian(np.zeros(2), np.eye(2))
    p0 = _ball(rng, np.zeros(2), 8)
    chains = []
    for seed in (3, 3, 4):
        s = mcmc.EnsembleSampler(8, 2, g, seed=seed)
        s.run_mcmc(p0, 50)
        chains.append(s.get_chain())
    np.testing.assert_array_equal(chains[0], chains[1])
    assert not np.array_equal(chains[0], chains[2])


def test_seed_none_is_recorded_and_reproduces(rng):
    g = T.Gaussian(np.zeros(2), np.eye(2))
    p0 = _ball(rng, np.zeros(2), 8)
    a = mcmc.EnsembleSampler(8, 2, g)
    a.run_mcmc(p0, 30)
    b = mcmc.EnsembleSampler(8, 2, g, seed=a.seed)
    b.run_mcmc(p0, 30)
    np.testing.assert_array_equal(a.get_chain(), b.get_chain())


def test_thin_by_sample_and_reset_use_the_same_random_numbers(rng):
    g = T.Gaussian(np.zeros(2), np.eye(2))
    p0 = _ball(rng, np.zeros(2), 8)
    full = mcmc.EnsembleSampler(8, 2, g, seed=1)
    full.run_mcmc(p0, 300)
    thinned = mcmc.EnsembleSampler(8, 2, g, seed=1)
    thinned.run_mcmc(p0, 100, thin_by=3)
    assert thinned.iteration == 100
    np.testing.assert_array_equal(thinned.get_chain(), full.get_chain()[2::3])
    gen = mcmc.EnsembleSampler(8, 2, g, seed=1)
    states = [st.coords for st in gen.sample(p0, iterations=300)]
    np.testing.assert_array_equal(np.array(states), full.get_chain())
    # reset() after burn-in keeps the position and the step counter: no random number reused.
    burn = mcmc.EnsembleSampler(8, 2, g, seed=1)
    state = burn.run_mcmc(p0, 100)
    burn.reset()
    assert burn.iteration == 0
    burn.run_mcmc(state, 200)
    np.testing.assert_array_equal(burn.get_chain(), full.get_chain()[100:])


def test_get_chain_semantics_match_emcee(rng):
    g = T.Gaussian(np.zeros(2), np.eye(2))
    p0 = _ball(rng, np.zeros(2), 8)
    ours = mcmc.EnsembleSampler(8, 2, g, seed=1)
    ours.run_mcmc(p0, 37)
    ref = emcee.EnsembleSampler(8, 2, lambda x: -0.5 * x @ x)
    ref.run_mcmc(p0, 37)
    for kw in ({}, {"discard": 5}, {"thin": 4}, {"discard": 3, "thin": 5, "flat": True}):
        assert ours.get_chain(**kw).shape == ref.get_chain(**kw).shape, kw
        assert ours.get_log_prob(**kw).shape == ref.get_log_prob(**kw).shape, kw
    np.testing.assert_array_equal(ours.get_chain(discard=3, thin=5), ours.get_chain()[3 + 4 :: 5])
    assert ours.acceptance_fraction.shape == (8,)
    coords, log_prob, random_state = ours.get_last_sample()
    np.testing.assert_array_equal(coords, ours.get_chain()[-1])
    np.testing.assert_array_equal(log_prob, ours.get_log_prob()[-1])


def test_checkpoint_then_load_equals_uninterrupted(rng, tmp_path):
    target = T.Rosenbrock()
    p0 = _ball(rng, [1.0, 1.0], 10)
    full = mcmc.EnsembleSampler(10, 2, target, seed=5, moves=MOVES["mixed"])
    full.run_mcmc(p0, 300)
    part = mcmc.EnsembleSampler(10, 2, target, seed=5, moves=MOVES["mixed"])
    part.run_mcmc(p0, 120, checkpoint=tmp_path / "c.npz")
    again = mcmc.EnsembleSampler.load(tmp_path / "c.npz")
    assert repr(again.log_prob_fn) == repr(target) and again.iteration == 120
    again.run_mcmc(None, 180)
    np.testing.assert_array_equal(again.get_chain(), full.get_chain())
    np.testing.assert_array_equal(again.get_log_prob(), full.get_log_prob())
    np.testing.assert_array_equal(again.acceptance_fraction, full.acceptance_fraction)


def test_interrupted_run_resumes_bit_for_bit(rng, tmp_path):
    d = 2
    calls = {"n": 0, "stop_at": None}

    def log_prob(x):
        calls["n"] += 1
        if calls["stop_at"] is not None and calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt  # what Ctrl-C inside log_prob looks like
        return -0.5 * np.sum(x**2, axis=1)

    p0 = _ball(rng, np.zeros(d), 8)
    full = mcmc.EnsembleSampler(8, d, log_prob, vectorize=True, seed=9)
    full.run_mcmc(p0, 200, thin_by=2)
    calls.update(n=0, stop_at=157)
    path = tmp_path / "run.npz"
    s = mcmc.EnsembleSampler(8, d, log_prob, vectorize=True, seed=9)
    with pytest.warns(RuntimeWarning, match=r"interrupted after \d+ of 400 steps.*resume with"):
        s.run_mcmc(p0, 200, thin_by=2, checkpoint=path)
    assert 0 < s.iteration < 200 and s.interrupted
    calls["stop_at"] = None
    again = mcmc.EnsembleSampler.load(path, log_prob)
    assert again.iteration == s.iteration
    again.resume()
    np.testing.assert_array_equal(again.get_chain(), full.get_chain())
    np.testing.assert_array_equal(again.acceptance_fraction, full.acceptance_fraction)
    # The interrupted sampler itself is usable too.
    s.resume()
    np.testing.assert_array_equal(s.get_chain(), full.get_chain())


def test_checkpoint_every_writes_along_the_way(rng, tmp_path):
    path = tmp_path / "c.npz"
    s = mcmc.EnsembleSampler(8, 2, T.Gaussian(np.zeros(2), np.eye(2)), seed=1)
    s.run_mcmc(_ball(rng, np.zeros(2), 8), 50, checkpoint=path, checkpoint_every=7)
    assert mcmc.EnsembleSampler.load(path).iteration == 50
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary files left


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros(2))
    with pytest.raises(ValueError, match="not an mlsci_fast"):
        mcmc.EnsembleSampler.load(bad)
    s = mcmc.EnsembleSampler(4, 2, lambda x: -x @ x, seed=1)
    s.run_mcmc(np.random.default_rng(0).normal(size=(4, 2)), 3)
    s.save(tmp_path / "py.npz")
    with pytest.raises(ValueError, match="pass it as log_prob_fn"):
        mcmc.EnsembleSampler.load(tmp_path / "py.npz")


# -- bad input -------------------------------------------------------------------------------


def test_too_few_walkers():
    with pytest.raises(ValueError, match="fewer than twice ndim"):
        mcmc.EnsembleSampler(5, 3, lambda x: 0.0)
    mcmc.EnsembleSampler(5, 3, lambda x: 0.0, live_dangerously=True)
    with pytest.raises(ValueError, match="too few for these moves"):
        mcmc.EnsembleSampler(4, 1, lambda x: 0.0, moves=mcmc.DESnookerMove())


def test_constructor_errors():
    with pytest.raises(ValueError, match="has 2 parameters"):
        mcmc.EnsembleSampler(8, 3, T.Rosenbrock())
    with pytest.raises(TypeError, match="callable"):
        mcmc.EnsembleSampler(8, 2, "not a function")
    with pytest.raises(TypeError, match="moves"):
        mcmc.EnsembleSampler(8, 2, T.Rosenbrock(), moves=["stretch"])
    with pytest.raises(ValueError, match="a must be > 1"):
        mcmc.StretchMove(a=0.5)


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN for walker"), (np.inf, r"\+inf for walker")])
def test_nan_or_inf_log_prob_is_an_error_and_state_survives(rng, bad, match):
    calls = {"n": 0}

    def log_prob(x):
        calls["n"] += 1
        out = -0.5 * np.sum(x**2, axis=1)
        if calls["n"] == 9:
            out[1] = bad
        return out

    s = mcmc.EnsembleSampler(8, 2, log_prob, vectorize=True, seed=1)
    p0 = _ball(rng, np.zeros(2), 8)
    with pytest.raises(ValueError, match=match):
        s.run_mcmc(p0, 10)
    it = s.iteration
    assert it == 3  # steps 1-3 done (2 calls each after the initial one); step 4 rolled back
    np.testing.assert_array_equal(s.get_last_sample().coords, s.get_chain()[-1])
    s.run_mcmc(None, 5)
    assert s.iteration == it + 5


def test_initial_state_errors(rng):
    g = T.Gaussian(np.zeros(2), np.eye(2))
    s = mcmc.EnsembleSampler(8, 2, g, seed=1)
    with pytest.raises(ValueError, match="no previous state"):
        s.run_mcmc(None, 5)
    with pytest.raises(ValueError, match=r"shape \(nwalkers, ndim\) = \(8, 2\)"):
        s.run_mcmc(np.zeros((7, 2)), 5)
    with pytest.raises(ValueError, match="linearly independent"):
        s.run_mcmc(np.ones((8, 2)), 5)
    with pytest.raises(ValueError, match="initial_state contains NaN"):
        s.run_mcmc(np.full((8, 2), np.nan), 5)
    # walkers outside the support
    support = mcmc.EnsembleSampler(8, 2, lambda x: 0.0 if np.all(x > 0) else -np.inf, seed=1)
    p0 = _ball(rng, np.zeros(2), 8, 1.0)
    with pytest.raises(ValueError, match="zero probability"):
        support.run_mcmc(p0, 5)


def test_vectorized_log_prob_wrong_shape(rng):
    s = mcmc.EnsembleSampler(8, 2, lambda x: np.zeros((len(x), 1)), vectorize=True, seed=1)
    with pytest.raises(ValueError, match=r"must return shape \(8,\)"):
        s.run_mcmc(_ball(rng, np.zeros(2), 8), 5)


def test_blobs_are_refused(rng):
    s = mcmc.EnsembleSampler(8, 2, lambda x: (-x @ x, 1.0), seed=1)
    with pytest.raises(ValueError, match="blobs"):
        s.run_mcmc(_ball(rng, np.zeros(2), 8), 5)


def test_python_exception_propagates_and_sampler_stays_usable(rng):
    calls = {"n": 0}

    class Boom(RuntimeError):
        pass

    def log_prob(x):
        calls["n"] += 1
        if calls["n"] == 50:
            raise Boom("bad parameter")
        return -0.5 * x @ x

    s = mcmc.EnsembleSampler(8, 2, log_prob, seed=1)
    with pytest.raises(Boom, match="bad parameter") as info:
        s.run_mcmc(_ball(rng, np.zeros(2), 8), 20)
    assert any(frame.name == "log_prob" for frame in info.traceback)
    done = s.iteration
    assert 0 < done < 20
    np.testing.assert_array_equal(s.get_last_sample().coords, s.get_chain()[-1])
    s.run_mcmc(None, 3)
    assert s.iteration == done + 3


def test_progress_line(rng, capsys):
    s = mcmc.EnsembleSampler(8, 2, T.Gaussian(np.zeros(2), np.eye(2)), seed=1)
    s.run_mcmc(_ball(rng, np.zeros(2), 8), 100, progress=True)
    err = capsys.readouterr().err
    assert "mcmc [" in err and "100/100 steps" in err and "acceptance" in err


# -- diagnostics -----------------------------------------------------------------------------


def _ar1(rng, n_chains, n, phi):
    x = np.empty((n_chains, n))
    x[:, 0] = rng.normal(size=n_chains)
    e = rng.normal(size=(n_chains, n)) * np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz

    return arviz


def test_ess_and_rhat_match_arviz(rng):
    az = _arviz()
    x = _ar1(rng, 4, 1000, 0.8) + np.array([[0.0], [0.0], [0.1], [0.0]])
    np.testing.assert_allclose(diag.ess_bulk(x), az.ess(x, method="bulk"), rtol=1e-8)
    np.testing.assert_allclose(diag.ess_tail(x), az.ess(x, method="tail"), rtol=1e-8)
    np.testing.assert_allclose(diag.split_rhat(x), az.rhat(x, method="rank"), rtol=1e-8)
    # AR(1) with phi: tau = (1 + phi) / (1 - phi) = 9, so ESS ~ 4000 / 9
    assert 250 < diag.ess_bulk(x) < 700


def test_integrated_time_matches_emcee(rng):
    x = np.moveaxis(_ar1(rng, 6, 4000, 0.7), 0, 1)[:, :, None].repeat(2, axis=2)
    x[:, :, 1] = x[:, :, 1] ** 3
    np.testing.assert_allclose(diag.integrated_time(x), emcee.autocorr.integrated_time(x), rtol=1e-10)
    assert abs(diag.integrated_time(x)[0] - 1.7 / 0.3) < 1.0
    with pytest.raises(diag.AutocorrError) as info:
        diag.integrated_time(x[:100])
    assert info.value.tau.shape == (2,)
    with pytest.warns(RuntimeWarning, match="shorter than"):
        diag.integrated_time(x[:100], quiet=True)


def test_summary_arviz_and_plots(rng, tmp_path):
    s = mcmc.EnsembleSampler(8, 2, T.Gaussian([1.0, -1.0], np.eye(2)), seed=1)
    s.run_mcmc(_ball(rng, np.zeros(2), 8), 400)
    text = s.summary(discard=100)
    assert "ess_bulk" in text and "x[1]" in text
    idata = s.to_arviz(discard=100)
    assert idata.posterior["x[0]"].shape == (8, 300)
    np.testing.assert_array_equal(idata.posterior["x[1]"].values, s.get_chain(discard=100)[:, :, 1].T)
    import matplotlib

    matplotlib.use("Agg")
    fig = mcmc.plots.corner(s.get_chain(discard=100, flat=True), truths=[1, -1], path=str(tmp_path / "c.png"))
    assert len(fig.axes) == 4 and (tmp_path / "c.png").stat().st_size > 0
    fig = mcmc.plots.trace(s.get_chain())
    assert len(fig.axes) == 2


# -- NUTS, HMC, Metropolis chains --------------------------------------------------------------


def _chain_moments(samples, mean, cov, n_sigma=5.0):
    """Mean and covariance of (n_chains, n, d) samples against the truth, errors from bulk-ESS."""
    d = samples.shape[2]
    n_eff = min(diag.ess_bulk(samples[:, :, i]) for i in range(d))
    flat = samples.reshape(-1, d)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(flat.mean(0) - mean) < n_sigma * sd / np.sqrt(n_eff)), (flat.mean(0), mean, n_eff)
    err = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n_eff)
    assert np.all(np.abs(np.cov(flat.T) - cov) < n_sigma * err), np.abs(np.cov(flat.T) - cov) / err


@pytest.mark.parametrize(
    "run",
    [
        lambda t, s: mcmc.nuts(t, 2000, n_warmup=500, seed=s),
        lambda t, s: mcmc.nuts(t, 2000, n_warmup=500, metric="dense", seed=s),
        lambda t, s: mcmc.hmc(t, 2000, n_warmup=500, n_leapfrog=10, metric="dense", seed=s),
        lambda t, s: mcmc.metropolis(t, 8000, n_warmup=4000, seed=s),
    ],
    ids=["nuts-diag", "nuts-dense", "hmc", "metropolis"],
)
def test_chain_samplers_gaussian_moments(rng, seed, run):
    d = 4
    mean, cov = rng.normal(size=d), _spd(rng, d, 20.0)
    r = run(T.Gaussian(mean, cov), seed)
    assert r.complete and r.samples().shape[:2] == (4, r.n_samples)
    _chain_moments(r.samples(), mean, cov)
    assert max(diag.split_rhat(r.samples()[:, :, i]) for i in range(d)) < 1.02
    assert r.n_divergent == 0


def test_nuts_linear_regression_matches_conjugate_result(rng, seed, linreg_data):
    X, y = linreg_data
    sigma, tau0 = 0.4, 2.0
    A = np.column_stack([np.ones(len(y)), X])
    cov = np.linalg.inv(A.T @ A / sigma**2 + np.eye(3) / tau0**2)
    mean = cov @ A.T @ y / sigma**2
    r = mcmc.nuts(T.LinearRegression(X, y, sigma=sigma, prior_scale=tau0), 1500, n_warmup=500, seed=seed)
    _chain_moments(r.samples(), mean, cov)
    # NUTS on a well-conditioned Gaussian posterior: more than one effective draw per 2 draws.
    assert diag.ess_bulk(r.samples()[:, :, 1]) > 0.5 * 4 * 1500


def test_nuts_adapts_step_size_and_metric(rng):
    d = 3
    scales = np.array([0.01, 1.0, 100.0])
    r = mcmc.nuts(T.Gaussian(np.zeros(d), np.diag(scales**2)), 1000, n_warmup=1000, seed=1)
    np.testing.assert_allclose(np.sqrt(r.inverse_metric.mean(0)) / scales, 1.0, rtol=0.25)
    # Dual averaging returns the averaged iterate, which on easy targets lands a little below the
    # step size that gives exactly 0.8 (as in Stan): accept somewhat above target_accept.
    assert 0.75 < r.accept[:, 1000:].mean() < 0.95
    assert np.all((0.4 < r.final_step_size) & (r.final_step_size < 1.5))  # unit scale after the metric
    assert np.all(r.step_size[:, 1000:] == r.final_step_size[:, None])  # fixed after warmup
    assert r.tree_depth[:, 1000:].mean() < 4  # the metric made the problem isotropic


def test_nuts_reports_divergences_in_the_funnel():
    r = mcmc.nuts(T.Funnel(10), 500, n_warmup=300, target_accept=0.6, seed=3)
    assert r.n_divergent > 0
    assert "divergent" in r.summary()


def test_chain_results_same_for_any_thread_count(logreg_data):
    X, y = logreg_data
    runs = [mcmc.nuts(T.LogisticRegression(X, y), 100, n_warmup=100, n_chains=3, seed=5, n_threads=n)
            for n in (1, 2)]
    for k in ("draws", "trace_lp", "accept", "step_size", "n_steps", "divergent"):
        np.testing.assert_array_equal(getattr(runs[0], k), getattr(runs[1], k))


def test_python_function_with_gradient(rng, seed):
    d = 3
    mean, cov = rng.normal(size=d), _spd(rng, d)
    prec = np.linalg.inv(cov)

    def lp_grad(x):
        r = x - mean
        return -0.5 * r @ prec @ r, -prec @ r

    r = mcmc.nuts(lp_grad, 1000, n_warmup=500, ndim=d, seed=seed)
    _chain_moments(r.samples(), mean, cov)
    m = mcmc.metropolis(lambda x: lp_grad(x)[0], 4000, n_warmup=2000, ndim=d, seed=seed)
    _chain_moments(m.samples(), mean, cov)


def test_chains_checkpoint_and_resume_bit_for_bit(tmp_path):
    calls = {"n": 0, "stop_at": None}

    def lp_grad(x):
        calls["n"] += 1
        if calls["stop_at"] is not None and calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt
        return -0.5 * x @ x - 0.1 * x[0] ** 4, -x - 0.4 * np.r_[x[0] ** 3, 0.0]

    full = mcmc.nuts(lp_grad, 150, n_warmup=150, n_chains=2, ndim=2, seed=11)
    calls.update(n=0, stop_at=calls["n"] // 2)
    path = tmp_path / "nuts.npz"
    with pytest.warns(RuntimeWarning, match=r"interrupted after \d+ of 300 iterations.*mcmc.resume"):
        returned = mcmc.nuts(lp_grad, 150, n_warmup=150, n_chains=2, ndim=2, seed=11, checkpoint=path)
    partial = mcmc.chains.load(path)
    assert 0 < partial.iterations_done < 300 and partial.interrupted and not partial.complete
    assert returned.interrupted and returned.iterations_done == partial.iterations_done
    calls["stop_at"] = None
    done = mcmc.resume(path, lp_grad)
    for k in ("draws", "trace_lp", "accept", "step_size", "energy", "n_steps", "tree_depth", "divergent"):
        np.testing.assert_array_equal(getattr(done, k), getattr(full, k))
    np.testing.assert_array_equal(mcmc.chains.load(path).draws, full.draws)
    # A built-in target is restored from the file.
    g = T.Gaussian(np.zeros(2), np.eye(2))
    a = mcmc.hmc(g, 50, n_warmup=50, seed=2, checkpoint=tmp_path / "h.npz", checkpoint_every=13)
    b = mcmc.resume(tmp_path / "h.npz")
    np.testing.assert_array_equal(a.draws, b.draws)


def test_chain_result_outputs(tmp_path):
    r = mcmc.nuts(T.Gaussian([1.0, -1.0], np.eye(2)), 300, n_warmup=200, seed=1)
    idata = r.to_arviz()
    assert idata.posterior["x[0]"].shape == (4, 300)
    assert idata.sample_stats["diverging"].dtype == bool
    assert "nuts: 4 chains x 300 draws" in r.summary()
    import matplotlib

    matplotlib.use("Agg")
    fig1, fig2 = r.plot(str(tmp_path / "r.png"))
    assert (tmp_path / "r_trace.png").exists() and (tmp_path / "r_corner.png").exists()
    r.save(tmp_path / "r.npz")
    np.testing.assert_array_equal(mcmc.chains.load(tmp_path / "r.npz").samples(), r.samples())


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda g: mcmc.nuts(g, 10, metric="full"), ValueError, "metric must be"),
        (lambda g: mcmc.nuts(g, 10, target_accept=1.0), ValueError, "target_accept"),
        (lambda g: mcmc.nuts(g, 10, x0=np.zeros(3)), ValueError, r"x0 must have shape \(2,\)"),
        (lambda g: mcmc.nuts(g, 0), ValueError, "n_samples"),
        (lambda g: mcmc.nuts(lambda x: -x @ x, 10), ValueError, "ndim is required"),
        (lambda g: mcmc.nuts(lambda x: -x @ x, 10, ndim=2), ValueError, r"\(log p\(x\), gradient\)"),
        (lambda g: mcmc.nuts(lambda x: (-x @ x, np.zeros(3)), 10, ndim=2), ValueError, r"gradient must have shape"),
        (lambda g: mcmc.nuts("x", 10), TypeError, "built-in target or a callable"),
        (lambda g: mcmc.metropolis(lambda x: 0.0 if x[0] > 5 else -np.inf, 10, ndim=1, x0=[0.0]), ValueError,
         "chain 0 starts where"),
    ],
)
def test_chain_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(T.Gaussian(np.zeros(2), np.eye(2)))


def test_python_exception_in_chain_propagates():
    def lp_grad(x):
        if x[0] > 1.5:
            raise ArithmeticError("model blew up")
        return -0.5 * x @ x, -x

    with pytest.raises(ArithmeticError, match="model blew up"):
        mcmc.nuts(lp_grad, 2000, n_warmup=100, ndim=2, seed=1, x0=[0.0, 0.0])


def test_chains_on_a_dask_cluster_equal_the_local_run():
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    target = T.Rosenbrock(a=1.0, b=5.0, scale=1.0)

    def banana(x):  # a Python function travels to the workers by cloudpickle
        lp = -(5.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2)
        g = np.array([20.0 * (x[1] - x[0] ** 2) * x[0] + 2.0 * (1.0 - x[0]), -10.0 * (x[1] - x[0] ** 2)])
        return lp, g

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for log_prob, kw in ((target, {}), (banana, {"ndim": 2})):
            local = mcmc.nuts(log_prob, 200, n_warmup=200, n_chains=4, seed=3, **kw)
            remote = mcmc.nuts(log_prob, 200, n_warmup=200, n_chains=4, seed=3, client=client, **kw)
            for k in ("draws", "trace_lp", "accept", "step_size", "n_steps", "divergent"):
                np.testing.assert_array_equal(getattr(remote, k), getattr(local, k))
            for k in local.state:
                np.testing.assert_array_equal(remote.state[k], local.state[k])
        m_local = mcmc.metropolis(target, 300, n_warmup=300, n_chains=3, seed=4)
        m_remote = mcmc.metropolis(target, 300, n_warmup=300, n_chains=3, seed=4, client=client)
        np.testing.assert_array_equal(m_remote.draws, m_local.draws)
    with pytest.raises(ValueError, match="checkpoint cannot be combined"):
        mcmc.nuts(target, 10, client="local", checkpoint="x.npz")


def test_run_chains_independent_ensembles_here_and_on_dask(rng):
    target = T.Gaussian(np.zeros(2), np.eye(2))
    p0 = _ball(rng, np.zeros(2), 8)
    here = mcmc.run_chains(target, 8, 2, p0, 100, 3, seed=2)
    assert len(here) == 3 and all(s.iteration == 100 for s in here)
    assert not np.array_equal(here[0].get_chain(), here[1].get_chain())  # independent streams
    alone = mcmc.EnsembleSampler(8, 2, target, seed=2)
    alone.run_mcmc(p0, 100)
    np.testing.assert_array_equal(here[0].get_chain(), alone.get_chain())  # chain 0 = a plain sampler
    pytest.importorskip("dask.distributed")
    there = mcmc.run_chains(target, 8, 2, p0, 100, 3, seed=2, client="local")
    for a, b in zip(here, there):
        np.testing.assert_array_equal(a.get_chain(), b.get_chain())
    with pytest.raises(ValueError, match=r"\(n_chains, nwalkers, ndim\) = \(3, 8, 2\)"):
        mcmc.run_chains(target, 8, 2, np.zeros((2, 8, 2)), 10, 3)


def test_gaussian_batch_equals_single_point_evaluation(rng):
    """The ensemble evaluates a half-ensemble at once (log_prob_batch, vectorised across rows);
    NUTS uses the per-point path with the gradient. Both sum in the same order: equal bit for bit."""
    for d in (1, 3, 10, 17):
        a = rng.normal(size=(d, d))
        target = T.Gaussian(rng.normal(size=d), a @ a.T + d * np.eye(d))
        X = 3 * rng.normal(size=(37, d))
        batch = target(X)
        single = np.array([target.log_prob_and_gradient(x)[0] for x in X])
        np.testing.assert_array_equal(batch, single)


# ---- diagnostics on bad input (issue: silent wrong answers) -----------------------------------
def test_diagnostics_are_nan_for_non_finite_draws_as_in_arviz():
    import arviz as az

    from mlsci_fast.mcmc import diagnostics as D

    x = np.random.default_rng(0).standard_normal((4, 200))
    y = x.copy()
    y[2, 17] = np.nan
    for ours in (D.ess, D.ess_bulk, D.ess_tail, D.split_rhat):
        assert np.isnan(ours(y)), ours.__name__
    assert np.isnan(float(az.ess(y))) and np.isnan(float(az.rhat(y)))
    # an infinite draw still has a rank: the rank-based diagnostics stay finite, as ArviZ's
    y[2, 17] = np.inf
    assert np.isfinite(D.ess_bulk(y)) and np.isfinite(float(az.ess(y)))


def test_diagnostics_refuse_complex_mismatched_names_and_bad_constants():
    from mlsci_fast.mcmc import diagnostics as D

    x = np.random.default_rng(0).standard_normal((2, 100, 3))
    with pytest.raises(ValueError, match="names has 1 entries but samples has 3 parameters"):
        D.summary(x, names=["a"])
    with pytest.raises(ValueError, match="must be real"):
        D.ess_bulk(x[:, :, 0] + 1j)
    with pytest.raises(ValueError, match="must be real"):
        D.summary(x + 0j)
    chain = np.random.default_rng(1).standard_normal(5000)
    for kwargs, match in ((dict(c=0), "c must be a positive"), (dict(c=-1.0), "c must be a positive"),
                          (dict(c=float("nan")), "c must be a positive"), (dict(tol=-1), "tol must be"),
                          (dict(tol=float("inf")), "tol must be")):
        with pytest.raises(ValueError, match=match):
            D.integrated_time(chain, **kwargs)
    assert D.integrated_time(chain, tol=0).shape == (1,)


@pytest.mark.parametrize("cov", [np.eye(2) * (1 + 1j), 1j, np.array([1, 2j])])
def test_gaussian_target_refuses_a_complex_covariance(cov):
    """np.asarray(cov, dtype=float) dropped the imaginary part (with only a ComplexWarning)."""
    with pytest.raises(TypeError, match="cov must hold real numbers"):
        T.Gaussian(np.zeros(2), cov)
    np.testing.assert_array_equal(T.Gaussian(np.zeros(2), [1, 2]).cov, np.diag([1.0, 2.0]))


def test_kernel_refuses_an_iteration_outside_the_trace():
    """Behind the loader's check, the kernel refuses a chain state it would write out of bounds
    (a file with iteration = -1 corrupted the heap)."""
    from mlsci_fast.mcmc import chains

    r = mcmc.nuts(T.Gaussian(np.zeros(2), np.eye(2)), 10, n_warmup=10, n_chains=2, seed=1)
    core_target, _, _ = chains._core_target(r.target, 2, True)
    for bad in (-1, -7):  # (above the trace, min(iteration) is done: the kernel is not called)
        r.state["iteration"][0] = bad
        with pytest.raises(ValueError, match=f"chain 0 is at iteration {bad}, outside its trace of 20"):
            chains._run(r, core_target, progress=False, n_threads=1, checkpoint=None, checkpoint_every=None)
