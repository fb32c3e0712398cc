"""Benchmarks time mlsci_fast and its peer on the same data in the same run.

By default (pytest's addopts) they run once each as smoke tests; time them with
    pytest benchmarks --benchmark-enable --benchmark-only
and the median speed-up per group is printed at the end (see report.py).
"""

from __future__ import annotations

import pytest
from report import format_rates, format_table, ratio_rows

import mlsci_fast


@pytest.fixture(autouse=True)
def _settle(request):
    """Before each timed benchmark, idle for 0.3 s: OpenBLAS workers and libgomp threads (ours,
    and the copy torch ships) spin for up to ~0.1 s after a call, and would take a core from
    whatever is timed next. Not in smoke-test mode."""
    session = getattr(request.config, "_benchmarksession", None)
    if session is not None and not session.disabled:
        import time

        time.sleep(0.3)
    yield


@pytest.fixture
def record(benchmark):
    """Tag a benchmark with its implementation and thread count."""

    def _record(impl: str) -> None:
        benchmark.extra_info["impl"] = impl
        benchmark.extra_info["n_threads"] = mlsci_fast.get_num_threads()

    return _record


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled:
        return
    results = [
        (b.group, b.extra_info.get("impl"), b.stats.median, b.extra_info.get("ess"), b.extra_info.get("units"))
        for b in session.benchmarks
        if b and b.extra_info.get("impl")
    ]
    terminalreporter.write_sep("=", "mlsci_fast vs peers (median speed-up)")
    terminalreporter.write_line(format_table(ratio_rows(results)))
    rates = [(b.group, b.extra_info["impl"], b.extra_info["gflops"], b.extra_info["peak_fraction"],
              b.extra_info["busy_cores"]) for b in session.benchmarks if b and "gflops" in b.extra_info]
    if rates:
        terminalreporter.write_sep("-", "throughput (other processes' CPU use during each run, in cores)")
        terminalreporter.write_line(format_rates(rates))
