"""Structure search for atomic clusters: a cut-and-splice GA with every child relaxed (Deaven & Ho).

Finds the global minima of Lennard-Jones clusters as the Cambridge Cluster Database lists them,
including LJ38's truncated octahedron, which hides behind a large funnel of icosahedral
structures. Children are made and relaxed (C++ L-BFGS) in parallel.
"""

from __future__ import annotations

import dataclasses
import numbers
import os
import time

import numpy as np
from numpy.typing import ArrayLike

from .. import _core, _plotting, _seed, _threads
from .._run import run_chunks
from .._validation import as_float_array, check_scalar
from .problems import LennardJonesCluster

__all__ = ["ClusterResult", "cluster_search", "relax"]


@dataclasses.dataclass(eq=False)
class ClusterResult:
    """The lowest structure found: `energy` (reduced units), `positions` (n_atoms, 3, centred),
    `found` (whether `target` was reached), `n_relaxations`, `history` (best energy after each
    generation), the final population's `energies`, `seed` and `elapsed` seconds."""

    energy: float
    positions: np.ndarray
    found: bool
    target: float | None
    n_relaxations: int
    history: np.ndarray
    energies: np.ndarray
    seed: int
    elapsed: float
    interrupted: bool = False  # stopped early by Ctrl-C

    def to_xyz(self, path: str | os.PathLike, element: str = "Ar") -> None:
        """Write the structure as an XYZ file (readable by ASE, VMD, Ovito, ...)."""
        lines = [str(len(self.positions)), f"E = {self.energy:.6f} (Lennard-Jones reduced units)"]
        lines += [f"{element} {x:.8f} {y:.8f} {z:.8f}" for x, y, z in self.positions]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def plot(self, path: str | os.PathLike | None = None, *, ax=None):
        """The cluster in 3-D (bonds where r < 1.35) and the best energy per generation.

        Returns the Figure; with `path`, also saves it. ax: a 3-D Axes and a plain one.
        """
        fig, (ax, ax2), owned = _plotting.subplots(ax, 2, path=path, figsize=(10, 4.5), projections=("3d", None))
        p = self.positions
        r = np.linalg.norm(p[:, None] - p[None, :], axis=2)
        for i, j in zip(*np.nonzero(np.triu(r < 1.35, 1))):
            ax.plot(*p[[i, j]].T, color="0.6", lw=0.8)
        ax.scatter(*p.T, s=60, color="tab:blue", depthshade=True)
        ax.set_title(f"LJ{len(p)}: E = {self.energy:.6f}")
        ax.set_axis_off()
        ax2.plot(self.history, color="k")
        if self.target is not None:
            ax2.axhline(self.target, color="tab:red", ls="--", label="known global minimum")
            ax2.legend()
        ax2.set_xlabel("generation")
        ax2.set_ylabel("best energy")
        return _plotting.finish(fig, path, owned)


def relax(positions: ArrayLike, *, gtol: float = 1e-6, max_iter: int = 10000) -> tuple[np.ndarray, float, bool]:
    """Relax a Lennard-Jones cluster to its local minimum with L-BFGS in C++.

    positions : (n_atoms, 3). Returns (relaxed positions, energy, converged), converged meaning
    that every force component is below `gtol`. Start from a physical geometry: atoms almost on
    top of each other (closer than about 0.1) can trap the quench in the repulsive wall
    (converged is then False).
    """
    x = as_float_array(positions, "positions", ndim=2)
    if x.shape[1] != 3 or x.shape[0] < 2:
        raise ValueError(f"positions must have shape (n_atoms >= 2, 3), got {x.shape}")
    gtol = float(check_scalar(gtol, "gtol", numbers.Real, min_val=0, include_min=False))
    max_iter = int(check_scalar(max_iter, "max_iter", numbers.Integral, min_val=0))
    lj = LennardJonesCluster(x.shape[0])
    flat = x.reshape(-1).copy()
    energy, _, _, converged = _core.ga.lbfgs(lj._core_problem, flat, gtol, max_iter)
    return flat.reshape(-1, 3), float(energy), bool(converged)


def cluster_search(
    n_atoms: int,
    *,
    potential: str = "lj",
    population_size: int = 30,
    n_children: int = 16,
    mutation_prob: float = 0.1,
    max_relaxations: int = 20000,
    target: float | None = None,
    seed: int | None = None,
    progress: bool = False,
    n_threads: int | None = None,
) -> ClusterResult:
    """Search for the global minimum of an n-atom cluster with a cut-and-splice GA.

    Every generation makes `n_children` children: two parents chosen by binary tournament on
    energy are randomly rotated, cut by a plane and spliced (Deaven & Ho 1995); a child is also
    twisted (half of it rotated about a random axis) with probability `mutation_prob`; each child
    is relaxed with L-BFGS; a child replaces the worst member of the population when it is lower
    and its energy differs from every member's by more than 1e-4 (no duplicates).

    Parameters
    ----------
    n_atoms : int
    potential : {"lj"}
        Lennard-Jones in reduced units (epsilon = sigma = 1).
    max_relaxations : int
        Budget of local relaxations (the initial population included).
    target : float, optional
        Stop once the best energy is within 1e-4 of it; by default the Cambridge Cluster
        Database's global minimum where known (LJ2-15, 19, 26, 38, 55), else the whole budget.
    seed : int or None
        Same seed, same search, on any number of threads.

    Ctrl-C stops the search between generations and returns the best structure found so far
    (with a RuntimeWarning).
    """
    if potential != "lj":
        raise ValueError(f"potential must be 'lj' (Lennard-Jones), got {potential!r}")
    n_atoms = int(check_scalar(n_atoms, "n_atoms", numbers.Integral, min_val=2))
    lj = LennardJonesCluster(n_atoms)
    cfg = _core.ga.ClusterSearchConfig()
    cfg.n_atoms = n_atoms
    cfg.population_size = int(check_scalar(population_size, "population_size", numbers.Integral, min_val=2))
    cfg.n_children = int(check_scalar(n_children, "n_children", numbers.Integral, min_val=1))
    cfg.mutation_prob = float(check_scalar(mutation_prob, "mutation_prob", numbers.Real, min_val=0, max_val=1))
    cfg.max_relaxations = int(check_scalar(max_relaxations, "max_relaxations", numbers.Integral,
                                           min_val=cfg.population_size))
    if target is None:
        target = lj.optimum
    cfg.target = -1e300 if target is None else float(check_scalar(target, "target", numbers.Real))
    seed = _seed.resolve(seed)
    cfg.seed = seed
    nt = _threads.resolve(n_threads)
    pos = np.zeros((cfg.population_size, 3 * n_atoms))
    energies = np.zeros(cfg.population_size)
    counters = np.zeros(2, dtype=np.int64)
    trace = np.full(cfg.max_relaxations // cfg.n_children + 2, np.nan)
    started = time.perf_counter()
    _core.ga.cluster_init(cfg, pos, energies, counters, lj._core_problem, nt)
    trace[0] = energies.min()

    def reached() -> bool:
        return energies.min() <= cfg.target + cfg.energy_tol

    def advance(n: int) -> None:  # n relaxations: whole generations of n_children
        _core.ga.cluster_run(cfg, pos, energies, counters, lj._core_problem, max(1, n // cfg.n_children), trace, nt)

    # Five generations a call; the search ends early when the target is reached.
    interrupted = [False]
    run_chunks(done=lambda: cfg.max_relaxations if reached() else min(int(counters[1]), cfg.max_relaxations),
               total=cfg.max_relaxations, advance=advance,
               commit=lambda write, stopped: interrupted.__setitem__(0, stopped),
               label=f"LJ{n_atoms} search", unit="relaxations", progress=progress,
               status=lambda: f"best {energies.min():.6f}", first_chunk=5 * cfg.n_children,
               max_chunk=5 * cfg.n_children, warn_stacklevel=3)
    best = int(np.argmin(energies))
    xyz = pos[best].reshape(-1, 3)
    return ClusterResult(
        energy=float(energies[best]), positions=xyz - xyz.mean(axis=0),
        found=target is not None and bool(energies[best] <= cfg.target + cfg.energy_tol), target=target,
        n_relaxations=int(counters[1]), history=trace[: int(counters[0]) + 1].copy(), energies=np.sort(energies),
        seed=seed, elapsed=time.perf_counter() - started, interrupted=interrupted[0],
    )
