"""One door to every saved result: `mlsci_fast.load(path)` reads a file's format and hands it to
the family that wrote it.

Every result and checkpoint is an .npz written atomically by `_io.atomic_savez`, whose metadata
names its format ("mlsci_fast.ising/1"). The registry maps each format to its loader, imported
only when needed (loading an Ising result does not import torch). A new family registers its
formats here with `register`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from ._io import read_meta

__all__ = ["formats", "load", "register"]

# format -> "module:attribute.path" of the loader, or the loader itself
_REGISTRY: dict[str, str | Callable[..., Any]] = {
    "mlsci_fast.ising/1": "mlsci_fast.ising:load",
    "mlsci_fast.ising.TemperingResult/1": "mlsci_fast.ising:load",
    "mlsci_fast.mcmc.chains/1": "mlsci_fast.mcmc.chains:load",
    "mlsci_fast.mcmc.ensemble/1": "mlsci_fast.mcmc.sampler:EnsembleSampler.load",
    "mlsci_fast.ga/1": "mlsci_fast._results:_load_ga",
    "mlsci_fast.TrainingSet/1": "mlsci_fast.forcefield.training:TrainingSet.load",
}


def register(fmt: str, loader: str | Callable[..., Any]) -> None:
    """Make `load` open files of format `fmt` with `loader(path, *args, **kwargs)`."""
    if not isinstance(fmt, str) or not fmt.startswith("mlsci_fast.") or "/" not in fmt:
        raise ValueError(f"fmt must look like 'mlsci_fast.<family>.<Kind>/<version>', got {fmt!r}")
    _REGISTRY[fmt] = loader


def formats() -> list[str]:
    """The formats `load` can open."""
    return sorted(_REGISTRY)


def _resolve(loader: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(loader):
        return loader
    module, _, attr = loader.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _load_ga(path, *args, **kwargs):
    from .ga import NSGA2, GeneticAlgorithm

    cls = NSGA2 if read_meta(path).get("nsga2") else GeneticAlgorithm
    return cls.load(path, *args, **kwargs)


def load(path: str | os.PathLike, *args: Any, **kwargs: Any) -> Any:
    """Open any result or checkpoint mlsci_fast wrote, whatever the family.

    Parameters
    ----------
    path : str or path-like
        An .npz written by a result's `save` or a run's `checkpoint=`.
    *args, **kwargs
        Passed on to the family's loader: a Python ``log_prob_fn`` for an ensemble-sampler
        checkpoint, a Python ``fitness`` for a genetic-algorithm one (built-in targets and
        problems are restored from the file).

    Returns
    -------
    What the family's own loader returns: `ising.IsingResult` or `ising.TemperingResult`,
    `mcmc.ChainResult`, `mcmc.EnsembleSampler`, `ga.GeneticAlgorithm` or `ga.NSGA2` (call
    ``.result()``, or ``.resume()`` to finish the run), `forcefield.TrainingSet`.

    Examples
    --------
    >>> from mlsci_fast import ising, load
    >>> ising.simulate(8, 2.3, 100, seed=1).save("run.npz")  # doctest: +SKIP
    >>> load("run.npz").summary()["energy"]  # doctest: +SKIP
    """
    fmt = read_meta(path)["format"]
    if fmt not in _REGISTRY:
        raise ValueError(f"{os.fspath(path)} has format {fmt!r}, which this version of mlsci_fast cannot open "
                         f"(it opens {', '.join(formats())})")
    return _resolve(_REGISTRY[fmt])(path, *args, **kwargs)
