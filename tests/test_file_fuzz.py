"""Every loader treats its file as untrusted: real checkpoints of every family, mutated (truncated,
bytes flipped, each array's dtype, length and values changed, each metadata counter changed),
are refused with a ValueError or TypeError, or load and resume correctly; never a crash, a hang,
another exception or a huge allocation. tools/sanitize.sh runs this file under AddressSanitizer."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile

import numpy as np
import pytest

import mlsci_fast
from mlsci_fast import forcefield, ga, ising, mcmc
from mlsci_fast._io import atomic_savez
from mlsci_fast.ga import problems

ALLOWED = (ValueError, TypeError)


def _stop_after(n_calls: int, f):
    """f, but Ctrl-C (KeyboardInterrupt) at its n-th call: a run interrupted half way."""
    calls = {"n": 0}

    def wrapped(x):
        calls["n"] += 1
        if calls["n"] == n_calls:
            raise KeyboardInterrupt
        return f(x)

    return wrapped


def _lp(x):
    return -0.5 * float(x @ x)


def _lp_grad(x):
    return -0.5 * float(x @ x), -x


def _sphere(P):
    return (P**2).sum(1)


def _two(P):
    return np.stack([(P**2).sum(1), ((P - 1) ** 2).sum(1)], 1)


def make_files(folder):
    """family -> (path of a half-done checkpoint, how to finish it)."""
    files = {}
    r = ising.simulate(8, 2.3, 40, n_burnin=4, measure_every=2, seed=1)
    r.n_sweeps = 80  # as if interrupted after 44 of 84 sweeps
    r.save(folder / "ising.npz")
    files["ising"] = (folder / "ising.npz", lambda p: ising.resume(p))

    t = ising.parallel_tempering(8, [2.0, 2.4, 2.8], 20, n_burnin=2, seed=2)
    t.n_rounds = 40
    t.save(folder / "tempering.npz")
    files["tempering"] = (folder / "tempering.npz", lambda p: ising.resume(p))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "interrupted after"
        mcmc.nuts(_stop_after(150, _lp_grad), 40, n_warmup=40, n_chains=2, ndim=2, seed=3,
                  checkpoint=folder / "nuts.npz")
        s = mcmc.EnsembleSampler(8, 2, _stop_after(60, _lp), seed=4)
        s.run_mcmc(np.random.default_rng(0).normal(size=(8, 2)), 40, checkpoint=folder / "ensemble.npz")
    files["nuts"] = (folder / "nuts.npz", lambda p: mcmc.resume(p, _lp_grad))
    files["ensemble"] = (folder / "ensemble.npz", lambda p: mlsci_fast.load(p, _lp).resume())

    g = ga.GeneticAlgorithm(problems.Rastrigin(4), population_size=12, islands=2, seed=5)
    g.run(5, checkpoint=folder / "ga.npz")
    g = ga.GeneticAlgorithm.load(folder / "ga.npz")
    g._plan = 10
    g.save(folder / "ga.npz")
    files["ga"] = (folder / "ga.npz", lambda p: mlsci_fast.load(p).resume())

    n = ga.NSGA2(_two, [(-1, 1)] * 3, 2, population_size=12, seed=6)
    n.run(4, checkpoint=folder / "nsga2.npz")
    n = ga.NSGA2.load(folder / "nsga2.npz", _two)
    n._plan = 8
    n.save(folder / "nsga2.npz")
    files["nsga2"] = (folder / "nsga2.npz", lambda p: mlsci_fast.load(p, _two).resume())

    ts = forcefield.TrainingSet.sic_reference()
    small = ts.subset([i for i, s in enumerate(ts.structures) if s.n_atoms <= 8][:6])
    small.add_relative({0: 1.0, 1: -1.0}, 0.5, name="difference")
    small.save(folder / "trainingset.npz")
    tersoff = forcefield.TersoffParameters.sic_1994()
    files["trainingset"] = (folder / "trainingset.npz", lambda p: forcefield.TrainingSet.load(p).errors(tersoff))
    return files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("fuzz"))


def _read(path):
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["meta"]).decode())
        arrays = {k: data[k] for k in data.files if k != "meta"}
    return meta, arrays


def _mutations(path):
    """(label, writer(dst)) for every single change to the file."""
    meta, arrays = _read(path)
    raw = path.read_bytes()
    rng = np.random.default_rng(0)
    out = []
    for cut in (10, len(raw) // 3, len(raw) // 2, len(raw) - 30):
        out.append((f"truncated at {cut}", lambda dst, cut=cut: dst.write_bytes(raw[:cut])))
    for k in range(4):
        pos = int(rng.integers(40, len(raw) - 40))

        def flip(dst, pos=pos):
            b = bytearray(raw)
            b[pos] ^= 0xFF
            dst.write_bytes(bytes(b))

        out.append((f"byte {pos} flipped", flip))
    for name, a in arrays.items():
        changes = {"float32": a.astype(np.float32) if a.dtype.kind in "fiu" else None,
                   "one shorter": a[:-1] if a.ndim and len(a) else None,
                   "empty": a[:0] if a.ndim else None}
        if a.size and a.dtype.kind == "f":
            bad = a.copy()
            bad.flat[0] = np.nan
            changes["NaN"] = bad
        if a.size and a.dtype.kind in "iu":
            for v in (-1, 2**30):
                v = min(max(v, np.iinfo(a.dtype).min), np.iinfo(a.dtype).max)
                bad = a.copy()
                bad.flat[0] = v
                changes[f"first = {v}"] = bad
        for label, new in changes.items():
            if new is None:
                continue
            out.append((f"{name} {label}",
                        lambda dst, name=name, new=new: atomic_savez(dst, meta, **{**arrays, name: new})))
    for key, value in meta.items():
        if isinstance(value, list):
            changed = [value[:-1], [], "x", None] + ([value[1:] + value[:1], [value[0]] * len(value)] if value else [])
            for v in changed:
                out.append((f"meta {key} = {str(v)[:40]}",
                            lambda dst, key=key, v=v: atomic_savez(dst, {**meta, key: v}, **arrays)))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        for v in (-1, 2**62, 0.5, "x", None):
            out.append((f"meta {key} = {v!r}",
                        lambda dst, key=key, v=v: atomic_savez(dst, {**meta, key: v}, **arrays)))
    return out


FAMILIES = ["ising", "tempering", "nuts", "ensemble", "ga", "nsga2", "trainingset"]


@pytest.mark.parametrize("family", FAMILIES)
def test_mutated_checkpoints_are_refused_or_resume(files, family, tmp_path):
    path, finish = files[family]
    good = tmp_path / "good.npz"
    shutil.copy(path, good)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        finish(good)  # the unmutated file resumes
    problems_found = []
    for label, write in _mutations(path):
        dst = tmp_path / "mutated.npz"
        write(dst)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                finish(dst)
        except ALLOWED as exc:
            if not str(exc):
                problems_found.append(f"{label}: empty {type(exc).__name__}")
        except (zipfile.BadZipFile, OSError, KeyError, IndexError, MemoryError, RuntimeError,
                OverflowError, AttributeError, AssertionError) as exc:
            problems_found.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
    assert not problems_found, "\n".join(problems_found)
