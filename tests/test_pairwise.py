"""Kernel matrices against scikit-learn's sklearn.metrics.pairwise (an independent reference)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import pairwise as skp

from mlsci_fast import pairwise

KERNELS = {
    "rbf": ({"gamma": 0.3}, skp.rbf_kernel),
    "linear": ({}, skp.linear_kernel),
    "poly": ({"degree": 3, "gamma": 0.2, "coef0": 1.5}, skp.polynomial_kernel),
    "sigmoid": ({"gamma": 0.05, "coef0": 0.5}, skp.sigmoid_kernel),
}


def ours(name):
    return getattr(pairwise, {"rbf": "rbf_kernel", "linear": "linear_kernel", "poly": "polynomial_kernel",
                              "sigmoid": "sigmoid_kernel"}[name])


# Shapes that cross tile edges (tiles are 128 x 128) and are not multiples of the SIMD width.
SHAPES = [(1, 1, 1), (5, 3, 2), (127, 129, 7), (300, 257, 31), (130, 1, 3)]


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize(("n", "m", "d"), SHAPES)
def test_matches_sklearn(name, n, m, d, rng):
    params, reference = KERNELS[name]
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((m, d))
    np.testing.assert_allclose(ours(name)(X, Y, **params), reference(X, Y, **params), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(ours(name)(X, **params), reference(X, **params), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name", ["rbf", "poly", "sigmoid"])
def test_default_gamma_is_one_over_n_features(name, rng):
    X = rng.standard_normal((40, 6))
    np.testing.assert_allclose(ours(name)(X), KERNELS[name][1](X), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("squared", [False, True])
def test_euclidean_distances_match_sklearn(squared, rng):
    X, Y = rng.standard_normal((211, 13)), rng.standard_normal((150, 13))
    np.testing.assert_allclose(
        pairwise.euclidean_distances(X, Y, squared=squared),
        skp.euclidean_distances(X, Y, squared=squared),
        rtol=1e-10,
        atol=1e-10,
    )
    D = pairwise.euclidean_distances(X, squared=squared)
    np.testing.assert_allclose(D, skp.euclidean_distances(X, squared=squared), rtol=1e-10, atol=1e-10)
    assert np.all(np.diag(D) == 0.0)


def test_symmetric_result_is_exactly_symmetric(rng):
    X = rng.standard_normal((333, 9))
    K = pairwise.rbf_kernel(X)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_array_equal(np.diag(K), 1.0)
    # Passing X as Y explicitly takes the general path and agrees to rounding.
    np.testing.assert_allclose(pairwise.rbf_kernel(X, X), K, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_bitwise_identical_across_thread_counts(name, rng):
    params = KERNELS[name][0]
    X, Y = rng.standard_normal((517, 23)), rng.standard_normal((300, 23))
    ref_xy = ours(name)(X, Y, n_threads=1, **params)
    ref_xx = ours(name)(X, n_threads=1, **params)
    for n_threads in (2, 3):
        np.testing.assert_array_equal(ours(name)(X, Y, n_threads=n_threads, **params), ref_xy)
        np.testing.assert_array_equal(ours(name)(X, n_threads=n_threads, **params), ref_xx)


def test_converts_float32_int_and_non_contiguous_input(rng):
    X = rng.standard_normal((50, 8))
    want = skp.rbf_kernel(X, X[::2])
    np.testing.assert_allclose(pairwise.rbf_kernel(np.asfortranarray(X), X[::2]), want, rtol=1e-12)
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(pairwise.rbf_kernel(X32), skp.rbf_kernel(X32.astype(np.float64)), rtol=1e-12)
    Xi = rng.integers(-3, 4, size=(20, 5))
    np.testing.assert_allclose(pairwise.linear_kernel(Xi), Xi @ Xi.T)
    np.testing.assert_allclose(pairwise.linear_kernel(X.tolist()), X @ X.T, rtol=1e-12)


@pytest.mark.parametrize(
    ("X", "Y", "exc", "match"),
    [
        (np.zeros(5), None, ValueError, r"X must be a 2-D array, got a 1-D array of shape \(5,\).*reshape"),
        (np.zeros((2, 3, 4)), None, ValueError, "X must be a 2-D array, got a 3-D array"),
        (np.zeros((0, 3)), None, ValueError, r"X is empty \(shape \(0, 3\)\)"),
        (np.zeros((3, 0)), None, ValueError, r"X is empty \(shape \(3, 0\)\)"),
        (np.array([[1.0, np.nan]]), None, ValueError, r"X contains NaN \(first at index \(0, 1\)\)"),
        (np.array([[1.0], [np.inf]]), None, ValueError, r"X contains infinity \(first at index \(1, 0\)\)"),
        (np.zeros((2, 3)), np.array([[-np.inf, 0.0, 0.0]]), ValueError, "Y contains infinity"),
        (np.zeros((2, 3)), np.zeros((2, 4)), ValueError, "X has 3 features but Y has 4"),
        (np.array([["a", "b"]]), None, TypeError, "X must hold real numbers, got dtype <U1"),
        (np.ones((2, 2), dtype=complex), None, TypeError, "X must hold real numbers, got complex"),
        (None, None, TypeError, "X must be an array-like of real numbers, got None"),
        (np.zeros((2, 2)), np.array([None, 1.0]), ValueError, "Y must be a 2-D array"),
    ],
)
def test_bad_arrays(X, Y, exc, match):
    with pytest.raises(exc, match=match):
        pairwise.rbf_kernel(X, Y)


def test_sparse_input_is_refused_with_a_hint():
    from scipy import sparse

    with pytest.raises(TypeError, match=r"X is a sparse matrix \(csr_matrix\).*toarray"):
        pairwise.rbf_kernel(sparse.csr_matrix(np.eye(3)))


@pytest.mark.parametrize(
    ("func", "kwargs", "exc", "match"),
    [
        (pairwise.rbf_kernel, {"gamma": -1.0}, ValueError, "gamma must be >= 0.0, got -1.0"),
        (pairwise.rbf_kernel, {"gamma": np.nan}, ValueError, "gamma must be finite"),
        (pairwise.rbf_kernel, {"gamma": "scale"}, TypeError, "gamma must be Real"),
        (pairwise.polynomial_kernel, {"degree": 0.5}, ValueError, "degree must be >= 1.0"),
        (pairwise.sigmoid_kernel, {"coef0": np.inf}, ValueError, "coef0 must be finite"),
        (pairwise.linear_kernel, {"n_threads": 0}, ValueError, "n_threads must be >= 1"),
        (pairwise.linear_kernel, {"n_threads": 1.5}, TypeError, "n_threads must be a positive int"),
    ],
)
def test_bad_parameters(func, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        func(np.ones((3, 2)), **kwargs)


finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


@given(
    X=arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 6)), elements=finite),
    gamma=st.floats(1e-4, 1.0),
)
def test_rbf_properties(X, gamma):
    """K is symmetric, in [0, 1], with ones on the diagonal, and positive semi-definite."""
    K = pairwise.rbf_kernel(X, gamma=gamma)
    np.testing.assert_array_equal(K, K.T)
    assert np.all(np.diag(K) == 1.0)
    assert np.all((K >= 0.0) & (K <= 1.0))
    assert np.linalg.eigvalsh(K).min() > -1e-8 * len(K)


@given(
    X=arrays(np.float64, st.tuples(st.integers(1, 30), st.just(4)), elements=finite),
    Y=arrays(np.float64, st.tuples(st.integers(1, 30), st.just(4)), elements=finite),
    a=st.floats(-3, 3),
)
def test_linear_kernel_is_bilinear(X, Y, a):
    K = pairwise.linear_kernel(X, Y)
    np.testing.assert_allclose(K, X @ Y.T, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(pairwise.linear_kernel(a * X, Y), a * K, rtol=1e-10, atol=1e-8)
