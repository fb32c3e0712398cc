"""Atomic .npz files for results and checkpoints: a reader sees the old file or the new one,
never half of one, even if the writer is killed mid-write."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import IO, Any, Callable

import numpy as np

__all__ = ["atomic_savez", "atomic_write", "load_npz"]


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None], suffix: str = "") -> None:
    """Call `write` on a temporary file beside `path`, flush it to disk, then os.replace it onto
    `path`; if anything fails, the temporary file is removed and `path` is untouched."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_savez(path: str | os.PathLike, meta: dict[str, Any] | None = None, *, compress: bool = False,
                 **arrays: np.ndarray) -> None:
    """Write `arrays` (and `meta`, stored as JSON) to `path` via a temporary file + os.replace."""
    if meta is not None:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    save = np.savez_compressed if compress else np.savez
    atomic_write(path, lambda f: save(f, **arrays), ".npz")


def load_npz(path: str | os.PathLike, fmt: str, what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by atomic_savez with meta["format"] == fmt; ValueError otherwise."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError, json.JSONDecodeError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not an mlsci_fast {what}: {exc}") from None
    if meta.get("format") != fmt:
        raise ValueError(f"{path} is not an mlsci_fast {what} (format {meta.get('format')!r}, expected {fmt!r})")
    return meta, arrays
