"""Genetic algorithms: a real-coded GA whose generations run in C++, with islands.

`GeneticAlgorithm` minimises a built-in problem from `mlsci_fast.ga.problems` (evaluated in C++
on all threads) or a Python function called once per generation with the whole population.
`cluster_search` finds the global minima of Lennard-Jones clusters (cut-and-splice GA with
every child relaxed by L-BFGS in C++). `NSGA2` finds the Pareto front of several objectives.
`CMAES` is Hansen's covariance-matrix adaptation evolution strategy with IPOP restarts, for
smooth, coupled genes such as force-field parameters.
Force-field fitting (GARFfield's approach) is its own family, `mlsci_fast.forcefield`, with
these GAs as its optimisers. Same seed, same run, on any
number of threads; a checkpointed run resumes exactly.
"""

from . import problems
from .cluster import ClusterResult, cluster_search, relax
from .cmaes import CMAES, CMAESResult
from .engine import GAResult, GeneticAlgorithm
from .nsga2 import NSGA2, ParetoResult

__all__ = [
    "CMAES",
    "CMAESResult",
    "ClusterResult",
    "GAResult",
    "GeneticAlgorithm",
    "NSGA2",
    "ParetoResult",
    "cluster_search",
    "problems",
    "relax",
]
