"""Turn user input into the arrays and scalars the kernels expect, once, with clear errors.

Every public function converts its inputs here; the bindings then refuse anything that is not
already right (they never copy), so a conversion happens at most once per call.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

__all__ = ["as_float_array", "check_scalar"]


def _is_sparse(x: Any) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def as_float_array(
    x: Any,
    name: str,
    *,
    ndim: int = 2,
    dtype: type = np.float64,
    allow_empty: bool = False,
    allow_nonfinite: bool = False,
) -> np.ndarray:
    """Return `x` as a C-contiguous array of `dtype` with `ndim` dimensions.

    Parameters
    ----------
    x : array-like
        The user's input. Integer, boolean, float32 and non-contiguous input is converted
        (copied once); input that already fits is returned without a copy.
    name : str
        The argument's name, used in error messages ("X", "sample_weight", ...).
    ndim : int
        The required number of dimensions.
    dtype : numpy dtype
        The kernel's dtype.
    allow_empty : bool
        Whether an array with a zero-length axis is acceptable.
    allow_nonfinite : bool
        Whether NaN and infinity are acceptable.

    Raises
    ------
    TypeError
        If `x` is None, sparse, or does not hold real numbers (strings, complex, objects).
    ValueError
        If `x` has the wrong number of dimensions, is empty, or holds NaN or infinity.
    """
    if x is None:
        raise TypeError(f"{name} must be an array-like of real numbers, got None")
    if _is_sparse(x):
        raise TypeError(
            f"{name} is a sparse matrix ({type(x).__name__}); this function needs dense input: "
            f"pass {name}.toarray() if it fits in memory"
        )
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype} ({exc})") from None
    if arr.ndim != ndim:
        hint = ""
        if ndim == 2 and arr.ndim == 1:
            hint = (
                "; reshape it with array.reshape(-1, 1) if it holds one feature "
                "or array.reshape(1, -1) if it holds one sample"
            )
        raise ValueError(
            f"{name} must be a {ndim}-D array, got a {arr.ndim}-D array of shape {arr.shape}{hint}"
        )
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); at least one element on each axis is needed")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not allow_nonfinite and arr.size and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        what = "NaN" if np.isnan(arr[tuple(bad)]) else "infinity"
        raise ValueError(f"{name} contains {what} (first at index {tuple(int(i) for i in bad)})")
    return arr


def check_scalar(
    value: Any,
    name: str,
    kind: type | tuple[type, ...] = numbers.Real,
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
) -> Any:
    """Check that `value` is a finite scalar of `kind` within the given bounds; return it.

    Raises TypeError for a wrong type (booleans are not numbers here) and ValueError for a
    value out of range or not finite.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise TypeError(f"{name} must be {want}, got {type(value).__name__} {value!r}")
    if isinstance(value, numbers.Real) and not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if min_val is not None and (value < min_val or (not include_min and value == min_val)):
        op = ">=" if include_min else ">"
        raise ValueError(f"{name} must be {op} {min_val}, got {value!r}")
    if max_val is not None and (value > max_val or (not include_max and value == max_val)):
        op = "<=" if include_max else "<"
        raise ValueError(f"{name} must be {op} {max_val}, got {value!r}")
    return value


class TooLargeError(ValueError, MemoryError):
    """A request that would not fit in the machine's memory, refused before allocating. Both a
    ValueError (the argument is at fault) and a MemoryError (what numpy would have raised)."""


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (Linux: MemAvailable; else the free
    physical pages; 2**62 when neither can be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2**62


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("kiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} bytes"


def check_memory(nbytes: float, what: str) -> None:
    """Refuse a run whose arrays need more than the memory available now, before allocating.

    what: the arguments at fault and their values ("L=100000, dim=2"), named in the message
    with the estimate and what is available.
    """
    avail = available_memory()
    if nbytes > avail:
        raise TooLargeError(f"{what} needs about {_bytes(nbytes)} of memory; {_bytes(avail)} is available "
                            f"on this machine now")
