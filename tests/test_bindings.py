"""The bindings refuse (never silently copy) arrays the Python layer has not converted."""

import numpy as np
import pytest

from mlsci_fast import _core

KT = _core.svm.KernelType


def good(n=4, d=3):
    return np.arange(n * d, dtype=np.float64).reshape(n, d)


GRAM_ARGS = (KT.rbf, 0.5, 0.0, 3.0, False, 1)


@pytest.mark.parametrize(
    "bad",
    [
        good().astype(np.float32),
        good().astype(np.int64),
        np.asfortranarray(good(4, 3)),
        good(8, 3)[::2],
    ],
    ids=["float32", "int64", "fortran", "strided"],
)
def test_gram_matrix_refuses_unconverted_arrays(bad):
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.svm.gram_matrix(bad, good(), *GRAM_ARGS)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.svm.gram_matrix(good(), bad, *GRAM_ARGS)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.svm.euclidean_distances(bad, good(), False, False, 1)


def test_philox_refuses_unconverted_arrays():
    ok_c, ok_k = np.zeros((1, 4), np.uint32), np.zeros((1, 2), np.uint32)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.random.philox4x32(ok_c.astype(np.int64), ok_k, 10)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _core.random.philox4x32(ok_c, ok_k.astype(np.uint64), 10)


def test_cpp_errors_become_value_errors():
    """C++ checks are a second line behind _validation.py: they raise ValueError, never crash."""
    with pytest.raises(ValueError, match="gram_matrix: X has 3 features but Y has 2"):
        _core.svm.gram_matrix(good(), good(4, 2), *GRAM_ARGS)
    with pytest.raises(ValueError, match="gram_matrix: gamma must be a finite number >= 0"):
        _core.svm.gram_matrix(good(), good(), KT.rbf, -1.0, 0.0, 3.0, False, 1)
    with pytest.raises(ValueError, match="gram_matrix: symmetric=true needs Y to be X"):
        _core.svm.gram_matrix(good(), good(), KT.rbf, 1.0, 0.0, 3.0, True, 1)
    with pytest.raises(ValueError, match="X must be 2-D, got 1-D"):
        _core.svm.gram_matrix(np.zeros(3), good(), *GRAM_ARGS)
    with pytest.raises(ValueError, match="resolve_threads: n_threads must be >= 0"):
        _core.svm.gram_matrix(good(), good(), KT.rbf, 1.0, 0.0, 3.0, False, -2)
    with pytest.raises(ValueError, match="philox4x32: rounds must be 7 or 10"):
        _core.random.philox4x32(np.zeros((1, 4), np.uint32), np.zeros((1, 2), np.uint32), 9)
    with pytest.raises(ValueError, match="n must be >= 0"):
        _core.random.uniform(-1, 0, 0, 1)


def test_zero_copy_output_is_a_fresh_c_array():
    K = _core.svm.gram_matrix(good(), good(), *GRAM_ARGS)
    assert K.flags.c_contiguous and K.flags.owndata and K.dtype == np.float64
