"""Ensemble MCMC: mlsci_fast's EnsembleSampler vs emcee, 32 walkers x 10,000 steps, stretch move.

Problems (issue #5): a 10-D correlated Gaussian, Goodman & Weare's 2-D Rosenbrock, and Bayesian
linear regression with 1,000 points and unknown noise. emcee runs at its best
(``vectorize=True``, one numpy call per half-ensemble); we run the built-in C++ target, and
also the same Python functions through our sampler. Both use the same move, so the
autocorrelation times agree (tests/test_mcmc.py::test_agrees_with_emcee checks it), and the time
ratio is the ratio of effective
samples per second; ``tau`` and ``ess_per_s`` are stored in each benchmark's extra_info.

Without --benchmark-enable each case runs once with 500 steps, as a smoke test.
"""

import warnings

import emcee
import numpy as np
import pytest

from mlsci_fast import mcmc
from mlsci_fast.mcmc import diagnostics
from mlsci_fast.mcmc import targets as T

NWALKERS = 32


def _problems():
    rng = np.random.default_rng(0)
    d = 10
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cov = q @ np.diag(np.geomspace(1.0, 100.0, d)) @ q.T
    prec = np.linalg.inv(cov)
    X = rng.uniform(0, 10, size=(1000, 1))
    y = 0.3 + 1.5 * X[:, 0] + 0.7 * rng.normal(size=1000)
    A = np.column_stack([np.ones(1000), X])

    def gauss(x):
        return -0.5 * np.einsum("ij,jk,ik->i", x, prec, x)

    def rosen(x):
        return -(100.0 * (x[:, 1] - x[:, 0] ** 2) ** 2 + (1.0 - x[:, 0]) ** 2) / 20.0

    def linreg(theta):
        r = y[None, :] - theta[:, :2] @ A.T
        log_s = theta[:, 2]
        return -1000 * (log_s + 0.5 * np.log(2 * np.pi)) - 0.5 * np.sum(r**2, axis=1) * np.exp(-2 * log_s)

    return {
        "gauss10d": (T.Gaussian(np.zeros(d), cov), gauss, np.zeros(d)),
        "rosenbrock": (T.Rosenbrock(), rosen, np.array([1.0, 1.0])),
        "linreg1000": (T.LinearRegression(X, y), linreg, np.array([0.3, 1.5, np.log(0.7)])),
    }


PROBLEMS = _problems()


def _run(impl, problem, nsteps):
    target, fn, center = PROBLEMS[problem]
    d = len(center)
    p0 = center + 1e-3 * np.random.default_rng(1).normal(size=(NWALKERS, d))
    if impl == "emcee":
        s = emcee.EnsembleSampler(NWALKERS, d, fn, vectorize=True)
    elif impl == "mlsci_fast":
        s = mcmc.EnsembleSampler(NWALKERS, d, target, seed=1)
    else:  # our sampler, the same Python function
        s = mcmc.EnsembleSampler(NWALKERS, d, fn, vectorize=True, seed=1)
    s.run_mcmc(p0, nsteps)
    return s


@pytest.mark.parametrize("impl", ["emcee", "mlsci_fast"])
@pytest.mark.parametrize("problem", list(PROBLEMS))
def bench_ensemble_builtin(benchmark, record, problem, impl):
    nsteps = 500 if benchmark.disabled else 10_000
    benchmark.group = f"mcmc-{problem}-builtin"
    record(impl)
    # One warm-up round each: the first run in a process pays one-time costs (heap growth, the
    # first LAPACK call of the start-up check), 15-20 ms for us, comparable to the run itself.
    sampler = benchmark.pedantic(_run, args=(impl, problem, nsteps), rounds=5, iterations=1,
                                 warmup_rounds=0 if benchmark.disabled else 1)
    _check_tau(benchmark, sampler.get_chain(), nsteps)


@pytest.mark.parametrize("impl", ["emcee", "mlsci_fast"])
@pytest.mark.parametrize("problem", ["gauss10d", "linreg1000"])
def bench_ensemble_python_vectorized(benchmark, record, problem, impl):
    nsteps = 500 if benchmark.disabled else 10_000
    benchmark.group = f"mcmc-{problem}-python-vectorized"
    record(impl)
    sampler = benchmark.pedantic(
        _run, args=(impl if impl == "emcee" else "mlsci_fast-python", problem, nsteps), rounds=3, iterations=1
    )
    _check_tau(benchmark, sampler.get_chain(), nsteps)


@pytest.mark.parametrize("impl", ["emcee", "mlsci_fast"])
def bench_ensemble_python_per_walker(benchmark, record, impl):
    """One Python call per walker (vectorize=False) on the 10-D Gaussian."""
    nsteps = 100 if benchmark.disabled else 2_000
    _, fn, center = PROBLEMS["gauss10d"]
    d = len(center)
    p0 = center + 1e-3 * np.random.default_rng(1).normal(size=(NWALKERS, d))

    def one(x):
        return fn(x[None, :])[0]

    def run():
        if impl == "emcee":
            s = emcee.EnsembleSampler(NWALKERS, d, one)
        else:
            s = mcmc.EnsembleSampler(NWALKERS, d, one, seed=1)
        s.run_mcmc(p0, nsteps)
        return s

    benchmark.group = "mcmc-gauss10d-python-per-walker"
    record(impl)
    benchmark.pedantic(run, rounds=3, iterations=1)


def _check_tau(benchmark, chain, nsteps):
    if benchmark.disabled:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the banana's tau is long: an estimate will do
        tau = diagnostics.integrated_time(chain[nsteps // 5 :], quiet=True)
    benchmark.extra_info["tau_max"] = float(tau.max())
    ess = chain.shape[1] * (0.8 * nsteps) / tau.max()
    benchmark.extra_info["ess_per_s"] = float(ess / benchmark.stats.stats.median)


def _min_ess(chains):
    """Smallest bulk-ESS over parameters of (n_chains, n_draws, ndim) draws (walkers count as chains)."""
    return min(diagnostics.ess_bulk(chains[:, :, i]) for i in range(chains.shape[2]))


@pytest.mark.parametrize("impl", ["stretch", "mlsci_fast"])
def bench_nuts_vs_stretch(benchmark, record, impl):
    """Effective samples per second on the 10-D correlated Gaussian: NUTS (4 chains, dense metric,
    1,000 warmup iterations included in the time) against our own stretch-move sampler (32 walkers,
    the first 10% discarded). The ratio is ESS/s: ESS is the smallest bulk-ESS over the parameters."""
    target, _, center = PROBLEMS["gauss10d"]
    n = 1_000 if benchmark.disabled else 10_000
    p0 = center + 1e-3 * np.random.default_rng(1).normal(size=(NWALKERS, 10))

    def run():
        if impl == "stretch":
            s = mcmc.EnsembleSampler(NWALKERS, 10, target, seed=1)
            s.run_mcmc(p0, n)
            return np.swapaxes(s.get_chain(discard=n // 10), 0, 1)
        return mcmc.nuts(target, n, n_warmup=1000, n_chains=4, metric="dense", seed=1).samples()

    benchmark.group = "mcmc-gauss10d-nuts-vs-stretch"
    record(impl)
    draws = benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["ess"] = _min_ess(draws)
