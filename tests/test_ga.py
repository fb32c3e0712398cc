"""Genetic algorithm: problems against numpy formulas and known minima, the engine's behaviour,
determinism across threads, the Python-fitness contract, checkpoint/resume and bad input."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from mlsci_fast.ga import GeneticAlgorithm
from mlsci_fast.ga import problems as P

# -- problems --------------------------------------------------------------------------------


def test_problems_match_numpy_formulas(rng):
    X = rng.uniform(-3, 3, size=(7, 6))
    np.testing.assert_allclose(P.Sphere(6)(X), (X**2).sum(1), rtol=1e-13)
    np.testing.assert_allclose(P.Rastrigin(6)(X), 60 + (X**2 - 10 * np.cos(2 * np.pi * X)).sum(1), rtol=1e-12)
    ackley = -20 * np.exp(-0.2 * np.sqrt((X**2).mean(1))) - np.exp(np.cos(2 * np.pi * X).mean(1)) + 20 + np.e
    np.testing.assert_allclose(P.Ackley(6)(X), ackley, rtol=1e-12)
    rosen = (100 * (X[:, 1:] - X[:, :-1] ** 2) ** 2 + (1 - X[:, :-1]) ** 2).sum(1)
    np.testing.assert_allclose(P.Rosenbrock(6)(X), rosen, rtol=1e-12)
    for prob, at in ((P.Sphere(6), 0.0), (P.Rastrigin(6), 0.0), (P.Ackley(6), 0.0), (P.Rosenbrock(6), 1.0)):
        assert abs(prob(np.full(6, at)) - prob.optimum) < 1e-12


def test_lennard_jones_energy_gradient_and_known_minima(rng):
    lj = P.LennardJonesCluster(5)
    x = rng.uniform(-1.5, 1.5, 15)
    r = pdist(x.reshape(5, 3))
    np.testing.assert_allclose(lj(x), np.sum(4 * (r**-12 - r**-6)), rtol=1e-12)
    e, g = lj.energy_and_gradient(x)
    h = 1e-6
    fd = np.array([(lj(x + h * u) - lj(x - h * u)) / (2 * h) for u in np.eye(15)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())
    # The dimer and the regular tetrahedron at the pair-potential minimum r = 2^(1/6).
    r0 = 2 ** (1 / 6)
    assert abs(P.LennardJonesCluster(2)(np.array([0, 0, 0, r0, 0, 0.0])) - P.LennardJonesCluster(2).optimum) < 1e-12
    tet = r0 / np.sqrt(8) * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    assert abs(P.LennardJonesCluster(4)(tet.ravel()) - (-6.0)) < 1e-12
    assert P.LennardJonesCluster(38).optimum == -173.928427


# -- the engine ------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"survival": "mu+lambda"}, {"islands": 4, "population_size": 50}])
def test_finds_the_global_minimum_of_rastrigin(seed, kw):
    ga = GeneticAlgorithm(P.Rastrigin(5), **{"population_size": 100, "seed": seed, **kw})
    r = ga.run(400)
    # Rastrigin's next-best local minima are at f ~ 1: below 0.01 is the global basin.
    assert r.best_fitness < 1e-2
    assert np.all(np.abs(r.best_x) < 0.01)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"selection": "rank", "crossover": "blend"},
        {"selection": "roulette", "crossover": "uniform", "mutation": "gaussian", "sigma": 0.02},
        {"survival": "mu+lambda", "tournament_size": 3},
    ],
)
def test_every_operator_minimises_the_sphere(kw):
    r = GeneticAlgorithm(P.Sphere(10), population_size=60, seed=3, **kw).run(300)
    assert r.best_fitness < 0.05 * r.history["best"][0]
    # With elitism (or mu + lambda) the population's best never gets worse.
    assert np.all(np.diff(r.history["best"]) <= 0)
    assert r.n_evaluations == 60 * 301
    assert r.population.shape == (60, 10) and np.all(np.abs(r.population) <= 5.12)


def test_same_run_for_any_thread_count():
    runs = [GeneticAlgorithm(P.Ackley(20), population_size=64, islands=3, migration_interval=5, seed=9,
                             n_threads=n).run(40) for n in (1, 2, 3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.population, runs[0].population)
        np.testing.assert_array_equal(r.history["mean"], runs[0].history["mean"])


def test_python_fitness_once_per_generation_and_same_as_builtin():
    prob = P.Rastrigin(8)
    calls = []

    def fitness(X):
        calls.append(X.shape)
        return prob(X)

    kw = dict(population_size=30, islands=2, migration_interval=4, seed=5)
    py = GeneticAlgorithm(fitness, prob.bounds, **kw).run(25)
    builtin = GeneticAlgorithm(prob, **kw).run(25)
    assert calls == [(60, 8)] * 26  # the initial population, then one call per generation
    np.testing.assert_array_equal(py.population, builtin.population)
    assert py.best_fitness == builtin.best_fitness


def test_maximize():
    r = GeneticAlgorithm(lambda X: -((X - 1.0) ** 2).sum(1), [[-3, 3]] * 3, maximize=True, seed=1).run(150)
    assert r.best_fitness <= 0 and r.best_fitness > -1e-3
    np.testing.assert_allclose(r.best_x, 1.0, atol=0.05)
    assert r.history["best"][-1] == pytest.approx(r.best_fitness)


def test_islands_migrate():
    kw = dict(population_size=20, islands=3, seed=2)
    apart = GeneticAlgorithm(P.Rastrigin(6), migration_interval=0, **kw).run(30)
    ring = GeneticAlgorithm(P.Rastrigin(6), migration_interval=5, **kw).run(30)
    assert not np.array_equal(apart.population, ring.population)
    # Without migration, islands are independent: island 1 does not depend on island 0's start.
    start = np.random.default_rng(0).uniform(-5, 5, (60, 6))
    moved = start.copy()
    moved[:20] = np.random.default_rng(1).uniform(-5, 5, (20, 6))
    a = GeneticAlgorithm(P.Rastrigin(6), migration_interval=0, initial_population=start, **kw).run(10)
    b = GeneticAlgorithm(P.Rastrigin(6), migration_interval=0, initial_population=moved, **kw).run(10)
    np.testing.assert_array_equal(a.population[20:], b.population[20:])


def test_run_continues_and_checkpoint_resumes_exactly(tmp_path):
    full = GeneticAlgorithm(P.Ackley(10), population_size=40, seed=4).run(60)
    ga = GeneticAlgorithm(P.Ackley(10), population_size=40, seed=4)
    ga.run(25)
    np.testing.assert_array_equal(ga.run(35).population, full.population)  # a second run continues

    calls = {"n": 0}

    def fitness(X):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return P.Ackley(10)(X)

    path = tmp_path / "ga.npz"
    with pytest.warns(RuntimeWarning, match=r"interrupted after 28 of 60 generations.*GeneticAlgorithm.load"):
        part = GeneticAlgorithm(fitness, P.Ackley(10).bounds, population_size=40, seed=4).run(60, checkpoint=path)
    assert part.interrupted and part.n_generations == 28
    calls["n"] = -10**9
    again = GeneticAlgorithm.load(path, fitness)
    assert again.generation == 28
    r = again.resume()
    np.testing.assert_array_equal(r.population, full.population)
    np.testing.assert_array_equal(r.history["best"], full.history["best"])
    # A built-in problem is restored from the file.
    GeneticAlgorithm(P.Ackley(10), population_size=40, seed=4).run(60, checkpoint=tmp_path / "b.npz",
                                                                   checkpoint_every=7)
    np.testing.assert_array_equal(GeneticAlgorithm.load(tmp_path / "b.npz").result().population, full.population)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    r = GeneticAlgorithm(P.Sphere(3), population_size=10, seed=1).run(20)
    r.plot(str(tmp_path / "ga.png"))
    assert (tmp_path / "ga.png").stat().st_size > 5000


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: GeneticAlgorithm(lambda X: X.sum(1), [[1, 0]]), ValueError, r"gene 0 has \[1.0, 0.0\]"),
        (lambda: GeneticAlgorithm(lambda X: X.sum(1)), ValueError, "bounds are required"),
        (lambda: GeneticAlgorithm(lambda X: X.sum(1), [[0, 1, 2]]), ValueError, r"shape \(dim, 2\)"),
        (lambda: GeneticAlgorithm(P.Sphere(3), [[0, 1]] * 2), ValueError, "dim=3"),
        (lambda: GeneticAlgorithm(P.Sphere(3), selection="best"), ValueError, "selection must be one of"),
        (lambda: GeneticAlgorithm(P.Sphere(3), population_size=1), ValueError, "population_size"),
        (lambda: GeneticAlgorithm(P.Sphere(3), maximize=True), ValueError, "maximize"),
        (lambda: GeneticAlgorithm("f", [[0, 1]]), TypeError, "built-in problem or a callable"),
        (lambda: GeneticAlgorithm(P.Sphere(3), initial_population=np.zeros((5, 3))), ValueError, r"\(100, 3\)"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_fitness_values():
    def nan_at_gen_3(X, calls=[0]):
        calls[0] += 1
        f = (X**2).sum(1)
        if calls[0] == 4:
            f[7] = np.nan
        return f

    ga = GeneticAlgorithm(nan_at_gen_3, [[-1, 1]] * 2, population_size=10, seed=1)
    with pytest.raises(ValueError, match="NaN for individual 7 of generation 3"):
        ga.run(10)
    assert ga.generation == 2  # the failing generation left no trace
    with pytest.raises(ValueError, match=r"must return one value per individual, shape \(10,\)"):
        GeneticAlgorithm(lambda X: X, [[-1, 1]] * 2, population_size=10).run(1)
    infeasible = GeneticAlgorithm(lambda X: np.where(X[:, 0] > 0, np.inf, (X**2).sum(1)), [[-1, 1]] * 2, seed=1)
    assert infeasible.run(30).best_x[0] <= 0  # +inf marks infeasible individuals


# -- NSGA-II ---------------------------------------------------------------------------------

from mlsci_fast import _core  # noqa: E402
from mlsci_fast.ga import NSGA2  # noqa: E402


def zdt(X, kind):
    f1 = X[:, 0]
    g = 1 + 9 * X[:, 1:].mean(1)
    f2 = g * (1 - np.sqrt(f1 / g)) if kind == 1 else g * (1 - (f1 / g) ** 2)
    return np.column_stack([f1, f2])


def igd(front, kind):
    """Inverted generational distance to the true front of ZDT1 / ZDT2 (f2 = 1 - f1^0.5 or 1 - f1^2)."""
    f1 = np.linspace(0, 1, 1000)
    true = np.column_stack([f1, 1 - np.sqrt(f1) if kind == 1 else 1 - f1**2])
    return np.mean(np.min(np.linalg.norm(true[:, None, :] - front[None, :, :], axis=2), axis=1))


def test_nondominated_sorting_matches_brute_force(rng):
    F = np.round(rng.uniform(0, 1, size=(60, 3)), 1)  # rounding makes ties and duplicates
    keys = _core.ga.nsga2_keys(F)
    remaining, rank = set(range(60)), np.empty(60, dtype=int)
    r = 0
    while remaining:
        front = {i for i in remaining if not any(np.all(F[j] <= F[i]) and np.any(F[j] < F[i]) for j in remaining)}
        rank[list(front)] = r
        remaining -= front
        r += 1
    np.testing.assert_array_equal(np.floor(keys).astype(int), rank)
    for k in range(3):  # the extremes of each objective in the first front have infinite crowding
        first = np.flatnonzero(rank == 0)
        assert keys[first[np.argmin(F[first, k])]] == 0.0


@pytest.mark.parametrize("kind", [1, 2])
def test_nsga2_finds_the_zdt_front_as_well_as_pymoo(kind):
    from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem

    r = NSGA2(lambda X: zdt(X, kind), [[0, 1]] * 30, 2, population_size=100, seed=1).run(250)
    ours = igd(r.pareto_f, kind)
    ref = minimize(get_problem(f"zdt{kind}"), PymooNSGA2(pop_size=100), ("n_gen", 250), seed=1, verbose=False)
    assert ours < 0.01 and ours < 1.5 * igd(ref.F, kind), (ours, igd(ref.F, kind))
    assert r.pareto_f[:, 0].min() < 0.01 and r.pareto_f[:, 0].max() > 0.99  # the whole front
    assert np.all(np.diff(r.pareto_f[:, 0]) >= 0) and r.history["front_size"][-1] == len(r.pareto_f)
    assert r.n_evaluations == 100 * 251


def test_nsga2_threads_islands_and_resume(tmp_path):
    kw = dict(population_size=40, islands=2, migration_interval=5, seed=3)
    runs = [NSGA2(lambda X: zdt(X, 1), [[0, 1]] * 10, 2, n_threads=n, **kw).run(30) for n in (1, 2)]
    np.testing.assert_array_equal(runs[0].population, runs[1].population)
    np.testing.assert_array_equal(runs[0].objectives, runs[1].objectives)

    calls = {"n": 0}

    def f(X):
        calls["n"] += 1
        if calls["n"] == 12:
            raise KeyboardInterrupt
        return zdt(X, 1)

    with pytest.warns(RuntimeWarning, match="interrupted after 10 of 30 generations"):
        part = NSGA2(f, [[0, 1]] * 10, 2, **kw).run(30, checkpoint=tmp_path / "n.npz")
    assert part.interrupted and part.n_generations == 10
    calls["n"] = -10**9
    again = NSGA2.load(tmp_path / "n.npz", f)
    r = again.resume()
    np.testing.assert_array_equal(r.population, runs[0].population)
    np.testing.assert_array_equal(r.history["min"], runs[0].history["min"])
    import matplotlib

    matplotlib.use("Agg")
    r.plot(str(tmp_path / "front.png"))
    assert (tmp_path / "front.png").stat().st_size > 5000


def test_nsga2_bad_input():
    with pytest.raises(TypeError, match="Python function"):
        NSGA2(P.Sphere(2), [[0, 1]] * 2, 2)
    with pytest.raises(ValueError, match=r"must return shape \(20, 2\)"):
        NSGA2(lambda X: X[:, 0], [[0, 1]] * 2, 2, population_size=20).run(1)

    def nan_later(X, calls=[0]):
        calls[0] += 1
        F = zdt(X, 1)
        if calls[0] == 3:
            F[4, 1] = np.nan
        return F

    with pytest.raises(ValueError, match="objective 1 is NaN for individual 4 of generation 2"):
        NSGA2(nan_later, [[0, 1]] * 3, 2, population_size=10).run(5)


# -- cluster structure search ----------------------------------------------------------------

from mlsci_fast.ga import cluster_search, relax  # noqa: E402


def test_relax_matches_scipy(rng):
    from scipy.optimize import minimize

    lj = P.LennardJonesCluster(13)
    x0 = rng.uniform(-1.3, 1.3, (13, 3))
    while pdist(x0).min() < 0.6:  # a physical start: no two atoms nearly on top of each other
        x0 = rng.uniform(-1.3, 1.3, (13, 3))
    ours, e, converged = relax(x0, gtol=1e-6)
    assert converged
    assert np.abs(lj.energy_and_gradient(ours.ravel())[1]).max() < 1e-6
    # From random starts two optimisers may fall into different minima; from a small perturbation
    # of a minimum scipy found, ours must return to the same one.
    ref = minimize(lambda v: lj.energy_and_gradient(v), x0.ravel(), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10000})
    back, e2, converged = relax(ref.x.reshape(13, 3) + 1e-3 * rng.normal(size=(13, 3)), gtol=1e-6)
    assert converged and abs(e2 - ref.fun) < 1e-8
    # The same structure up to a rigid motion (free in vacuum): the same sorted pair distances.
    np.testing.assert_allclose(np.sort(pdist(back)), np.sort(pdist(ref.x.reshape(13, 3))), atol=1e-5)


@pytest.mark.parametrize("n", [7, 13, 19, 26])
def test_cluster_search_finds_known_minima(n, seed):
    r = cluster_search(n, seed=seed, max_relaxations=5000)
    assert r.found and abs(r.energy - P.LJ_MINIMA[n]) < 1e-4
    assert r.n_relaxations <= 5000 and r.positions.shape == (n, 3)
    np.testing.assert_allclose(r.positions.mean(0), 0, atol=1e-12)
    # Every member of the final population is a relaxed structure at its own energy.
    assert np.all(np.diff(r.energies) >= 0) and r.energies[0] == r.energy


def test_cluster_search_same_for_any_thread_count_and_outputs(tmp_path):
    runs = [cluster_search(19, seed=2, n_threads=n, max_relaxations=300, target=-1e9) for n in (1, 2)]
    np.testing.assert_array_equal(runs[0].positions, runs[1].positions)
    np.testing.assert_array_equal(runs[0].energies, runs[1].energies)
    assert runs[0].n_relaxations == 300 and not runs[0].found
    runs[0].to_xyz(tmp_path / "c.xyz")
    lines = (tmp_path / "c.xyz").read_text().splitlines()
    assert lines[0] == "19" and len(lines) == 21 and lines[2].startswith("Ar ")
    import matplotlib

    matplotlib.use("Agg")
    runs[0].plot(str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_cluster_search_bad_input():
    with pytest.raises(ValueError, match="potential must be 'lj'"):
        cluster_search(13, potential="morse")
    with pytest.raises(ValueError, match="max_relaxations must be >= 30"):
        cluster_search(13, max_relaxations=10)
    with pytest.raises(ValueError, match=r"shape \(n_atoms >= 2, 3\)"):
        relax(np.zeros((4, 2)))


# -- integer and permutation genomes ------------------------------------------------------------


def _circle_tour(n, seed=0):
    """Cities on a unit circle in shuffled order: the best tour is the circle, length 2n sin(pi/n)."""
    ang = np.random.default_rng(seed).permutation(n) * 2 * np.pi / n
    xy = np.column_stack([np.cos(ang), np.sin(ang)])

    def length(P):
        pts = xy[P.astype(int)]
        return np.linalg.norm(pts - np.roll(pts, -1, axis=1), axis=2).sum(1)

    return length, 2 * n * np.sin(np.pi / n)


@pytest.mark.parametrize("mutation", ["inversion", "swap"])
def test_permutation_genome_solves_a_tour_with_known_optimum(seed, mutation, tmp_path):
    length, best = _circle_tour(16)
    ga = GeneticAlgorithm(length, genome="permutation", n_genes=16, population_size=100, survival="mu+lambda",
                          mutation=mutation, mutation_prob=0.5, seed=seed)
    r = ga.run(400)
    assert np.all(np.sort(r.population, axis=1) == np.arange(16))  # every individual stays a permutation
    assert r.best_fitness == pytest.approx(best, abs=1e-9)
    ga.save(tmp_path / "p.npz")
    assert GeneticAlgorithm.load(tmp_path / "p.npz", length).result().best_fitness == r.best_fitness


def test_integer_genome_finds_the_exact_optimum():
    r = GeneticAlgorithm(lambda X: ((X - 3) ** 2).sum(1) + (X[:, 0] == 3) * 2.0, [[-10, 10]] * 6,
                         genome="integer", survival="mu+lambda", seed=1).run(150)
    assert np.all(r.population == np.round(r.population)) and np.all(np.abs(r.population) <= 10)
    assert r.best_x[0] in (2.0, 4.0)  # the penalty at x0 = 3 makes its integer neighbours best
    np.testing.assert_array_equal(r.best_x[1:], 3.0)
    assert r.best_fitness == 1.0


def test_genome_bad_input():
    length, _ = _circle_tour(5)
    with pytest.raises(ValueError, match="genome must be one of"):
        GeneticAlgorithm(length, [[0, 1]], genome="binary")
    with pytest.raises(ValueError, match="no bounds: give n_genes"):
        GeneticAlgorithm(length, [[0, 4]] * 5, genome="permutation")
    with pytest.raises(ValueError, match="n_genes must be"):
        GeneticAlgorithm(length, genome="permutation")
    with pytest.raises(ValueError, match="permutation genomes need crossover 'order'"):
        GeneticAlgorithm(length, genome="permutation", n_genes=5, crossover="sbx")
    with pytest.raises(ValueError, match="real and integer genomes need"):
        GeneticAlgorithm(length, [[0, 1]] * 5, mutation="swap")
    with pytest.raises(ValueError, match="rows must be permutations"):
        GeneticAlgorithm(length, genome="permutation", n_genes=5, population_size=2,
                         initial_population=[[0, 1, 2, 3, 3], [0, 1, 2, 3, 4]])


def test_cluster_search_ctrl_c_returns_the_best_so_far(monkeypatch):
    from mlsci_fast import _core as core
    from mlsci_fast.ga import cluster as cluster_module

    real = core.ga.cluster_run
    generations = []  # asked of each call (5 at first; fewer when a chunk would pass 0.2 s)

    class FakeGa:
        def __getattr__(self, name):
            return getattr(core.ga, name)

        def cluster_run(self, cfg, pos, energies, counters, problem, n_generations, trace, nt):
            if len(generations) == 2:
                raise KeyboardInterrupt
            generations.append(n_generations)
            return real(cfg, pos, energies, counters, problem, n_generations, trace, nt)

    monkeypatch.setattr(cluster_module, "_core", type("C", (), {"ga": FakeGa()})())
    with pytest.warns(RuntimeWarning, match="interrupted after"):
        r = cluster_search(38, seed=1, max_relaxations=5000)
    assert generations[0] == 5 and 1 <= generations[1] <= 5
    assert r.interrupted and not r.found and np.isfinite(r.energy)
    assert r.n_relaxations == 30 + 16 * sum(generations)  # the population, then whole generations


# ---- checkpoints are untrusted input ---------------------------------------------------------
def _tampered(src, dst, *, meta_changes=None, **array_changes):
    from mlsci_fast._io import atomic_savez, load_npz

    meta, arrays = load_npz(src, _format(src), "checkpoint")
    meta.update(meta_changes or {})
    for k, v in array_changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    atomic_savez(dst, meta, **arrays)
    return dst


def _format(path):
    import json

    with np.load(path, allow_pickle=False) as data:
        return json.loads(bytes(data["meta"]).decode())["format"]


@pytest.fixture(scope="module")
def ga_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ga") / "ga.npz"
    GeneticAlgorithm(P.Rastrigin(4), population_size=12, seed=2).run(6, checkpoint=path)
    return path


TAMPERED = {
    "negative generation": dict(counters=np.array([-5, 72])),
    "generation past the history": dict(counters=np.array([40, 72])),
    "negative evaluations": dict(counters=np.array([6, -1])),
    "counters of the wrong shape": dict(counters=np.array([6])),
    "counters as floats": dict(counters=np.array([6.0, 72.0])),
    "population of the wrong shape": dict(population=np.zeros((11, 4))),
    "population as strings": dict(population=np.full((12, 4), "x")),
    "NaN in the population": dict(population=np.full((12, 4), np.nan)),
    "fitness of the wrong length": dict(fitness=np.zeros(3)),
    "history cut short": dict(history_best=np.zeros(2)),
    "a missing array": dict(best_x=None),
    "plan before the generation": dict(meta_changes={"plan": 2}),
    "plan of 10^15 generations": dict(meta_changes={"plan": 10**15}),
    "plan as a string": dict(meta_changes={"plan": "many"}),
    "negative elapsed time": dict(meta_changes={"elapsed": -1.0}),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_checkpoint_is_refused(ga_checkpoint, tmp_path, case):
    bad = _tampered(ga_checkpoint, tmp_path / "bad.npz", **TAMPERED[case])
    with pytest.raises(ValueError, match="corrupt|missing"):
        GeneticAlgorithm.load(bad).resume()


def test_damaged_checkpoint_bytes_are_refused(ga_checkpoint, tmp_path):
    """Truncations and bit flips anywhere in the file: a clear ValueError or a checkpoint that
    still loads and resumes to a result (a flip inside a float's low bits is still a valid file),
    never a crash."""
    data = ga_checkpoint.read_bytes()
    rng = np.random.default_rng(0)
    bad = tmp_path / "bad.npz"
    for cut in (0, 10, len(data) // 3, len(data) - 1):
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError):
            GeneticAlgorithm.load(bad)
    for _ in range(40):
        flipped = bytearray(data)
        i = int(rng.integers(len(data)))
        flipped[i] ^= 1 << int(rng.integers(8))
        bad.write_bytes(bytes(flipped))
        try:
            GeneticAlgorithm.load(bad).resume()
        except ValueError:
            pass


def test_tampered_nsga2_checkpoint_is_refused(tmp_path):
    def zdt1(X):
        g = 1 + 9 * X[:, 1:].mean(axis=1)
        return np.column_stack([X[:, 0], g * (1 - np.sqrt(X[:, 0] / g))])

    path = tmp_path / "mo.npz"
    NSGA2(zdt1, [[0.0, 1.0]] * 4, 2, population_size=8, seed=1).run(3, checkpoint=path)
    for change in (dict(objectives=np.zeros((8, 3))), dict(mo_min=np.zeros((2, 2))), dict(mo_front_size=None),
                   dict(objectives=np.full((8, 2), np.nan))):
        bad = _tampered(path, tmp_path / "bad.npz", **change)
        with pytest.raises(ValueError, match="corrupt|missing"):
            NSGA2.load(bad, zdt1).resume()


def test_checkpoint_header_claiming_terabytes_is_refused(ga_checkpoint, tmp_path):
    """numpy allocates what an array header says before reading: a crafted header must not make
    a 1 kB file ask for terabytes."""
    import zipfile

    bad = tmp_path / "huge.npz"
    with zipfile.ZipFile(ga_checkpoint) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "population.npy":
                header = np.lib.format.header_data_from_array_1_0(np.zeros((12, 4)))
                header["shape"] = (10**7, 10**6)
                import io

                buf = io.BytesIO()
                np.lib.format.write_array_header_1_0(buf, header)
                data = buf.getvalue() + b"\0" * 64
            dst.writestr(info.filename, data)
    with pytest.raises(ValueError, match="claims .* bytes"):
        GeneticAlgorithm.load(bad)


def test_checkpoint_with_forged_zip_sizes_is_refused(ga_checkpoint, tmp_path):
    """The zip's own size fields are what a header is measured against: a member claiming to
    expand past what deflate can, or to be stored in more bytes than the file has, is refused."""
    import struct

    data = bytearray(ga_checkpoint.read_bytes())
    # the central directory entry of the first member: its uncompressed size at offset 24
    at = data.find(b"PK\x01\x02")
    data[at + 24:at + 28] = struct.pack("<I", 0xFFFFFFF0)
    bad = tmp_path / "forged.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        GeneticAlgorithm.load(bad)
