"""The counter-based generator: known answers, distributions, stream independence, threads."""

import numpy as np
import pytest
from scipy import stats

import mlsci_fast
from mlsci_fast import random as mrandom

# Random123's kat_vectors (Salmon et al. 2011): counter (4 words), key (2 words) -> output.
KAT = {
    7: [
        ([0, 0, 0, 0], [0, 0], [0x5F6FB709, 0x0D893F64, 0x4F121F81, 0x4F730A48]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x5207DDC2, 0x45165E59, 0x4D8EE751, 0x8C52F662]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0x4DFCCABA, 0x190A87F0, 0xC47362BA, 0xB6B5242A],
        ),
    ],
    10: [
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ],
}


@pytest.mark.parametrize("rounds", [7, 10])
def test_philox_known_answers(rounds):
    ctr = np.array([c for c, _, _ in KAT[rounds]], dtype=np.uint32)
    key = np.array([k for _, k, _ in KAT[rounds]], dtype=np.uint32)
    want = np.array([o for _, _, o in KAT[rounds]], dtype=np.uint32)
    np.testing.assert_array_equal(mrandom.philox4x32(ctr, key, rounds=rounds), want)


def test_philox_bad_input():
    with pytest.raises(ValueError, match="rounds must be 7 or 10"):
        mrandom.philox4x32([[0, 0, 0, 0]], [[0, 0]], rounds=8)
    with pytest.raises(ValueError, match=r"counters must have shape \(n, 4\)"):
        mrandom.philox4x32([[0, 0, 0]], [[0, 0]])
    with pytest.raises(ValueError, match=r"keys must have shape \(1, 2\)"):
        mrandom.philox4x32([[0, 0, 0, 0]], [[0, 0, 0]])
    with pytest.raises(TypeError, match="counters must hold unsigned 32-bit integers"):
        mrandom.philox4x32([[0.5, 0, 0, 0]], [[0, 0]])
    with pytest.raises(ValueError, match=r"keys must hold integers in \[0, 2\*\*32\)"):
        mrandom.philox4x32([[0, 0, 0, 0]], [[-1, 0]])


N = 400_000


def test_uniform_distribution():
    u = mrandom.uniform(N, seed=7)
    assert u.dtype == np.float64 and u.shape == (N,)
    assert u.min() >= 0.0 and u.max() < 1.0
    # Mean and variance of U(0, 1) within 5 standard errors.
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / N)
    # Kolmogorov-Smirnov and chi-square on 100 bins; fixed seed, so deterministic.
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    counts = np.bincount((u * 100).astype(int), minlength=100)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_normal_distribution():
    z = mrandom.normal(N, seed=11)
    assert abs(z.mean()) < 5 / np.sqrt(N)
    assert abs(z.var() - 1) < 5 * np.sqrt(2 / N)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / N)
    assert abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / N)
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_loc_scale_low_high():
    np.testing.assert_allclose(mrandom.uniform(10, 3, low=2, high=5), 2 + 3 * mrandom.uniform(10, 3))
    np.testing.assert_allclose(mrandom.normal(10, 3, loc=1, scale=2), 1 + 2 * mrandom.normal(10, 3))
    assert mrandom.uniform((3, 4), 1).shape == (3, 4)
    assert mrandom.normal(0, 1).shape == (0,)


def test_streams_are_independent():
    """Different seeds, steps and neighbouring seeds give uncorrelated, distinct streams."""
    base = mrandom.uniform(N, seed=1)
    for other in (
        mrandom.uniform(N, seed=2),
        mrandom.uniform(N, seed=1, step=1),
        mrandom.uniform(N, seed=1 + 2**32),  # differs only in the key's high word
    ):
        assert not np.any(base == other)
        assert abs(np.corrcoef(base, other)[0, 1]) < 5 / np.sqrt(N)
    # Neighbouring elements of one stream are uncorrelated too (lag-1 and lag-2).
    for lag in (1, 2):
        assert abs(np.corrcoef(base[:-lag], base[lag:])[0, 1]) < 5 / np.sqrt(N)


def test_prefix_property():
    """Element i depends only on (seed, step, i): a longer draw extends a shorter one."""
    np.testing.assert_array_equal(mrandom.uniform(1001, 5)[:1000], mrandom.uniform(1000, 5))
    np.testing.assert_array_equal(mrandom.normal(999, 5)[:998], mrandom.normal(998, 5))


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_bitwise_identical_across_thread_counts(kind):
    draw = getattr(mrandom, kind)
    ref = draw(100_001, seed=123, n_threads=1)
    for n_threads in (2, 3, 7):
        np.testing.assert_array_equal(draw(100_001, seed=123, n_threads=n_threads), ref)
    mlsci_fast.set_num_threads(2)
    try:
        np.testing.assert_array_equal(draw(100_001, seed=123), ref)
    finally:
        mlsci_fast.set_num_threads(None)


def test_seed_none_draws_fresh_entropy():
    assert not np.array_equal(mrandom.uniform(8), mrandom.uniform(8))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        ({"seed": 2**64}, ValueError, r"seed must be in \[0, 2\*\*64\)"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
        ({"seed": 1, "step": -1}, ValueError, "step must be >= 0"),
        ({"seed": 1, "step": 2**32}, ValueError, "step must be <= 4294967295"),
        ({"seed": 1, "n_threads": 0}, ValueError, "n_threads must be >= 1"),
        ({"seed": 1, "low": 1.0, "high": 1.0}, ValueError, "high must be > low"),
        ({"seed": 1, "low": float("nan")}, ValueError, "low must be finite"),
    ],
)
def test_uniform_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        mrandom.uniform(10, **kwargs)


def test_bad_size_and_scale():
    with pytest.raises(ValueError, match="size must be >= 0"):
        mrandom.uniform(-1, 0)
    with pytest.raises(TypeError, match="size must be an int or a tuple of ints"):
        mrandom.uniform(2.5, 0)
    with pytest.raises(ValueError, match="scale must be >= 0"):
        mrandom.normal(3, 0, scale=-1.0)
    with pytest.raises(TypeError, match="size must be Integral"):
        mrandom.uniform((2, 1.5), 0)


def test_seed_from_numpy_generators():
    from mlsci_fast import _seed

    a = _seed.resolve(np.random.default_rng(0))
    b = _seed.resolve(np.random.default_rng(0))
    assert a == b and 0 <= a < 2**64
    assert _seed.resolve(np.random.RandomState(0)) == _seed.resolve(np.random.RandomState(0))


@pytest.mark.parametrize("n", [1, 5, 6, 15, 16, 17, 31, 32, 33, 48, 64, 100])
def test_vectorised_philox_blocks_equal_the_reference(n, rng):
    """The batched, vectorised Philox (used by the Ising sweeps) gives the KAT-checked words."""
    from mlsci_fast import _core

    key = rng.integers(0, 2**32, size=2, dtype=np.uint64)
    draw, first, step, tag = (int(v) for v in rng.integers(0, 2**32 - 200, size=4))
    blocks = _core.random.philox4x32_blocks(int(key[0]), int(key[1]), draw, first, step, tag, n)
    counters = np.array([[draw, first + k, step, tag] for k in range(n)], dtype=np.uint32)
    keys = np.tile(key.astype(np.uint32), (n, 1))
    np.testing.assert_array_equal(blocks, mrandom.philox4x32(counters, keys))
