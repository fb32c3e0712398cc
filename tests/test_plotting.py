"""Every result's plot: the backend and the user's figures are left alone, `ax=` draws into the
caller's Axes, a file-only figure never enters pyplot, and a wrong `ax` is refused by name."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
import matplotlib.pyplot as plt  # noqa: E402

from mlsci_fast import ga, ising, mcmc  # noqa: E402
from mlsci_fast.ga import problems  # noqa: E402
from mlsci_fast.preprocessing import data_report  # noqa: E402
from mlsci_fast.tree import DecisionTreeClassifier, plot_tree  # noqa: E402


@pytest.fixture(scope="module")
def results():
    """name -> (result, number of panels, plot kwargs, extra plot args)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    chains = mcmc.nuts(mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), n_samples=50, n_warmup=50,
                       n_chains=2, seed=1, progress=False)
    return {
        "ising": (ising.simulate(8, 2.0, 50, n_burnin=10, seed=1), 3),
        "scan": (ising.temperature_scan(8, [2.0, 2.5], 50, n_burnin=10, seed=1), 5),
        "tempering": (ising.parallel_tempering(8, [2.0, 2.5], 50, seed=2), 6),
        "ga": (ga.GeneticAlgorithm(problems.Sphere(3), population_size=20, seed=1).run(5), 1),
        "nsga2": (ga.NSGA2(lambda P: np.stack([(P**2).sum(1), ((P - 1) ** 2).sum(1)], 1), bounds=[(-2, 2)] * 2,
                           n_objectives=2, population_size=20, seed=1).run(5), 1),
        "cluster": (ga.cluster_search(6, max_relaxations=60, population_size=10, seed=1), 2),
        "report": (data_report(X, y), 4),
        "tree": (DecisionTreeClassifier(max_depth=2).fit(X, y), 1),
        "chains": (chains, None),
    }


def _plot(name, r, **kw):
    if name == "report":
        return r.plot(**kw)
    if name == "tree":
        return plot_tree(r, **kw)
    return r.plot(**kw)


@pytest.mark.parametrize("name", ["ising", "scan", "tempering", "ga", "nsga2", "cluster", "chains"])
def test_plot_to_file_keeps_backend_and_pyplot(results, name, tmp_path):
    r, _ = results[name]
    before = matplotlib.get_backend()
    other = "svg" if before.lower() != "svg" else "pdf"
    matplotlib.use(other)
    try:
        mine = plt.figure()  # the user's open figure
        open_before = plt.get_fignums()
        out = r.plot(tmp_path / "fig.png")
        assert matplotlib.get_backend().lower() == other
        assert plt.get_fignums() == open_before and plt.fignum_exists(mine.number)
        figs = out if isinstance(out, tuple) else (out,)
        assert all(f.canvas.manager is None for f in figs)  # not pyplot's
        written = list(tmp_path.iterdir())
        assert written and all(p.stat().st_size > 5_000 for p in written)
    finally:
        plt.close("all")
        matplotlib.use(before)


@pytest.mark.parametrize("name", ["ising", "scan", "tempering", "ga", "nsga2", "cluster", "report", "tree"])
def test_plot_draws_into_given_axes(results, name):
    r, n = results[name]
    fig = plt.figure()
    kinds = ["3d" if (name == "cluster" and k == 0) else None for k in range(n)]
    axes = [fig.add_subplot(1, n, k + 1, projection=p) for k, p in enumerate(kinds)]
    out = _plot(name, r, ax=axes if n > 1 else axes[0])
    got = out if hasattr(out, "axes") and not isinstance(out, np.ndarray) else np.ravel(out)[0]
    assert (got.figure if hasattr(got, "figure") and got.figure is not None else got) is fig
    assert len(fig.axes) == n  # nothing added beside the caller's Axes
    assert all(a.has_data() or a.texts or a.images for a in axes)


@pytest.mark.parametrize("name", ["ising", "scan", "tempering", "ga", "cluster", "report", "tree"])
def test_wrong_ax_is_refused(results, name):
    r, n = results[name]
    fig = plt.figure()
    axes = [fig.add_subplot(1, n + 1, k + 1) for k in range(n + 1)]
    with pytest.raises(ValueError, match="ax"):
        _plot(name, r, ax=axes)
    if name == "cluster":  # the first panel must be 3-D
        with pytest.raises(ValueError, match="3d"):
            r.plot(ax=axes[:2])


def test_mcmc_plots_take_axes(results):
    r, _ = results["chains"]
    fig = plt.figure()
    axes = fig.subplots(2, 2)
    out = mcmc.plots.corner(r.samples(flat=True), ax=axes)
    assert out is fig and not axes[0, 1].get_visible()
    fig2 = plt.figure()
    axes2 = fig2.subplots(2, 1)
    assert mcmc.plots.trace(np.moveaxis(r.draws, 0, 1), warmup=10, ax=axes2) is fig2
    assert len(axes2[0].patches) == 1  # the shaded warmup
    with pytest.raises(ValueError, match="names has 1"):
        mcmc.plots.trace(np.moveaxis(r.draws, 0, 1), names=["a"])


def test_offscreen_figures_stay_out_of_pyplot(results):
    from mlsci_fast import _plotting

    before = plt.get_fignums()
    with _plotting.offscreen() as bare:
        fig = results["scan"][0].plot()
        fig2, axes = bare.subplots(1, 2, figsize=(4, 2))
    assert plt.get_fignums() == before and fig.canvas.manager is None and len(axes) == 2
    assert results["scan"][0].plot().canvas.manager is not None  # outside the block: pyplot again
