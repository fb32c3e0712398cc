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
