"""An RBM learns the Ising model: train on equilibrium spins, generate new ones.

The course links the renormalization group and deep learning through restricted Boltzmann
machines. Here one RBM per temperature is trained on 2-D Ising configurations from
mlsci_fast.ising (below, near and above T_c = 2.269); block Gibbs sampling of the trained RBM
then generates configurations, whose energy and |magnetisation| per spin are compared with the
training spins'. Writes one figure: training vs generated lattices, and the two observables.

    python examples/rbm_ising.py --out rbm_ising.png
"""

from __future__ import annotations

import argparse

import numpy as np

from mlsci_fast.rbm import BernoulliRBM, ising_configurations, ising_observables

TEMPERATURES = (1.5, 2.27, 3.5)


def run(out: str = "rbm_ising.png", L: int = 10, n_per_temperature: int = 1000, n_iter: int = 200,
        seed: int = 0) -> dict:
    """Train, sample, compare, plot; returns the observables per temperature."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, T = ising_configurations(L, TEMPERATURES, n_per_temperature, seed=seed)
    results = {}
    fig, axes = plt.subplots(len(TEMPERATURES), 9, figsize=(14, 5.2),
                             gridspec_kw={"width_ratios": [1] * 8 + [2.2]})
    for row, temp in enumerate(TEMPERATURES):
        data = X[T == temp]
        # CD-10: near T_c the persistent chains of PCD mix too slowly between the two ordered
        # states and the model comes out too ordered; ten Gibbs steps from the data do not.
        rbm = BernoulliRBM(n_components=L * L, n_iter=n_iter, learning_rate=0.02, batch_size=20, momentum=0.5,
                           method="cd", k=10, random_state=seed).fit(data)
        gen = rbm.sample(1000, n_steps=1000, seed=seed + 1).astype(float)
        od, og = ising_observables(data, L), ising_observables(gen, L)
        results[temp] = {"energy_data": float(od["energy"].mean()), "energy_rbm": float(og["energy"].mean()),
                         "abs_m_data": float(od["abs_m"].mean()), "abs_m_rbm": float(og["abs_m"].mean())}
        for k in range(4):
            axes[row, k].imshow(data[k].reshape(L, L), cmap="gray", vmin=0, vmax=1)
            axes[row, 4 + k].imshow(gen[k].reshape(L, L), cmap="gray", vmin=0, vmax=1)
        for a in axes[row, :8]:
            a.set_xticks([])
            a.set_yticks([])
        axes[row, 0].set_ylabel(f"T = {temp}")
        bins = np.linspace(0, 1, 21)
        axes[row, 8].hist(od["abs_m"], bins=bins, alpha=0.6, density=True, label="Ising (training)")
        axes[row, 8].hist(og["abs_m"], bins=bins, alpha=0.6, density=True, label="RBM (generated)")
        axes[row, 8].set_title(f"E/N: Ising {od['energy'].mean():.2f}, RBM {og['energy'].mean():.2f}", fontsize=9)
    axes[0, 1].set_title("Ising Monte Carlo samples", loc="left")
    axes[0, 5].set_title("RBM samples", loc="left")
    axes[-1, 8].set_xlabel("|m| per spin")
    axes[0, 8].legend(fontsize=8)
    fig.suptitle(f"An RBM with {L * L} hidden units trained on {L}x{L} Ising spins at each temperature")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="rbm_ising.png")
    parser.add_argument("--L", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    results = run(args.out, L=args.L, n_iter=args.epochs, seed=args.seed)
    print("T      E/N Ising  E/N RBM   |m| Ising  |m| RBM")
    for temp, r in results.items():
        print(f"{temp:<5}  {r['energy_data']:9.3f}  {r['energy_rbm']:7.3f}   "
              f"{r['abs_m_data']:9.3f}  {r['abs_m_rbm']:7.3f}")
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
