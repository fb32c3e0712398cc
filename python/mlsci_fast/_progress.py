"""Progress of long runs on stderr: tqdm's bar (tqdm.auto: a widget in notebooks) when tqdm is
installed and stderr is a terminal or a notebook, else a dependency-free line (rate and time
left). Either is redrawn at most ten times a second, so it never costs measurable time.

`enabled`: True shows it, False hides it, None shows it only when stderr is a terminal or a
notebook (so logs and pipes stay clean unless asked). MLSCI_PROGRESS=plain forces the plain line.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["Progress"]


def _interactive(stream) -> bool:
    """A terminal, or a Jupyter kernel's stderr."""
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):
        pass
    return "ipykernel" in sys.modules and stream is sys.stderr


def _tqdm(stream):
    if os.environ.get("MLSCI_PROGRESS", "").lower() == "plain" or not _interactive(stream):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``with Progress(total, "mcmc", "steps") as p: ... p.update(done)``; disabled: no output."""

    def __init__(self, total: int, label: str, unit: str, *, enabled: bool | None = True, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.label, self.unit = int(total), label, unit
        self.enabled = _interactive(self.stream) if enabled is None else bool(enabled)
        self.start = time.perf_counter()
        self._last_draw = -1.0
        self._done = 0
        self._extra = ""
        self._width = 0
        tqdm = _tqdm(self.stream) if self.enabled else None
        self._bar = None if tqdm is None else tqdm(total=self.total, desc=label, unit=unit, file=self.stream,
                                                   mininterval=0.1, dynamic_ncols=True)

    def update(self, done: int, extra: str | None = None, *, force: bool = False) -> None:
        self._done = int(done)
        if extra is not None:
            self._extra = extra
        if not self.enabled:
            return
        if self._bar is not None:
            if extra is not None:
                self._bar.set_postfix_str(extra, refresh=False)
            self._bar.update(self._done - self._bar.n)
            if force:
                self._bar.refresh()
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.1 and self._done < self.total:
            return
        self._last_draw = now
        elapsed = now - self.start
        frac = self._done / self.total if self.total else 1.0
        rate = self._done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self._done) / rate if rate > 0 else float("nan")
        bar = "#" * int(30 * frac)
        eta = _clock(left) if left == left else "?"
        rate_s = f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.1f}k" if rate >= 1e3 else f"{rate:.1f}"
        line = (
            f"\r{self.label} [{bar:<30}] {self._done}/{self.total} {self.unit}, "
            f"{rate_s} {self.unit}/s, {_clock(elapsed)} elapsed, {eta} left"
            f"{(', ' + self._extra) if self._extra else ''}"
        )
        pad = max(0, self._width - len(line))  # blank what a longer previous line left behind
        self._width = len(line)
        print(line + " " * pad, end="", file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            self.update(self._done, force=True)
            print(file=self.stream, flush=True)
