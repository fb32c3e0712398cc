"""Requests the machine cannot hold are refused before anything is allocated, with the estimate
and the arguments at fault in the message (they used to allocate for minutes or die)."""

import numpy as np
import pytest

from mlsci_fast import ga, ising, mcmc
from mlsci_fast._validation import TooLargeError, available_memory, check_memory
from mlsci_fast.ga import problems


@pytest.fixture(autouse=True)
def sixteen_gib(monkeypatch):
    """The same verdicts on any machine: as if 16 GiB were available."""
    import mlsci_fast._validation as v

    monkeypatch.setattr(v, "available_memory", lambda: 16 * 2**30)


def test_check_memory_names_the_arguments_and_the_estimate():
    check_memory(1024, "small=1")
    with pytest.raises(TooLargeError, match=r"L=9, dim=2 needs about 32 GiB of memory; 16 GiB is available"):
        check_memory(32 * 2**30, "L=9, dim=2")
    assert 0 < available_memory() < 2**62  # the real reading (imported before the fixture patched it)
    assert issubclass(TooLargeError, ValueError) and issubclass(TooLargeError, MemoryError)


@pytest.mark.parametrize("call, match", [
    (lambda: ising.simulate(10**6, 2.3, 10), "L=1000000, dim=2"),
    (lambda: ising.simulate(20_000, 2.3, 10, dim=3), "L=20000, dim=3"),
    (lambda: ising.simulate(8, 2.3, 2**30, measure_every=1), "n_sweeps=1073741824"),
    (lambda: ising.parallel_tempering(64, np.linspace(1, 4, 10**6), 10**4), "1000000 temperatures"),
    (lambda: mcmc.EnsembleSampler(10**10, 2, mcmc.targets.Gaussian(np.zeros(2), np.eye(2))), "nwalkers=10000000000"),
    (lambda: mcmc.EnsembleSampler(10, 2, mcmc.targets.Gaussian(np.zeros(2), np.eye(2))).run_mcmc(
        np.random.default_rng(0).normal(size=(10, 2)), 10**9), "nsteps=1000000000"),
    (lambda: mcmc.nuts(mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), n_samples=10**11), "n_chains=4"),
    (lambda: ga.GeneticAlgorithm(problems.Rastrigin(30), population_size=1000, islands=10**7), "islands=10000000"),
    (lambda: ga.GeneticAlgorithm(problems.Sphere(2), population_size=10).run(2**40), "n_generations="),
])
def test_huge_requests_are_refused_before_allocating(call, match):
    with pytest.raises(TooLargeError, match=match):
        call()


def test_exact_enumeration_streams_and_checks_its_arguments():
    # the histogram form against a direct sum over the 512 states of L = 3
    L, T, h = 3, 2.1, 0.2
    states = np.arange(2 ** (L * L))
    s = ((states[:, None] >> np.arange(L * L)) & 1) * 2 - 1
    s = s.reshape(-1, L, L)
    E = -(s * np.roll(s, 1, 1) + s * np.roll(s, 1, 2)).sum(axis=(1, 2)) - h * s.sum(axis=(1, 2))
    w = np.exp(-(E - E.min()) / T)
    assert ising.exact_enumeration(L, T, h=h)["energy"] == pytest.approx((w @ E) / w.sum() / (L * L), rel=1e-13)
    with pytest.raises(ValueError, match="J must be finite"):
        ising.exact_enumeration(3, 2.0, J=float("nan"))
    with pytest.raises(ValueError, match="L must be <= 5"):
        ising.exact_enumeration(6, 2.0)
    with pytest.raises(ValueError, match="J must be finite"):
        ising.critical_temperature(float("inf"))


def test_random_start_is_written_a_byte_a_site():
    """A random Ising start is the same lattice as the reference (uniform < 0.5 -> +1), written
    in C++ without float64 or boolean temporaries: its peak is the lattice itself."""
    import tracemalloc

    from mlsci_fast import random

    L, seed = 96, 11
    expected = np.where(random.uniform(L * L, seed, step=ising._START_STEP) < 0.5, 1, -1).astype(np.int8)
    assert np.array_equal(ising._initial_spins(L, 2, "random", seed).ravel(), expected)
    L = 1024
    tracemalloc.start()
    try:
        spins = ising._initial_spins(L, 2, "random", seed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert spins.nbytes == L * L and peak < 1.05 * L * L + 65536


def test_time_like_counts_are_refused_before_running():
    """Counts that would run for days, or past a stream's step counter, are refused up front."""
    sampler = mcmc.EnsembleSampler(8, 2, mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), seed=1)
    p0 = np.random.default_rng(0).normal(size=(8, 2))
    with pytest.raises(ValueError, match=r"nsteps \* thin_by = 10 \* 1000000000000 steps"):
        sampler.run_mcmc(p0, 10, thin_by=10**12)
    with pytest.raises(ValueError, match=r"iterations \* thin_by"):
        next(sampler.sample(p0, 2**31, thin_by=2))
    with pytest.raises(ValueError, match="n_leapfrog"):
        mcmc.hmc(mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), 10, n_leapfrog=10**9, seed=1)
