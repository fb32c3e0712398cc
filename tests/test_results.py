"""mlsci_fast.load opens every saved result and checkpoint by its format."""

import numpy as np
import pytest

import mlsci_fast
from mlsci_fast import ga, ising, mcmc
from mlsci_fast._io import atomic_savez
from mlsci_fast._results import formats, register
from mlsci_fast.ga import problems


def test_load_opens_every_family(tmp_path):
    r = ising.simulate(8, 2.3, 50, seed=1)
    r.save(tmp_path / "ising.npz")
    got = mlsci_fast.load(tmp_path / "ising.npz")
    assert isinstance(got, ising.IsingResult)
    np.testing.assert_array_equal(got.energy, r.energy)

    t = ising.parallel_tempering(8, [2.0, 2.5], 20, seed=2)
    t.save(tmp_path / "pt.npz")
    assert isinstance(mlsci_fast.load(tmp_path / "pt.npz"), ising.TemperingResult)

    c = mcmc.nuts(mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), 20, n_warmup=20, n_chains=2, seed=3)
    c.save(tmp_path / "c.npz")
    np.testing.assert_array_equal(mlsci_fast.load(tmp_path / "c.npz").draws, c.draws)

    s = mcmc.EnsembleSampler(8, 2, mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), seed=4)
    s.run_mcmc(np.random.default_rng(0).normal(size=(8, 2)), 30)
    s.save(tmp_path / "s.npz")
    np.testing.assert_array_equal(mlsci_fast.load(tmp_path / "s.npz").get_chain(), s.get_chain())
    py = mcmc.EnsembleSampler(8, 2, lambda x: -0.5 * float(x @ x), seed=4)
    py.run_mcmc(np.random.default_rng(0).normal(size=(8, 2)), 10)
    py.save(tmp_path / "py.npz")
    with pytest.raises(ValueError, match="pass it as log_prob_fn"):
        mlsci_fast.load(tmp_path / "py.npz")
    assert mlsci_fast.load(tmp_path / "py.npz", lambda x: -0.5 * float(x @ x)).iteration == 10

    g = ga.GeneticAlgorithm(problems.Sphere(3), population_size=10, seed=5)
    g.run(4, checkpoint=tmp_path / "ga.npz")
    loaded = mlsci_fast.load(tmp_path / "ga.npz")
    assert type(loaded) is ga.GeneticAlgorithm and loaded.generation == 4

    def two(P):
        return np.stack([(P**2).sum(1), ((P - 1) ** 2).sum(1)], 1)

    ga.NSGA2(two, [(-1, 1)] * 2, 2, population_size=12, seed=6).run(3, checkpoint=tmp_path / "n.npz")
    assert type(mlsci_fast.load(tmp_path / "n.npz", two)) is ga.NSGA2


def test_load_refuses_what_it_cannot_open(tmp_path):
    atomic_savez(tmp_path / "x.npz", {"format": "mlsci_fast.future/9"}, a=np.zeros(2))
    with pytest.raises(ValueError, match="format 'mlsci_fast.future/9', which this version .* cannot open"):
        mlsci_fast.load(tmp_path / "x.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="not an mlsci_fast result or checkpoint"):
        mlsci_fast.load(tmp_path / "plain.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not an mlsci_fast result"):
        mlsci_fast.load(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="fmt must look like"):
        register("mine", lambda path: None)


def test_register_a_new_format(tmp_path):
    register("mlsci_fast.test.Thing/1", lambda path, scale=1: scale * 2)
    try:
        atomic_savez(tmp_path / "t.npz", {"format": "mlsci_fast.test.Thing/1"})
        assert mlsci_fast.load(tmp_path / "t.npz", scale=5) == 10
        assert "mlsci_fast.test.Thing/1" in formats()
    finally:
        from mlsci_fast import _results

        _results._REGISTRY.pop("mlsci_fast.test.Thing/1")
