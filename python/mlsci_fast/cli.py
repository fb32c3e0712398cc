"""The `mlsci-fast` command: build information and long runs from the shell.

    mlsci-fast info
    mlsci-fast tour --quick --out tour
    mlsci-fast ising 64 2.269 100000 --algorithm wolff --out ising_run
    mlsci-fast ising 32 2.0 2.2 2.4 2.6 5000 --tempering --out pt
    mlsci-fast mcmc rosenbrock --steps 20000 --out banana
    mlsci-fast mcmc --python model.py --ndim 3 --sampler ensemble --steps 5000 --checkpoint run.npz
    mlsci-fast ga rastrigin --dim 30 --generations 500 --out rastrigin
    mlsci-fast bench -k "tree or ica" --json bench.json
    mlsci-fast ga --python fit.py --function fitness --bounds -5 5 --dim 8 --checkpoint ga.npz

Every run prints a summary, writes PREFIX.npz (the full result, loadable with the package's
`load` functions), PREFIX.csv (a table) and PREFIX.png (a figure, when matplotlib is
installed); `--checkpoint FILE` keeps a resumable state and `--resume FILE` finishes it.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np

from . import __version__, show_config
from ._io import check_writable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsci-fast",
        description="Fast tools for the course 'Machine Learning in Sciences'.",
        epilog="Run 'mlsci-fast COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"mlsci-fast {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("info", help="print how mlsci_fast was built and how many threads it will use")
    tour = sub.add_parser("tour", help="the main job: one demonstration per lecture, one HTML report")
    tour.add_argument("--out", default="tour", help="folder for tour.html and its files (default: tour)")
    tour.add_argument("--quick", action="store_true", help="smaller problems: about a minute on 2 cores")
    tour.add_argument("--parts", default=None, help="comma-separated parts to run (default: all); see --list")
    tour.add_argument("--list", action="store_true", help="list the parts and exit")
    tour.add_argument("--seed", type=int, default=0, help="seed of every part (default 0)")
    tour.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=None, help="random seed (default: fresh entropy, printed)")
    common.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    common.add_argument("--out", default=None, help="prefix of the output files PREFIX.npz/.csv/.png")
    common.add_argument("--quiet", action="store_true", help="no progress line")
    common.add_argument("--checkpoint", default=None, help="keep a resumable state in this .npz file")
    common.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")

    ising = sub.add_parser("ising", parents=[common], help="Ising model: one temperature, a scan, or tempering",
                           description="Monte Carlo of the Ising model (mlsci_fast.ising). With one temperature, "
                                       "a simulation; with several, a scan (one run per temperature, here or on "
                                       "Dask with --scheduler) or, with --tempering, parallel tempering.")
    ising.add_argument("L", type=int, nargs="?", help="linear size (even)")
    ising.add_argument("T", type=float, nargs="*", help="temperature(s), then the number of sweeps")
    ising.add_argument("--dim", type=int, default=2, choices=(2, 3))
    ising.add_argument("--algorithm", default="metropolis",
                       choices=("metropolis", "heatbath", "wolff", "swendsen-wang", "multispin"))
    ising.add_argument("--J", type=float, default=1.0, help="coupling")
    ising.add_argument("--h", type=float, default=0.0, help="field")
    ising.add_argument("--burnin", type=int, default=0, help="sweeps (rounds with --tempering) before measuring")
    ising.add_argument("--measure-every", type=int, default=1)
    ising.add_argument("--start", default="random", choices=("random", "cold"))
    ising.add_argument("--tempering", action="store_true", help="parallel tempering over the temperatures")
    ising.add_argument("--sweeps-per-round", type=int, default=1, help="with --tempering")
    ising.add_argument("--scheduler", default=None,
                       help="scan on Dask: 'local' (a LocalCluster) or a scheduler address")
    ising.add_argument("--resume", default=None, metavar="FILE", help="finish the run checkpointed in FILE")

    mc = sub.add_parser("mcmc", parents=[common], help="sample a posterior: built-in target or your log_prob",
                        description="Markov chain Monte Carlo (mlsci_fast.mcmc) on a built-in C++ target or on "
                                    "log_prob(x) from your Python file.")
    mc.add_argument("target", nargs="?", choices=("gaussian", "rosenbrock", "funnel"),
                    help="a built-in target (or use --python)")
    mc.add_argument("--python", default=None, metavar="FILE", help="a Python file defining the log density")
    mc.add_argument("--function", default="log_prob",
                    help="its name in FILE (for nuts/hmc it returns (log p, gradient))")
    mc.add_argument("--vectorize", action="store_true",
                    help="the function takes all walkers at once, (n, ndim) -> (n,) (ensemble)")
    mc.add_argument("--ndim", type=int, default=None, help="dimension (default: 2 for rosenbrock, 10 otherwise)")
    mc.add_argument("--sampler", default="ensemble", choices=("ensemble", "nuts", "hmc", "metropolis"))
    mc.add_argument("--steps", type=int, default=5000, help="ensemble steps, or draws per chain")
    mc.add_argument("--burn", type=int, default=None,
                    help="steps discarded (ensemble) or warmup iterations (chains); default steps / 5")
    mc.add_argument("--walkers", type=int, default=32, help="ensemble walkers")
    mc.add_argument("--chains", type=int, default=4, help="independent chains (nuts, hmc, metropolis)")
    mc.add_argument("--scheduler", default=None, help="chains on Dask: 'local' or a scheduler address")
    mc.add_argument("--resume", default=None, metavar="FILE",
                    help="finish the run checkpointed in FILE (give the same --sampler, and --python if used)")
    ga = sub.add_parser("ga", parents=[common], help="genetic algorithm: a built-in problem or your fitness",
                        description="Real-coded genetic algorithm (mlsci_fast.ga) on a built-in C++ problem or on "
                                    "fitness(X) from your Python file, called once per generation with the whole "
                                    "population (n, dim) -> (n,).")
    ga.add_argument("problem", nargs="?", choices=("sphere", "rastrigin", "ackley", "rosenbrock", "lj"),
                    help="a built-in problem (minimised), or use --python")
    ga.add_argument("--dim", type=int, default=10, help="genes (default 10)")
    ga.add_argument("--atoms", type=int, default=13, help="atoms, for the Lennard-Jones cluster 'lj'")
    ga.add_argument("--python", default=None, metavar="FILE", help="a Python file defining the fitness")
    ga.add_argument("--function", default="fitness", help="its name in FILE")
    ga.add_argument("--bounds", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                    help="the same bounds for every gene (required with --python)")
    ga.add_argument("--maximize", action="store_true", help="maximise your fitness instead")
    ga.add_argument("--population", type=int, default=100)
    ga.add_argument("--generations", type=int, default=200)
    ga.add_argument("--selection", default="tournament", choices=("tournament", "rank", "roulette"))
    ga.add_argument("--survival", default="elitist", choices=("elitist", "mu+lambda"))
    ga.add_argument("--islands", type=int, default=1)
    ga.add_argument("--migration-interval", type=int, default=10, help="generations between ring migrations")
    ga.add_argument("--scheduler", default=None,
                    help="islands on Dask: 'local' (a LocalCluster) or a scheduler address (needs --islands >= 2)")
    ga.add_argument("--resume", default=None, metavar="FILE",
                    help="finish the run checkpointed in FILE (give --python again if used)")
    bench = sub.add_parser("bench", help="run the benchmarks (ours vs peers) and print the speed-ups",
                           description="Runs the pytest-benchmark suite of a source checkout (benchmarks/), "
                                       "timing ours and each peer in the same run, and prints median speed-ups.")
    bench.add_argument("-k", dest="select", default=None, help="pytest -k expression selecting benchmarks")
    bench.add_argument("--path", default=None, help="the benchmarks folder (default: ./benchmarks)")
    bench.add_argument("--json", default=None, help="also keep pytest-benchmark's JSON here")
    bench.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    return parser


# -- outputs ----------------------------------------------------------------------------------


def _write_csv(path: str, header: list[str], rows) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _save_figure(draw, path: str) -> str | None:
    """Draw a figure to `path` if matplotlib is installed; returns the path written or None.

    The plot methods write a figure that pyplot never sees, so no backend is chosen here."""
    if importlib.util.find_spec("matplotlib") is None:
        print("(no figure: pip install matplotlib)", file=sys.stderr)
        return None
    draw(path)
    return path


def _announce(paths: list[str | None]) -> None:
    written = [p for p in paths if p]
    if written:
        print("wrote " + ", ".join(written))


# -- ising ------------------------------------------------------------------------------------


def _ising(args) -> int:
    from . import ising

    progress = not args.quiet
    if args.resume:
        result = ising.resume(args.resume, progress=progress, n_threads=args.threads,
                              checkpoint_every=args.checkpoint_every)
    else:
        if args.L is None or len(args.T) < 2:
            raise SystemExit("mlsci-fast ising: give L, one or more temperatures and the number of sweeps, "
                             "e.g. 'mlsci-fast ising 64 2.269 10000'")
        *temps, n = args.T
        if n != int(n) or n < 0:
            raise SystemExit(f"mlsci-fast ising: the last number is the sweep count, got {n}")
        n = int(n)
        if args.tempering:
            result = ising.parallel_tempering(
                args.L, temps, n, sweeps_per_round=args.sweeps_per_round, dim=args.dim, algorithm=args.algorithm,
                J=args.J, h=args.h, n_burnin=args.burnin, start=args.start, seed=args.seed, progress=progress,
                checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every, n_threads=args.threads)
        elif len(temps) > 1 or args.scheduler:
            if args.checkpoint:
                raise SystemExit("mlsci-fast ising: --checkpoint is for one temperature or --tempering")
            result = ising.temperature_scan(
                args.L, temps, n, dim=args.dim, algorithm=args.algorithm, J=args.J, h=args.h,
                n_burnin=args.burnin, measure_every=args.measure_every, start=args.start, seed=args.seed,
                progress=progress, client=args.scheduler)
        else:
            result = ising.simulate(
                args.L, temps[0], n, dim=args.dim, algorithm=args.algorithm, J=args.J, h=args.h,
                n_burnin=args.burnin, measure_every=args.measure_every, start=args.start, seed=args.seed,
                progress=progress, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                n_threads=args.threads)
    print(f"seed {result.seed}")
    table = None
    if isinstance(result, ising.IsingResult):
        s = result.summary()
        for key in ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder"):
            print(f"{key:>18}: {s[key][0]:.6g} ± {s[key][1]:.2g}")
        print(f"{'tau_energy':>18}: {s['tau_energy']:.3g} measurements")
    else:
        scan = result.summary() if isinstance(result, ising.TemperingResult) else result
        table = scan.table
        keys = ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder")
        print("T " + " ".join(f"{k:>18}" for k in keys))
        for i, T in enumerate(scan.temperatures):
            print(f"{T:<6.4g}" + " ".join(f"{table[k][i]:>11.5g} ± {table[k + '_err'][i]:<5.1g}" for k in keys))
        if isinstance(result, ising.TemperingResult):
            print("swap acceptance: " + " ".join(f"{a:.2f}" for a in result.swap_acceptance))
    if args.out:
        paths: list[str | None] = []
        if hasattr(result, "save"):
            result.save(args.out + ".npz")
            paths.append(args.out + ".npz")
        if table is not None:
            keys = [k for k in table]
            _write_csv(args.out + ".csv", ["T", *keys], [[T, *(table[k][i] for k in keys)]
                                                       for i, T in enumerate(result.temperatures)])
        else:
            _write_csv(args.out + ".csv", ["measurement", "energy", "magnetization"],
                       [[i, e, m] for i, (e, m) in enumerate(zip(result.energy, result.magnetization))])
        paths.append(args.out + ".csv")
        paths.append(_save_figure(lambda p: result.plot(p), args.out + ".png"))
        _announce(paths)
    return 1 if getattr(result, "interrupted", False) else 0


# -- mcmc -------------------------------------------------------------------------------------


def _user_function(path: str, name: str, command: str = "mcmc"):
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"mlsci-fast {command}: no such file: {path}")
    spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.resolve().parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    fn = getattr(module, name, None)
    if not callable(fn):
        raise SystemExit(f"mlsci-fast {command}: {path} defines no function {name!r}")
    return fn


def _builtin_target(name: str, ndim: int | None):
    from .mcmc import targets

    if name == "rosenbrock":
        return targets.Rosenbrock(ndim=ndim or 2)
    if name == "funnel":
        return targets.Funnel(ndim or 10)
    d = ndim or 10
    return targets.Gaussian(np.zeros(d), np.eye(d))


def _mcmc(args) -> int:
    from . import mcmc

    progress = not args.quiet
    if args.resume:
        if args.sampler == "ensemble":
            fn = _user_function(args.python, args.function) if args.python else None
            sampler = mcmc.EnsembleSampler.load(args.resume, fn, n_threads=args.threads)
            sampler.resume(progress=progress, checkpoint_every=args.checkpoint_every)
            return _ensemble_report(sampler, args)
        fn = _user_function(args.python, args.function) if args.python else None
        result = mcmc.resume(args.resume, fn, progress=progress, n_threads=args.threads,
                             checkpoint_every=args.checkpoint_every)
        return _chains_report(result, args)
    if (args.target is None) == (args.python is None):
        raise SystemExit("mlsci-fast mcmc: give a built-in target (gaussian, rosenbrock, funnel) or --python FILE")
    if args.python:
        target = _user_function(args.python, args.function)
        if args.ndim is None:
            raise SystemExit("mlsci-fast mcmc: --python needs --ndim")
        ndim = args.ndim
    else:
        target = _builtin_target(args.target, args.ndim)
        ndim = target.ndim
    burn = args.steps // 5 if args.burn is None else args.burn
    if args.sampler == "ensemble":
        sampler = mcmc.EnsembleSampler(args.walkers, ndim, target, vectorize=args.vectorize, seed=args.seed,
                                       n_threads=args.threads)
        # Walkers start in a small ball (at the mode of the built-in targets, at 0 for yours).
        rng = np.random.default_rng(sampler.seed)
        p0 = 1e-2 * rng.standard_normal((args.walkers, ndim)) + (1.0 if args.target == "rosenbrock" else 0.0)
        sampler.run_mcmc(p0, args.steps, progress=progress, checkpoint=args.checkpoint,
                         checkpoint_every=args.checkpoint_every)
        args.burn = burn
        return _ensemble_report(sampler, args)
    run = {"nuts": mcmc.nuts, "hmc": mcmc.hmc, "metropolis": mcmc.metropolis}[args.sampler]
    result = run(target, args.steps, n_warmup=burn, n_chains=args.chains, seed=args.seed, progress=progress,
                 n_threads=args.threads, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                 ndim=ndim if args.python else None, client=args.scheduler)
    return _chains_report(result, args)


def _ensemble_report(sampler, args) -> int:
    burn = args.burn if args.burn is not None else sampler.iteration // 5
    burn = min(burn, max(sampler.iteration - 1, 0))
    print(f"seed {sampler.seed}")
    print(sampler.summary(discard=burn))
    print(f"acceptance fraction {np.mean(sampler.acceptance_fraction):.3f}")
    if args.out:
        sampler.save(args.out + ".npz")
        flat = sampler.get_chain(discard=burn, flat=True)
        names = sampler.names
        _write_csv(args.out + ".csv", names, flat.tolist())
        from .mcmc import plots

        fig = _save_figure(lambda p: plots.corner(flat, names, path=p), args.out + ".png")
        _announce([args.out + ".npz", args.out + ".csv", fig])
    return 0


def _chains_report(result, args) -> int:
    print(f"seed {result.seed}")
    print(result.summary())
    if args.out:
        result.save(args.out + ".npz")
        samples = result.samples()  # (n_chains, n_draws, ndim)
        names = list(result.names)
        _write_csv(args.out + ".csv", ["chain", *names],
                   [[c, *row] for c in range(samples.shape[0]) for row in samples[c].tolist()])
        fig = _save_figure(lambda p: result.plot(p), args.out + ".png")
        _announce([args.out + ".npz", args.out + ".csv", fig])
    return 1 if not result.complete else 0


# -- bench ------------------------------------------------------------------------------------


def _bench(args) -> int:
    import os
    import subprocess
    import tempfile

    folder = Path(args.path) if args.path else Path.cwd() / "benchmarks"
    if not (folder / "report.py").is_file():
        raise SystemExit(f"mlsci-fast bench: no benchmarks in {folder}: run it in a source checkout of mlsci_fast "
                         "(the benchmarks are not installed with the package) or give --path")
    if importlib.util.find_spec("pytest_benchmark") is None:
        raise SystemExit('mlsci-fast bench: needs pytest-benchmark and the peers: pip install "mlsci_fast[test]"')
    with tempfile.TemporaryDirectory() as tmp:
        out = args.json or os.path.join(tmp, "bench.json")
        cmd = [sys.executable, "-m", "pytest", str(folder), "--benchmark-enable", "--benchmark-only",
               f"--benchmark-json={out}", "-q", "-p", "no:cacheprovider"]
        if args.select:
            cmd += ["-k", args.select]
        env = dict(os.environ)
        if args.threads is not None:
            env["OMP_NUM_THREADS"] = str(args.threads)
        code = subprocess.call(cmd, env=env)
        if not os.path.exists(out):
            return code or 1
        spec = importlib.util.spec_from_file_location("mlsci_bench_report", folder / "report.py")
        report = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(report)
        print()
        print("mlsci_fast vs peers (median speed-up; higher is better)")
        print(report.format_table(report.ratio_rows(report.from_json(out))))
    return code


# -- ga ---------------------------------------------------------------------------------------


def _ga(args) -> int:
    from .ga import GeneticAlgorithm, problems

    fitness = _user_function(args.python, args.function, "ga") if args.python else None
    progress = not args.quiet
    if args.resume:
        ga = GeneticAlgorithm.load(args.resume, fitness, n_threads=args.threads)
        result = ga.resume(progress=progress, checkpoint_every=args.checkpoint_every)
    else:
        if fitness is None and args.problem is None:
            raise SystemExit("mlsci-fast ga: give a built-in problem or --python FILE")
        if fitness is not None:
            if args.bounds is None:
                raise SystemExit("mlsci-fast ga: --bounds LOW HIGH is required with --python")
            target, bounds = fitness, [list(args.bounds)] * args.dim
        else:
            target = (problems.LennardJonesCluster(args.atoms) if args.problem == "lj" else
                      {"sphere": problems.Sphere, "rastrigin": problems.Rastrigin, "ackley": problems.Ackley,
                       "rosenbrock": problems.Rosenbrock}[args.problem](args.dim))
            bounds = None if args.bounds is None else [list(args.bounds)] * target.dim
        ga = GeneticAlgorithm(target, bounds, population_size=args.population, selection=args.selection,
                              survival=args.survival, islands=args.islands,
                              migration_interval=args.migration_interval, maximize=args.maximize,
                              seed=args.seed, n_threads=args.threads)
        if args.scheduler and args.islands < 2:
            raise SystemExit("mlsci-fast ga: --scheduler spreads islands over Dask: give --islands 2 or more")
        result = ga.run(args.generations, progress=progress, checkpoint=args.checkpoint,
                        checkpoint_every=args.checkpoint_every, client=args.scheduler)
    x = np.asarray(result.best_x)
    shown = ", ".join(f"{v:.6g}" for v in x[:8]) + (", ..." if len(x) > 8 else "")
    print(f"best fitness {result.best_fitness:.10g} after {result.n_evaluations:,} evaluations "
          f"({result.n_generations} generations, {result.elapsed:.2f} s, seed {result.seed})")
    print(f"best x [{shown}]")
    if args.out:
        ga.save(args.out + ".npz")
        h = result.history
        _write_csv(args.out + ".csv", ["generation", "best", "mean", "std"],
                   [[g, h["best"][g], h["mean"][g], h["std"][g]] for g in range(len(h["best"]))])
        fig = _save_figure(lambda p: result.plot(p), args.out + ".png")
        _announce([args.out + ".npz", args.out + ".csv", fig])
    return 0


def _tour(args) -> int:
    from . import set_num_threads
    from .tour import PART_KEYS, run_tour
    from .tour.parts import PARTS

    if args.list:
        for p in PARTS:
            print(f"{p.key:<15} {p.title}  ({p.lecture})")
        return 0
    if args.threads is not None:
        set_num_threads(args.threads)
    parts = None if args.parts is None else [p.strip() for p in args.parts.split(",") if p.strip()]
    if parts is not None and any(p not in PART_KEYS for p in parts):
        bad = [p for p in parts if p not in PART_KEYS]
        print(f"mlsci-fast tour: unknown parts {bad}; choose from {', '.join(PART_KEYS)}", file=sys.stderr)
        return 2
    _, results = run_tour(args.out, quick=args.quick, parts=parts, seed=args.seed)
    return 1 if any(r.status == "failed" for r in results) else 0


def main(argv: list[str] | None = None) -> int:
    """The `mlsci-fast` command: parse `argv` (default: the command line), run the subcommand and
    return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "info":
        show_config()
        return 0
    if getattr(args, "threads", None) is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.command != "tour" and getattr(args, "out", None):
        try:  # before the run, not after it
            check_writable(args.out + ".npz", "--out")
        except ValueError as exc:
            parser.error(str(exc))
    if args.command == "tour":
        return _tour(args)
    if args.command == "ising":
        return _ising(args)
    if args.command == "mcmc":
        return _mcmc(args)
    if args.command == "ga":
        return _ga(args)
    if args.command == "bench":
        return _bench(args)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
