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
