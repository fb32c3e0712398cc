"""Fan independent units of work (chains, temperatures, replicas, islands) over Dask.

Every family that has independent units takes ``client=None``:

- ``None``: run the units here, one after another (each unit's kernel uses all threads);
- ``"local"``: start a `dask.distributed.LocalCluster` on this machine for the call (worker
  processes x threads never exceed the cores) and close it afterwards;
- a scheduler address (``"tcp://10.0.0.5:8786"``): connect to a running cluster, e.g. one started
  with dask-jobqueue on SLURM or PBS;
- a `dask.distributed.Client`: use it as it is.

A unit's result depends only on the seed and the unit's index, never on where it ran, so every
choice gives the same numbers. Dask retries a unit whose worker died (``retries``), and finished
units are kept.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ._progress import Progress

__all__ = ["map_units", "release_client", "resolve_client"]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def resolve_client(client: Any, n_units: int):
    """(Client, owned, threads per unit) for the `client` argument; owned clients must be closed."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(
            "client= needs Dask's distributed scheduler: pip install 'dask[distributed]' (or mlsci_fast[dist])"
        ) from None
    if isinstance(client, Client):
        return client, False, 1
    if client == "local":
        cores = _cores()
        workers = max(1, min(n_units, cores))
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        return Client(cluster), True, max(1, cores // workers)
    if isinstance(client, str):
        return Client(client), True, 1
    raise TypeError(f"client must be None, 'local', a scheduler address or a dask.distributed.Client, got {client!r}")


def release_client(client, owned: bool) -> None:
    """Close a client that resolve_client started (and its LocalCluster); leave others open."""
    if owned:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()


def map_units(
    fn: Callable[..., Any],
    units: Sequence[Any],
    *,
    client: Any = None,
    progress: bool = False,
    label: str = "units",
    retries: int = 2,
    partial: bool = False,
) -> list[Any]:
    """[fn(unit, n_threads=...) for unit in units], here or on a Dask cluster, in order.

    `fn` must be picklable (a module-level function, or anything cloudpickle handles) and take
    the number of threads its kernel may use as the keyword `n_threads`. With `partial`, Ctrl-C
    (a KeyboardInterrupt here, or raised by `fn` when its own run was interrupted) returns the
    results of the units finished before it, in order (a shorter list), with a RuntimeWarning;
    without, it propagates.
    """
    units = list(units)
    out: list[Any] = []
    try:
        if client is None:
            with Progress(len(units), label, "units", enabled=progress) as bar:
                for i, u in enumerate(units):
                    out.append(fn(u, n_threads=None))
                    bar.update(i + 1)
            return out
        from dask.distributed import as_completed

        c, owned, n_threads = resolve_client(client, len(units))
        try:
            futures = [c.submit(fn, u, n_threads=n_threads, pure=False, retries=retries) for u in units]
            try:
                with Progress(len(units), label, "units", enabled=progress) as bar:
                    for done, _ in enumerate(as_completed(futures), 1):
                        bar.update(done)
            except KeyboardInterrupt:
                finished = next((i for i, f in enumerate(futures) if f.status != "finished"), len(futures))
                out = c.gather(futures[:finished])
                c.cancel(futures[finished:])
                raise
            return c.gather(futures)
        finally:
            release_client(c, owned)
    except KeyboardInterrupt:
        if not partial:
            raise
        warnings.warn(f"interrupted after {len(out)} of {len(units)} units of {label}; returning those",
                      RuntimeWarning, stacklevel=3)
        return out
