"""Quick-look plots for samples: a corner plot and walker traces (matplotlib, imported lazily)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _plotting

__all__ = ["corner", "trace"]


def corner(
    samples: ArrayLike,
    names: list[str] | None = None,
    *,
    truths: ArrayLike | None = None,
    bins: int = 40,
    quantiles: tuple[float, ...] = (0.16, 0.5, 0.84),
    path: str | None = None,
    ax=None,
):
    """Marginal histograms on the diagonal, 2-D histograms below it.

    samples : (n, ndim) flat samples (e.g. ``sampler.get_chain(discard=..., flat=True)``).
    truths : optional true values, drawn as lines. quantiles : marked on the 1-D histograms and
    printed in the titles (median with the 16-84% interval by default). ax : ndim x ndim Axes to
    draw into (row by row), as corner.py's ``fig=``. Returns the Figure; with `path`, also saves it.
    The matplotlib backend is never changed.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (n, ndim), got {x.shape}")
    d = x.shape[1]
    names = names or [f"x[{i}]" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"names has {len(names)} entries for {d} parameters")
    truths = None if truths is None else np.asarray(truths, dtype=np.float64).reshape(d)
    size = max(2.2, min(3.0, 12.0 / d))
    fig, flat, owned = _plotting.subplots(ax, d * d, path=path, figsize=(size * d, size * d), ncols=d)
    axes = np.empty((d, d), dtype=object)
    axes.ravel()[:] = flat
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
    return _plotting.finish(fig, path, owned)


def trace(chain: ArrayLike, names: list[str] | None = None, *, warmup: int = 0, path: str | None = None, ax=None):
    """Every walker's value against step, one panel per parameter; chain is (n_steps, n_walkers, ndim).

    warmup : the first `warmup` steps are shaded (burn-in or tuning). ax : ndim Axes to draw into.
    Returns the Figure; with `path`, also saves it.
    """
    c = np.asarray(chain, dtype=np.float64)
    if c.ndim != 3:
        raise ValueError(f"chain must have shape (n_steps, n_walkers, ndim), got {c.shape}")
    d = c.shape[2]
    names = names or [f"x[{i}]" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"names has {len(names)} entries for {d} parameters")
    fig, axes, owned = _plotting.subplots(ax, d, path=path, figsize=(9, 1.8 * d + 0.6), ncols=1, sharex=True)
    for i in range(d):
        if warmup > 0:
            axes[i].axvspan(0, warmup, color="0.9", zorder=-1)
        axes[i].plot(c[:, :, i], color="k", alpha=0.25, lw=0.5)
        axes[i].set_ylabel(names[i])
    axes[-1].set_xlabel("step")
    return _plotting.finish(fig, path, owned)
