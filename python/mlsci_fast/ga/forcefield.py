"""Moved: force fields are their own family, `mlsci_fast.forcefield`. This alias stays for one
release; importing it warns."""

import warnings

from ..forcefield import *  # noqa: F403
from ..forcefield import __all__  # noqa: F401

warnings.warn("mlsci_fast.ga.forcefield moved to mlsci_fast.forcefield; the old name goes in the next release",
              DeprecationWarning, stacklevel=2)
