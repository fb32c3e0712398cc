"""How our OpenMP threads wait, set before the extension loads its OpenMP runtime.

An OpenMP thread that reaches a barrier first spins, waiting for the others, before it sleeps.
libgomp's default spin is about 300,000 iterations (a fraction of a millisecond) per wait. On a
machine of one's own that is the fastest choice; on a busy one (a notebook beside a browser,
two scans from two terminals, a Dask worker running several tasks, CI) the partner thread has
often lost its core, and the spinning thread burns the very core it needs: measured here, a GA
ran 13x and an Ising simulation 6x slower on two threads than on one.

So unless the user has chosen (OMP_WAIT_POLICY or GOMP_SPINCOUNT in the environment), the
extension's runtime spins for at most `SPIN_COUNT` iterations, a few microseconds, and then
sleeps. libgomp reads these variables once, when it loads, so they are set just before our
extension loads it and taken out again just after: runtimes loaded later (the copy torch ships,
scikit-learn's) and child processes see the user's environment unchanged. If libgomp was
already loaded before mlsci_fast (another package linked the same library first), its settings
stand, and `show_config()` says so.
"""

from __future__ import annotations

import os

__all__ = ["SPIN_COUNT", "after_load", "before_load", "wait_policy"]

# Spin iterations before sleeping. Measured here (2 cores; a GA generation, Ising Metropolis at
# L = 256 and multi-spin at L = 1024, 1 and 2 threads, idle and beside two busy processes):
# 1,000 keeps the idle speed of libgomp's 300,000 and keeps 2 threads at least as fast as 1
# under load, where 300,000 made them 2-20x slower and 10,000 still 1.2-2x; passive waiting
# (no spin) lost 5-15% on the idle multi-spin sweeps.
SPIN_COUNT = 1_000

_USER_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_set_here: list[str] = []
_policy = "not configured"


def _libgomp_loaded() -> bool:
    try:
        with open("/proc/self/maps") as f:
            return "libgomp.so" in f.read()
    except OSError:  # no /proc (macOS): a runtime there is not libgomp
        return False


def before_load() -> None:
    """Choose the wait policy; call just before the extension (and its libgomp) loads."""
    global _policy
    chosen = {k: os.environ[k] for k in _USER_VARIABLES if k in os.environ}
    if chosen:
        _policy = "from the environment: " + ", ".join(f"{k}={v}" for k, v in chosen.items())
    elif _libgomp_loaded():
        _policy = "the OpenMP runtime's own (libgomp was loaded before mlsci_fast)"
    else:
        os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)
        _set_here.append("GOMP_SPINCOUNT")
        _policy = f"spin {SPIN_COUNT} iterations, then sleep (set by mlsci_fast; OMP_WAIT_POLICY overrides)"


def after_load() -> None:
    """Take the variables set by `before_load` out of the environment again."""
    while _set_here:
        os.environ.pop(_set_here.pop(), None)


def wait_policy() -> str:
    """How the extension's OpenMP threads wait, in words."""
    return _policy
