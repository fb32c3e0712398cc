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


def _stops_at_two(u, n_threads=None):
    if u == 2:
        raise KeyboardInterrupt  # what a unit whose own run saw Ctrl-C raises
    return u


def test_map_units_ctrl_c_returns_the_finished_units_when_asked():
    with pytest.warns(RuntimeWarning, match="interrupted after 2 of 4 units of demo"):
        assert distributed.map_units(_stops_at_two, [0, 1, 2, 3], label="demo", partial=True) == [0, 1]
    with pytest.raises(KeyboardInterrupt):
        distributed.map_units(_stops_at_two, [0, 1, 2, 3])


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


def _island_fitness(X):
    return np.sum((X - 0.3) ** 2, axis=1) + np.sin(5 * X).sum(axis=1)


def test_ga_islands_on_a_local_cluster_equal_the_local_run(tmp_path):
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster

    from mlsci_fast.ga import GeneticAlgorithm, problems

    kw = dict(population_size=30, islands=2, migration_interval=4, n_migrants=2, seed=11)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    try:
        for target, bounds, extra in ((problems.Rastrigin(6), None, {}),
                                      (_island_fitness, [[-2, 2]] * 3, {"maximize": True})):
            here = GeneticAlgorithm(target, bounds, **kw, **extra).run(18)
            ck = tmp_path / "islands.npz"
            there = GeneticAlgorithm(target, bounds, **kw, **extra).run(18, client=client, checkpoint=ck)
            np.testing.assert_array_equal(there.population, here.population)
            np.testing.assert_array_equal(there.best_x, here.best_x)
            assert there.best_fitness == here.best_fitness and there.n_evaluations == here.n_evaluations
            for k in here.history:
                np.testing.assert_array_equal(there.history[k], here.history[k])
            assert GeneticAlgorithm.load(ck, None if bounds is None else target).generation == 18
    finally:
        client.close()
        cluster.close()
    with pytest.raises(ValueError, match="islands >= 2"):
        GeneticAlgorithm(problems.Sphere(2), seed=1).run(2, client="local")
