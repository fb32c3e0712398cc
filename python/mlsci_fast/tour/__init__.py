"""`mlsci-fast tour`: one short, real demonstration per lecture of the course, and one report.

Each part runs the package on data it generates or that ships with scikit-learn, measures what
a scientist would check (accuracy, agreement with an exact result, time), draws a figure, and
the tour writes everything into one self-contained HTML file (figures embedded) with the
versions, thread count and timing of each part. A part whose optional dependency is missing is
skipped with the command that installs it; a part that fails is reported with its traceback and
the tour goes on.

    mlsci-fast tour --out tour            # about 4 minutes on 2 cores
    mlsci-fast tour --quick --out tour    # about 1 minute

From Python: ``run_tour(out="tour", quick=True)``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from .. import _threads
from .._run import propagate_interrupts
from . import parts as _parts
from .report import write_html

__all__ = ["PART_KEYS", "PartResult", "run_tour"]


@dataclass
class PartResult:
    """What one part of the tour found."""

    key: str
    title: str
    lecture: str
    status: str = "ok"  # "ok", "skipped" or "failed"
    seconds: float = 0.0
    numbers: list[tuple[str, str]] = field(default_factory=list)  # (quantity, value with unit)
    text: str = ""
    figures: list[bytes] = field(default_factory=list)  # PNG
    note: str = ""  # why skipped, or the traceback
    files: list[str] = field(default_factory=list)  # written next to the report


PART_KEYS = tuple(p.key for p in _parts.PARTS)


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def run_tour(
    out: str | os.PathLike = "tour",
    *,
    quick: bool = False,
    parts: list[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    stream=None,
) -> tuple[Path, list[PartResult]]:
    """Run the tour and write `out`/tour.html. Returns the report's path and the part results.

    Parameters
    ----------
    out : folder for tour.html and the files some parts write (WAV sound, XYZ structures).
    quick : smaller problems (about a minute on 2 cores instead of about four).
    parts : keys of the parts to run (see `PART_KEYS`); default all.
    seed : the seed every part derives its randomness from.
    progress : print one line per part on `stream` (default stderr).
    """
    stream = stream or sys.stderr
    chosen = list(PART_KEYS) if parts is None else list(parts)
    unknown = [p for p in chosen if p not in PART_KEYS]
    if unknown:
        raise ValueError(f"unknown tour parts {unknown}; choose from {list(PART_KEYS)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    results: list[PartResult] = []
    start = time.perf_counter()
    selected = [p for p in _parts.PARTS if p.key in chosen]
    width = max(len(p.title) for p in selected)
    for i, part in enumerate(selected, 1):
        r = PartResult(part.key, part.title, part.lecture)
        if progress:
            print(f"[{i:2d}/{len(selected)}] {part.title:<{width}} ...", end="", file=stream, flush=True)
        missing = _missing(part.needs)
        t0 = time.perf_counter()
        if missing:
            r.status = "skipped"
            r.note = f"needs {', '.join(missing)}: pip install \"mlsci_fast[{part.extra}]\""
        else:
            try:
                with propagate_interrupts():  # Ctrl-C ends the tour, not only the run inside a part
                    part.run(r, _parts.Context(folder=folder, quick=quick, seed=seed))
            except KeyboardInterrupt:
                raise
            except Exception:  # one broken part must not lose the others' results
                r.status, r.note = "failed", traceback.format_exc()
        r.seconds = time.perf_counter() - t0
        results.append(r)
        if progress:
            first = r.note.splitlines()[0] if r.note else ""
            tail = {"ok": "", "skipped": f" (skipped: {first})", "failed": " FAILED (see the report)"}[r.status]
            print(f" {r.seconds:6.1f} s{tail}", file=stream, flush=True)
    total = time.perf_counter() - start
    path = write_html(folder / "tour.html", results, quick=quick, seed=seed, seconds=total,
                      threads=_threads.get_num_threads())
    if progress:
        ok = sum(r.status == "ok" for r in results)
        print(f"{ok} of {len(results)} parts ran in {total:.0f} s; report: {path}", file=stream, flush=True)
    return path, results
