"""2-D convolution: forward and both gradients against torch's conv2d and autograd, adjointness,
thread-count determinism, the torch layer (gradcheck, drop-in equality) and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from mlsci_fast import conv
from mlsci_fast.nn import Conv2d

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def rel_err(a, b, scale=None):
    """The largest difference relative to the largest reference value, or to `scale` (the sums
    of absolute terms) when larger: a float32 sum that cancels to a small value carries the
    rounding of its terms, not of its result."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ref = np.abs(b).max() if scale is None else max(np.abs(b).max(), np.abs(scale).max())
    return np.abs(a - b).max() / max(ref, 1e-30)


def torch_reference(x, w, b, g, stride, pad4, dilation, groups):
    """Forward output and the three gradients from torch (padding applied explicitly, so that
    asymmetric 'same' padding is covered too)."""
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    tb = None if b is None else torch.from_numpy(b).requires_grad_()
    top, bottom, left, right = pad4
    y = F.conv2d(F.pad(tx, (left, right, top, bottom)), tw, tb, stride, 0, dilation, groups)
    if g is None:
        return y.detach().numpy()
    y.backward(torch.from_numpy(g))
    return y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), None if b is None else tb.grad.numpy()


def check_against_torch(rng, dtype, n, c_in, c_out, hw, khw, stride, padding, dilation, groups, bias=True):
    x = rng.standard_normal((n, c_in, *hw)).astype(dtype)
    w = rng.standard_normal((c_out, c_in // groups, *khw)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if bias else None
    pad4 = conv.normalize_padding(padding, khw, stride, dilation)
    y = conv.conv2d(x, w, b, stride, padding, dilation, groups)
    g = rng.standard_normal(y.shape).astype(dtype)
    ty, tgx, tgw, tgb = torch_reference(x, w, b, g, stride, pad4, dilation, groups)
    gx = conv.conv2d_backward_data(g, w, hw, stride, padding, dilation, groups)
    gw, gb = conv.conv2d_backward_weights(x, g, khw, stride, padding, dilation, groups, bias=bias)
    # the same sums over absolute values: the scale of each result's rounding
    sy, sgx, sgw, sgb = torch_reference(np.abs(x), np.abs(w), None if b is None else np.abs(b), np.abs(g), stride, pad4,
                                        dilation, groups)
    tol = TOL[dtype]
    assert y.dtype == dtype and gx.dtype == dtype and gw.dtype == dtype
    assert y.shape == ty.shape and gx.shape == x.shape and gw.shape == w.shape
    assert rel_err(y, ty, sy) < tol
    assert rel_err(gx, tgx, sgx) < tol
    assert rel_err(gw, tgw, sgw) < tol
    if bias:
        assert rel_err(gb, tgb, sgb) < tol
    else:
        assert gb is None


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 4)), groups * draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    if stride == (1, 1) and draw(st.booleans()):
        padding = "same"
    else:
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    pad4 = conv.normalize_padding(padding, (kh, kw), stride, dilation)
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - pad4[0] - pad4[1]), 13))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - pad4[2] - pad4[3]), 13))
    return dict(n=draw(st.integers(1, 3)), c_in=c_in, c_out=c_out, hw=(h, w), khw=(kh, kw), stride=stride,
                padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()),
                dtype=draw(st.sampled_from([np.float64, np.float32])), seed=draw(st.integers(0, 2**32 - 1)))


@given(conv_cases())
def test_random_shapes_match_torch(case):
    rng = np.random.default_rng(case.pop("seed"))
    check_against_torch(rng, **case)


# Shapes that cross every blocking boundary of the kernel: k depth past one block (kdim > 128),
# pixel blocks, several panels of output channels with a remainder, several bands and batch
# chunks in the backward passes, depthwise, 1x1, strided 7x7 like a ResNet stem.
BIG = [
    dict(n=2, c_in=20, c_out=19, hw=(23, 29), khw=(3, 3), stride=(1, 1), padding=1, dilation=(1, 1), groups=1),
    dict(n=3, c_in=3, c_out=16, hw=(70, 61), khw=(7, 7), stride=(2, 2), padding=3, dilation=(1, 1), groups=1),
    dict(n=2, c_in=8, c_out=8, hw=(40, 33), khw=(3, 3), stride=(1, 1), padding="same", dilation=(2, 2), groups=8),
    dict(n=4, c_in=24, c_out=50, hw=(17, 17), khw=(1, 1), stride=(1, 1), padding=0, dilation=(1, 1), groups=2),
    dict(n=1, c_in=2, c_out=9, hw=(150, 7), khw=(4, 2), stride=(3, 1), padding="valid", dilation=(1, 3), groups=1),
    dict(n=5, c_in=6, c_out=36, hw=(28, 28), khw=(5, 5), stride=(1, 1), padding="same", dilation=(1, 1), groups=3),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", BIG, ids=lambda c: f"{c['c_in']}x{c['hw']}->{c['c_out']}k{c['khw']}g{c['groups']}")
def test_large_shapes_match_torch(rng, dtype, case):
    check_against_torch(rng, dtype, **case)


def test_unbatched_input(rng):
    x = rng.standard_normal((3, 9, 9))
    w = rng.standard_normal((4, 3, 3, 3))
    y = conv.conv2d(x, w, padding=1)
    assert y.shape == (4, 9, 9)
    np.testing.assert_array_equal(y, conv.conv2d(x[None], w, padding=1)[0])


def test_adjointness(rng):
    """<conv(x, w), g> = <x, backward_data(g, w)> = <w, backward_weights(x, g)>."""
    x = rng.standard_normal((2, 6, 19, 14))
    w = rng.standard_normal((4, 3, 3, 2))
    args = dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=2)
    y = conv.conv2d(x, w, **args)
    g = rng.standard_normal(y.shape)
    lhs = np.vdot(y, g)
    assert np.vdot(x, conv.conv2d_backward_data(g, w, x.shape[2:], **args)) == pytest.approx(lhs, rel=1e-12)
    gw, _ = conv.conv2d_backward_weights(x, g, w.shape[2:], **args)
    assert np.vdot(w, gw) == pytest.approx(lhs, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_results_do_not_depend_on_thread_count(rng, dtype):
    x = rng.standard_normal((6, 8, 45, 38)).astype(dtype)
    w = rng.standard_normal((12, 8, 3, 3)).astype(dtype)
    b = rng.standard_normal(12).astype(dtype)
    outs = []
    for t in (1, 2, 3):
        y = conv.conv2d(x, w, b, padding=1, n_threads=t)
        gx = conv.conv2d_backward_data(y, w, x.shape[2:], padding=1, n_threads=t)
        gw, gb = conv.conv2d_backward_weights(x, y, (3, 3), padding=1, bias=True, n_threads=t)
        outs.append((y, gx, gw, gb))
    for other in outs[1:]:
        for a, b2 in zip(outs[0], other):
            np.testing.assert_array_equal(a, b2)


def test_empty_batch(rng):
    w = rng.standard_normal((4, 3, 3, 3))
    y = conv.conv2d(np.zeros((0, 3, 8, 8)), w)
    assert y.shape == (0, 4, 6, 6)
    gw, gb = conv.conv2d_backward_weights(np.zeros((0, 3, 8, 8)), y, (3, 3), bias=True)
    np.testing.assert_array_equal(gw, 0.0)
    np.testing.assert_array_equal(gb, 0.0)


# ---- bad input -------------------------------------------------------------------------------
def test_channel_mismatch_names_both_counts(rng):
    with pytest.raises(ValueError, match="to have 3 channels, but got 4 channels"):
        conv.conv2d(rng.standard_normal((1, 4, 8, 8)), rng.standard_normal((5, 3, 3, 3)))
    with pytest.raises(ValueError, match="to have 4 channels, but got 3 channels"):
        conv.conv2d(rng.standard_normal((1, 3, 8, 8)), rng.standard_normal((4, 2, 3, 3)), groups=2)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(stride=0), ValueError, "stride must be >= 1"),
        (dict(stride=(1, -2)), ValueError, "stride must be >= 1"),
        (dict(dilation=0), ValueError, "dilation must be >= 1"),
        (dict(padding=-1), ValueError, "padding must be >= 0"),
        (dict(padding="full"), ValueError, "'valid' or 'same'"),
        (dict(padding="same", stride=2), ValueError, "not supported for strided"),
        (dict(groups=0), ValueError, "groups must be a positive int"),
        (dict(stride=1.5), TypeError, "stride must be an int or a pair"),
    ],
)
def test_bad_geometry(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv.conv2d(rng.standard_normal((1, 2, 8, 8)), rng.standard_normal((2, 2, 3, 3)), **kwargs)


def test_kernel_larger_than_padded_input(rng):
    with pytest.raises(ValueError, match=r"padded input size per channel \(4 x 6\) is smaller than the \(dilated\) "
                                         r"kernel \(5 x 5\)"):
        conv.conv2d(rng.standard_normal((1, 1, 4, 6)), rng.standard_normal((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="smaller than the"):
        conv.conv2d(rng.standard_normal((1, 1, 5, 5)), rng.standard_normal((1, 1, 3, 3)), dilation=3)


def test_bad_dtypes_and_shapes(rng):
    x, w = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    with pytest.raises(TypeError, match="x must be float32 or float64, got int64"):
        conv.conv2d(x.astype(np.int64), w)
    with pytest.raises(TypeError, match="x is float32, w is float64"):
        conv.conv2d(x.astype(np.float32), w)
    with pytest.raises(ValueError, match=r"x must be 3-D or 4-D, got shape \(6, 6\)"):
        conv.conv2d(x[0, 0], w)
    with pytest.raises(ValueError, match="w must be 4-D"):
        conv.conv2d(x, w[0])
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        conv.conv2d(x, w, np.zeros(4))
    with pytest.raises(ValueError, match="divisible by groups"):
        conv.conv2d(rng.standard_normal((1, 4, 6, 6)), rng.standard_normal((3, 2, 3, 3)), groups=2)
    with pytest.raises(TypeError, match="torch tensor"):
        conv.conv2d(torch.zeros(1, 2, 6, 6, dtype=torch.float64), w)
    with pytest.raises(ValueError, match="grad_output has the wrong shape"):
        conv.conv2d_backward_data(np.zeros((1, 3, 5, 5)), w, (6, 6))


# ---- the torch layer -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [dict(), dict(stride=2, padding=1, bias=False), dict(padding="same", dilation=2), dict(groups=2, padding=(1, 0)),
     dict(padding=1, padding_mode="circular"), dict(padding=2, padding_mode="reflect", stride=(1, 2))],
)
def test_layer_gradcheck_and_equals_torch_layer(kwargs):
    torch.manual_seed(0)
    ours = Conv2d(4, 6, 3, dtype=torch.float64, **kwargs)
    ref = torch.nn.Conv2d(4, 6, 3, dtype=torch.float64, **kwargs)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 4, 9, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ours, (x,))
    y, y_ref = ours(x), ref(x)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, *ours.parameters()), g)
    grads_ref = torch.autograd.grad(y_ref, (x, *ref.parameters()), g)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_layer_float32_unbatched_and_fallback():
    torch.manual_seed(1)
    ours = Conv2d(3, 5, 3, padding=1)
    ref = torch.nn.Conv2d(3, 5, 3, padding=1)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 12, 12)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)
    # bfloat16 is not ours: the layer hands it to torch instead of failing
    xb = torch.randn(1, 3, 12, 12, dtype=torch.bfloat16)
    ours_b, ref_b = ours.to(torch.bfloat16), ref.to(torch.bfloat16)
    torch.testing.assert_close(ours_b(xb), ref_b(xb))


def test_layer_skips_unneeded_gradients():
    layer = Conv2d(2, 3, 3, dtype=torch.float64)
    layer.weight.requires_grad_(False)
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and layer.weight.grad is None and layer.bias.grad is not None


def test_functional_errors():
    from mlsci_fast.nn import conv2d

    w = torch.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match="to have 2 channels, but got 5 channels"):
        conv2d(torch.randn(1, 5, 6, 6), w)
    with pytest.raises(TypeError, match="same dtype"):
        conv2d(torch.randn(1, 2, 6, 6, dtype=torch.float64), w)
    with pytest.raises(TypeError, match="float32 or float64"):
        conv2d(torch.zeros(1, 2, 6, 6, dtype=torch.int64), w)
    with pytest.raises(ValueError, match="smaller than the"):
        conv2d(torch.randn(1, 2, 2, 2), w)


def test_cnn_with_our_layer_trains_like_torch():
    """The same small CNN from the same seed, once on our kernel and once on torch's, reaches the
    same accuracy on the digits (the weights differ only by rounding)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from mlsci_fast.nn import Model, small_cnn

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    X_train, X_test, y_train, y_test = train_test_split(X, d.target, test_size=0.25, random_state=0, stratify=d.target)
    results = []
    for layer in (Conv2d, torch.nn.Conv2d):
        torch.manual_seed(0)
        model = Model(small_cnn(1, 10, (8, 8), conv=layer)).compile("adam", "cross_entropy", ["accuracy"])
        model.fit(X_train, y_train, epochs=8, batch_size=32, seed=0, verbose=0)
        results.append(model.evaluate(X_test, y_test)["accuracy"])
    assert results[0] > 0.9
    assert abs(results[0] - results[1]) <= 0.01
