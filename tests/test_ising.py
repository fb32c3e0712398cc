"""The Ising simulator against exact results: enumeration of 4 x 4 lattices, Onsager's solution."""

import math
import os
import signal
import threading
import time

import numpy as np
import pytest

from mlsci_fast import _core, ising

LOCAL = ["metropolis", "heatbath"]
ALGORITHMS = [*LOCAL, "wolff", "swendsen-wang"]


def z_score(value_err, exact):
    value, err = value_err
    return abs(value - exact) / err


# -- exact results --------------------------------------------------------------------------


def test_onsager_known_values():
    Tc = ising.critical_temperature()
    assert Tc == pytest.approx(2.269185314213022, rel=1e-12)
    assert float(ising.onsager_energy(Tc)) == pytest.approx(-math.sqrt(2), rel=1e-6)
    assert float(ising.onsager_energy(0.5)) == pytest.approx(-2.0, abs=1e-6)  # ground state
    assert float(ising.onsager_magnetization(0.5)) == pytest.approx(1.0, abs=1e-6)
    assert float(ising.onsager_magnetization(2.5)) == 0.0
    assert ising.critical_temperature(J=2.0) == pytest.approx(2 * Tc)


def test_onsager_specific_heat_is_the_energy_derivative():
    T = np.array([1.2, 1.8, 2.1, 2.5, 3.0, 4.0])
    d = 1e-5
    numeric = (ising.onsager_energy(T + d) - ising.onsager_energy(T - d)) / (2 * d)
    np.testing.assert_allclose(ising.onsager_specific_heat(T), numeric, rtol=1e-5)


def test_onsager_bad_temperature():
    with pytest.raises(ValueError, match="T must be finite and > 0"):
        ising.onsager_energy([1.0, -1.0])


def test_exact_enumeration_fluctuation_dissipation():
    # C = d<e>/dT and, with a field, chi = d<m>/dh / T ... checked here for C.
    T, d = 2.3, 1e-5
    e = lambda t: ising.exact_enumeration(4, t)["energy"]  # noqa: E731
    assert ising.exact_enumeration(4, T)["specific_heat"] == pytest.approx((e(T + d) - e(T - d)) / (2 * d), rel=1e-5)
    # L = 2: each site's right and left neighbour coincide, so each pair is bonded twice; the
    # energy per spin of the ordered states is still -2 J, as on any square lattice.
    assert ising.exact_enumeration(2, 0.2)["energy"] == pytest.approx(-2.0, abs=1e-6)


# -- simulation against exact enumeration ---------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("T", [1.5, 2.27, 3.0])
def test_4x4_matches_exact_enumeration(algorithm, T):
    exact = ising.exact_enumeration(4, T)
    r = ising.simulate(4, T, 100_000, algorithm=algorithm, n_burnin=500, seed=11)
    s = r.summary()
    assert z_score(s["energy"], exact["energy"]) < 4
    assert z_score(s["abs_magnetization"], exact["abs_magnetization"]) < 4
    assert z_score(s["specific_heat"], exact["specific_heat"]) < 4


@pytest.mark.parametrize("algorithm", LOCAL)
def test_4x4_in_a_field(algorithm):
    exact = ising.exact_enumeration(4, 2.5, h=0.3)
    r = ising.simulate(4, 2.5, 60_000, h=0.3, algorithm=algorithm, n_burnin=500, seed=5)
    m = r.magnetization
    err = ising._jackknife([m], np.mean)[1]
    assert abs(m.mean() - exact["magnetization"]) < 4 * err
    assert m.mean() > 0.3  # the magnetisation follows the field
    down = ising.simulate(4, 2.5, 5_000, h=-0.3, algorithm=algorithm, seed=5)
    assert down.magnetization.mean() < -0.3


def _exact_cube(T, h):
    """<E>/N and <M>/N of the periodic 2 x 2 x 2 cube, all 256 states. With L = 2 the right and
    left neighbours are the same site, so each bond is counted from both sides, as the sweeps
    and the observables count it."""
    states = np.array(np.meshgrid(*[[-1, 1]] * 8, indexing="ij")).reshape(8, -1).T.reshape(-1, 2, 2, 2)
    bonds = sum((states * np.roll(states, 1, axis=a)).sum(axis=(1, 2, 3)) for a in (1, 2, 3))
    m = states.sum(axis=(1, 2, 3))
    energy = -bonds - h * m
    w = np.exp(-(energy - energy.min()) / T)
    return (w * energy).sum() / w.sum() / 8, (w * m).sum() / w.sum() / 8


@pytest.mark.parametrize("algorithm", LOCAL)
@pytest.mark.parametrize(("T", "h"), [(4.5, 0.0), (3.0, 0.7)])
def test_3d_cube_matches_exact_enumeration(algorithm, T, h):
    """3-D, every class of (neighbour sum, spin) in play; with the field, 7 distinct acceptance
    probabilities below 1 (the many-group path); and a row shorter than one 64-site chunk."""
    exact_e, exact_m = _exact_cube(T, h)
    r = ising.simulate(2, T, 200_000, dim=3, h=h, algorithm=algorithm, n_burnin=500, seed=13)
    for series, exact in ((r.energy, exact_e), (r.magnetization, exact_m)):
        mean, err = ising._jackknife([series], np.mean)
        assert abs(mean - exact) < 4 * err + 1e-12


# -- simulation against Onsager ---------------------------------------------------------------


@pytest.mark.parametrize(("algorithm", "T", "n_sweeps"), [
    *[(a, T, 3000) for a in LOCAL for T in (1.5, 3.5)],
    ("wolff", 1.5, 3000),  # one Wolff sweep is one cluster: ordered phase, most of the lattice
    ("wolff", 3.5, 300_000),  # disordered phase: clusters of a few spins, so many more of them
    ("swendsen-wang", 1.5, 3000),
    ("swendsen-wang", 3.5, 3000),
])
def test_L64_energy_matches_onsager(algorithm, T, n_sweeps):
    r = ising.simulate(64, T, n_sweeps, algorithm=algorithm, n_burnin=300, seed=21,
                       measure_every=max(1, n_sweeps // 3000))
    assert z_score(r.summary()["energy"], float(ising.onsager_energy(T))) < 4


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_L64_spontaneous_magnetisation_matches_onsager(algorithm):
    r = ising.simulate(64, 1.8, 3000, algorithm=algorithm, n_burnin=300, start="cold", seed=22)
    assert z_score(r.summary()["abs_magnetization"], float(ising.onsager_magnetization(1.8))) < 4


def test_3d_limits():
    cold = ising.simulate(8, 1.0, 200, dim=3, start="cold", seed=1)
    assert cold.energy.mean() == pytest.approx(-3.0, abs=0.01)  # 3 bonds per spin
    assert abs(cold.magnetization).mean() > 0.99
    hot = ising.simulate(8, 50.0, 500, dim=3, seed=1)
    assert abs(hot.energy.mean()) < 0.1 and abs(hot.magnetization.mean()) < 0.05


def test_wolff_beats_critical_slowing_down():
    """At T_c on L = 64, Wolff decorrelates |M| in far fewer spin updates than Metropolis."""
    Tc = ising.critical_temperature()
    metro = ising.simulate(64, Tc, 4000, n_burnin=500, seed=6).summary()
    wolff = ising.simulate(64, Tc, 4000, algorithm="wolff", n_burnin=500, seed=6)
    # Wolff's time unit is one cluster, which flips at most N spins (at most a sweep's worth of
    # updates), so a tau five times smaller in clusters means at least five times fewer updates.
    assert wolff.summary()["tau_abs_magnetization"] < metro["tau_abs_magnetization"] / 5
    sw = ising.simulate(64, Tc, 4000, algorithm="swendsen-wang", n_burnin=500, seed=6)
    assert sw.summary()["tau_abs_magnetization"] < metro["tau_abs_magnetization"] / 5  # same unit: sweeps


def test_binder_cumulant_limits():
    ordered = ising.simulate(16, 1.5, 2000, start="cold", seed=3).summary()["binder"][0]
    disordered = ising.simulate(16, 5.0, 2000, seed=3).summary()["binder"][0]
    assert ordered == pytest.approx(2 / 3, abs=0.01)
    assert disordered < 0.3


# -- exactness: threads, resume, checkpoints ------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dim", [2, 3])
def test_bitwise_identical_across_thread_counts(algorithm, dim):
    L = 128 if dim == 2 else 26  # above the size where the sweep runs threaded
    if algorithm == "swendsen-wang":
        L = 256 if dim == 2 else 42  # Swendsen-Wang threads from 2^16 sites
    runs = [ising.simulate(L, 2.3 if dim == 2 else 4.5, 20, dim=dim, algorithm=algorithm, seed=9, n_threads=n)
            for n in (1, 2, 3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r.spins, runs[0].spins)
        np.testing.assert_array_equal(r.energy, runs[0].energy)
        np.testing.assert_array_equal(r.magnetization, runs[0].magnetization)


def test_observables_agree_with_numpy():
    r = ising.simulate(32, 2.3, 10, seed=4, h=0.1)
    s = r.spins.astype(np.int64)
    bonds = (s * np.roll(s, 1, 0)).sum() + (s * np.roll(s, 1, 1)).sum()
    assert r.energy[-1] == pytest.approx((-bonds - 0.1 * s.sum()) / s.size, abs=1e-15)
    assert r.magnetization[-1] == pytest.approx(s.mean(), abs=1e-15)


def test_seed_recorded_and_reproducible():
    a = ising.simulate(16, 2.3, 50)
    b = ising.simulate(16, 2.3, 50, seed=a.seed)
    np.testing.assert_array_equal(a.spins, b.spins)
    c = ising.simulate(16, 2.3, 50, seed=a.seed + 1)
    assert not np.array_equal(a.spins, c.spins)


def _interrupt_after(monkeypatch, n_calls):
    """Make the n-th chunk raise KeyboardInterrupt, as Ctrl-C between chunks would."""
    real = _core.ising.run_sweeps
    calls = {"n": 0}

    def fake(*args):
        calls["n"] += 1
        if calls["n"] > n_calls:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_core.ising, "run_sweeps", fake)


def test_ctrl_c_stops_a_whole_scan(monkeypatch):
    """Ctrl-C during the third temperature stops the scan (not only that temperature) and returns
    the two finished ones, marked interrupted, with one warning."""
    full = ising.temperature_scan(8, [2.0, 2.2, 2.4, 2.6], 300, seed=5)
    _interrupt_after(monkeypatch, 2)  # one kernel call per temperature at this size
    with pytest.warns(RuntimeWarning, match="interrupted after 2 of 4 units") as record:
        part = ising.temperature_scan(8, [2.0, 2.2, 2.4, 2.6], 300, seed=5)
    assert len(record) == 1 and part.interrupted and not full.interrupted
    np.testing.assert_array_equal(part.temperatures, [2.0, 2.2])
    for key, values in part.table.items():
        np.testing.assert_array_equal(values, full.table[key][:2])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_resume_equals_uninterrupted(tmp_path, monkeypatch, algorithm):
    kw = dict(L=64, T=2.3, n_sweeps=30_000, n_burnin=7, measure_every=3, algorithm=algorithm, seed=77)
    full = ising.simulate(**kw)
    path = tmp_path / "run.npz"
    _interrupt_after(monkeypatch, 2)  # chunks are 4,882 sweeps at L = 64
    with pytest.warns(RuntimeWarning, match="interrupted after .*resume with"):
        part = ising.simulate(**kw, checkpoint=path)
    monkeypatch.undo()
    assert part.interrupted and 0 < part.sweeps_done < full.sweeps_done
    assert len(part.energy) < len(full.energy)
    resumed = ising.resume(path)
    assert not resumed.interrupted and resumed.complete
    np.testing.assert_array_equal(resumed.spins, full.spins)
    np.testing.assert_array_equal(resumed.energy, full.energy)
    np.testing.assert_array_equal(resumed.magnetization, full.magnetization)
    np.testing.assert_array_equal(ising.load(path).energy, full.energy)  # the checkpoint is final too


def test_periodic_checkpoints_are_complete_files(tmp_path):
    path = tmp_path / "run.npz"
    r = ising.simulate(16, 2.3, 1000, seed=1, checkpoint=path, checkpoint_every=100)
    loaded = ising.load(path)
    assert loaded.sweeps_done == 1000
    np.testing.assert_array_equal(loaded.spins, r.spins)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]  # no temporary left


def test_save_load_round_trip(tmp_path):
    r = ising.simulate(8, 2.0, 100, dim=3, seed=2**63 + 5)
    r.save(tmp_path / "r.npz")
    back = ising.load(tmp_path / "r.npz")
    assert back.seed == 2**63 + 5
    for field in ("L", "dim", "T", "algorithm", "n_sweeps", "sweeps_done"):
        assert getattr(back, field) == getattr(r, field)
    np.testing.assert_array_equal(back.spins, r.spins)
    np.testing.assert_array_equal(back.energy, r.energy)


def test_corrupt_and_foreign_checkpoints(tmp_path):
    good = tmp_path / "good.npz"
    ising.simulate(8, 2.0, 10, seed=1).save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="is not an mlsci_fast Ising result or checkpoint"):
        ising.load(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    with pytest.raises(ValueError, match="is not an mlsci_fast Ising result or checkpoint"):
        ising.resume(foreign)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="is not an mlsci_fast Ising"):
        ising.load(text)
    with np.load(good) as data:
        arrays = dict(data)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**arrays, "spins": np.zeros((8, 8), np.int8)})
    with pytest.raises(ValueError, match="is corrupt: spins must be int8"):
        ising.load(bad)


def test_ctrl_c_returns_what_was_done(tmp_path):
    """A real SIGINT during a long run stops it at a sweep boundary and returns the partial run."""
    path = tmp_path / "run.npz"
    t0 = time.perf_counter()
    ising.simulate(256, 2.3, 60, seed=3, measure_every=10)
    per_sweep = (time.perf_counter() - t0) / 60
    started = threading.Event()

    def interrupt():
        started.wait()
        time.sleep(20 * per_sweep)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.warns(RuntimeWarning, match="interrupted"):
        started.set()
        r = ising.simulate(256, 2.3, 100_000, seed=3, measure_every=10, checkpoint=path)
    assert r.interrupted and 0 < r.sweeps_done < 100_000
    assert len(r.energy) == r.sweeps_done // 10
    loaded = ising.load(path)
    assert loaded.interrupted and loaded.sweeps_done == r.sweeps_done
    np.testing.assert_array_equal(loaded.spins, r.spins)


def test_summary_and_plot(tmp_path):
    r = ising.simulate(32, 2.0, 2000, seed=8)
    s = r.summary()
    for key in ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder"):
        value, err = s[key]
        assert np.isfinite(value) and np.isfinite(err) and err >= 0
    assert s["tau_energy"] >= 1 and s["n_measurements"] == 2000
    r.plot(tmp_path / "ising.png")
    assert (tmp_path / "ising.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="no measurements yet"):
        ising.simulate(8, 2.0, 0, n_burnin=5, seed=1).summary()


def test_progress_line(capsys):
    ising.simulate(16, 2.3, 50, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "ising L=16" in err and "50/50 sweeps" in err


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"L": 7}, ValueError, "L must be even"),
        ({"L": 0}, ValueError, "L must be >= 2"),
        ({"L": 8.0}, TypeError, "L must be Integral"),
        ({"T": 0.0}, ValueError, "T must be > 0.0"),
        ({"T": -1.0}, ValueError, "T must be > 0.0"),
        ({"T": float("nan")}, ValueError, "T must be finite"),
        ({"algorithm": "glauber"}, ValueError, "algorithm must be one of"),
        ({"algorithm": "wolff", "h": 0.1}, ValueError, "algorithm='wolff' needs h = 0 and J > 0"),
        ({"algorithm": "wolff", "J": -1.0}, ValueError, "algorithm='wolff' needs h = 0 and J > 0"),
        ({"algorithm": "swendsen-wang", "h": 0.2}, ValueError, "algorithm='swendsen-wang' needs h = 0"),
        ({"dim": 4}, ValueError, "dim must be 2 or 3"),
        ({"measure_every": 0}, ValueError, "measure_every must be >= 1"),
        ({"n_sweeps": -1}, ValueError, "n_sweeps must be >= 0"),
        ({"J": float("inf")}, ValueError, "J must be finite"),
        ({"start": "warm"}, ValueError, "start must be 'random', 'cold' or an array"),
        ({"start": np.ones((4, 4))}, ValueError, r"start must be an array of \+1/-1 of shape \(8, 8\)"),
        ({"start": np.zeros((8, 8))}, ValueError, r"start must be an array of \+1/-1"),
        ({"seed": -3}, ValueError, "seed must be in"),
        ({"n_sweeps": 2**31}, ValueError, "n_burnin \\+ n_sweeps must be < 2\\*\\*31"),
    ],
)
def test_bad_input(kwargs, exc, match):
    params = {"L": 8, "T": 2.0, "n_sweeps": 10, **kwargs}
    with pytest.raises(exc, match=match):
        ising.simulate(**params)


def test_user_start_lattice_is_used():
    start = np.ones((8, 8), dtype=np.int64)
    start[::2] = -1
    r = ising.simulate(8, 0.01, 0, n_burnin=0, start=start, seed=1)
    np.testing.assert_array_equal(r.spins, start)
    own = start.astype(np.int8)  # already the lattice's dtype: must still not be written into
    kept = own.copy()
    ising.simulate(8, 2.3, 20, start=own, seed=1)
    np.testing.assert_array_equal(own, kept)


def test_temperature_scan_matches_exact_enumeration_and_runs_on_dask(tmp_path):
    temps = [1.5, 2.5, 4.0]
    scan = ising.temperature_scan(4, temps, 20000, n_burnin=500, seed=3, keep_results=True)
    for i, T in enumerate(temps):
        exact = ising.exact_enumeration(4, T)
        for key in ("energy", "abs_magnetization"):
            z = (scan.table[key][i] - exact[key]) / scan.table[key + "_err"][i]
            assert abs(z) < 5, (T, key, z)
        # temperature i is the run simulate() gives with the seed derived from (seed, i)
        alone = ising.simulate(4, T, 20000, n_burnin=500, seed=ising._unit_seed(scan.seed, i))
        np.testing.assert_array_equal(alone.energy, scan.results[i].energy)
    assert scan.table["binder"][0] > 0.6 > scan.table["binder"][-1]
    pytest.importorskip("dask.distributed")
    there = ising.temperature_scan(4, temps, 20000, n_burnin=500, seed=3, client="local")
    for key in scan.table:
        np.testing.assert_array_equal(there.table[key], scan.table[key])
    import matplotlib

    matplotlib.use("Agg")
    scan.plot(str(tmp_path / "scan.png"))
    assert (tmp_path / "scan.png").stat().st_size > 10_000


@pytest.mark.parametrize("temps", [[], [1.0, -2.0], [np.nan]])
def test_temperature_scan_bad_temperatures(temps):
    with pytest.raises(ValueError, match="temperatures must be"):
        ising.temperature_scan(8, temps, 10)


def test_temperature_scan_bad_arguments_fail_fast():
    with pytest.raises(ValueError, match="L must be even"):
        ising.temperature_scan(7, [2.0, 3.0], 10)


# -- parallel tempering -----------------------------------------------------------------------

LADDER = [1.5, 1.9, 2.27, 2.7, 3.2]


@pytest.mark.parametrize("algorithm", ["metropolis", "wolff"])
def test_tempering_4x4_matches_exact_enumeration_at_every_temperature(algorithm, seed):
    r = ising.parallel_tempering(4, LADDER, 40_000, n_burnin=500, algorithm=algorithm, seed=seed)
    table = r.summary().table
    for t, T in enumerate(LADDER):
        exact = ising.exact_enumeration(4, T)
        assert abs(table["energy"][t] - exact["energy"]) < 4.5 * table["energy_err"][t]
        assert abs(table["abs_magnetization"][t] - exact["abs_magnetization"]) < 4.5 * table["abs_magnetization_err"][t]
        assert abs(table["specific_heat"][t] - exact["specific_heat"]) < 4.5 * table["specific_heat_err"][t]
    assert np.all(r.swap_acceptance > 0.3)  # a 4x4 lattice swaps easily on this ladder
    assert sorted(r.lattice_at) == list(range(len(LADDER)))
    assert r.energy.shape == r.magnetization.shape == (40_000, len(LADDER))


def test_tempering_crosses_the_barrier_that_traps_metropolis():
    """At T = 1.6 a 16 x 16 lattice keeps the sign of its magnetisation under Metropolis for far
    longer than this run; with replicas up to T = 3.2 the lowest temperature flips it often."""
    temps = np.geomspace(1.6, 3.2, 10)
    r = ising.parallel_tempering(16, temps, 4000, seed=3, start="cold")
    m_low = r.magnetization[:, 0]
    assert np.mean(np.abs(m_low)) > 0.9  # still ordered: the flips are whole-lattice reversals
    assert np.sum(np.diff(np.sign(m_low)) != 0) >= 4
    plain = ising.simulate(16, 1.6, 4000 * 10, start="cold", seed=3)  # the same number of sweeps
    assert np.all(plain.magnetization > 0)


def test_tempering_is_thread_independent_and_chunkable():
    for L in (8, 128):  # small lattices run one per thread, large ones each on all threads
        temps = np.array([2.0, 2.3, 2.6])
        a = ising.parallel_tempering(L, temps, 6, sweeps_per_round=2, seed=7, n_threads=1)
        b = ising.parallel_tempering(L, temps, 6, sweeps_per_round=2, seed=7, n_threads=2)
        np.testing.assert_array_equal(a.energy, b.energy)
        np.testing.assert_array_equal(a.spins, b.spins)
        np.testing.assert_array_equal(a.lattice_at, b.lattice_at)
    # the kernel called in two pieces equals one call
    R, L = 4, 8
    betas = 1.0 / np.array([1.8, 2.1, 2.4, 2.8])

    def state():
        spins = np.where(np.random.default_rng(0).random((R, L, L)) < 0.5, 1, -1).astype(np.int8)
        return spins, np.arange(R, dtype=np.int32), np.zeros(R - 1, np.int64), np.zeros(R - 1, np.int64)

    up = _core.ising.Update.metropolis
    one, two = state(), state()
    e1, m1 = np.empty((10, R)), np.empty((10, R))
    e2, m2 = np.empty((10, R)), np.empty((10, R))
    _core.ising.parallel_tempering(*one, 2, 1.0, 0.0, betas, up, 5, 0, 10, 3, e1, m1, 2)
    _core.ising.parallel_tempering(*two, 2, 1.0, 0.0, betas, up, 5, 0, 4, 3, e2, m2, 2)
    _core.ising.parallel_tempering(*two, 2, 1.0, 0.0, betas, up, 5, 4, 6, 3, e2[4:], m2[4:], 2)
    for x, y in zip(one, two):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(e1, e2)


def test_tempering_swaps_at_equal_temperatures_always():
    R, L = 3, 8
    spins = np.where(np.random.default_rng(1).random((R, L, L)) < 0.5, 1, -1).astype(np.int8)
    at, att, acc = np.arange(R, dtype=np.int32), np.zeros(R - 1, np.int64), np.zeros(R - 1, np.int64)
    e, m = np.empty((20, R)), np.empty((20, R))
    _core.ising.parallel_tempering(spins, at, att, acc, 2, 1.0, 0.0, np.full(R, 0.5), _core.ising.Update.metropolis,
                                   1, 0, 20, 1, e, m, 1)
    np.testing.assert_array_equal(att, [10, 10])
    np.testing.assert_array_equal(acc, att)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(temperatures=[2.0]), "at least 2"),
        (dict(temperatures=[2.0, 1.5]), "strictly increasing"),
        (dict(temperatures=[-1.0, 2.0]), "finite, > 0"),
        (dict(temperatures=[1.0, np.nan]), "finite, > 0"),
        (dict(L=7), "L must be even"),
        (dict(algorithm="glauber"), "algorithm must be one of"),
        (dict(algorithm="wolff", h=0.1), "needs h = 0"),
        (dict(start=np.ones((8, 8))), "start must be 'random' or 'cold'"),
        (dict(sweeps_per_round=0), "sweeps_per_round"),
    ],
)
def test_tempering_bad_input(kwargs, match):
    args = dict(L=8, temperatures=[2.0, 2.5], n_rounds=5) | kwargs
    with pytest.raises(ValueError, match=match):
        ising.parallel_tempering(**args)


def test_tempering_plot_and_summary(tmp_path):
    r = ising.parallel_tempering(8, [2.0, 2.3, 2.6, 3.0], 2000, seed=2)
    fig = r.plot(str(tmp_path / "pt.png"))
    assert (tmp_path / "pt.png").stat().st_size > 10_000 and len(fig.axes) == 6
    with pytest.raises(ValueError, match="no measurements"):
        ising.parallel_tempering(8, [2.0, 2.3], 0, seed=2).summary()


def test_tempering_resume_equals_uninterrupted(tmp_path, monkeypatch):
    kw = dict(L=16, temperatures=[1.8, 2.1, 2.4, 2.8], n_rounds=9000, n_burnin=13, sweeps_per_round=2, seed=21)
    full = ising.parallel_tempering(**kw)
    path = tmp_path / "pt.npz"
    real = _core.ising.parallel_tempering
    calls = {"n": 0}

    def fake(*args):  # Ctrl-C at the third call (calls of 1,000 rounds: checkpoint_every)
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_core.ising, "parallel_tempering", fake)
    with pytest.warns(RuntimeWarning, match="interrupted after .*resume with"):
        part = ising.parallel_tempering(**kw, checkpoint=path, checkpoint_every=1000)
    monkeypatch.undo()
    assert part.interrupted and 0 < part.rounds_done < kw["n_rounds"]
    loaded = ising.load(path)
    assert isinstance(loaded, ising.TemperingResult) and loaded.rounds_done == part.rounds_done
    resumed = ising.resume(path)
    assert not resumed.interrupted and resumed.rounds_done == kw["n_rounds"] + kw["n_burnin"]
    for name in ("energy", "magnetization", "spins", "lattice_at", "attempts", "accepted"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name))
    np.testing.assert_array_equal(ising.load(path).energy, full.energy)


def test_tempering_corrupt_checkpoint(tmp_path):
    good = tmp_path / "pt.npz"
    ising.parallel_tempering(8, [2.0, 2.5], 10, seed=1).save(good)
    with np.load(good) as data:
        arrays = dict(data)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**arrays, "lattice_at": np.array([0, 0], np.int32)})
    with pytest.raises(ValueError, match="is corrupt: the replica bookkeeping"):
        ising.load(bad)


@pytest.mark.parametrize("dim, L", [(2, 16), (2, 48), (2, 10), (2, 96), (3, 16)])
@pytest.mark.parametrize("algorithm", LOCAL)
@pytest.mark.parametrize("h", [0.0, 0.4])
def test_vectorised_sweeps_equal_the_scalar_reference(dim, L, algorithm, h):
    """The SIMD loops must reproduce the scalar loops bit for bit. Heat-bath: rows whose length
    is a multiple of 16 (on AVX-512 builds; L = 10 runs the scalar loop both times). Metropolis:
    chunks of 64 sites, full ones (L = 96), partial ones (all the others; on AVX2 builds these
    take the scalar loop)."""
    try:
        _core.ising._set_scalar_sweeps(True)
        ref = ising.simulate(L, 2.3, 30, dim=dim, algorithm=algorithm, h=h, seed=9)
    finally:
        _core.ising._set_scalar_sweeps(False)
    fast = ising.simulate(L, 2.3, 30, dim=dim, algorithm=algorithm, h=h, seed=9)
    np.testing.assert_array_equal(fast.spins, ref.spins)
    np.testing.assert_array_equal(fast.energy, ref.energy)


# -- exact Bernoulli bits (the Metropolis acceptances) ---------------------------------------------
@pytest.mark.parametrize("p", [0.5, 0.25, 0.75, 1 / 3, math.exp(-8 / 2.269), math.exp(-4 / 2.269), 0.9, 1e-5,
                               2.0**-1074, 1 - 2.0**-53])
def test_bernoulli_words_have_the_exact_frequency(p):
    """1.3 million bits: the fraction of ones is p within 5 standard errors (a Poisson count for
    the tiny p), every bit position of the word has the same frequency (chi-square), and
    neighbouring bits are uncorrelated."""
    words, levels = _core.ising._bernoulli_words(p, 20000, seed=5)
    bits = np.unpackbits(words.view(np.uint8), bitorder="little").reshape(-1, 64).astype(np.float64)
    n = bits.size
    ones = bits.sum()
    assert abs(ones - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 5 * (p < 1e-4)
    if 0.01 < p < 0.99:
        per_position = bits.sum(axis=0)
        m = bits.shape[0]
        chi2 = ((per_position - m * p) ** 2 / (m * p * (1 - p))).sum()
        assert chi2 < 64 + 6 * math.sqrt(2 * 64)  # 63 degrees of freedom, about 6 sigma
        flat = bits.ravel()
        corr = np.corrcoef(flat[:-1], flat[1:])[0, 1]
        assert abs(corr) < 5 / math.sqrt(n)
    # A dyadic p ends its expansion within the first two bits: one level, no deeper draws.
    if p in (0.5, 0.25, 0.75):
        assert levels == 1
    assert 1 <= levels <= 40


def test_bernoulli_words_are_a_function_of_their_counters():
    a, _ = _core.ising._bernoulli_words(0.3, 500, seed=1)
    b, _ = _core.ising._bernoulli_words(0.3, 500, seed=1)
    c, _ = _core.ising._bernoulli_words(0.3, 500, seed=2)
    d, _ = _core.ising._bernoulli_words(0.3, 500, seed=1, first=1000)
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.9 and (a != d).mean() > 0.9
    assert not _core.ising._bernoulli_words(0.0, 10, seed=1)[0].any()
    assert (_core.ising._bernoulli_words(1.0, 10, seed=1)[0] == np.uint64(2**64 - 1)).all()


def test_bernoulli_groups_sharing_philox_passes_are_exact_and_independent():
    """Several groups from one call (their levels share Philox passes, block ranges side by side):
    each group's frequency is its p, bits past n_bits and the look-ahead word are 0, and two
    groups with the same p are uncorrelated (a reused block would make them equal)."""
    ps = [math.exp(-8 / 2.269), 0.3, 0.3, 1e-5, 0.75, 0.0, 1.0, math.exp(-4 / 2.269)]
    ns = [64 * 3001 + 17, 64 * 2000, 64 * 2000, 64 * 4000 + 63, 5, 100, 130, 1]
    groups, levels = _core.ising._bernoulli_groups(ps, ns, seed=7)
    assert 1 <= levels <= 40
    bits = []
    for p, n, w in zip(ps, ns, groups):
        assert w[-1] == 0
        b = np.unpackbits(w[:-1].view(np.uint8), bitorder="little")
        assert not b[n:].any()
        b = b[:n].astype(np.float64)
        bits.append(b)
        assert abs(b.sum() - n * p) <= 5 * math.sqrt(n * p * (1 - p)) + 5 * (p < 1e-4)
    corr = np.corrcoef(bits[1], bits[2])[0, 1]
    assert abs(corr) < 5 / math.sqrt(bits[1].size)
    # the same groups one at a time are other draws (the blocks are laid out differently), same law
    alone, _ = _core.ising._bernoulli_words(0.3, 2000, seed=7)
    assert (alone != groups[1][:-1]).mean() > 0.9


def test_bernoulli_words_resolve_beyond_32_bits():
    """p = 2^-33 differs from 0 only past the 32nd bit, where a 32-bit threshold rounds it
    away. Conditioned on the first 32 bits tying (which happens with probability 2^-32 per bit,
    too rare to sample), the comparison goes on: here p = 2^-33 + 2^-34 (0.000...011) and its
    complement's frequencies are checked at a level where they are measurable, p = 0.75 scaled
    by 2^-30 against 2^-30: ones occur at 0.75 the rate (Poisson counts)."""
    n = 200000  # 12.8 million bits
    hits = [_core.ising._bernoulli_words(q, n, seed=s)[0] for q, s in ((2.0**-20 * 0.75, 3), (2.0**-20, 4))]
    counts = [int(np.unpackbits(w.view(np.uint8)).sum()) for w in hits]
    expected = [n * 64 * 2.0**-20 * 0.75, n * 64 * 2.0**-20]
    for c, e in zip(counts, expected):
        assert abs(c - e) < 5 * math.sqrt(e)


# -- multi-spin coding --------------------------------------------------------------------------


def _zero_temperature_sweep(s):
    """One checkerboard sweep at T -> 0 in numpy: a spin flips iff that does not raise the energy
    (Metropolis accepts dE <= 0 with probability 1, dE > 0 with exp(-dE/T) -> 0)."""
    s = s.copy()
    y, x = np.indices(s.shape)
    for colour in (0, 1):
        nb = np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)
        flip = ((x + y) % 2 == colour) & (s * nb <= 0)
        s[flip] = -s[flip]
    return s


@pytest.mark.parametrize("L", [128, 256, 1024])
def test_multispin_neighbours_are_exact(L):
    """At T -> 0 the dynamics is deterministic: the packed lattice (64 strips, neighbours across
    strip edges by a bit rotation) must make exactly the moves numpy makes, sweep after sweep
    (L = 1024: units of four rows)."""
    start = np.random.default_rng(L).choice(np.array([-1, 1], dtype=np.int8), size=(L, L))
    ref = start
    for n in range(1, 4):
        ref = _zero_temperature_sweep(ref)
        r = ising.simulate(L, 0.01, n, algorithm="multispin", start=start, seed=1)
        np.testing.assert_array_equal(r.spins, ref)
        s = r.spins.astype(np.int64)  # popcount observables against numpy
        bonds = (s * np.roll(s, 1, 0)).sum() + (s * np.roll(s, 1, 1)).sum()
        assert r.energy[-1] == pytest.approx(-bonds / s.size, abs=1e-15)
        assert r.magnetization[-1] == pytest.approx(s.mean(), abs=1e-15)
    # The byte-per-spin Metropolis makes the same deterministic moves.
    np.testing.assert_array_equal(ising.simulate(L, 0.01, 3, start=start, seed=1).spins, ref)


@pytest.mark.parametrize("algorithm", ["multispin", "metropolis"])
@pytest.mark.parametrize(("J", "h"), [(1.0, 0.0), (1.0, 0.3), (-0.7, 0.0), (0.8, -0.5)])
def test_acceptance_probabilities_are_exact(J, h, algorithm):
    """From all spins up, one sweep: a first-colour spin (4 aligned neighbours) flips with
    p(0) = min(1, exp(-beta dE)); a second-colour spin sees Binomial(4, p(0)) flipped neighbours
    c and flips with p(c). The fraction of flipped spins over 4 x 2^20 updates against that
    expectation (a z-score), for several couplings and fields. (One multi-spin case at L = 4224,
    whose rows of 2112 words of a colour are drawn for in two units.)"""
    L, T = (4224 if algorithm == "multispin" and J == 0.8 else 1024), 3.0
    beta = 1.0 / T

    def p(c):  # spin up, c anti-aligned neighbours: dE = 2 J (4 - 2 c) + 2 h
        return min(1.0, math.exp(-beta * (2 * J * (4 - 2 * c) + 2 * h)))

    p0 = p(0)
    second = sum(math.comb(4, c) * p0**c * (1 - p0) ** (4 - c) * p(c) for c in range(5))
    expected = 0.5 * p0 + 0.5 * second
    flipped = [np.mean(ising.simulate(L, T, 1, J=J, h=h, algorithm=algorithm, start="cold", seed=s).spins < 0)
               for s in range(4)]
    err = math.sqrt(expected * (1 - expected) / (4 * L * L)) * 1.5  # neighbouring flips correlate a little
    assert abs(np.mean(flipped) - expected) < 4 * err


@pytest.mark.parametrize("T", [1.5, 3.5])
def test_multispin_energy_matches_onsager(T):
    r = ising.simulate(128, T, 3000, algorithm="multispin", n_burnin=300, seed=21)
    assert z_score(r.summary()["energy"], float(ising.onsager_energy(T))) < 4


def test_multispin_spontaneous_magnetisation_matches_onsager():
    r = ising.simulate(128, 1.8, 3000, algorithm="multispin", n_burnin=300, start="cold", seed=22)
    assert z_score(r.summary()["abs_magnetization"], float(ising.onsager_magnetization(1.8))) < 4


@pytest.mark.parametrize(("T", "J", "h"), [(ising.critical_temperature(), 1.0, 0.0), (2.5, 1.0, 0.3), (2.0, -1.0, 0.5)])
def test_multispin_agrees_with_metropolis(T, J, h):
    """The same chain in law as the byte-per-spin Metropolis: E and |M| agree within errors (at
    T_c, in a field, and for an antiferromagnet in a field). The errors come from the spread over
    8 independent runs of each: near T_c one run's blocking error is too small by 2-5x (its
    autocorrelation time is not short against the run), and a z of 4 then fails by chance."""
    kw = dict(L=128, T=T, n_sweeps=2000, J=J, h=h, n_burnin=500, measure_every=2)

    def runs(algorithm, seeds):
        return [ising.simulate(**kw, algorithm=algorithm, seed=s) for s in seeds]

    ms, mc = runs("multispin", range(100, 108)), runs("metropolis", range(200, 208))
    if h > 0:  # the magnetisation follows the field
        assert np.mean([r.magnetization.mean() for r in ms]) > 0.01  # (an antiferromagnet only a little)
    for key in ("energy", "abs_magnetization"):
        a, b = (np.array([r.summary()[key][0] for r in rs]) for rs in (ms, mc))
        err = math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(len(a))
        assert abs(a.mean() - b.mean()) < 5 * err, key  # (t with 14 degrees of freedom: 5 is p = 2e-4)


def test_multispin_bitwise_identical_across_thread_counts_and_resume(tmp_path, monkeypatch):
    # units of one row (L = 256), of two rows (512) and of part of a row (4224)
    for L, n in ((256, 20), (512, 10), (4224, 1)):
        runs = [ising.simulate(L, 2.3, n, algorithm="multispin", seed=9, n_threads=t) for t in (1, 2, 3)]
        for r in runs[1:]:
            np.testing.assert_array_equal(r.spins, runs[0].spins)
            np.testing.assert_array_equal(r.energy, runs[0].energy)
    kw = dict(L=128, T=2.3, n_sweeps=20000, n_burnin=7, measure_every=3, algorithm="multispin", seed=77)
    full = ising.simulate(**kw)
    path = tmp_path / "run.npz"
    _interrupt_after(monkeypatch, 2)
    with pytest.warns(RuntimeWarning, match="interrupted after"):  # multi-spin chunks are long: 4 here
        part = ising.simulate(**kw, checkpoint=path, checkpoint_every=5000)
    monkeypatch.undo()
    assert part.interrupted and 0 < part.sweeps_done < full.sweeps_done
    resumed = ising.resume(path)
    np.testing.assert_array_equal(resumed.spins, full.spins)
    np.testing.assert_array_equal(resumed.energy, full.energy)
    np.testing.assert_array_equal(resumed.magnetization, full.magnetization)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"L": 64}, "needs L a multiple of 128"),
    ({"L": 192}, "needs L a multiple of 128"),
    ({"L": 128, "dim": 3}, "2-D only"),
])
def test_multispin_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ising.simulate(T=2.0, n_sweeps=1, algorithm="multispin", **kwargs)
    with pytest.raises(ValueError, match=match):
        ising.parallel_tempering(temperatures=[2.0, 2.5], n_rounds=1, algorithm="multispin", **kwargs)


@pytest.mark.parametrize(("L", "h", "T", "n"), [(128, 0.0, 2.3, 20), (256, 0.4, 2.3, 20), (128, 0.0, 0.9, 20),
                                               (1024, 0.0, 2.3, 4), (2048, 0.4, 2.3, 2), (4224, 0.0, 2.3, 1)])
def test_multispin_vectorised_equals_scalar_reference(L, h, T, n):
    """Words classified eight at a time flip exactly what the one-word reference loop flips: in
    a field (the general class loop), at T = 0.9 (p tiny: deep Bernoulli levels), in units of
    4 and 2 whole rows (L = 1024, 2048) and in units of part of a row (L = 4224: 2048 + 64
    words)."""
    try:
        _core.ising._set_scalar_sweeps(True)
        ref = ising.simulate(L, T, n, h=h, algorithm="multispin", seed=9)
    finally:
        _core.ising._set_scalar_sweeps(False)
    fast = ising.simulate(L, T, n, h=h, algorithm="multispin", seed=9)
    np.testing.assert_array_equal(fast.spins, ref.spins)
    np.testing.assert_array_equal(fast.energy, ref.energy)


def test_exact_results_and_start_refuse_nan_and_complex():
    """onsager_*(J=nan) returned a number; a complex +-1j start passed the +-1 check and ran on a
    lattice of zeros."""
    for f in (ising.onsager_energy, ising.onsager_magnetization, ising.onsager_specific_heat):
        with pytest.raises(ValueError, match="J must be a finite real number"):
            f(2.0, J=float("nan"))
        with pytest.raises(ValueError, match="must be real"):
            f(2.0 + 0j)
    with pytest.raises(ValueError, match="real"):
        ising.simulate(4, 2.0, 2, start=np.full((4, 4), 1j), seed=1)
