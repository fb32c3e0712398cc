"""The one run lifecycle: every long run goes through `run_chunks`.

A run is a count of units (sweeps, rounds, steps, iterations, generations, relaxations) that a
kernel advances in chunks. Results never depend on the chunking (random numbers are functions of
the unit's index), so chunks are sized by time: about `CHUNK_SECONDS` each, the grain of progress
updates, checkpoints and Ctrl-C. Around the chunks, one policy for every family:

- progress: a line on stderr (`_progress.Progress`) when asked;
- checkpoints: when a path is given, written atomically every `checkpoint_every` units (or about
  once a minute when that is not given), at the end, and when the run stops early;
- Ctrl-C (KeyboardInterrupt, or a kernel that saw the signal and returned early): the state is
  committed and checkpointed, a RuntimeWarning says how far the run got and how to resume, and
  the caller returns the partial result marked interrupted;
- any other exception: the state is committed and checkpointed (kernels commit whole units, so
  it is consistent), and the exception propagates.
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers
import time
import warnings
from collections.abc import Callable

from ._io import check_writable
from ._progress import Progress
from ._validation import check_scalar

__all__ = ["CHECKPOINT_SECONDS", "CHUNK_SECONDS", "check_every", "propagate_interrupts", "run_chunks"]

CHUNK_SECONDS = 0.2
CHECKPOINT_SECONDS = 60.0
_PROPAGATE = contextvars.ContextVar("mlsci_fast_propagate_interrupts", default=False)


@contextlib.contextmanager
def propagate_interrupts():
    """Within the block, Ctrl-C still commits and checkpoints a run, then raises KeyboardInterrupt
    instead of returning: for code that runs many runs (a scan, the tour), where Ctrl-C must stop
    them all rather than only the current one."""
    token = _PROPAGATE.set(True)
    try:
        yield
    finally:
        _PROPAGATE.reset(token)


def check_every(checkpoint_every, name: str = "checkpoint_every") -> int | None:
    """None, or a positive int count of units between checkpoints."""
    if checkpoint_every is None:
        return None
    return int(check_scalar(checkpoint_every, name, numbers.Integral, min_val=1))


def run_chunks(
    *,
    done: Callable[[], int],
    total: int,
    advance: Callable[[int], int | bool | None],
    commit: Callable[[bool, bool], None],
    label: str,
    unit: str,
    progress: bool = False,
    checkpoint=None,
    checkpoint_every: int | None = None,
    status: Callable[[], str] | None = None,
    first_chunk: int = 1,
    max_chunk: int | None = None,
    resume_hint: str | None = None,
    warn_stacklevel: int = 3,
    clock: Callable[[], float] = time.perf_counter,
) -> bool:
    """Advance a run from `done()` to `total` units; returns True when it was interrupted.

    advance(n): run up to n more units (the kernel updates the state `done()` reads); it may
    return True to say the kernel saw Ctrl-C and stopped early. commit(write, interrupted): copy
    the state onto the result (marked interrupted or not) and, when `write`, also write the
    checkpoint; called at every checkpoint, at the end and when the run stops early. status():
    extra text for the progress line.
    first_chunk: units in the first chunk (later chunks are sized by the time per unit measured so
    far, at most 4x the previous one and at most `max_chunk`). resume_hint: how to continue, for
    the warning (e.g. "mlsci_fast.ising.resume('run.npz')").
    """
    checkpoint_every = check_every(checkpoint_every)
    write = checkpoint is not None
    if write:
        check_writable(checkpoint, "checkpoint")
    first = last_saved = done()
    last_saved_t = clock()
    chunk = max(1, int(first_chunk))
    per_unit = None
    with Progress(total - first, label, unit, enabled=progress) as bar:
        try:
            while (now := done()) < total:
                n = min(chunk, total - now)
                if write and checkpoint_every is not None:
                    n = min(n, checkpoint_every - (now - last_saved) % checkpoint_every)
                t0 = clock()
                stopped = advance(n) is True
                after = done()
                if after <= now and not stopped:  # a loop that would never end
                    raise RuntimeError(f"{label}: the kernel made no progress from {now} of {total} {unit}")
                if after > now:
                    dt = (clock() - t0) / (after - now)
                    per_unit = dt if per_unit is None else 0.5 * per_unit + 0.5 * dt
                    want = int(CHUNK_SECONDS / max(per_unit, 1e-12))
                    chunk = max(1, min(want, 4 * chunk, max_chunk or want))
                bar.update(after - first, status() if status is not None else None)
                if stopped:
                    raise KeyboardInterrupt
                due = (after - last_saved >= checkpoint_every if checkpoint_every is not None
                       else clock() - last_saved_t >= CHECKPOINT_SECONDS)
                if write and due and after < total:  # the end commits anyway
                    commit(True, False)
                    last_saved, last_saved_t = after, clock()
        except KeyboardInterrupt:
            commit(write, True)
            if _PROPAGATE.get():
                raise
            hint = f" (resume with {resume_hint})" if write and resume_hint else ""
            warnings.warn(f"interrupted after {done()} of {total} {unit}; returning what was done{hint}",
                          RuntimeWarning, stacklevel=warn_stacklevel)
            return True
        except BaseException:
            commit(write, False)
            raise
    commit(write, False)
    return False
