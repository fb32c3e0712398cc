"""2-D Ising Metropolis sweeps at T_c: mlsci_fast vs a NumPy checkerboard and a numba kernel.

Each implementation runs the same number of sweeps from the same random lattice; the benchmark
checks that they relax to the same energy (the dynamics are the same, the random numbers not)
and records flips per nanosecond.
"""

import math

import numba
import numpy as np
import pytest

from mlsci_fast import ising

TC = ising.critical_temperature()
SWEEPS = 10


def numpy_sweeps(s, beta, n, rng):
    """The textbook vectorised checkerboard: whole-lattice rolls, one colour at a time."""
    L = s.shape[0]
    colour = (np.add.outer(np.arange(L), np.arange(L)) % 2).astype(bool)
    for _ in range(n):
        for mask in (~colour, colour):
            nb = np.roll(s, 1, 0) + np.roll(s, -1, 0) + np.roll(s, 1, 1) + np.roll(s, -1, 1)
            accept = mask & (rng.random(s.shape) < np.exp(-2.0 * beta * s * nb))
            s[accept] *= -1
    return s


@numba.njit(parallel=True, cache=False)
def _numba_sweeps(s, beta, n):
    L = s.shape[0]
    for _ in range(n):
        for parity in range(2):
            for y in numba.prange(L):
                for x in range((y + parity) % 2, L, 2):
                    S = s[(y - 1) % L, x] + s[(y + 1) % L, x] + s[y, (x - 1) % L] + s[y, (x + 1) % L]
                    dE = 2 * s[y, x] * S
                    if dE <= 0 or np.random.random() < math.exp(-beta * dE):  # noqa: NPY002 (numba)
                        s[y, x] = -s[y, x]
    return s


def energy(s):
    return -(s * np.roll(s, 1, 0)).sum() / s.size - (s * np.roll(s, 1, 1)).sum() / s.size


def run(impl, start, algorithm="metropolis"):
    s = start.copy()
    if impl == "mlsci_fast":
        r = ising.simulate(len(s), TC, SWEEPS, start=s, seed=1, measure_every=SWEEPS, algorithm=algorithm)
        return r.spins
    if impl == "numpy":
        return numpy_sweeps(s.astype(np.int64), 1 / TC, SWEEPS, np.random.default_rng(1))
    return _numba_sweeps(s.astype(np.int64), 1 / TC, SWEEPS)


@pytest.mark.parametrize("impl", ["numpy", "numba", "mlsci_fast"])
@pytest.mark.parametrize("L", [256, 1024])
def bench_metropolis_sweeps(benchmark, record, L, impl):
    start = np.where(np.random.default_rng(0).random((L, L)) < 0.5, 1, -1).astype(np.int8)
    if impl == "numba":
        _numba_sweeps(start[:8, :8].astype(np.int64), 1 / TC, 1)  # compile outside the timing
    benchmark.group = f"ising-metropolis-L{L}"
    record(impl)
    s = benchmark.pedantic(run, args=(impl, start), rounds=3, iterations=1)
    benchmark.extra_info["flips_per_ns"] = (
        L * L * SWEEPS / benchmark.stats.stats.median / 1e9 if benchmark.stats else None)
    # Same dynamics: after the same sweeps from the same lattice, the same energy (to noise).
    reference = numpy_sweeps(start.astype(np.int64), 1 / TC, SWEEPS, np.random.default_rng(2))
    # 10 sweeps from a random start at T_c have not equilibrated: runs differ by a few hundredths.
    assert abs(energy(s) - energy(reference)) < 0.06


@pytest.mark.parametrize("impl", ["numba", "mlsci_fast"])
@pytest.mark.parametrize("L", [1024, 4096])
def bench_multispin_sweeps(benchmark, record, L, impl):
    """algorithm='multispin' (64 spins per word, exact acceptance) against the numba kernel."""
    if L > 1024 and benchmark.disabled:
        pytest.skip("L = 4096 is timed only with --benchmark-enable (L = 1024 smoke-tests it)")
    start = np.where(np.random.default_rng(0).random((L, L)) < 0.5, 1, -1).astype(np.int8)
    if impl == "numba":
        _numba_sweeps(start[:8, :8].astype(np.int64), 1 / TC, 1)
    benchmark.group = f"ising-multispin-L{L}"
    record(impl)
    s = benchmark.pedantic(run, args=(impl, start, "multispin"), rounds=3, iterations=1)
    benchmark.extra_info["flips_per_ns"] = (
        L * L * SWEEPS / benchmark.stats.stats.median / 1e9 if benchmark.stats else None)
    if L not in _REFERENCE_ENERGY:  # numpy at L = 4096 takes seconds: once per size
        _REFERENCE_ENERGY[L] = energy(numpy_sweeps(start.astype(np.int64), 1 / TC, SWEEPS, np.random.default_rng(2)))
    assert abs(energy(s) - _REFERENCE_ENERGY[L]) < 0.06


_REFERENCE_ENERGY = {}


# ---- flips/ns per core and thread scaling, against the memory-bandwidth bound -----------------------
# The group's speed-up is our 1-thread time over our all-threads time (the scaling); extra_info has
# flips/ns per core and the bound memory bandwidth would put on them if the lattice lived in DRAM:
# a half-sweep reads and writes the whole lattice once, so a flip moves at least 4 bytes on the
# byte-per-spin lattice and 1/2 byte on the 1-bit one.
BYTES_PER_FLIP = {"metropolis": 4.0, "multispin": 0.5}
# Enough sweeps that the fixed costs of a call (allocating the series, packing the multi-spin
# lattice into words and back) are a few per cent, and that a round on two threads lasts 0.1 s or
# more: on this shared machine a short round is at the mercy of one descheduled thread.
SCALING_SWEEPS = {("metropolis", 1024): 400, ("metropolis", 4096): 32, ("multispin", 1024): 1600,
                  ("multispin", 4096): 256}
_BANDWIDTH = []
_EQUILIBRATED = {}


def equilibrated(L):
    """A lattice after 300 multi-spin sweeps at T_c from a random start (once per size): the
    timed sweeps then see the classes of T_c, not the quench from infinite temperature, whose
    first sweeps flip more spins outright and draw fewer random bits."""
    if L not in _EQUILIBRATED:
        _EQUILIBRATED[L] = ising.simulate(L, TC, 300, algorithm="multispin", measure_every=300, seed=5).spins
    return _EQUILIBRATED[L]


def memory_bandwidth():
    """Bytes per second of a 256 MB array copy (read + write), the best of 5 (measured once)."""
    if not _BANDWIDTH:
        import time

        src = np.ones(2**25)
        dst = np.empty_like(src)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            np.copyto(dst, src)
            times.append(time.perf_counter() - t0)
        _BANDWIDTH.append(2 * src.nbytes / min(times))
    return _BANDWIDTH[0]


@pytest.mark.parametrize("impl", ["1-thread", "mlsci_fast"])
@pytest.mark.parametrize("L", [1024, 4096])
@pytest.mark.parametrize("algorithm", ["metropolis", "multispin"])
def bench_sweeps_per_core(benchmark, record, algorithm, L, impl):
    """Sweeps alone at T_c (one measurement at the end), from an equilibrated lattice, on 1
    thread and on all of them."""
    import mlsci_fast

    threads = 1 if impl == "1-thread" else mlsci_fast.get_num_threads()
    n = SCALING_SWEEPS[(algorithm, L)] if not benchmark.disabled else 1
    start = equilibrated(L) if not benchmark.disabled else np.ones((L, L), np.int8)
    # the 1-thread run is the peer: the group's "speed-up" is the scaling from 1 thread to all
    benchmark.group = f"ising-{algorithm}-scaling-L{L}"
    record(impl)
    benchmark.extra_info["n_threads"] = threads
    r = benchmark.pedantic(lambda: ising.simulate(L, TC, n, start=start, seed=1, measure_every=n,
                                                  algorithm=algorithm, n_threads=threads), rounds=5, iterations=1)
    if not benchmark.disabled:
        rate = L * L * n / benchmark.stats.stats.median / 1e9
        benchmark.extra_info["flips_per_ns"] = rate
        benchmark.extra_info["flips_per_ns_per_core"] = rate / threads
        benchmark.extra_info["bandwidth_bound_flips_per_ns"] = memory_bandwidth() / BYTES_PER_FLIP[algorithm] / 1e9
        print(f"\n{algorithm} L={L} threads={threads}: {rate / threads:.2f} flips/ns per core; memory bandwidth "
              f"{memory_bandwidth() / 1e9:.1f} GB/s bounds a DRAM-resident lattice at "
              f"{benchmark.extra_info['bandwidth_bound_flips_per_ns']:.0f} flips/ns")
        if threads > 1:
            interleaved_scaling(benchmark, L, n, start, algorithm, threads)
    assert r.sweeps_done == n


def interleaved_scaling(benchmark, L, n, start, algorithm, threads, pairs=5):
    """The same sweeps on 1 thread and on all, alternating, 5 pairs: the two sides of each pair
    see the same load on this shared machine, where the group's two benchmarks, timed one after
    the other, can land in a quiet and a busy second. Recorded as scaling_interleaved (median 1-
    thread time over median all-threads time) and the per-core rates of both sides."""
    import time

    times = {1: [], threads: []}
    for _ in range(pairs):
        for t in (1, threads):
            t0 = time.perf_counter()
            ising.simulate(L, TC, n, start=start, seed=1, measure_every=n, algorithm=algorithm, n_threads=t)
            times[t].append(time.perf_counter() - t0)
    one, many = float(np.median(times[1])), float(np.median(times[threads]))
    info = benchmark.extra_info
    info["scaling_interleaved"] = one / many
    info["flips_per_ns_per_core_interleaved"] = {1: L * L * n / one / 1e9, threads: L * L * n / many / 1e9 / threads}
    print(f"{algorithm} L={L}, 1 and {threads} threads alternating: {L * L * n / one / 1e9:.2f} and "
          f"{L * L * n / many / 1e9 / threads:.2f} flips/ns per core, scaling {one / many:.2f}x")


# ---- cluster updates at T_c: independent samples of |M| per second --------------------------------
# Sweeps per run: enough for a few hundred autocorrelation times of Wolff and Swendsen-Wang. For
# Metropolis at L = 256 the run is shorter than its autocorrelation time needs (tau grows as
# L^2.17), so its tau is underestimated and its rate overestimated: the ratios are lower bounds.
CLUSTER_SWEEPS = {("metropolis", 64): 20000, ("swendsen-wang", 64): 4000, ("wolff", 64): 20000,
                  ("metropolis", 256): 20000, ("swendsen-wang", 256): 2000, ("wolff", 256): 20000}
CLUSTER_IMPL = {"metropolis": "metropolis", "swendsen-wang": "mlsci_fast-swendsen-wang", "wolff": "mlsci_fast"}


@pytest.mark.parametrize("algorithm", ["metropolis", "swendsen-wang", "wolff"])
@pytest.mark.parametrize("L", [64, 256])
def bench_cluster_independent_samples(benchmark, record, L, algorithm):
    """Wolff is `mlsci_fast`, Swendsen-Wang the variant, Metropolis (ours too) the reference; the
    report's ESS/s column is independent samples of |M| per second, relative to Metropolis."""
    timed = not benchmark.disabled
    n = CLUSTER_SWEEPS[(algorithm, L)] if timed else 100  # the smoke test only checks that it runs
    benchmark.group = f"ising-clusters-L{L}-Tc"
    record(CLUSTER_IMPL[algorithm])
    r = benchmark.pedantic(lambda: ising.simulate(L, TC, n, algorithm=algorithm, n_burnin=n // 10, start="cold",
                                                  seed=1), rounds=1, iterations=1)
    s = r.summary()
    tau = max(float(s["tau_abs_magnetization"]), 1.0)
    benchmark.extra_info["tau_abs_magnetization"] = tau
    benchmark.extra_info["ess"] = s["n_measurements"] / tau  # independent samples of |M|
    if timed:
        benchmark.extra_info["independent_per_s"] = benchmark.extra_info["ess"] / benchmark.stats.stats.median
        assert abs(s["abs_magnetization"][0] - 0.64) < 0.15  # |M| at T_c for these sizes (finite size)
