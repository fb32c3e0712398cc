"""Quick-look plots for samples: a corner plot and walker traces (matplotlib, imported lazily)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["corner", "trace"]


def _pyplot(path):
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def corner(
    samples: ArrayLike,
    names: list[str] | None = None,
    *,
    truths: ArrayLike | None = None,
    bins: int = 40,
    quantiles: tuple[float, ...] = (0.16, 0.5, 0.84),
    path: str | None = None,
):
    """Marginal histograms on the diagonal, 2-D histograms below it.

    samples : (n, ndim) flat samples (e.g. ``sampler.get_chain(discard=..., flat=True)``).
    truths : optional true values, drawn as lines. quantiles : marked on the 1-D histograms and
    printed in the titles (median with the 16-84% interval by default). Returns the Figure.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (n, ndim), got {x.shape}")
    d = x.shape[1]
    names = names or [f"x[{i}]" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"names has {len(names)} entries for {d} parameters")
    truths = None if truths is None else np.asarray(truths, dtype=np.float64).reshape(d)
    plt = _pyplot(path)
    size = max(2.2, min(3.0, 12.0 / d))
    fig, axes = plt.subplots(d, d, figsize=(size * d, size * d), squeeze=False)
    lo, hi = np.quantile(x, 0.001, axis=0), np.quantile(x, 0.999, axis=0)
    for i in range(d):
        for j in range(d):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(x[:, i], bins=bins, range=(lo[i], hi[i]), histtype="step", color="k", density=True)
                q = np.quantile(x[:, i], quantiles)
                for v in q:
                    ax.axvline(v, color="k", ls="--", lw=0.8)
                if len(q) == 3:
                    ax.set_title(f"{names[i]} = {q[1]:.3g} (+{q[2] - q[1]:.2g} / -{q[1] - q[0]:.2g})", fontsize=8)
                ax.set_yticks([])
                if truths is not None:
                    ax.axvline(truths[i], color="tab:blue")
            else:
                ax.hist2d(x[:, j], x[:, i], bins=bins, range=[[lo[j], hi[j]], [lo[i], hi[i]]], cmap="Greys")
                if truths is not None:
                    ax.axvline(truths[j], color="tab:blue")
                    ax.axhline(truths[i], color="tab:blue")
            if i == d - 1:
                ax.set_xlabel(names[j])
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
            elif j > 0:
                ax.set_yticklabels([])
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def trace(chain: ArrayLike, names: list[str] | None = None, *, path: str | None = None):
    """Every walker's value against step, one panel per parameter; chain is (n_steps, n_walkers, ndim)."""
    c = np.asarray(chain, dtype=np.float64)
    if c.ndim != 3:
        raise ValueError(f"chain must have shape (n_steps, n_walkers, ndim), got {c.shape}")
    d = c.shape[2]
    names = names or [f"x[{i}]" for i in range(d)]
    plt = _pyplot(path)
    fig, axes = plt.subplots(d, 1, figsize=(9, 1.8 * d + 0.6), sharex=True, squeeze=False)
    for i in range(d):
        axes[i, 0].plot(c[:, :, i], color="k", alpha=0.25, lw=0.5)
        axes[i, 0].set_ylabel(names[i])
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
