"""A dependency-free progress line on stderr for long runs (rate and time left), redrawn at
most ten times a second so it never costs measurable time."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``with Progress(total, "mcmc", "steps") as p: ... p.update(done)``; disabled: no output."""

    def __init__(self, total: int, label: str, unit: str, *, enabled: bool = True, stream=None):
        self.total, self.label, self.unit, self.enabled = int(total), label, unit, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._last_draw = -1.0
        self._done = 0
        self._extra = ""
        self._width = 0

    def update(self, done: int, extra: str | None = None, *, force: bool = False) -> None:
        self._done = int(done)
        if extra is not None:
            self._extra = extra
        if not self.enabled:
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
            f"{rate_s} {self.unit}/s, {_clock(elapsed)} elapsed, {eta} left{(', ' + self._extra) if self._extra else ''}"
        )
        pad = max(0, self._width - len(line))  # blank what a longer previous line left behind
        self._width = len(line)
        print(line + " " * pad, end="", file=self.stream, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.update(self._done, force=True)
            print(file=self.stream, flush=True)
