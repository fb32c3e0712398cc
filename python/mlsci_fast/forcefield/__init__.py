"""Force fields: parameters, training sets, their energies and forces in C++, and fitting.

A `TrainingSet` holds reference structures (energies, optionally forces) and relative energies
such as points on a dissociation curve. `TersoffParameters` reads and writes LAMMPS ``.tersoff``
files, so a fitted set runs in LAMMPS as it is. `fit`
searches the parameters a list of genes names, within bounds, by a GA whose every generation
is evaluated in C++ (all structures of all individuals in parallel; neighbour lists are built
once, since only parameters change), minimising GARFfield's weighted sum of squared errors --
or, with ``multi_objective=True``, the energy, force and relative-energy errors as separate
objectives by NSGA-II. `run_lammps` computes the same structures with LAMMPS, the reference.

Tersoff units are LAMMPS "metal": Å, eV, eV/Å.

`ReaxFFParameters` reads and writes ReaxFF ``ffield`` files as LAMMPS's ``pair_style reaxff``
does (every file LAMMPS ships round-trips), and `evaluate` gives a structure's ReaxFF energy term
by term, its analytic forces and its charges in C++ (equilibrated as LAMMPS's fix qeq/reaxff does,
or given), equal to LAMMPS's, in LAMMPS's "real" units (kcal/mol, Å, e). ReaxFF parameters are
fitted with `fit` like Tersoff's (genes such as ``"p_be1:C-H"``; the GA, NSGA-II or, with
``optimizer="cmaes"``, CMA-ES); `TrainingSet.cho_reaxff_reference` is a C/H/O set made by LAMMPS.

The family's parts: `parameters` (the models' parameter sets and files), `reaxff` (ReaxFF
files), `training`
(structures and training sets), `fitting` (the objective and `fit`), `lammps` (the LAMMPS route).
"""

from .fitting import ForceFieldFit, Objective, fit
from .lammps import lammps_potential_path, run_lammps
from .parameters import TERSOFF_NAMES, TersoffParameters
from .reaxff import ReaxFFParameters, ReaxFFResult, evaluate
from .training import Relative, Structure, TrainingSet

__all__ = [
    "TERSOFF_NAMES",
    "ForceFieldFit",
    "Objective",
    "ReaxFFParameters",
    "ReaxFFResult",
    "Relative",
    "Structure",
    "TersoffParameters",
    "TrainingSet",
    "evaluate",
    "fit",
    "lammps_potential_path",
    "run_lammps",
]
