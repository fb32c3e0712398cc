"""Infer the Ising coupling from snapshots of a magnet: two lectures meet (Ising model + MCMC).

We "observe" equilibrium configurations of a 64 x 64 Ising magnet at three temperatures
(simulated with `mlsci_fast.ising`, J = 1, h = 0) and ask: what coupling K = J / k_B T and field
produced them? The exact likelihood needs the partition function Z(K), which no one can sum for a
64 x 64 lattice, so we use Besag's (1975) pseudo-likelihood: the product over sites of
P(s_i | neighbours) = 1 / (1 + exp(-2 s_i (K h_i + B))), h_i the sum of the four neighbours, B the
field in units of k_B T. That is exactly a logistic regression of (s_i + 1) / 2 on the feature
2 h_i with intercept 2 B, so the built-in C++ `LogisticRegression` target is the posterior (flat
prior), and NUTS samples it. The pseudo-likelihood estimate is consistent; its posterior width
understates the true uncertainty somewhat (neighbouring sites are not independent).

    python examples/mcmc_ising_coupling.py --out ising_coupling.png
"""

from __future__ import annotations

import argparse

import numpy as np

from mlsci_fast import ising, mcmc
from mlsci_fast.mcmc import targets

TEMPERATURES = (2.0, ising.critical_temperature(), 3.0)


def snapshots(T: float, L: int = 64, n: int = 4, seed: int = 0) -> list[np.ndarray]:
    """n independent equilibrium configurations at temperature T."""
    start = "cold" if T < ising.critical_temperature() else "random"
    return [ising.simulate(L, T, 1, n_burnin=3000, start=start, seed=seed * 100 + k).spins for k in range(n)]


def pseudo_likelihood_data(configs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Feature 2 h_i and label (s_i + 1) / 2 for every site of every configuration."""
    X, y = [], []
    for s in configs:
        s = s.astype(np.float64)
        h = np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)
        X.append(2.0 * h.ravel())
        y.append((s.ravel() + 1.0) / 2.0)
    return np.concatenate(X)[:, None], np.concatenate(y)


def run(seed: int = 0, n_snapshots: int = 4, n_samples: int = 1000, out: str | None = None) -> dict:
    results = {}
    for T in TEMPERATURES:
        X, y = pseudo_likelihood_data(snapshots(T, n=n_snapshots, seed=seed))
        target = targets.LogisticRegression(X, y, prior_scale=None)  # (2 B, K), flat prior
        r = mcmc.nuts(target, n_samples, n_warmup=500, n_chains=4, x0=[0.0, 0.3], seed=seed)
        s = r.samples(flat=True)
        results[T] = {
            "K_mean": float(s[:, 1].mean()),
            "K_sd": float(s[:, 1].std()),
            "field_mean": float(s[:, 0].mean() / 2.0),
            "field_sd": float(s[:, 0].std() / 2.0),
            "K_true": 1.0 / T,
            "samples": s[:, 1],
            "n_sites": len(y),
            "n_divergent": r.n_divergent,
        }
    if out is not None:
        _plot(results, out)
    return results


def _plot(results: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.2))
    for ax, (T, r) in zip(axes, results.items()):
        ax.hist(r["samples"], bins=40, density=True, color="0.6")
        ax.axvline(r["K_true"], color="k", ls="--", label="true J / T")
        ax.set_title(f"T = {T:.3f}")
        ax.set_xlabel("K = J / k_B T")
        ax.set_yticks([])
    axes[0].legend(fontsize=8)
    fig.suptitle("posterior of the coupling from 4 snapshots (pseudo-likelihood, NUTS)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the posteriors (PNG)")
    a = p.parse_args(argv)
    for T, r in run(a.seed, out=a.out).items():
        print(f"T = {T:.3f}: K = {r['K_mean']:.4f} +- {r['K_sd']:.4f} (true {r['K_true']:.4f}), "
              f"field = {r['field_mean']:+.4f} +- {r['field_sd']:.4f} (true 0), {r['n_sites']} sites")


if __name__ == "__main__":
    main()
