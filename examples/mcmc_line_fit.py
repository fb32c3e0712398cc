"""Fit a line to data whose error bars are underestimated: the classic emcee tutorial problem.

Data: 50 points of y = m x + b with quoted error bars yerr, but the true scatter is larger by a
fraction f of the model (a common situation with real instruments). The model has three
parameters (m, b, log f); the likelihood is Gaussian with variance yerr^2 + f^2 (m x + b)^2 and
the priors are uniform (-5 < m < 0.5, 0 < b < 10, -10 < log f < 1), exactly as in emcee's
"Fitting a model to data" tutorial, so the answers can be compared line by line. We run the same
Python log-probability through emcee and through mlsci_fast's sampler (same stretch move), and
also fit the simpler homoscedastic model with the built-in C++ LinearRegression target.

    python examples/mcmc_line_fit.py --out line_fit.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlsci_fast import mcmc
from mlsci_fast.mcmc import targets

M_TRUE, B_TRUE, F_TRUE = -0.9594, 4.294, 0.534


def make_data(seed: int = 123, n: int = 50):
    rng = np.random.default_rng(seed)
    x = np.sort(10 * rng.random(n))
    yerr = 0.1 + 0.5 * rng.random(n)
    y = M_TRUE * x + B_TRUE
    y += np.abs(F_TRUE * y) * rng.normal(size=n)
    y += yerr * rng.normal(size=n)
    return x, y, yerr


def log_prob(theta: np.ndarray, x: np.ndarray, y: np.ndarray, yerr: np.ndarray) -> np.ndarray:
    """Vectorised log posterior: theta is (n_walkers, 3) = (m, b, log f)."""
    m, b, log_f = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
    model = m * x + b
    sigma2 = yerr**2 + model**2 * np.exp(2 * log_f)
    ll = -0.5 * np.sum((y - model) ** 2 / sigma2 + np.log(sigma2), axis=1)
    inside = (-5 < m[:, 0]) & (m[:, 0] < 0.5) & (0 < b[:, 0]) & (b[:, 0] < 10) & (-10 < log_f[:, 0]) & (log_f[:, 0] < 1)
    return np.where(inside, ll, -np.inf)


def run(seed: int = 123, nsteps: int = 5000, out: str | None = None, progress: bool = False) -> dict:
    x, y, yerr = make_data(seed)
    # Start near the maximum-likelihood straight line, as the tutorial does.
    A = np.vstack([np.ones_like(x), x]).T
    b_ls, m_ls = np.linalg.lstsq(A / yerr[:, None], y / yerr, rcond=None)[0]
    start = np.array([m_ls, b_ls, np.log(0.5)])
    p0 = start + 1e-4 * np.random.default_rng(seed).normal(size=(32, 3))

    results = {}
    t = time.perf_counter()
    ours = mcmc.EnsembleSampler(32, 3, log_prob, args=(x, y, yerr), vectorize=True, seed=seed)
    ours.run_mcmc(p0, nsteps, progress=progress)
    results["seconds_mlsci_fast"] = time.perf_counter() - t
    tau = ours.get_autocorr_time(quiet=True)
    discard, thin = int(3 * tau.max()), max(1, int(tau.max() / 2))
    flat = ours.get_chain(discard=discard, thin=thin, flat=True)
    results["mlsci_fast"] = np.percentile(flat, [16, 50, 84], axis=0)
    results["tau"] = tau

    try:
        import emcee
    except ImportError:
        emcee = None
    if emcee is not None:
        np.random.seed(seed)  # noqa: NPY002 (emcee draws from the global state)
        t = time.perf_counter()
        ref = emcee.EnsembleSampler(32, 3, log_prob, args=(x, y, yerr), vectorize=True)
        ref.run_mcmc(p0, nsteps)
        results["seconds_emcee"] = time.perf_counter() - t
        results["emcee"] = np.percentile(ref.get_chain(discard=discard, thin=thin, flat=True), [16, 50, 84], axis=0)

    # The homoscedastic model y = b + m x + N(0, sigma^2), all in C++: parameters (b, m, log sigma).
    lin = targets.LinearRegression(x[:, None], y)
    s = mcmc.EnsembleSampler(16, 3, lin, seed=seed)
    s.run_mcmc(np.array([b_ls, m_ls, 0.0]) + 1e-4 * np.random.default_rng(seed).normal(size=(16, 3)), 3000)
    results["linear_regression"] = np.percentile(s.get_chain(discard=500, flat=True), [16, 50, 84], axis=0)
    results["x"], results["y"], results["yerr"], results["flat"] = x, y, yerr, flat

    if out is not None:
        _plot(results, out)
    return results


def _plot(r: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.errorbar(r["x"], r["y"], yerr=r["yerr"], fmt=".k", capsize=0, label="data (quoted errors)")
    xs = np.linspace(0, 10, 200)
    rng = np.random.default_rng(0)
    for m, b, _ in r["flat"][rng.integers(len(r["flat"]), size=100)]:
        ax.plot(xs, m * xs + b, color="tab:orange", alpha=0.05)
    ax.plot(xs, M_TRUE * xs + B_TRUE, "k", label="truth")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    ax.set_title("posterior lines (100 draws)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    mcmc.plots.corner(r["flat"], ["m", "b", "log f"], truths=[M_TRUE, B_TRUE, np.log(F_TRUE)],
                      path=out.rsplit(".", 1)[0] + "_corner.png")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--out", default=None, help="write the fit and a corner plot (PNG)")
    a = p.parse_args(argv)
    r = run(a.seed, a.steps, a.out, progress=True)
    names = ["m", "b", "log f"]
    print(f"truth: m = {M_TRUE}, b = {B_TRUE}, log f = {np.log(F_TRUE):.3f}")
    for who in ("mlsci_fast", "emcee"):
        if who in r:
            q = r[who]
            print(f"{who:>10}: " + ", ".join(f"{n} = {q[1, i]:.3f} +{q[2, i] - q[1, i]:.3f} -{q[1, i] - q[0, i]:.3f}"
                                             for i, n in enumerate(names))
                  + f"   ({r['seconds_' + who]:.2f} s)")
    q = r["linear_regression"]
    print(f"homoscedastic model (built-in C++ target): b = {q[1, 0]:.3f}, m = {q[1, 1]:.3f}, "
          f"sigma = {np.exp(q[1, 2]):.3f}")


if __name__ == "__main__":
    main()
