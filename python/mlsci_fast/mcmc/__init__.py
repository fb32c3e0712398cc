"""Bayesian parameter estimation by Markov chain Monte Carlo.

- `nuts`, `hmc`, `metropolis`: independent chains with Stan's warmup adaptation (step size by
  dual averaging, diagonal or dense metric), in C++, one chain per thread; `resume` continues a
  checkpointed run.
- `run_chains`: independent ensembles, here or on a Dask cluster (``client=``).
- `EnsembleSampler`: emcee's interface and semantics (stretch, DE and DE-snooker moves), with
  the step loop in C++. With a built-in target from `mlsci_fast.mcmc.targets` the whole run is
  C++ on all threads; a Python ``log_prob`` function works too (vectorised or one point per call).
- `diagnostics`: autocorrelation times, split-R-hat, bulk/tail ESS; `to_arviz` for ArviZ.
- `plots`: corner and trace plots.

Every random number is a function of (seed, step, walker, chain): the same seed gives the same
chain on any number of threads, and a checkpointed run resumes bit for bit.
"""

from . import chains, diagnostics, moves, plots, targets
from .chains import ChainResult, hmc, metropolis, nuts, resume
from .diagnostics import AutocorrError
from .moves import DEMove, DESnookerMove, StretchMove
from .sampler import EnsembleSampler, State, run_chains

__all__ = [
    "AutocorrError",
    "ChainResult",
    "DEMove",
    "DESnookerMove",
    "EnsembleSampler",
    "State",
    "StretchMove",
    "chains",
    "diagnostics",
    "hmc",
    "metropolis",
    "moves",
    "nuts",
    "plots",
    "resume",
    "run_chains",
    "targets",
]
