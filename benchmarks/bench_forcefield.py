"""Tersoff fitness: one GA evaluation of a parameter set on 100 structures of 64 atoms (Si, C and
SiC cells, strained and rattled), energies and forces: mlsci_fast vs LAMMPS's Python interface.

LAMMPS gets its best case: the 100 structures are set up once, in 100 LAMMPS instances, outside
the timing; an evaluation writes the parameter file, re-reads it with ``pair_coeff`` in every
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
        params.write(self.path)
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
