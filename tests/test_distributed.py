"""mlsci_fast.distributed: the same results here and on a real Dask LocalCluster."""

import os

import numpy as np
import pytest

from mlsci_fast import distributed


def _unit(u, n_threads=None):
    # What a family's unit does: a deterministic function of the unit, plus where it ran.
    return u, float(np.random.default_rng(u).normal()), os.getpid(), n_threads


def test_map_units_here_keeps_order_and_passes_threads():
    out = distributed.map_units(_unit, [3, 1, 2])
    assert [o[0] for o in out] == [3, 1, 2]
    assert all(o[3] is None for o in out)  # here: the kernel's default (all threads)


def test_map_units_on_an_embedded_local_cluster():
    pytest.importorskip("dask.distributed")
    here = distributed.map_units(_unit, range(4))
    there = distributed.map_units(_unit, range(4), client="local")
    assert [o[:2] for o in there] == [o[:2] for o in here]
    assert {o[2] for o in there} != {os.getpid()}  # ran in worker processes
    cores = len(os.sched_getaffinity(0))
    workers = min(4, cores)
    assert all(o[3] == max(1, cores // workers) for o in there)  # workers x threads <= cores


def test_bad_client():
    pytest.importorskip("dask.distributed")
    with pytest.raises(TypeError, match="client must be None, 'local'"):
        distributed.map_units(_unit, [1], client=3)


def _dying_scan_unit(marker, original, kwargs, unit, n_threads=None):
    # The second temperature's first attempt kills its worker process, mid-scan.
    if unit[0] == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return original(kwargs, unit, n_threads)


def test_a_killed_worker_does_not_lose_the_scan(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    import functools

    from dask.distributed import Client, LocalCluster

    from mlsci_fast import ising

    temps = np.linspace(2.0, 2.6, 4)
    here = ising.temperature_scan(8, temps, 300, seed=5)
    marker = str(tmp_path / "killed")
    monkeypatch.setattr(ising, "_scan_unit", functools.partial(_dying_scan_unit, marker, ising._scan_unit))
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        there = ising.temperature_scan(8, temps, 300, seed=5, client=client)
    finally:
        client.close()
        cluster.close()
    assert os.path.exists(marker)  # a worker really died
    for key in ("energy", "abs_magnetization", "specific_heat", "binder"):
        np.testing.assert_array_equal(there.table[key], here.table[key])
