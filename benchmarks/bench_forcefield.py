"""Tersoff fitness: one GA evaluation of a parameter set on 100 structures of 64 atoms (Si, C and
SiC cells, strained and rattled), energies and forces: mlsci_fast vs LAMMPS's Python interface.

LAMMPS gets its best case: the 100 structures are set up once, in 100 LAMMPS instances, outside
the timing; an evaluation writes the parameter file (a plain write, no fsync), re-reads it with ``pair_coeff`` in every
instance, runs ``run 0`` and reads energy and forces back (what a GA driving LAMMPS must do for
each individual). Ours evaluates the same set through `TrainingSet.compute`; the population case
evaluates 64 sets in one call (how `fit` runs a generation) and reports the time per set.

Without --benchmark-enable each case runs once on 10 structures, as a smoke test.
"""

import os
import tempfile

import numpy as np
import pytest

from mlsci_fast import forcefield as ff

FCC = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
LATTICE = {"Si": 5.432, "C": 3.566, "SiC": 4.32}


def structures(n: int) -> ff.TrainingSet:
    rng = np.random.default_rng(0)
    out = ff.TrainingSet()
    for k in range(n):
        kind = ("Si", "C", "SiC")[k % 3]
        a, (first, second) = LATTICE[kind], (("Si", "C") if kind == "SiC" else (kind, kind))
        sym, pos = [], []
        for shift in np.ndindex(2, 2, 2):
            for b in FCC:
                sym += [first, second]
                pos += [(b + shift) * a, (b + shift + 0.25) * a]
        strain = np.triu(rng.uniform(-0.02, 0.02, (3, 3))) + np.eye(3)
        cell = np.eye(3) * 2 * a @ strain.T
        pos = np.array(pos) @ strain.T + rng.normal(0, 0.06, (64, 3))
        out.add(ff.Structure(sym, pos, cell, (True, True, True), energy=0.0, forces=np.zeros((64, 3))))
    return out


class LammpsFitness:
    """The structures loaded once into LAMMPS instances; __call__ evaluates one parameter set."""

    def __init__(self, ts: ff.TrainingSet, elements):
        lammps = ff.lammps._import_lammps()
        self.elements = elements
        self.instances = []
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "p.tersoff")
        ff.TersoffParameters.sic_1994().write(self.path)
        for s in ts.structures:
            lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
            ff.lammps._lammps_one(lmp, s, self.path, elements, "tersoff")
            self.instances.append((lmp, s.n_atoms))

    def __call__(self, params: ff.TersoffParameters):
        with open(self.path, "w") as f:  # a plain write: no fsync on the peer's path
            f.write(params._text())
        energies, forces = [], []
        for lmp, n in self.instances:
            lmp.command(f"pair_coeff * * {self.path} {' '.join(self.elements)}")
            lmp.command("run 0")
            energies.append(lmp.get_thermo("pe"))
            forces.append(np.array(lmp.numpy.extract_atom("f")[:n]))
        return np.array(energies), forces

    def close(self):
        for lmp, _ in self.instances:
            lmp.close()


@pytest.mark.parametrize("impl", ["lammps", "mlsci_fast", "mlsci_fast-population"])
def bench_tersoff_fitness(benchmark, record, impl):
    n = 10 if benchmark.disabled else 100
    ts = structures(n)
    p = ff.TersoffParameters.sic_1994()
    benchmark.group = "tersoff-fitness-100x64"
    record(impl)
    if impl == "lammps":
        try:
            peer = LammpsFitness(ts, p.elements)
        except ImportError as exc:
            pytest.skip(str(exc))
        try:
            e, f = benchmark.pedantic(peer, args=(p,), rounds=5, iterations=1, warmup_rounds=1)
        finally:
            peer.close()
        mine, mine_f = ts.compute(p)
        np.testing.assert_allclose(e, mine, atol=1e-6)
        np.testing.assert_allclose(np.concatenate(f), np.concatenate(mine_f), atol=1e-6)
    elif impl == "mlsci_fast":
        benchmark.pedantic(ts.compute, args=(p,), rounds=20, iterations=1, warmup_rounds=1)
    else:
        genes = ["A:Si-C", "B:Si-C", "c:Si", "n:C"]
        x0 = np.array([p.get(g) for g in genes])
        obj = ff.Objective(ts, p, genes, np.column_stack([x0 * 0.8, x0 * 1.2]))
        X = x0 * np.random.default_rng(1).uniform(0.9, 1.1, (64, len(genes)))
        obj(X)  # neighbour lists built once, outside the timing, as in a fit
        benchmark.pedantic(lambda: obj(X), rounds=5, iterations=1)
        benchmark.extra_info["units"] = len(X)  # the report compares the time per parameter set


# --------------------------------------------------------------------------------------------
# ReaxFF: one parameter set on 100 molecular clusters of 20-60 atoms (C, H, O; ffield.reax.cho),
# energies, forces and QEq charges, against the same LAMMPS route (pair_style reaxff with fix
# qeq/reaxff at 1e-10; per set: write the ffield, pair_coeff in every instance, run 0, read back).

MOLECULES = {
    "methanol": (["C", "O", "H", "H", "H", "H"], [[0.0, 0.0, 0.0], [1.43, 0.05, 0.0], [-0.36, 1.02, 0.1],
                                                  [-0.4, -0.5, 0.9], [-0.35, -0.5, -0.85], [1.75, -0.9, 0.1]]),
    "water": (["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]),
    "ethane": (["C", "C", "H", "H", "H", "H", "H", "H"],
               [[0, 0, 0], [1.53, 0, 0], [-0.38, 1.02, 0], [-0.38, -0.5, 0.88], [-0.38, -0.5, -0.88],
                [1.91, -1.02, 0], [1.91, 0.5, 0.88], [1.91, 0.5, -0.88]]),
    "formic acid": (["C", "O", "O", "H", "H"], [[0, 0, 0], [1.2, 0.1, 0], [-0.7, 1.15, 0], [-0.55, -0.95, 0],
                                                [-0.2, 1.9, 0.1]]),
}


def clusters(n: int, seed: int = 0) -> ff.TrainingSet:
    """`n` clusters of randomly turned molecules on a 4.2 Å grid, 20-60 atoms each, rattled."""
    rng = np.random.default_rng(seed)
    out = ff.TrainingSet()
    names = list(MOLECULES)
    for k in range(n):
        target = rng.integers(20, 61)
        sym, pos, slot = [], [], 0
        while len(sym) < target - 2:
            s, p = MOLECULES[names[rng.integers(len(names))]]
            q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
            grid = np.array([slot % 3, slot // 3 % 3, slot // 9]) * 4.2
            sym += s
            pos += list(np.array(p) @ q.T + grid)
            slot += 1
        pos = np.array(pos) + rng.normal(0, 0.03, (len(sym), 3))
        out.add(ff.Structure(sym, pos, energy=0.0, forces=np.zeros((len(sym), 3)), name=f"cluster {k}"))
    return out


class LammpsReaxFF:
    """The clusters loaded once into LAMMPS instances (units real, fix qeq/reaxff); __call__
    evaluates one ReaxFFParameters."""

    def __init__(self, ts: ff.TrainingSet, p, elements):
        lammps = ff.lammps._import_lammps()
        self.elements = elements
        self.instances = []
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "ffield")
        p.write(self.path)
        for s in ts.structures:
            lmp = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
            ff.lammps._lammps_one(lmp, s, self.path, elements, "reaxff", 1e-10)
            self.instances.append((lmp, s.n_atoms))

    def __call__(self, params):
        with open(self.path, "w") as f:  # a plain write: no fsync on the peer's path
            f.write("".join(params._lines()))
        energies, forces, charges = [], [], []
        for lmp, n in self.instances:
            lmp.command(f"pair_coeff * * {self.path} {' '.join(self.elements)}")
            lmp.command("run 0")
            energies.append(lmp.get_thermo("pe"))
            forces.append(np.array(lmp.numpy.extract_atom("f")[:n]))
            charges.append(np.array(lmp.numpy.extract_atom("q")[:n]))
        return np.array(energies), forces, charges

    def close(self):
        for lmp, _ in self.instances:
            lmp.close()


@pytest.mark.parametrize("impl", ["lammps", "mlsci_fast", "mlsci_fast-population"])
def bench_reaxff_fitness(benchmark, record, impl):
    from mlsci_fast.forcefield.reaxff import ReaxFFParameters

    n = 10 if benchmark.disabled else 100
    ts = clusters(n)
    try:
        p = ReaxFFParameters.read(ff.lammps_potential_path("ffield.reax.cho"))
    except ImportError as exc:
        pytest.skip(str(exc))
    benchmark.group = "reaxff-fitness-100x20-60"
    record(impl)
    if impl == "lammps":
        peer = LammpsReaxFF(ts, p, ["C", "H", "O"])
        try:
            e, f, _ = benchmark.pedantic(peer, args=(p,), rounds=5, iterations=1, warmup_rounds=1)
        finally:
            peer.close()
        mine, mine_f = ts.compute(p)
        np.testing.assert_allclose(e, mine, atol=1e-6)
        np.testing.assert_allclose(np.concatenate(f), np.concatenate(mine_f), atol=1e-5)
    elif impl == "mlsci_fast":
        benchmark.pedantic(ts.compute, args=(p,), rounds=10, iterations=1, warmup_rounds=1)
    else:
        genes = ["p_be1:C-H", "De_s:C-H", "p_bo2:C-H", "r_s:C", "theta_00:H-C-H", "p_val1:H-C-H"]
        x0 = np.array([p.get(g) for g in genes])
        lo, hi = np.minimum(x0 * 0.8, x0 * 1.2), np.maximum(x0 * 0.8, x0 * 1.2)
        obj = ff.Objective(ts, p, genes, np.column_stack([lo, hi]))
        X = x0 * np.random.default_rng(1).uniform(0.95, 1.05, (64 if not benchmark.disabled else 4, len(genes)))
        obj(X)
        benchmark.pedantic(lambda: obj(X), rounds=3, iterations=1)
        benchmark.extra_info["units"] = len(X)
