"""Hash a fixed set of runs (Ising, tempering, MCMC, GA, NSGA-II, cluster search, SVM, tree, RBM,
force fields) so a refactor can show it changed no number: run before and after, compare the lines.

    python tools/hash_runs.py > before.txt   # ... refactor ...
    python tools/hash_runs.py | diff before.txt -
"""

from __future__ import annotations

import hashlib

import numpy as np


def _h(*arrays) -> str:
    m = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        m.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return m.hexdigest()[:16]


def runs():
    from sklearn.datasets import load_iris, make_classification

    from mlsci_fast import ga, ising, mcmc, rbm, svm, tree
    from mlsci_fast.ga import problems

    r = ising.simulate(32, 2.3, 300, n_burnin=50, seed=1)
    yield "ising metropolis", _h(r.spins, r.energy, r.magnetization)
    for alg, L in (("wolff", 32), ("swendsen-wang", 32), ("multispin", 128)):
        r = ising.simulate(L, 2.3, 100, n_burnin=20, seed=2, algorithm=alg)
        yield f"ising {alg}", _h(r.spins, r.energy, r.magnetization)
    t = ising.parallel_tempering(16, [2.0, 2.3, 2.6], 200, seed=3)
    yield "tempering", _h(t.spins, t.energy, t.magnetization, t.accepted)
    s = ising.temperature_scan(8, [2.0, 2.5], 200, seed=4)
    yield "scan", _h(*[s.table[k] for k in sorted(s.table)])

    target = mcmc.targets.Rosenbrock() if hasattr(mcmc.targets, "Rosenbrock") else mcmc.targets.Gaussian(
        np.zeros(3), np.eye(3) + 0.5)
    es = mcmc.EnsembleSampler(16, target.ndim, target, seed=5)
    es.run_mcmc(np.random.default_rng(0).normal(size=(16, target.ndim)), 300)
    yield "ensemble built-in", _h(es.get_chain(), es.get_log_prob())
    es = mcmc.EnsembleSampler(8, 2, lambda x: -0.5 * float(x @ x), seed=6)
    es.run_mcmc(np.random.default_rng(1).normal(size=(8, 2)), 200)
    yield "ensemble python", _h(es.get_chain())
    for alg in ("nuts", "hmc", "metropolis"):
        c = getattr(mcmc, alg)(mcmc.targets.Gaussian(np.zeros(3), np.eye(3)), n_samples=200, n_warmup=200,
                               n_chains=2, seed=7)
        yield f"chains {alg}", _h(c.draws)

    g = ga.GeneticAlgorithm(problems.Rastrigin(10), population_size=40, seed=8).run(60)
    yield "ga built-in", _h(g.population, g.fitness, g.history["best"])
    g = ga.GeneticAlgorithm(lambda P: (P**2).sum(1), bounds=[(-3, 3)] * 4, population_size=20, islands=2,
                            seed=9).run(30)
    yield "ga python islands", _h(g.population, g.fitness)
    n = ga.NSGA2(lambda P: np.stack([(P**2).sum(1), ((P - 1) ** 2).sum(1)], 1), [(-2, 2)] * 3, 2,
                 population_size=24, seed=10).run(20)
    yield "nsga2", _h(n.objectives, n.pareto_f)
    c = ga.cluster_search(7, max_relaxations=200, population_size=10, seed=11)
    yield "cluster", _h(c.positions, c.history)

    X, y = load_iris(return_X_y=True)
    m = svm.SVC(kernel="rbf", C=3.0).fit(X, y)
    yield "svc", _h(m.dual_coef_, m.intercept_, m.decision_function(X))
    Xc, yc = make_classification(600, 12, random_state=0)
    t = tree.DecisionTreeClassifier(random_state=0).fit(Xc, yc)
    yield "tree", _h(t.tree_.threshold, t.tree_.feature, t.predict_proba(Xc))
    V = (np.random.default_rng(2).random((200, 36)) < 0.3).astype(np.float64)
    b = rbm.BernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(V)
    yield "rbm", _h(b.components_, b.intercept_hidden_, b.intercept_visible_)

    from mlsci_fast import forcefield as ff

    ts = ff.TrainingSet.sic_reference()
    e, f = ts.compute(ff.TersoffParameters.sic_1994())
    yield "forcefield tersoff", _h(e, *f)
    fit = ff.fit(ts.subset(range(12)), ff.TersoffParameters.sic_1994(), ["A:Si-C", "B:Si-C"],
                 [(1500.0, 1900.0), (380.0, 480.0)], population_size=16, n_generations=5, polish=False, seed=12)
    yield "forcefield fit", _h(fit.parameters.table, fit.ga_result.history["best"])


if __name__ == "__main__":
    for name, digest in runs():
        print(f"{name:24s} {digest}")
