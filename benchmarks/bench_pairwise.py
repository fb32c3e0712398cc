"""Kernel matrices: mlsci_fast.pairwise vs sklearn.metrics.pairwise (numpy + OpenBLAS)."""

import numpy as np
import pytest
from sklearn.metrics import pairwise as skp

from mlsci_fast import pairwise

rng = np.random.default_rng(0)
DATA = {
    "4000x50": (rng.standard_normal((4000, 50)), None),
    "4000x2000x50": (rng.standard_normal((4000, 50)), rng.standard_normal((2000, 50))),
    "10000x2000x20": (rng.standard_normal((10000, 20)), rng.standard_normal((2000, 20))),
    "2000x1000x500": (rng.standard_normal((2000, 500)), rng.standard_normal((1000, 500))),
}
IMPLS = {
    "rbf": {"mlsci_fast": pairwise.rbf_kernel, "sklearn": skp.rbf_kernel},
    "euclidean": {"mlsci_fast": pairwise.euclidean_distances, "sklearn": skp.euclidean_distances},
}
CASES = [("rbf", shape) for shape in DATA] + [("euclidean", "4000x2000x50")]


@pytest.mark.parametrize("impl", ["mlsci_fast", "sklearn"])
@pytest.mark.parametrize(("kernel", "shape"), CASES)
def bench_kernel_matrix(benchmark, record, kernel, shape, impl):
    X, Y = DATA[shape]
    benchmark.group = f"{kernel}-{shape}"
    record(impl)
    K = benchmark(IMPLS[kernel][impl], X, Y)
    # Same answer as the peer, or the timing means nothing.
    np.testing.assert_allclose(K, IMPLS[kernel]["sklearn"](X, Y), rtol=1e-9, atol=1e-9)
