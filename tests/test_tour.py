"""The main job: `mlsci-fast tour` runs every part, writes one self-contained report, skips a
part whose dependency is missing with the install hint, and survives a failing part."""

from __future__ import annotations

import re

import pytest

import mlsci_fast.tour as tour
from mlsci_fast.cli import main
from mlsci_fast.tour import PART_KEYS, run_tour
from mlsci_fast.tour import parts as tour_parts


def test_quick_tour_runs_every_part_and_writes_one_report(tmp_path):
    path, results = run_tour(tmp_path, quick=True, progress=False)
    status = {r.key: r.status for r in results}
    assert [r.key for r in results] == list(PART_KEYS)
    assert set(status.values()) == {"ok"}, status
    assert "failed" not in status.values()
    page = path.read_text()
    for r in results:
        assert f"id='{r.key}'" in page
    assert len(re.findall(r"data:image/png;base64,", page)) >= 10  # figures are embedded
    for word in ("scikit-learn", "numpy", "threads", "compiler", "quick tour"):
        assert word in page
    assert not list(tmp_path.glob("*.tmp"))
    assert (tmp_path / "recovered_voice.wav").stat().st_size > 10_000
    by_key = {r.key: r for r in results}
    # the numbers the parts report are the real ones
    lift = dict(by_key["svm_lifting"].numbers)
    assert lift["linear SVM after appending r = |x|, test accuracy"] == "1.000"
    ga = dict(by_key["ga"].numbers)
    assert ga["LJ13 cluster: lowest energy found / global minimum"].startswith("-44.326801 / -44.326801")
    ff = dict(by_key["forcefield"].numbers)
    before, after = re.match(r"([\d.]+) -> ([\d.]+) meV/atom", ff["held-out 64-atom cells: energy RMSE"]).groups()
    assert float(after) < float(before) / 50
    assert (tmp_path / "SiC_fitted.tersoff").exists()


def test_missing_dependency_is_skipped_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(tour, "_missing", lambda modules: [m for m in modules if m == "torch"])
    _, results = run_tour(tmp_path, quick=True, parts=["nn_digits", "cleaning"], progress=False)
    by_key = {r.key: r for r in results}
    nn, clean = by_key["nn_digits"], by_key["cleaning"]
    assert nn.status == "skipped" and 'pip install "mlsci_fast[deep]"' in nn.note
    assert clean.status == "ok"


def test_a_failing_part_is_reported_and_the_tour_goes_on(tmp_path, monkeypatch, capsys):
    def broken(r, ctx):
        raise RuntimeError("boom")

    patched = tuple(p if p.key != "cleaning" else tour_parts.Part(p.key, p.title, p.lecture, broken)
                    for p in tour_parts.PARTS)
    monkeypatch.setattr(tour_parts, "PARTS", patched)
    code = main(["tour", "--quick", "--parts", "cleaning,mcmc_line", "--out", str(tmp_path)])
    assert code == 1
    page = (tmp_path / "tour.html").read_text()
    assert "RuntimeError: boom" in page and "failed" in page
    assert "FAILED" in capsys.readouterr().err


def test_cli_parts_and_list(tmp_path, capsys):
    assert main(["tour", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(k in out for k in PART_KEYS)
    assert main(["tour", "--parts", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown parts ['nope']" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown tour parts"):
        run_tour(tmp_path, parts=["nope"])
