"""The one run lifecycle (`_run.run_chunks`), driven by a fake kernel: chunking never changes the
result, checkpoints come at the asked cadence and are never half-written, Ctrl-C commits and
returns with a warning, other errors commit and propagate, and a resumed run equals an
uninterrupted one."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlsci_fast import _run
from mlsci_fast._io import atomic_savez, load_npz


class FakeRun:
    """A 'kernel' whose unit k adds a number that depends on k only (as our Philox streams do)."""

    def __init__(self, total: int, *, state=None, done: int = 0):
        self.total = total
        self.done = done
        self.state = np.zeros(3) if state is None else state
        self.calls: list[int] = []
        self.commits: list[tuple[int, bool, bool]] = []
        self.interrupt_at_call: int | None = None
        self.kernel_sees_signal_at_call: int | None = None
        self.fail_at_call: int | None = None
        self.interrupted = False

    def advance(self, n: int):
        self.calls.append(n)
        call = len(self.calls)
        if call == self.interrupt_at_call:  # Ctrl-C from a Python callback: no unit committed
            raise KeyboardInterrupt
        if call == self.fail_at_call:
            raise ZeroDivisionError("the user's log_prob failed")
        stop_after = n // 2 if call == self.kernel_sees_signal_at_call else n
        for k in range(self.done, self.done + stop_after):
            self.state += np.sin(k + np.arange(3))
        self.done += stop_after
        return call == self.kernel_sees_signal_at_call

    def commit_to(self, path):
        def commit(write: bool, interrupted: bool):
            self.interrupted = interrupted
            self.commits.append((self.done, write, interrupted))
            if write:
                atomic_savez(path, {"format": "fake/1", "done": self.done}, state=self.state)

        return commit

    def run(self, path=None, clock=None, **kw):
        kw.setdefault("first_chunk", 7)
        if clock is not None:
            kw["clock"] = clock
        return _run.run_chunks(done=lambda: self.done, total=self.total, advance=self.advance,
                               commit=self.commit_to(path), label="fake", unit="units", checkpoint=path,
                               resume_hint=f"resume({str(path)!r})", **kw)


def _reference(total: int) -> np.ndarray:
    return sum((np.sin(k + np.arange(3)) for k in range(total)), np.zeros(3))


class Clock:
    """A clock that moves `per_call` seconds each time it is read."""

    def __init__(self, per_call: float):
        self.t, self.per_call = 0.0, per_call

    def __call__(self):
        self.t += self.per_call
        return self.t


@pytest.mark.parametrize("first_chunk, per_call", [(1, 1e-4), (7, 0.5), (1000, 1e-6)])
def test_chunking_never_changes_the_result(first_chunk, per_call):
    r = FakeRun(500)
    assert r.run(first_chunk=first_chunk, clock=Clock(per_call)) is False
    np.testing.assert_allclose(r.state, _reference(500), rtol=0, atol=1e-12)
    assert sum(r.calls) == 500 and r.commits == [(500, False, False)]


def test_chunks_are_sized_by_time_and_grow_at_most_fourfold():
    r = FakeRun(10_000)
    r.run(first_chunk=1, clock=Clock(1e-5))  # each unit seems to take ~1e-5 s / units of the chunk
    growth = [b / a for a, b in zip(r.calls, r.calls[1:-1])]
    assert r.calls[0] == 1 and max(growth) <= 4 and len(r.calls) < 30
    r = FakeRun(50)
    r.run(first_chunk=5, max_chunk=5, clock=Clock(1e-9))
    assert set(r.calls) == {5}


def test_checkpoint_cadence_in_units(tmp_path):
    path = tmp_path / "ck.npz"
    r = FakeRun(100)
    r.run(path, checkpoint_every=30, first_chunk=1000)
    assert [c[0] for c in r.commits] == [30, 60, 90, 100] and all(c[1] for c in r.commits)
    assert all(n <= 30 for n in r.calls)  # chunks end on checkpoints
    meta, arrays = load_npz(path, "fake/1", "fake run")
    assert meta["done"] == 100


def test_checkpoint_about_once_a_minute_by_default(tmp_path):
    path = tmp_path / "ck.npz"
    r = FakeRun(1000)
    seconds = {"t": 0.0}
    kernel = r.advance

    def advance(n):  # each unit takes 1.5 s of the run's clock
        seconds["t"] += 1.5 * n
        return kernel(n)

    r.advance = advance
    r.run(path, first_chunk=1, clock=lambda: seconds["t"])
    saves = [c[0] for c in r.commits if c[1]]
    assert set(r.calls) == {1}  # slow units: one per chunk
    assert saves == list(range(40, 1000, 40)) + [1000]  # every 60 s, and at the end
    with pytest.raises(ValueError, match="checkpoint_every"):
        r.run(path, checkpoint_every=0)


@pytest.mark.parametrize("how", ["python callback", "kernel saw the signal"])
def test_ctrl_c_commits_warns_and_returns_then_resume_equals_uninterrupted(tmp_path, how):
    path = tmp_path / "ck.npz"
    r = FakeRun(300)
    if how == "python callback":
        r.interrupt_at_call = 3
    else:
        r.kernel_sees_signal_at_call = 3
    with pytest.warns(RuntimeWarning, match=r"interrupted after \d+ of 300 units; returning what was done "
                                            r"\(resume with resume\("):
        assert r.run(path, first_chunk=20, max_chunk=20) is True
    assert r.interrupted and r.commits[-1] == (r.done, True, True) and 0 < r.done < 300
    meta, arrays = load_npz(path, "fake/1", "fake run")
    again = FakeRun(300, state=arrays["state"].copy(), done=meta["done"])
    assert again.run(path) is False and not again.interrupted
    np.testing.assert_allclose(again.state, _reference(300), rtol=0, atol=1e-12)


def test_other_errors_commit_and_propagate(tmp_path):
    path = tmp_path / "ck.npz"
    r = FakeRun(300)
    r.fail_at_call = 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no interrupted warning
        with pytest.raises(ZeroDivisionError, match="log_prob failed"):
            r.run(path, first_chunk=10, max_chunk=10)
    assert r.commits[-1] == (30, True, False) and load_npz(path, "fake/1", "fake run")[0]["done"] == 30


def test_a_crash_while_writing_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    import mlsci_fast._io as io

    path = tmp_path / "ck.npz"
    r = FakeRun(100)
    r.run(path, checkpoint_every=50, first_chunk=50)
    real = np.savez

    def dies_half_way(file, **arrays):
        real(file, **{k: v for k, v in list(arrays.items())[:1]})
        raise OSError("disk full")

    monkeypatch.setattr(io.np, "savez", dies_half_way)
    r2 = FakeRun(200, state=r.state.copy(), done=100)
    with pytest.raises(OSError, match="disk full"):
        r2.run(path, checkpoint_every=50, first_chunk=50)
    monkeypatch.undo()
    meta, _ = load_npz(path, "fake/1", "fake run")
    assert meta["done"] == 100 and [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


def test_nothing_to_do_commits_once():
    r = FakeRun(0)
    assert r.run() is False and r.calls == [] and r.commits == [(0, False, False)]


def test_propagate_interrupts_commits_then_raises(tmp_path):
    path = tmp_path / "ck.npz"
    r = FakeRun(300)
    r.interrupt_at_call = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "returning what was done"
        with _run.propagate_interrupts(), pytest.raises(KeyboardInterrupt):
            r.run(path, first_chunk=10, max_chunk=10)
    assert r.commits[-1] == (10, True, True) and load_npz(path, "fake/1", "fake run")[0]["done"] == 10
    r2 = FakeRun(300)
    r2.interrupt_at_call = 2
    with pytest.warns(RuntimeWarning, match="interrupted"):  # outside the block: the usual policy
        assert r2.run(first_chunk=10, max_chunk=10) is True


def test_output_paths_are_checked_before_the_run(tmp_path, capsys):
    """A checkpoint in a missing folder used to fail at the first write, after the run's first
    minute (or, for short runs, at the end, losing the result)."""
    from mlsci_fast import cli, ga, ising, mcmc
    from mlsci_fast.ga import problems

    missing = tmp_path / "no" / "such" / "run.npz"
    r = FakeRun(100)
    with pytest.raises(ValueError, match="checkpoint=.*the folder .* does not exist"):
        r.run(missing)
    assert r.calls == [] and r.commits == []
    with pytest.raises(ValueError, match="is a folder"):
        r.run(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        ising.simulate(16, 2.3, 10, seed=1, checkpoint=missing)
    with pytest.raises(ValueError, match="does not exist"):
        mcmc.nuts(mcmc.targets.Gaussian(np.zeros(2), np.eye(2)), 10, n_warmup=10, seed=1, checkpoint=missing)
    with pytest.raises(ValueError, match="does not exist"):
        ga.GeneticAlgorithm(problems.Sphere(2), population_size=10, seed=1).run(3, checkpoint=missing)
    with pytest.raises(SystemExit):
        cli.main(["ising", "8", "2.3", "10", "--out", str(missing.with_suffix(""))])
    assert "--out=" in capsys.readouterr().err and not missing.parent.exists()


class _Terminal(__import__("io").StringIO):
    def isatty(self):
        return True


def test_progress_uses_tqdm_on_a_terminal_and_a_plain_line_elsewhere(monkeypatch):
    pytest.importorskip("tqdm")
    import io

    from mlsci_fast._progress import Progress

    tty = _Terminal()
    with Progress(50, "fake", "units", stream=tty) as bar:
        bar.update(50, "best 1.0")
    out = tty.getvalue()
    assert "fake: 100%" in out and "50/50" in out and "best 1.0" in out  # tqdm's format
    monkeypatch.setenv("MLSCI_PROGRESS", "plain")
    tty = _Terminal()
    with Progress(50, "fake", "units", stream=tty) as bar:
        bar.update(50)
    assert "fake [" in tty.getvalue() and "50/50 units" in tty.getvalue()  # the plain line
    monkeypatch.delenv("MLSCI_PROGRESS")
    piped = io.StringIO()
    with Progress(50, "fake", "units", stream=piped) as bar:  # asked, but not a terminal
        bar.update(50)
    assert "50/50 units" in piped.getvalue()
    quiet = io.StringIO()
    with Progress(50, "fake", "units", enabled=None, stream=quiet) as bar:  # default: only when interactive
        bar.update(50)
    assert quiet.getvalue() == ""
    tty = _Terminal()
    with Progress(50, "fake", "units", enabled=None, stream=tty) as bar:
        bar.update(50)
    assert "50/50" in tty.getvalue()


def test_atomic_files_get_the_usual_permissions(tmp_path):
    """mkstemp creates 0600 files: results were unreadable by the group on shared clusters."""
    import os

    path = tmp_path / "r.npz"
    atomic_savez(path, {"format": "fake/1"}, a=np.zeros(2))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    path.chmod(0o640)
    atomic_savez(path, {"format": "fake/1"}, a=np.ones(2))
    assert path.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode


def test_a_kernel_that_makes_no_progress_is_an_error_not_a_hang():
    r = FakeRun(100)
    kernel = r.advance
    r.advance = lambda n: kernel(n) if len(r.calls) < 2 else r.calls.append(n)  # stalls at the third call
    with pytest.raises(RuntimeError, match="fake: the kernel made no progress from 14 of 100 units"):
        r.run(first_chunk=7, max_chunk=7)
    assert r.commits == [(14, False, False)]
