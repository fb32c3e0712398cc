"""Atomic .npz files for results and checkpoints: a reader sees the old file or the new one,
never half of one, even if the writer is killed mid-write."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from typing import IO, Any, Callable

import numpy as np

__all__ = ["atomic_savez", "atomic_write", "check_meta", "check_writable", "load_npz", "read_meta"]


def check_writable(path: str | os.PathLike, name: str) -> None:
    """Refuse an output path before a run starts rather than at its first write (after hours):
    its folder must exist and be writable, and the path must not be a folder."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{name}={path!r} is a folder; give a file name in it")
    if not os.path.isdir(folder):
        raise ValueError(f"{name}={path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{name}={path!r}: the folder {folder!r} is not writable")


def _mode_for(path: str) -> int:
    """The permissions a plain open() would give: the old file's, or 0666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        pass
    umask = 0o022
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o666 & ~umask


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
        os.chmod(tmp, _mode_for(path))  # mkstemp's 0600 would hide results from the group
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


# what reading a damaged or crafted .npz can raise
NPZ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, NotImplementedError, json.JSONDecodeError,
              UnicodeDecodeError, zipfile.BadZipFile, zlib.error)


# deflate expands at most about 1032:1; a member that claims more is forged
_MAX_DEFLATE_RATIO = 1100


def check_npz_sizes(f) -> None:
    """Every member's header must promise no more bytes than the member holds: numpy allocates
    what the header says before it reads, so a crafted 1 kB file could ask for terabytes. The
    zip's own size fields are checked too (they are what "holds" is measured by): no member may
    be stored in more bytes than the file has, nor expand more than deflate can."""
    file_size = os.fstat(f.fileno()).st_size
    with zipfile.ZipFile(f) as z:
        for info in z.infolist():
            if info.compress_size > file_size or info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
                raise ValueError(f"{info.filename} claims {info.file_size} bytes from {info.compress_size} stored")
            with z.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                if dtype.hasobject:
                    raise ValueError(f"{info.filename} holds Python objects")
                need = int(np.prod(shape, dtype=object)) * dtype.itemsize
                if need > info.file_size:
                    raise ValueError(f"{info.filename} claims {need} bytes but holds {info.file_size}")
    f.seek(0)


def _read_npz(path: str | os.PathLike, what: str, with_arrays: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            check_npz_sizes(f)
            with np.load(f, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                arrays = {k: data[k] for k in data.files if k != "meta"} if with_arrays else {}
        if not isinstance(meta, dict) or not isinstance(meta.get("format"), str):
            raise ValueError("its metadata names no format")
    except NPZ_ERRORS as exc:
        raise ValueError(f"{path} is not an mlsci_fast {what}: {exc}") from None
    return meta, arrays


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a file written by atomic_savez (only that member is read); ValueError for a
    file that is not one."""
    return _read_npz(path, "result or checkpoint", with_arrays=False)[0]


def load_npz(path: str | os.PathLike, fmt: str | tuple[str, ...],
             what: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a file written by atomic_savez with meta["format"] == fmt (or one of several formats);
    ValueError otherwise.

    The file is untrusted input: a damaged or crafted one gets a ValueError, never a crash or
    an allocation larger than the file."""
    meta, arrays = _read_npz(path, what, with_arrays=True)
    formats = (fmt,) if isinstance(fmt, str) else tuple(fmt)
    if meta.get("format") not in formats:
        expected = " or ".join(repr(f) for f in formats)
        raise ValueError(f"{os.fspath(path)} is not an mlsci_fast {what} "
                         f"(format {meta.get('format')!r}, expected {expected})")
    return meta, arrays


def check_meta(meta: dict[str, Any], spec: dict[str, tuple], path: str | os.PathLike) -> None:
    """Check a loaded file's metadata against `spec`: name -> (kind, low, high), kind one of int,
    float, bool, str (low/high: inclusive bounds for numbers, allowed values for str; None: no
    bound). Every problem is reported at once as "<path> is corrupt: ..."."""
    problems = []
    for name, (kind, low, high) in spec.items():
        if name not in meta:
            problems.append(f"{name} is missing")
            continue
        v = meta[name]
        if kind is int:
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif kind is float:
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
        else:
            ok = isinstance(v, kind)
        if not ok:
            problems.append(f"{name} must be a{'n' if kind is int else ''} {kind.__name__}, got {v!r}")
        elif kind is str and low is not None and v not in low:
            problems.append(f"{name} must be one of {sorted(low)}, got {v!r}")
        elif kind in (int, float) and ((low is not None and v < low) or (high is not None and v > high)):
            problems.append(f"{name} must be in [{low}, {high}], got {v!r}")
    if problems:
        raise ValueError(f"{os.fspath(path)} is corrupt: " + "; ".join(problems))
