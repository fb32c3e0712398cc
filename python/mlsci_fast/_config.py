"""show_config(): how this copy of mlsci_fast was built and how it will run."""

from __future__ import annotations

import platform
import sys
from typing import Literal

import numpy as np

from . import _core, _openmp, _threads


def show_config(mode: Literal["stdout", "dicts"] = "stdout") -> dict[str, str] | None:
    """Print (mode="stdout") or return (mode="dicts") the build and runtime configuration.

    Build: version, compiler, build type, compiler flags, whether -march=native was used
    (MLSCI_NATIVE), OpenMP version, Eigen version, the SIMD instruction sets in use.
    Runtime: thread count and its cap, how waiting threads wait (see `mlsci_fast._openmp`),
    Python, numpy, platform.
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    info = dict(_core.build_info())
    info["threads"] = str(_threads.get_num_threads())
    info["max threads"] = f"{_threads.max_threads()} (4 per processor)"
    info["threads wait"] = _openmp.wait_policy()
    info["python"] = sys.version.split()[0]
    info["numpy"] = np.__version__
    info["platform"] = platform.platform()
    if mode == "dicts":
        return info
    width = max(map(len, info))
    print("mlsci_fast configuration")
    for key, value in info.items():
        print(f"  {key:<{width}}  {value}")
    return None
