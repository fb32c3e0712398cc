"""Hypothesis fuzz over the public API: any value in any argument of the main entry points gets
a result or a ValueError/TypeError (naming the argument), never another exception, a crash or a
huge allocation. Sizes are kept small where a value is valid, so each example runs in
milliseconds; requests too large for the machine are refused by the memory check."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlsci_fast import conv, ga, ica, ising, mcmc, pairwise, random, rbm, svm, tree  # noqa: E402
from mlsci_fast.ga import problems  # noqa: E402

# Values a user might pass by mistake, and a few fine ones.
ODD = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3),
    st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 3, -1, 2**31, 2**63, 10**12]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 1.0, 2.3, -0.0, 1e300, 1e-300]),
    st.complex_numbers(max_magnitude=10, allow_nan=False), st.just(np.array([1.0, np.nan])),
    st.just(np.zeros((0, 2))), st.just([[1, 2], [3]]), st.just(object()),
)
_GAUSS = mcmc.targets.Gaussian(np.zeros(2), np.eye(2))
ALLOWED = (ValueError, TypeError, mcmc.diagnostics.AutocorrError)  # the last: emcee's, documented

# entry point -> (call with keyword overrides, the valid small arguments)
CASES = {
    "ising.simulate": (lambda **k: ising.simulate(**k), dict(L=8, T=2.3, n_sweeps=20, n_burnin=2, seed=1)),
    "ising.parallel_tempering": (lambda **k: ising.parallel_tempering(**k),
                                 dict(L=8, temperatures=[2.0, 2.5], n_rounds=5, seed=1)),
    "ising.exact_enumeration": (lambda **k: ising.exact_enumeration(**k), dict(L=3, T=2.0, J=1.0, h=0.0)),
    "ising.onsager_energy": (lambda **k: ising.onsager_energy(**k), dict(T=2.0, J=1.0)),
    "mcmc.nuts": (lambda **k: mcmc.nuts(**k), dict(log_prob=mcmc.targets.Gaussian(np.zeros(2), np.eye(2)),
                                                  n_samples=10, n_warmup=10, n_chains=2, seed=1)),
    "mcmc.EnsembleSampler": (lambda **k: mcmc.EnsembleSampler(**k),
                             dict(nwalkers=8, ndim=2, log_prob_fn=mcmc.targets.Gaussian(np.zeros(2), np.eye(2)))),
    "mcmc.integrated_time": (lambda **k: mcmc.diagnostics.integrated_time(**k),
                             dict(x=np.random.default_rng(0).normal(size=(200, 2)), c=5, tol=0)),
    "ga.GeneticAlgorithm": (lambda **k: ga.GeneticAlgorithm(**k).run(3),
                            dict(problem_or_fitness=problems.Sphere(3), population_size=10, seed=1)),
    "random.uniform": (lambda **k: random.uniform(**k), dict(size=10, seed=1)),
    "pairwise.rbf_kernel": (lambda **k: pairwise.rbf_kernel(**k), dict(X=np.eye(3), gamma=0.5)),
    "svm.SVC": (lambda **k: svm.SVC(**k).fit(np.r_[np.eye(3), -np.eye(3)], [0, 0, 0, 1, 1, 1]),
                dict(C=1.0, kernel="rbf", gamma="scale", cache_size=10, max_iter=-1)),
    "ising.temperature_scan": (lambda **k: ising.temperature_scan(**k),
                               dict(L=8, temperatures=[2.0, 2.5], n_sweeps=10, n_burnin=2, measure_every=1, seed=1)),
    "mcmc.hmc": (lambda **k: mcmc.hmc(**k), dict(log_prob=_GAUSS, n_samples=10, n_leapfrog=5, jitter=0.1,
                                                n_warmup=10, n_chains=2, seed=1)),
    "mcmc.metropolis": (lambda **k: mcmc.metropolis(**k), dict(log_prob=_GAUSS, n_samples=10, n_warmup=10,
                                                              n_chains=2, seed=1)),
    "EnsembleSampler.run_mcmc": (
        lambda **k: mcmc.EnsembleSampler(8, 2, _GAUSS, seed=1).run_mcmc(**k),
        dict(initial_state=np.random.default_rng(0).normal(size=(8, 2)), nsteps=5, thin_by=1, store=True)),
    "ga.NSGA2": (lambda **k: ga.NSGA2(**k).run(2),
                 dict(fitness=lambda P: np.stack([(P**2).sum(1), ((P - 1) ** 2).sum(1)], 1),
                      bounds=[(-1.0, 1.0)] * 2, n_objectives=2, population_size=8, seed=1)),
    "ga.cluster_search": (lambda **k: ga.cluster_search(**k),
                          dict(n_atoms=5, population_size=6, n_children=4, max_relaxations=20, seed=1)),
    "conv.conv2d": (lambda **k: conv.conv2d(**k), dict(x=np.ones((1, 2, 5, 5), np.float32),
                                                        w=np.ones((3, 2, 3, 3), np.float32), stride=1, padding=1,
                                                        dilation=1, groups=1)),
    "rbm.BernoulliRBM": (lambda **k: rbm.BernoulliRBM(**k).fit(np.eye(6)),
                         dict(n_components=3, learning_rate=0.1, batch_size=2, n_iter=2, random_state=0)),
    "ica.make_cocktail_party": (lambda **k: ica.make_cocktail_party(**k),
                                dict(duration=0.05, sample_rate=800, n_mics=3, sensor_noise=0.0, seed=1)),
    "random.normal": (lambda **k: random.normal(**k), dict(size=10, seed=1, step=3)),
    "tree.DecisionTreeClassifier": (lambda **k: tree.DecisionTreeClassifier(**k).fit(
        np.r_[np.eye(3), -np.eye(3)], [0, 0, 0, 1, 1, 1]), dict(max_depth=3, min_samples_split=2, random_state=0)),
}


@pytest.fixture(autouse=True)
def _one_gib_machine(monkeypatch):
    """Requests beyond 1 GiB are refused by the memory check, so no example can take minutes."""
    import mlsci_fast._validation as v

    monkeypatch.setattr(v, "available_memory", lambda: 2**30)


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_any_value_in_any_argument_is_a_result_or_a_clear_error(name, data):
    call, valid = CASES[name]
    arg = data.draw(st.sampled_from(sorted(valid)), label="argument")
    value = data.draw(ODD, label="value")
    kwargs = dict(valid, **{arg: value})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warnings are fine here; exceptions are the subject
        try:
            call(**kwargs)
        except ALLOWED as exc:
            assert str(exc), f"{name}({arg}={value!r}) raised an empty {type(exc).__name__}"
