"""Package-level API: version, configuration, threads, the command line."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import mlsci_fast
from mlsci_fast import cli


def test_version_matches_metadata():
    from importlib.metadata import version

    assert mlsci_fast.__version__ == version("mlsci_fast")
    assert re.fullmatch(r"\d+\.\d+\.\d+", mlsci_fast.__version__)


def test_show_config_dicts_and_stdout(capsys):
    info = mlsci_fast.show_config(mode="dicts")
    for key in ("version", "compiler", "cxx_flags", "build_type", "native", "openmp", "eigen", "simd", "threads"):
        assert info[key], key
    assert "-fopenmp" in info["cxx_flags"] or "openmp" in info["cxx_flags"].lower()
    assert info["eigen"].startswith("3.4")
    assert info["build_type"] == "Release"
    assert mlsci_fast.show_config() is None
    out = capsys.readouterr().out
    assert "mlsci_fast configuration" in out and "openmp" in out
    with pytest.raises(ValueError, match="mode must be"):
        mlsci_fast.show_config(mode="json")


def test_set_and_get_num_threads():
    default = mlsci_fast.get_num_threads()
    assert default >= 1
    try:
        mlsci_fast.set_num_threads(3)
        assert mlsci_fast.get_num_threads() == 3
        assert mlsci_fast.show_config("dicts")["threads"] == "3"
    finally:
        mlsci_fast.set_num_threads(None)
    assert mlsci_fast.get_num_threads() == default
    with pytest.raises(ValueError, match="n must be >= 1"):
        mlsci_fast.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be a positive int or None"):
        mlsci_fast.set_num_threads("2")


def test_threadpoolctl_limits_our_openmp():
    with threadpool_limits(limits=1, user_api="openmp"):
        assert mlsci_fast.get_num_threads() == 1
    assert mlsci_fast.get_num_threads() >= 1


def _run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mlsci_fast", *args], capture_output=True, text=True, env=env, check=False
    )


def test_omp_num_threads_is_the_default():
    env = {**os.environ, "OMP_NUM_THREADS": "3"}
    code = "import mlsci_fast; print(mlsci_fast.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


HUGE_THREAD_CALLS = [
    "from mlsci_fast import random; random.uniform(10, seed=1, n_threads={n})",
    "import numpy as np; from mlsci_fast.svm import SVC; SVC(n_threads={n}).fit(np.eye(4), [0, 1, 0, 1])",
    "import numpy as np; from mlsci_fast import pairwise; pairwise.rbf_kernel(np.eye(3), n_threads={n})",
    "import numpy as np; from mlsci_fast import conv; conv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), "
    "n_threads={n})",
    "from mlsci_fast.ga import GeneticAlgorithm, problems; "
    "GeneticAlgorithm(problems.Sphere(3), population_size=8, seed=1, n_threads={n}).run(2)",
    "import numpy as np; from mlsci_fast.tree import DecisionTreeClassifier; "
    "DecisionTreeClassifier(n_threads={n}).fit(np.eye(4), [0, 1, 0, 1])",
    "import mlsci_fast; mlsci_fast.set_num_threads({n})",
    # straight into the extension, past the Python checks: C++ refuses it too
    "import numpy as np; from mlsci_fast import _core; _core.random.uniform(10, 1, 0, {n})",
]


@pytest.mark.parametrize("n", [10**6, 5000])
def test_huge_thread_counts_are_refused_not_crashed(n):
    """A thread count the machine cannot start used to reach OpenMP: SIGSEGV above ~80,000,
    exit(1) from libgomp above ~2,000. The calls run in a child process, so a crash shows."""
    probe = "refused = 0\n"
    for code in HUGE_THREAD_CALLS:
        probe += f"""
try:
    {code.format(n=n)}
except ValueError as e:
    assert "must be at most" in str(e), e
    refused += 1
"""
    probe += "print(refused)\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(len(HUGE_THREAD_CALLS))


def test_thread_cap_allows_oversubscription_for_tests():
    cap = mlsci_fast.max_threads()
    assert cap == 4 * len(os.sched_getaffinity(0))
    a = mlsci_fast.random.uniform(1000, seed=3, n_threads=cap)
    np.testing.assert_array_equal(a, mlsci_fast.random.uniform(1000, seed=3, n_threads=1))


def test_huge_omp_num_threads_is_capped_with_a_warning():
    env = {**os.environ, "OMP_NUM_THREADS": "1000000"}
    code = ("import warnings; warnings.simplefilter('error'); import mlsci_fast\n"
            "try:\n    mlsci_fast.get_num_threads()\nexcept RuntimeWarning as w:\n    print('warned', w)\n"
            "warnings.simplefilter('ignore')\n"
            "print(mlsci_fast.get_num_threads() == mlsci_fast.max_threads())\n"
            "print(mlsci_fast.random.uniform(5, seed=1).shape)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("warned the OpenMP default of 1000000 threads")
    assert lines[1:] == ["True", "(5,)"]


def test_cli_version_and_info():
    r = _run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"mlsci-fast {mlsci_fast.__version__}"
    r = _run("info")
    assert r.returncode == 0
    assert "compiler" in r.stdout and "eigen" in r.stdout and "threads" in r.stdout


def test_cli_without_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "usage: mlsci-fast" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "mlsci-fast")
    r = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "mlsci-fast" in r.stdout


def test_kernel_releases_the_gil():
    """Two Python threads running kernels at once both make progress (the GIL is released)."""
    import threading
    import time

    X = np.random.default_rng(0).standard_normal((1500, 40))
    start = time.perf_counter()
    mlsci_fast.pairwise.rbf_kernel(X, n_threads=1)
    single = time.perf_counter() - start

    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(single / 50)

    t = threading.Thread(target=ticker)
    t.start()
    for _ in range(3):
        mlsci_fast.pairwise.rbf_kernel(X, n_threads=1)
    stop.set()
    t.join()
    # With the GIL held during the kernel the ticker could not run between its calls.
    assert len(ticks) > 10


def _probe(code, env_extra=None, drop=("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")):
    env = {k: v for k, v in os.environ.items() if k not in drop} | (env_extra or {})
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()


def test_threads_wait_briefly_then_sleep_by_default():
    """Spinning OpenMP threads burn the core a descheduled partner needs on a busy machine; our
    runtime spins briefly, and the variable that says so does not leak to later runtimes."""
    code = ("import os, mlsci_fast; print(mlsci_fast.show_config('dicts')['threads wait']); "
            "print('GOMP_SPINCOUNT' in os.environ)")
    policy, leaked = _probe(code)
    assert policy.startswith("spin 1000 iterations, then sleep") and leaked == "False"


def test_threads_wait_as_the_user_says():
    code = "import mlsci_fast; print(mlsci_fast.show_config('dicts')['threads wait'])"
    assert _probe(code, {"OMP_WAIT_POLICY": "active"}) == ["from the environment: OMP_WAIT_POLICY=active"]
    # libgomp loaded before us keeps its own settings, and show_config says so
    first = "import ctypes; ctypes.CDLL('libgomp.so.1'); " + code
    assert _probe(first) == ["the OpenMP runtime's own (libgomp was loaded before mlsci_fast)"]


def test_work_too_small_to_split_starts_no_threads():
    """A GA generation of 200 x 30 genes or the energy of a 128^2 lattice is microseconds of work:
    it runs on the calling thread (no parallel region), with the same bits as on one thread;
    large work still gets the team."""
    from mlsci_fast import ising
    from mlsci_fast.ga import GeneticAlgorithm, problems

    def regions_and_result(call):
        before = mlsci_fast._core.parallel_regions()
        result = call()
        return mlsci_fast._core.parallel_regions() - before, result

    def ga(n):
        return GeneticAlgorithm(problems.Rastrigin(30), population_size=200, seed=1, n_threads=n).run(20).population

    def sw(n):  # Swendsen-Wang below 2^16 sites, measured every sweep
        return ising.simulate(128, 2.269, 20, algorithm="swendsen-wang", seed=1, n_threads=n).energy

    for call in (ga, sw):
        started, result = regions_and_result(lambda: call(3))
        assert started == 0, call.__name__
        np.testing.assert_array_equal(result, call(1))
    started, _ = regions_and_result(lambda: ising.simulate(512, 2.269, 2, algorithm="metropolis", seed=1,
                                                           n_threads=3))
    assert started > 0  # a 512^2 lattice is split
