"""Our Conv2d checked the way torch's module tests check a layer: gradients of every order
(gradcheck, gradgradcheck, a loss containing dy/dx), torch.func (vmap, grad, jvp, jacrev,
functional_call, forward-mode AD), graph capture (torch.compile fullgraph, torch.export,
torch.jit.script), memory format, autocast and exception types, all against torch's own
Conv2d on the same parameters."""

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, jacrev, jvp, vmap

from mlsci_fast.nn import Conv2d, ConvShapeError, ConvTypeError, conv2d

# torch's forward-mode AD scripts its own decompositions on first use, and TorchScript warns
# that it is deprecated (torch's warning, not ours)
pytestmark = pytest.mark.filterwarnings(r"ignore:`torch\.jit\.script.*` is deprecated:DeprecationWarning")

# the geometries torch's module tests vary: stride, padding (int, pair, 'same'), dilation, groups,
# no bias, padding modes
CONFIGS = [
    dict(),
    dict(stride=2, padding=1, bias=False),
    dict(padding="same", dilation=2),
    dict(groups=2, padding=(1, 0)),
    dict(stride=(2, 1), dilation=(1, 2), padding=(2, 1)),
    dict(padding=1, padding_mode="circular"),
    dict(padding=2, padding_mode="reflect", stride=(1, 2)),
]


def pair(seed=0, c_in=4, c_out=6, k=3, **kwargs):
    torch.manual_seed(seed)
    ours = Conv2d(c_in, c_out, k, dtype=torch.float64, **kwargs)
    ref = torch.nn.Conv2d(c_in, c_out, k, dtype=torch.float64, **kwargs)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def close(a, b, tol=1e-10):
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


# ---- higher-order gradients -----------------------------------------------------------------
def test_input_gradient_penalty_gets_every_weight_term():
    """The issue's example: a loss with dy/dx in it. The backward used to be differentiable only
    once and silently dropped the penalty's weight gradient ([-0.38, -0.33, -0.32])."""
    grads = []
    for cls in (torch.nn.Conv2d, Conv2d):
        torch.manual_seed(0)
        m = cls(1, 1, 3).double()
        x = torch.randn(1, 1, 5, 5, dtype=torch.float64, requires_grad=True)
        (gx,) = torch.autograd.grad(m(x).sum(), x, create_graph=True)
        (m(x).mean() + (gx**2).sum()).backward()
        grads.append(m.weight.grad.clone())
    close(grads[1], grads[0], 1e-12)
    close(grads[1][0, 0, 0], torch.tensor([-2.5830, -1.7834, -3.1975], dtype=torch.float64), 1e-4)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_gradgradcheck_in_input_weight_and_bias(kwargs):
    ours, _ = pair(**kwargs)
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64, requires_grad=True)
    params = [p for p in (ours.weight, ours.bias) if p is not None]
    pad = ours._reversed_padding_repeated_twice if ours.padding_mode != "zeros" else None

    def f(x, w, b=None):
        if pad is not None:
            return conv2d(F.pad(x, pad, mode=ours.padding_mode), w, b, ours.stride, 0, ours.dilation, ours.groups)
        return conv2d(x, w, b, ours.stride, ours.padding, ours.dilation, ours.groups)

    assert torch.autograd.gradcheck(f, (x, *params))
    assert torch.autograd.gradgradcheck(f, (x, *params))


def test_third_order_derivative_equals_torch():
    ours, ref = pair(stride=2, padding=1)
    outs = []
    for m in (ours, ref):
        x = torch.randn(2, 4, 7, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
        (g1,) = torch.autograd.grad(torch.tanh(m(x)).sum(), x, create_graph=True)
        (g2,) = torch.autograd.grad((g1**2).sum(), x, create_graph=True)
        outs.append(torch.autograd.grad((g2**2).sum(), m.weight)[0])
    close(outs[0], outs[1])


# ---- torch.func ------------------------------------------------------------------------------
def test_per_sample_gradients_equal_torch():
    ours, ref = pair(c_in=3, c_out=4, padding=1)
    X = torch.randn(5, 3, 6, 6, dtype=torch.float64)
    params = {k: v.detach() for k, v in ours.named_parameters()}

    def per_sample(module):
        def loss(p, x):
            return (torch.tanh(functional_call(module, p, (x[None],))) ** 2).sum()
        return vmap(grad(loss), in_dims=(None, 0))(params, X)

    a, b = per_sample(ours), per_sample(ref)
    assert a["weight"].shape == (5, 4, 3, 3, 3)
    for k in a:
        close(a[k], b[k])


def test_vmap_over_weights_and_inputs():
    """Model ensembling (a batch of weights) and batched inputs, with and without bias."""
    X = torch.randn(3, 2, 4, 7, 7, dtype=torch.float64)
    W = torch.randn(3, 5, 4, 3, 3, dtype=torch.float64)
    B = torch.randn(3, 5, dtype=torch.float64)
    close(vmap(lambda x, w, b: conv2d(x, w, b, padding=1))(X, W, B),
          vmap(lambda x, w, b: F.conv2d(x, w, b, padding=1))(X, W, B))
    close(vmap(lambda w: conv2d(X[0], w, stride=2))(W), vmap(lambda w: F.conv2d(X[0], w, stride=2))(W))
    close(vmap(lambda x: conv2d(x, W[0], B[0]), in_dims=1)(X), vmap(lambda x: F.conv2d(x, W[0], B[0]), in_dims=1)(X))


def test_jvp_jacrev_and_forward_ad_equal_torch():
    ours, ref = pair(c_in=2, c_out=3, stride=2, padding=1)
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    t = torch.randn_like(x)
    close(jvp(ours, (x,), (t,))[1], jvp(ref, (x,), (t,))[1])
    close(jacrev(ours)(x), jacrev(ref)(x))
    # tangents in weight and bias as well
    w, b = ours.weight.detach(), ours.bias.detach()
    dw, db = torch.randn_like(w), torch.randn_like(b)
    close(jvp(lambda w, b: conv2d(x, w, b, 2, 1), (w, b), (dw, db))[1],
          jvp(lambda w, b: F.conv2d(x, w, b, 2, 1), (w, b), (dw, db))[1])
    # jacobians of the gradient (Hessian-vector style), through forward-over-reverse
    hv = jvp(grad(lambda x: torch.tanh(ours(x)).sum()), (x,), (t,))[1]
    hv_ref = jvp(grad(lambda x: torch.tanh(ref(x)).sum()), (x,), (t,))[1]
    close(hv, hv_ref)
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        y = fwAD.unpack_dual(ours(fwAD.make_dual(x, t))).tangent
    close(y, jvp(ref, (x,), (t,))[1])


# ---- graph capture ---------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compile_fullgraph_forward_and_backward(backend):
    ours, ref = pair(c_in=3, c_out=4, padding=1, stride=(1, 2))
    torch._dynamo.reset()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    f = torch.compile(lambda x: (torch.tanh(ours(x)) ** 2).sum(), fullgraph=True, backend=backend)
    loss = f(x)
    grads = torch.autograd.grad(loss, (x, ours.weight, ours.bias))
    loss_ref = (torch.tanh(ref(x)) ** 2).sum()
    grads_ref = torch.autograd.grad(loss_ref, (x, ref.weight, ref.bias))
    close(loss, loss_ref)
    for a, b in zip(grads, grads_ref):
        close(a, b)


def test_export_captures_our_operator():
    ours, ref = pair(c_in=3, c_out=4, padding="same")
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    ep = torch.export.export(torch.nn.Sequential(ours, torch.nn.ReLU()), (x,))
    assert "mlsci_fast.conv2d" in str(ep.graph)
    close(ep.module()(x), torch.relu(ref(x)))


def test_jit_script_runs_torchs_layer_with_the_same_parameters():
    ours, ref = pair(c_in=3, c_out=4, padding=1)
    scripted = torch.jit.script(torch.nn.Sequential(ours, torch.nn.ReLU()))
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    close(scripted(x), torch.relu(ref(x)))
    assert scripted[0].weight is ours.weight  # the same Parameter, not a copy


# ---- torch's conventions ---------------------------------------------------------------------
def test_channels_last_is_kept():
    ours, ref = pair(c_in=3, c_out=4, padding=1)
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64).contiguous(memory_format=torch.channels_last).requires_grad_()
    y, y_ref = ours(x), ref(x)
    assert y.is_contiguous(memory_format=torch.channels_last) == y_ref.is_contiguous(memory_format=torch.channels_last)
    assert y.is_contiguous(memory_format=torch.channels_last)
    close(y, y_ref)
    (gx,) = torch.autograd.grad(y.sum(), x)
    close(gx, torch.autograd.grad(y_ref.sum(), x)[0])


@pytest.mark.parametrize("channels_last", [False, True])
def test_operators_pass_torchs_opcheck(channels_last):
    """torch.library.opcheck: schema, fake (meta) kernels that promise the shapes, strides and
    layout the real ones give, and the autograd registrations, for all three operators."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    w = torch.randn(6, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, dtype=torch.float64, requires_grad=True)
    geometry = ([2, 1], [1, 1, 0, 2], [1, 2], 2)
    y = torch.ops.mlsci_fast.conv2d(x, w, b, *geometry)
    g = torch.randn(y.shape, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    torch.library.opcheck(torch.ops.mlsci_fast.conv2d.default, (x, w, b, *geometry))
    torch.library.opcheck(torch.ops.mlsci_fast.conv2d_backward_data.default, (g, w, [7, 6], *geometry))
    torch.library.opcheck(torch.ops.mlsci_fast.conv2d_backward_weight.default, (x, g, [3, 3], *geometry))


def test_autocast_to_bfloat16_follows_torch():
    torch.manual_seed(0)
    ours, ref = Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(1, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, y_ref = ours(x), ref(x)
    assert y.dtype == y_ref.dtype == torch.bfloat16
    close(y, y_ref, 0)


def test_errors_are_torchs_types_and_ours():
    w = torch.randn(3, 2, 3, 3)
    with pytest.raises(RuntimeError, match="to have 2 channels, but got 5 channels") as info:
        conv2d(torch.randn(1, 5, 6, 6), w)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConvShapeError)
    with pytest.raises(RuntimeError, match="smaller than the"):
        conv2d(torch.randn(1, 2, 2, 2), w)
    with pytest.raises(RuntimeError, match="same dtype") as info:
        conv2d(torch.randn(1, 2, 6, 6, dtype=torch.float64), w)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ConvTypeError)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        conv2d(torch.randn(1, 2, 6, 6), w, torch.zeros(4))
    # torch's own layer raises RuntimeError for the same channel mistake
    with pytest.raises(RuntimeError):
        F.conv2d(torch.randn(1, 5, 6, 6), w)


# ---- the physics-informed example ------------------------------------------------------------
def test_physics_informed_cnn_trains_as_with_torchs_layer():
    """Every step differentiates the convolution three times; the loss curves agree to rounding."""
    from mlsci_fast.nn.pinn import poisson_pinn

    ours = poisson_pinn(Conv2d, n_grid=10, steps=80)
    ref = poisson_pinn(torch.nn.Conv2d, n_grid=10, steps=80)
    assert ours.loss[-1] < 0.2 * ours.loss[0]
    assert max(abs(ours.loss - ref.loss) / ref.loss) < 1e-9
    assert abs(ours.l2_error - ref.l2_error) < 1e-9
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        poisson_pinn(Conv2d, steps=0)


def test_pinn_example_runs_as_a_script(tmp_path, capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "pinn_poisson.py"
    spec = importlib.util.spec_from_file_location("pinn_poisson", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--steps", "20", "--grid", "8", "--out", str(tmp_path / "pinn.png")])
    assert "largest relative difference between the two loss curves" in capsys.readouterr().out
    assert (tmp_path / "pinn.png").stat().st_size > 10_000
