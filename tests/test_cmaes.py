"""CMA-ES with IPOP restarts: it converges where the tutorial's CMA-ES does, restarts double the
population, a seed gives one run, a checkpoint resumes it exactly, bad input is named."""

import numpy as np
import pytest

from mlsci_fast.ga import CMAES


def sphere(X):
    return np.sum((X - 0.3) ** 2, axis=1)


def rosenbrock(X):
    return np.sum(100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2, axis=1)


def rastrigin(X):
    return 10 * X.shape[1] + np.sum(X**2 - 10 * np.cos(2 * np.pi * X), axis=1)


def test_converges_on_smooth_and_ill_conditioned_problems():
    """The sphere and the 10-D Rosenbrock valley (curved, condition ~1e4) to 1e-12: what a
    correct covariance update gives and a wrong one does not."""
    r = CMAES(sphere, np.tile([-5.0, 5.0], (10, 1)), seed=1).run(3000)
    assert r.best_fitness < 1e-12 and np.allclose(r.best_x, 0.3, atol=1e-5)
    r = CMAES(rosenbrock, np.tile([-2.0, 2.0], (10, 1)), seed=1).run(20000)
    assert r.best_fitness < 1e-12 and np.allclose(r.best_x, 1.0, atol=1e-5)
    sigma = r.history["sigma"][r.history["restart"] == 0]
    assert sigma.min() < 1e-4 * sigma[0]  # the step size adapted


def test_ipop_restarts_double_the_population_and_find_rastrigins_minimum():
    r = CMAES(rastrigin, np.tile([-5.12, 5.12], (5, 1)), seed=2).run(100_000)
    assert r.best_fitness < 1e-10
    sizes = [x["population_size"] for x in r.restarts if x["restarted"]]
    assert len(sizes) >= 2 and all(b == 2 * a for a, b in zip(sizes, sizes[1:]))
    assert sizes[0] == 2 * (4 + int(np.floor(3 * np.log(5))))
    assert {x["reason"] for x in r.restarts} <= {"tolfun", "tolx", "conditioncov", "maxiter", "numerics"}


def test_same_seed_same_run_and_maximize():
    a = CMAES(rosenbrock, np.tile([-2.0, 2.0], (4, 1)), seed=5).run(2000)
    b = CMAES(rosenbrock, np.tile([-2.0, 2.0], (4, 1)), seed=5).run(2000)
    assert np.array_equal(a.history["best"], b.history["best"]) and np.array_equal(a.best_x, b.best_x)
    c = CMAES(rosenbrock, np.tile([-2.0, 2.0], (4, 1)), seed=6).run(2000)
    assert not np.array_equal(a.history["best"], c.history["best"])
    m = CMAES(lambda X: -sphere(X), np.tile([-1.0, 1.0], (3, 1)), maximize=True, seed=1).run(1500)
    assert m.best_fitness > -1e-10 and np.all(m.history["best"] <= 0)


def test_checkpoint_resumes_exactly(tmp_path):
    bounds = np.tile([-5.12, 5.12], (4, 1))
    a = CMAES(rastrigin, bounds, seed=3)
    a.run(1500)
    full = a.run(6000)
    b = CMAES(rastrigin, bounds, seed=3)
    b.run(1500)
    b.save(tmp_path / "es.npz")
    c = CMAES.load(tmp_path / "es.npz", rastrigin)
    rest = c.run(6000)
    assert np.array_equal(full.history["best"], rest.history["best"]) and full.restarts == rest.restarts
    assert np.array_equal(full.best_x, rest.best_x) and full.n_evaluations == rest.n_evaluations
    # the file is untrusted: a negative population size is refused before it reaches C++
    data = dict(np.load(tmp_path / "es.npz", allow_pickle=False))
    data["state_counters"] = data["state_counters"].copy()
    data["state_counters"][3] = -4
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(ValueError, match="corrupt"):
        CMAES.load(tmp_path / "bad.npz", rastrigin)
    # ... and counts the C++ update would index with are checked there too
    for key, index, value in (("state_recent", 0, 1e9), ("state_counters", 1, 10**6), ("state_scalars", 0, -1.0)):
        data = dict(np.load(tmp_path / "es.npz", allow_pickle=False))
        data[key] = data[key].copy()
        data[key][index] = value
        np.savez(tmp_path / "bad.npz", **data)
        with pytest.raises(ValueError, match="corrupt"):
            CMAES.load(tmp_path / "bad.npz", rastrigin).run(100)


def test_x0_starts_the_search_and_the_run_ends_after_its_last_restart():
    r = CMAES(sphere, np.tile([-1.0, 1.0], (3, 1)), x0=[0.3, 0.3, 0.3], sigma0=0.01, max_restarts=0, seed=1)
    out = r.run(10**6)
    assert out.finished and out.n_evaluations < 10**6 and out.history["best"][0] < 1e-3
    assert len(out.restarts) == 1 and not out.restarts[0]["restarted"]
    with pytest.raises(ValueError, match="finished"):
        r._generation(None)


@pytest.mark.parametrize("kwargs, match", [
    (dict(bounds=[[0.0, 1.0], [2.0, 1.0]]), "lower < upper; gene 1"),
    (dict(bounds=[0.0, 1.0]), "bounds"),
    (dict(sigma0=0.0), "sigma0"),
    (dict(sigma0=1.5), "sigma0"),
    (dict(population_size=2), "population_size"),
    (dict(max_restarts=21), "max_restarts"),
    (dict(x0=[0.5, 3.0]), "x0 must lie within the bounds"),
    (dict(x0=[0.5]), "x0 must have 2 values"),
    (dict(population_size=2**20, max_restarts=9), "4 million"),
])
def test_bad_arguments_are_named(kwargs, match):
    args = dict(bounds=[[0.0, 1.0], [0.0, 1.0]])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        CMAES(sphere, args.pop("bounds"), **args)


def test_bad_fitness_values_are_named():
    with pytest.raises(ValueError, match=r"fitness of sample \d+ in generation 1 is NaN"):
        CMAES(lambda X: np.full(len(X), np.nan), [[0.0, 1.0]] * 2, seed=1).run(10)
    with pytest.raises(ValueError, match="one value per sample"):
        CMAES(lambda X: np.zeros(3), [[0.0, 1.0]] * 2, seed=1).run(10)
    r = CMAES(lambda X: np.where(X[:, 0] > 0.5, np.inf, sphere(X)), [[0.0, 1.0]] * 2, seed=1).run(600)
    assert np.isfinite(r.best_fitness)  # infeasible samples rank last


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    r = CMAES(rastrigin, np.tile([-5.12, 5.12], (3, 1)), seed=2).run(3000)
    fig = r.plot(tmp_path / "cmaes.png")
    assert (tmp_path / "cmaes.png").stat().st_size > 0 and fig is not None
