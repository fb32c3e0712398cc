import os

import numpy as np
import pytest
from hypothesis import settings

# Property tests call compiled kernels whose first call may be slow: no per-example deadline.
settings.register_profile("mlsci", deadline=None, max_examples=50)
settings.load_profile("mlsci")

_SEEDS = list(range(100)) if os.environ.get("MLSCI_TESTS_SEEDS") == "all" else [42]


@pytest.fixture(params=_SEEDS)
def seed(request):
    """42 by default; MLSCI_TESTS_SEEDS=all runs each test for seeds 0..99."""
    return request.param


@pytest.fixture
def rng(seed):
    return np.random.default_rng(seed)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test drew: matplotlib warns (an error here) past 20 open figures."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
