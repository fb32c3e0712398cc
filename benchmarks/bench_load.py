"""Threads on a busy machine: one representative call per family on one thread and on all
threads, on the idle machine and with one busy process per core running beside it.

The group ``load-<condition>-<family>`` pairs "mlsci_fast" (all threads) with "one-thread", so
the printed speed-up is (1-thread time) / (all-thread time): above 1 means the threads help,
and under load it must stay >= 0.9 (all threads never more than 10% slower than one). The busy
processes are plain Python loops, bounded in time and stopped at the end in every case. Same
seeds: the two sides compute the same bits. `bench_threads_alternating_under_load` alternates the
two sides within one benchmark (the number to read), and `bench_two_processes_at_once` runs two
of our own processes with all threads each at once and one after the other.

    pytest benchmarks/bench_load.py --benchmark-enable --benchmark-only
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

import mlsci_fast

BUSY_SECONDS = 120  # each busy process stops by itself after this, whatever happens here


class _Load:
    """One busy process per core, kept running across consecutive loaded benchmarks (so a
    family's 1-thread and all-thread runs see the same load), restarted before they expire and
    stopped when an idle benchmark starts and at the end of the session."""

    def __init__(self):
        self.procs: list[subprocess.Popen] = []
        self.started = 0.0

    def busy(self) -> None:
        if self.procs and time.monotonic() - self.started < BUSY_SECONDS - 30:
            return
        self.idle()
        code = f"import time\nt = time.time() + {BUSY_SECONDS}\nwhile time.time() < t:\n    pass\n"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(len(os.sched_getaffinity(0)))]
        self.started = time.monotonic()
        time.sleep(0.3)

    def idle(self) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


@pytest.fixture(scope="module")
def _load():
    load = _Load()
    try:
        yield load
    finally:
        load.idle()


@pytest.fixture
def condition(request, benchmark, _load):
    """'idle', or 'loaded': one busy process per core beside the benchmark."""
    if request.param == "loaded" and not benchmark.disabled:
        _load.busy()
    else:
        _load.idle()
    return request.param


def _cases(small: bool):
    """family -> a zero-argument call that takes it ~0.1-0.5 s on one core (small: a smoke run)."""
    from mlsci_fast import conv, ising, mcmc, pairwise, rbm, tree
    from mlsci_fast.ga import NSGA2, GeneticAlgorithm, cluster_search, problems
    from mlsci_fast.mcmc import targets
    from mlsci_fast.svm import SVC

    rng = np.random.default_rng(0)
    s = 4 if small else 1
    X = rng.standard_normal((2000 // s, 16))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.5).astype(int)
    L = 256 // s
    x_img = rng.standard_normal((8 // s, 16, 32, 32), dtype=np.float32)
    w_img = rng.standard_normal((16, 16, 3, 3), dtype=np.float32)
    g_img = rng.standard_normal((8 // s, 16, 32, 32), dtype=np.float32)
    gauss = targets.Gaussian(np.zeros(10), np.eye(10) + 0.5)
    p0 = rng.normal(size=(64, 10)) * 1e-2
    V = (rng.random((1000 // s, 64)) < 0.3).astype(np.float64)
    machine = rbm.BernoulliRBM(n_components=64, n_iter=1, random_state=0).fit(V)

    def zdt1(Xp):
        f1 = Xp[:, 0]
        g = 1 + 9 * Xp[:, 1:].mean(axis=1)
        return np.column_stack([f1, g * (1 - np.sqrt(f1 / g))])

    def ensemble():
        sampler = mcmc.EnsembleSampler(64, 10, gauss, seed=1)
        sampler.run_mcmc(p0, 2000 // s)

    return {
        "svm-fit": lambda: SVC(kernel="rbf").fit(X, y),
        "pairwise-rbf": lambda: pairwise.rbf_kernel(X),
        "ising-metropolis": lambda: ising.simulate(L, 2.269, 50, algorithm="metropolis", seed=1),
        "ising-heatbath": lambda: ising.simulate(L, 2.269, 50, algorithm="heatbath", seed=1),
        "ising-multispin": lambda: ising.simulate(4 * L, 2.269, 20, algorithm="multispin", seed=1),
        "ising-wolff": lambda: ising.simulate(L // 2, 2.269, 200, algorithm="wolff", seed=1),
        "ising-swendsen-wang": lambda: ising.simulate(L // 2, 2.269, 50, algorithm="swendsen-wang", seed=1),
        "ising-tempering": lambda: ising.parallel_tempering(L // 4, np.linspace(2.0, 2.6, 8), 100, seed=1),
        "mcmc-ensemble": ensemble,
        "mcmc-nuts": lambda: mcmc.nuts(gauss, 1000 // s, n_warmup=300, n_chains=4, seed=1),
        "ga-rastrigin": lambda: GeneticAlgorithm(problems.Rastrigin(30), population_size=200, seed=1).run(200 // s),
        "ga-nsga2": lambda: NSGA2(zdt1, [[0.0, 1.0]] * 30, 2, population_size=100, seed=1).run(100 // s),
        "ga-cluster-search": lambda: cluster_search(13, seed=1, max_relaxations=2000 // s),
        "conv2d-forward": lambda: conv.conv2d(x_img, w_img, padding=1),
        "conv2d-backward": lambda: (conv.conv2d_backward_data(g_img, w_img, (32, 32), padding=1),
                                    conv.conv2d_backward_weights(x_img, g_img, (3, 3), padding=1)),
        "tree-fit": lambda: tree.DecisionTreeClassifier(random_state=0).fit(X, y),
        # training is sequential over minibatches (one thread); sampling is the threaded kernel
        "rbm-sample": lambda: machine.sample(1000 // s, n_steps=50, seed=1),
    }


FAMILIES = list(_cases(True))


@pytest.mark.parametrize("impl", ["mlsci_fast", "one-thread"])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("condition", ["idle", "loaded"], indirect=True)
def bench_threads_under_load(benchmark, record, family, condition, impl):
    call = _cases(benchmark.disabled)[family]
    benchmark.group = f"load-{condition}-{family}"
    n_threads = 1 if impl == "one-thread" else mlsci_fast.get_num_threads()
    record(impl)
    mlsci_fast.set_num_threads(n_threads)
    try:
        call()  # warm-up: imports, first-touch allocations
        t = time.perf_counter()
        call()
        single = time.perf_counter() - t
        # rounds of >= 0.2 s: a busy machine deschedules threads for milliseconds at a time
        iterations = 1 if benchmark.disabled else max(1, int(np.ceil(0.2 / max(single, 1e-6))))
        benchmark.pedantic(call, rounds=1 if benchmark.disabled else 7, iterations=iterations)
    finally:
        mlsci_fast.set_num_threads(None)


@pytest.mark.parametrize("family", FAMILIES)
def bench_threads_alternating_under_load(benchmark, family, _load):
    """1 thread and all threads in one benchmark, alternating (1, N, N, 1 per round) beside one
    busy process per core, so a change in the load between the two sides' runs cannot pass for
    a change in speed. extra_info: each side's median and the speed-up (1-thread median over
    all-thread median; under load it must stay >= 0.9)."""
    call = _cases(benchmark.disabled)[family]
    benchmark.group = f"alternating-loaded-{family}"
    if not benchmark.disabled:
        _load.busy()
    n_all = mlsci_fast.get_num_threads()
    times: dict[int, list[float]] = {1: [], n_all: []}

    reps = 1

    def timed(n: int) -> None:
        mlsci_fast.set_num_threads(n)
        t = time.perf_counter()
        for _ in range(reps):
            call()
        times[n].append((time.perf_counter() - t) / reps)

    def one_round() -> None:
        for n in (1, n_all, n_all, 1):
            timed(n)

    try:
        t = time.perf_counter()
        call()  # warm-up
        # samples of >= 0.2 s each: a busy machine deschedules threads for milliseconds at a time
        reps = 1 if benchmark.disabled else max(1, int(np.ceil(0.2 / max(time.perf_counter() - t, 1e-6))))
        benchmark.pedantic(one_round, rounds=1 if benchmark.disabled else 7, iterations=1)
    finally:
        mlsci_fast.set_num_threads(None)
    one, many = float(np.median(times[1])), float(np.median(times[n_all]))
    benchmark.extra_info.update(one_thread_median_s=one, all_threads_median_s=many, threads=n_all,
                                speedup=one / many)
    if not benchmark.disabled:
        print(f"\n{family}: 1 thread {one * 1e3:.1f} ms, {n_all} threads {many * 1e3:.1f} ms, "
              f"speed-up {one / many:.2f} (loaded)")


TWO_PROCESS_FAMILIES = ["svm-fit", "ising-metropolis", "ising-multispin", "mcmc-nuts", "ga-rastrigin",
                        "conv2d-backward"]

_CHILD = """
import sys, time
sys.path.insert(0, {here!r})
from bench_load import _cases
call = _cases({small})[{family!r}]
call()  # warm-up: imports, first-touch allocations
print("ready", flush=True)
sys.stdin.readline()  # go
t = time.perf_counter()
for _ in range({reps}):
    call()
print(time.perf_counter() - t, flush=True)
"""


@pytest.mark.parametrize("family", TWO_PROCESS_FAMILIES)
def bench_two_processes_at_once(benchmark, family, _load):
    """Two of our own processes running the same call with all threads each: started at once
    (both imported and warmed up, then released together), they must finish no later than the
    same two runs one after the other (each process has its own thread team, and neither may
    spin on a core the other needs). Start-up is not timed. extra_info: both times and their
    ratio (one after the other / at once; >= 1 is the target)."""
    benchmark.group = f"two-processes-{family}"
    _load.idle()
    small = benchmark.disabled
    reps = 1
    if not small:  # about a second of calls in each process
        call = _cases(False)[family]
        call()
        t = time.perf_counter()
        call()
        reps = max(1, int(np.ceil(1.0 / max(time.perf_counter() - t, 1e-6))))
    code = _CHILD.format(here=os.path.dirname(os.path.abspath(__file__)), small=small, family=family, reps=reps)

    def run(count: int) -> float:
        """Seconds from releasing `count` warmed-up processes to the last one's end."""
        procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True) for _ in range(count)]
        try:
            for p in procs:
                assert p.stdout.readline().strip() == "ready"
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            return max(float(p.stdout.readline()) for p in procs)
        finally:
            for p in procs:
                p.kill()
                p.wait()
                p.stdin.close()
                p.stdout.close()

    walls: dict[str, list[float]] = {"at once": [], "one after the other": []}

    def one_round() -> None:
        walls["at once"].append(run(2))
        walls["one after the other"].append(run(1) + run(1))

    benchmark.pedantic(one_round, rounds=1 if small else 3, iterations=1)
    together, apart = float(np.median(walls["at once"])), float(np.median(walls["one after the other"]))
    benchmark.extra_info.update(at_once_median_s=together, one_after_the_other_median_s=apart,
                                ratio=apart / together)
    if not small:
        print(f"\n{family}: two processes at once {together:.2f} s, one after the other {apart:.2f} s, "
              f"ratio {apart / together:.2f}")
