"""An Ising temperature scan on a SLURM cluster, through dask-jobqueue.

Asks SLURM for `--jobs` jobs (one Dask worker each, `--cores` threads, `--memory`), waits until
they have started, sends one task per temperature to them with `ising.temperature_scan(...,
client=client)`, and writes the observables table (CSV) and the figure. The result is the same
as a run on one machine with the same seed. `--local` uses a LocalCluster instead (no SLURM).

    pip install "mlsci_fast[dist]" dask-jobqueue
    python examples/slurm_ising_scan.py --jobs 4 --cores 16 --memory 32GB --queue compute \\
        --walltime 01:00:00 --L 128 --sweeps 20000 --out scan
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

from mlsci_fast import ising


def make_client(args):
    from dask.distributed import Client

    if args.local:
        return Client(n_workers=args.jobs, threads_per_worker=1, processes=True, dashboard_address=None), None
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise SystemExit("this script needs dask-jobqueue on a SLURM cluster: pip install dask-jobqueue "
                         "(or run it with --local)") from None
    extra = [f"--account={args.account}"] if args.account else []
    cluster = SLURMCluster(cores=args.cores, processes=1, memory=args.memory, queue=args.queue,
                           walltime=args.walltime, job_extra_directives=extra)
    cluster.scale(jobs=args.jobs)
    client = Client(cluster)
    client.wait_for_workers(args.jobs, timeout=args.wait)
    return client, cluster


def run(args) -> ising.ScanResult:
    temperatures = np.linspace(args.tmin, args.tmax, args.n_temperatures)
    client, cluster = make_client(args)
    try:
        scan = ising.temperature_scan(args.L, temperatures, args.sweeps, algorithm=args.algorithm,
                                      n_burnin=args.sweeps // 10, seed=args.seed, client=client, progress=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    with open(args.out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        keys = ["energy", "abs_magnetization", "specific_heat", "susceptibility", "binder"]
        w.writerow(["T"] + [k for key in keys for k in (key, key + "_err")])
        for i, T in enumerate(temperatures):
            w.writerow([T] + [scan.table[k][i] for key in keys for k in (key, key + "_err")])
    try:
        import matplotlib

        matplotlib.use("Agg")
        scan.plot(args.out + ".png")
    except ImportError:
        pass
    return scan


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--local", action="store_true", help="a LocalCluster instead of SLURM")
    p.add_argument("--jobs", type=int, default=2, help="SLURM jobs = Dask workers")
    p.add_argument("--cores", type=int, default=16, help="cores per job")
    p.add_argument("--memory", default="16GB", help="memory per job")
    p.add_argument("--queue", default=None, help="SLURM partition")
    p.add_argument("--account", default=None, help="SLURM account")
    p.add_argument("--walltime", default="01:00:00")
    p.add_argument("--wait", type=float, default=600.0, help="seconds to wait for the jobs to start")
    p.add_argument("--L", type=int, default=64)
    p.add_argument("--sweeps", type=int, default=10000)
    p.add_argument("--tmin", type=float, default=1.8)
    p.add_argument("--tmax", type=float, default=3.0)
    p.add_argument("--n-temperatures", type=int, default=16)
    p.add_argument("--algorithm", default="swendsen-wang", choices=ising.ALGORITHMS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="scan")
    args = p.parse_args(argv)
    scan = run(args)
    i = int(np.argmax(scan.table["specific_heat"]))
    print(f"{len(scan.temperatures)} temperatures, L = {args.L}: specific-heat peak at T = {scan.temperatures[i]:.3f}; "
          f"wrote {args.out}.csv and {args.out}.png")


if __name__ == "__main__":
    main()
