"""Genetic algorithms: a real-coded GA whose generations run in C++, with islands.

`GeneticAlgorithm` minimises a built-in problem from `mlsci_fast.ga.problems` (evaluated in C++
on all threads) or a Python function called once per generation with the whole population.
`NSGA2` finds the Pareto front of several objectives. Same seed, same run, on any number of threads; a checkpointed run resumes exactly.
"""

from . import problems
from .engine import GAResult, GeneticAlgorithm
from .nsga2 import NSGA2, ParetoResult

__all__ = ["GAResult", "GeneticAlgorithm", "NSGA2", "ParetoResult", "problems"]
