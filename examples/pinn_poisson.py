"""A physics-informed CNN solves the 2-D Poisson equation, once with our Conv2d and once with
torch's, from the same initial weights: the two loss curves are the same to rounding.

The loss holds second derivatives of the network's output with respect to its input, so every
training step differentiates the convolution three times; with a backward pass that is
differentiable only once (this layer before the fix) the weight gradients silently lost terms.
Needs the deep extra (torch) and, for the figure, matplotlib:

    python examples/pinn_poisson.py --out pinn.png
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mlsci_fast.nn import Conv2d
from mlsci_fast.nn.pinn import poisson_pinn


def run(steps: int = 600, n_grid: int = 24, out: str | None = None) -> dict:
    ours = poisson_pinn(Conv2d, steps=steps, n_grid=n_grid)
    ref = poisson_pinn(torch.nn.Conv2d, steps=steps, n_grid=n_grid)
    result = dict(
        loss_first=ours.loss[0], loss_last=ours.loss[-1], l2_error=ours.l2_error, l2_error_torch=ref.l2_error,
        max_relative_loss_difference=float(np.max(np.abs(ours.loss - ref.loss) / ref.loss)),
        seconds=ours.seconds, seconds_torch=ref.seconds,
    )
    if out:
        import matplotlib.pyplot as plt

        fig, (a, b, c) = plt.subplots(1, 3, figsize=(13, 3.8))
        a.semilogy(ours.loss, label="mlsci_fast Conv2d")
        a.semilogy(ref.loss, "--", label="torch Conv2d")
        a.set(xlabel="Adam step", ylabel="mean squared PDE residual", title="loss curves")
        a.legend()
        for ax, field, title in ((b, ours.u, "network u(x, y)"), (c, ours.u - ours.exact, "u - exact")):
            lim = {} if ax is b else dict(vmin=-np.abs(field).max(), vmax=np.abs(field).max())
            im = ax.imshow(field, origin="lower", extent=(0, 1, 0, 1), cmap="viridis" if ax is b else "coolwarm", **lim)
            ax.set(xlabel="x", ylabel="y", title=title)
            fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(out, dpi=110)
        plt.close(fig)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--grid", type=int, default=24, help="collocation points per side")
    parser.add_argument("--out", help="write the figure (loss curves, solution, error) here")
    args = parser.parse_args(argv)
    r = run(args.steps, args.grid, args.out)
    print(f"loss {r['loss_first']:.4g} -> {r['loss_last']:.4g} in {args.steps} steps")
    print(f"relative L2 error against the exact solution: {r['l2_error']:.2e} "
          f"(torch's layer: {r['l2_error_torch']:.2e})")
    print(f"largest relative difference between the two loss curves: {r['max_relative_loss_difference']:.1e}")
    print(f"time: {r['seconds']:.1f} s (torch's layer: {r['seconds_torch']:.1f} s)")


if __name__ == "__main__":
    main()
