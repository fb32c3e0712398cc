"""Figures for results: drawn into the caller's Axes, a new pyplot figure, or a file.

No function here changes the matplotlib backend or closes a figure it did not make: a notebook's
backend and the user's open figures are left as they were. A figure that is only written to a file
is made without pyplot (a bare `matplotlib.figure.Figure`), so it needs no backend and is never
left open in pyplot's list.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Sequence

import numpy as np

_OFFSCREEN = contextvars.ContextVar("mlsci_fast_offscreen", default=False)


@contextlib.contextmanager
def offscreen():
    """Within the block, figures are made without pyplot even when no path is given (the tour
    renders figures to PNG bytes this way); yields a pyplot-like namespace for custom drawings."""
    token = _OFFSCREEN.set(True)
    try:
        yield _Offscreen
    finally:
        _OFFSCREEN.reset(token)


class _Offscreen:
    """`figure` and `subplots` as pyplot has them, making bare Figures."""

    @staticmethod
    def figure(figsize=None, **kwargs):
        from matplotlib.figure import Figure

        return Figure(figsize=figsize, **kwargs)

    @staticmethod
    def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
        fig = _Offscreen.figure(figsize=figsize)
        return fig, fig.subplots(nrows, ncols, **kwargs)


def subplots(ax, n: int, *, path, figsize, projections: Sequence[str | None] | None = None,
             ncols: int | None = None, sharex: bool = False):
    """Axes to draw `n` panels into, and whether the figure is ours (so ours to lay out and save).

    ax: None, one Axes (n == 1) or n Axes (any sequence or array); `projections` names the kind each
    panel needs ("3d"), checked against the caller's Axes. Without `ax`, a new figure in one row (or
    `ncols` columns): through pyplot when it is to be shown, a bare Figure when `path` is given.
    """
    projections = list(projections) if projections is not None else [None] * n
    if ax is not None:
        axes = [ax] if hasattr(ax, "figure") and not isinstance(ax, (list, tuple, np.ndarray)) else list(np.ravel(ax))
        if len(axes) != n or not all(hasattr(a, "figure") for a in axes):
            raise ValueError(f"ax must be {'an Axes' if n == 1 else f'{n} Axes'} for this plot, got {ax!r}")
        for a, p in zip(axes, projections):
            if p is not None and getattr(a, "name", None) != p:
                raise ValueError(f"ax: this plot needs a '{p}' Axes (add_subplot(..., projection='{p}'))")
        return axes[0].figure, axes, False
    if path is not None or _OFFSCREEN.get():
        fig = _Offscreen.figure(figsize=figsize)
    else:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize)
    cols = ncols or n
    rows = -(-n // cols)
    axes = []
    for k in range(n):
        share = axes[0] if sharex and axes else None
        axes.append(fig.add_subplot(rows, cols, k + 1, projection=projections[k], sharex=share))
    if sharex:
        for a in axes[:-cols]:
            a.tick_params(labelbottom=False)
    return fig, axes, True


def finish(fig, path, owned: bool, **savefig):
    """Lay out a figure we made and write it to `path` when given; returns the Figure."""
    if owned:
        fig.tight_layout()
    if path is not None:
        fig.savefig(os.fspath(path), **({"dpi": 110} | savefig))
    return fig
