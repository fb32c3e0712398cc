"""`Conv2d`: torch's Conv2d layer with forward and gradients computed by our C++ kernel.

The kernel is registered as three torch operators (``torch.ops.mlsci_fast.conv2d``,
``conv2d_backward_data`` and ``conv2d_backward_weight``), each with a fake (meta) kernel for
shape propagation, an autograd formula and a vmap rule, and as three autograd Functions with
the same rules plus forward-mode (jvp) ones, for eager calls and torch.func. So the layer works
under ``torch.compile(fullgraph=True)``, ``torch.export``, ``torch.func`` (``vmap``,
``grad``, ``jvp``, ``jacrev``, ``functional_call``) and to any order of differentiation.

Why higher-order gradients are exact: the convolution is bilinear, and the three operators are
three views of one trilinear form ``T(x, w, g) = <conv2d(x, w), g> = <x, backward_data(g, w)>
= <w, backward_weight(x, g)>``. The derivative of each operator is therefore one of the other
two, all our own kernels again, and a loss containing ``dy/dx`` (a PINN residual, a gradient
penalty) gets every term of its weight gradient.

Tensors reach the kernel without copies when they are contiguous: the tensor and the numpy
array the kernel reads share memory (``Tensor.numpy()``), and the kernel's output array becomes
the result tensor (``torch.from_numpy``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .. import _core
from .._threads import get_num_threads
from ..conv import _geometry

__all__ = ["Conv2d", "ConvShapeError", "ConvTypeError", "conv2d"]

_SUPPORTED = (torch.float32, torch.float64)


class ConvShapeError(RuntimeError, ValueError):
    """A shape or geometry the convolution cannot take. A ``RuntimeError`` as torch raises for
    the same mistake (so code that catches torch's error catches ours), and a ``ValueError``,
    as the rest of mlsci_fast raises for bad arguments."""


class ConvTypeError(RuntimeError, TypeError):
    """A dtype or argument type the convolution cannot take (``RuntimeError`` as in torch,
    ``TypeError`` as in the rest of mlsci_fast)."""


# ---- the three operators ---------------------------------------------------------------------
def _np(t: torch.Tensor):
    return t.detach().contiguous().numpy()


def _channels_last(*tensors: torch.Tensor) -> bool:
    """torch's rule for a convolution's output layout: channels_last when the input or the
    weight is stored channels_last (and is not also plainly contiguous)."""
    return any(
        t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last) for t in tensors
    )


def _laid_out(y: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return y.contiguous(memory_format=torch.channels_last) if channels_last else y


def _empty(shape, like: torch.Tensor, channels_last: bool) -> torch.Tensor:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return torch.empty(shape, dtype=like.dtype, device=like.device, memory_format=fmt)


def _out_hw(hw, khw, stride, padding, dilation) -> tuple[int, int]:
    (h, w), (kh, kw) = hw, khw
    return ((h + padding[0] + padding[1] - dilation[0] * (kh - 1) - 1) // stride[0] + 1,
            (w + padding[2] + padding[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1)


def _conv2d_kernel(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: Sequence[int],
               padding: Sequence[int], dilation: Sequence[int], groups: int) -> torch.Tensor:
    y = _core.conv.forward(_np(x), _np(weight), None if bias is None else _np(bias), tuple(stride), tuple(padding),
                           tuple(dilation), groups, get_num_threads())
    return _laid_out(torch.from_numpy(y), _channels_last(x, weight))


def _backward_data_kernel(grad_y: torch.Tensor, weight: torch.Tensor, input_hw: Sequence[int], stride: Sequence[int],
                      padding: Sequence[int], dilation: Sequence[int], groups: int) -> torch.Tensor:
    gx = _core.conv.backward_data(_np(grad_y), _np(weight), tuple(input_hw), tuple(stride), tuple(padding),
                                  tuple(dilation), groups, get_num_threads())
    return _laid_out(torch.from_numpy(gx), _channels_last(grad_y))


def _backward_weight_kernel(x: torch.Tensor, grad_y: torch.Tensor, kernel_hw: Sequence[int], stride: Sequence[int],
                        padding: Sequence[int], dilation: Sequence[int], groups: int) -> torch.Tensor:
    gw, _ = _core.conv.backward_weights(_np(x), _np(grad_y), tuple(kernel_hw), tuple(stride), tuple(padding),
                                        tuple(dilation), groups, False, get_num_threads())
    return torch.from_numpy(gw)


_conv2d_op = torch.library.custom_op("mlsci_fast::conv2d", _conv2d_kernel, mutates_args=(), device_types="cpu")
_backward_data_op = torch.library.custom_op("mlsci_fast::conv2d_backward_data", _backward_data_kernel, mutates_args=(),
                                            device_types="cpu")
_backward_weight_op = torch.library.custom_op("mlsci_fast::conv2d_backward_weight", _backward_weight_kernel,
                                              mutates_args=(), device_types="cpu")


@_conv2d_op.register_fake
def _(x, weight, bias, stride, padding, dilation, groups):
    shape = (x.shape[0], weight.shape[0], *_out_hw(x.shape[2:], weight.shape[2:], stride, padding, dilation))
    return _empty(shape, x, _channels_last(x, weight))


@_backward_data_op.register_fake
def _(grad_y, weight, input_hw, stride, padding, dilation, groups):
    shape = (grad_y.shape[0], weight.shape[1] * groups, *input_hw)
    return _empty(shape, grad_y, _channels_last(grad_y))


@_backward_weight_op.register_fake
def _(x, grad_y, kernel_hw, stride, padding, dilation, groups):
    return _empty((grad_y.shape[1], x.shape[1] // groups, *kernel_hw), x, False)


# ---- derivatives: each operator's derivative is one of the others ------------------------------
# Written once over a triple (conv, data, weight) of callables: the operators themselves for
# graph capture, the autograd Functions below for eager calls and torch.func.
def _conv2d_backward(ctx, grad_y, conv, data, weight_grad):
    # <conv2d(x, w) + b, g>: d/dx = backward_data(g, w), d/dw = backward_weight(x, g), d/db = sum g
    x, weight = ctx.saved_tensors
    stride, padding, dilation, groups = ctx.geometry
    gx = gw = gb = None
    if ctx.needs_input_grad[0]:
        gx = data(grad_y, weight, list(x.shape[2:]), stride, padding, dilation, groups)
    if ctx.needs_input_grad[1]:
        gw = weight_grad(x, grad_y, list(weight.shape[2:]), stride, padding, dilation, groups)
    if ctx.needs_input_grad[2]:
        gb = grad_y.sum((0, 2, 3))
    return gx, gw, gb, None, None, None, None


def _backward_data_backward(ctx, v, conv, data, weight_grad):
    # <backward_data(g, w), v> = T(v, w, g): d/dg = conv2d(v, w), d/dw = backward_weight(v, g)
    grad_y, weight = ctx.saved_tensors
    stride, padding, dilation, groups = ctx.geometry
    dg = dw = None
    if ctx.needs_input_grad[0]:
        dg = conv(v, weight, None, stride, padding, dilation, groups)
    if ctx.needs_input_grad[1]:
        dw = weight_grad(v, grad_y, list(weight.shape[2:]), stride, padding, dilation, groups)
    return dg, dw, None, None, None, None, None


def _backward_weight_backward(ctx, v, conv, data, weight_grad):
    # <backward_weight(x, g), v> = T(x, v, g): d/dx = backward_data(g, v), d/dg = conv2d(x, v)
    x, grad_y = ctx.saved_tensors
    stride, padding, dilation, groups = ctx.geometry
    dx = dg = None
    if ctx.needs_input_grad[0]:
        dx = data(grad_y, v, list(x.shape[2:]), stride, padding, dilation, groups)
    if ctx.needs_input_grad[1]:
        dg = conv(x, v, None, stride, padding, dilation, groups)
    return dx, dg, None, None, None, None, None


def _setup_context(ctx, inputs, output):
    # every operator's first two tensors are the factors its derivatives need; the third
    # argument (bias, input_hw or kernel_hw) and the output's shape serve the jvp
    ctx.save_for_backward(*inputs[:2])
    ctx.third, ctx.geometry, ctx.out_shape = inputs[2], tuple(inputs[3:]), output.shape


_OPS = (_conv2d_op, _backward_data_op, _backward_weight_op)
for _op, _rule in zip(_OPS, (_conv2d_backward, _backward_data_backward, _backward_weight_backward)):
    _op.register_autograd(lambda ctx, g, _rule=_rule: _rule(ctx, g, *_OPS), setup_context=_setup_context)


# ---- vmap: fold the vmapped dimension into the batch where only the batch-like tensor has it,
# ---- else one kernel call per vmapped entry ----------------------------------------------------
def _entry(t, dim, b):
    return t if t is None or dim is None else t.select(dim, b)


def _loop(op, info, tensors, dims, args):
    outs = [op(*(_entry(t, d, b) for t, d in zip(tensors, dims)), *args) for b in range(info.batch_size)]
    return torch.stack(outs), 0


def _folded(op, t, dim, call):
    t = t.movedim(dim, 0)
    out = call(t.reshape(-1, *t.shape[2:]))
    return out.reshape(t.shape[0], t.shape[1], *out.shape[1:]), 0


def _conv2d_vmap(op):
    def rule(info, in_dims, x, weight, bias, *geometry):
        xd, wd, bd = in_dims[:3]
        if xd is not None and wd is None and bd is None:
            return _folded(op, x, xd, lambda t: op(t, weight, bias, *geometry))
        return _loop(op, info, (x, weight, bias), (xd, wd, bd), geometry)
    return rule


def _backward_data_vmap(op):
    def rule(info, in_dims, grad_y, weight, input_hw, *geometry):
        gd, wd = in_dims[:2]
        if gd is not None and wd is None:
            return _folded(op, grad_y, gd, lambda t: op(t, weight, input_hw, *geometry))
        return _loop(lambda g, w, *a: op(g, w, input_hw, *a), info, (grad_y, weight), (gd, wd), geometry)
    return rule


def _backward_weight_vmap(op):
    def rule(info, in_dims, x, grad_y, kernel_hw, *geometry):
        return _loop(lambda a, g, *r: op(a, g, kernel_hw, *r), info, (x, grad_y), in_dims[:2], geometry)
    return rule


_VMAP_RULES = (_conv2d_vmap, _backward_data_vmap, _backward_weight_vmap)
for _op, _vmap in zip(_OPS, _VMAP_RULES):
    _op.register_vmap(_vmap(_op))


# ---- the same trilinear form as autograd.Functions, for eager calls and torch.func -------------
# torch's custom operators take no part in torch.func's grad transform (their generated
# autograd.Function has no setup_context), and each call through the dispatcher costs about
# 100 us. So eager calls, torch.func and forward-mode AD go through these three Functions: the
# same kernels, the same derivative rules over the Functions, a jvp from bilinearity
# (d f(a, b) = f(da, b) + f(a, db)), and the same vmap rules. Only graph capture
# (torch.compile, torch.export) takes the operators.
def _make_function(name, kernel, rule, vmap_rule, index):
    def backward(ctx, grad):
        return rule(ctx, grad, *_FUNCTIONS)

    def jvp(ctx, da, db, d_third, *_):
        a, b = ctx.saved_tensors
        fn = _FUNCTIONS[index]
        third = None if index == 0 else ctx.third  # the bias enters the jvp as its own tangent
        terms = []
        if da is not None:
            terms.append(fn(da, b, third, *ctx.geometry))
        if db is not None:
            terms.append(fn(a, db, third, *ctx.geometry))
        if index == 0 and d_third is not None:
            terms.append(d_third[:, None, None].expand(ctx.out_shape))
        return sum(terms[1:], terms[0]) if terms else a.new_zeros(ctx.out_shape)

    def setup_context(ctx, inputs, output):
        _setup_context(ctx, inputs, output)
        ctx.save_for_forward(*inputs[:2])

    cls = type(name, (torch.autograd.Function,), {
        "forward": staticmethod(kernel),
        "setup_context": staticmethod(setup_context),
        "backward": staticmethod(backward),
        "jvp": staticmethod(jvp),
        "vmap": staticmethod(lambda info, in_dims, *args: vmap_rule(cls.apply)(info, in_dims, *args)),
    })

    # torch binds every argument through inspect.signature when a Function defines
    # setup_context (about 100 us a call, more than a small convolution), and only torch.func
    # needs that form: outside it, `eager` is the same Function in the old form
    def eager_forward(ctx, *args):
        out = kernel(*args)
        setup_context(ctx, args, out)
        return out

    cls.eager = type(name + "Eager", (cls,), {
        "forward": staticmethod(eager_forward),
        "setup_context": staticmethod(torch.autograd.function._SingleLevelFunction.setup_context),
    })
    return cls


def _call(cls, *args):
    """Applies one of the three Functions: through torch.func's machinery inside a transform,
    as a plain autograd Function when gradients or tangents may flow, and as the bare kernel
    when nothing is recorded (a first-order backward pass)."""
    if torch._C._are_functorch_transforms_active():
        return cls.apply(*args)
    if torch.is_grad_enabled() or torch.autograd.forward_ad._current_level >= 0:
        return cls.eager.apply(*args)
    return cls.forward(*args)


_CLASSES = [
    _make_function(name, kernel, rule, vmap_rule, i)
    for i, (name, kernel, rule, vmap_rule) in enumerate(zip(
        ("_ConvFunction", "_DataFunction", "_WeightFunction"),
        (_conv2d_kernel, _backward_data_kernel, _backward_weight_kernel),
        (_conv2d_backward, _backward_data_backward, _backward_weight_backward),
        _VMAP_RULES,
    ))
]
_FUNCTIONS = tuple(lambda *args, _cls=cls: _call(_cls, *args) for cls in _CLASSES)


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride=1, padding=0,
           dilation=1, groups=1) -> torch.Tensor:
    """``torch.nn.functional.conv2d`` computed by mlsci_fast's kernel (autograd of any order).

    CPU tensors of dtype float32 or float64, all of the same dtype; `padding` may be an int, a
    pair, ``'valid'`` or ``'same'``. Unbatched (C, H, W) input is accepted, as in torch.
    channels_last input gives channels_last output, as torch's convolution does.

    Raises
    ------
    ConvShapeError
        (a ``RuntimeError`` and a ``ValueError``) for shapes or geometry that do not fit.
    ConvTypeError
        (a ``RuntimeError`` and a ``TypeError``) for dtypes or argument types it cannot take.
    """
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise ConvTypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.device.type != "cpu":
            raise ConvShapeError(f"{name} is on {t.device}; mlsci_fast's kernel runs on the CPU (use torch.nn.Conv2d)")
        if t.dtype not in _SUPPORTED:
            raise ConvTypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise ConvTypeError(f"input ({x.dtype}), weight ({weight.dtype}) and bias must have the same dtype")
    if weight.dim() != 4:
        raise ConvShapeError(f"weight must be 4-D, got shape {tuple(weight.shape)}")
    if x.dim() not in (3, 4):
        raise ConvShapeError(f"expected 3-D (unbatched) or 4-D (batched) input, got shape {tuple(x.shape)}")
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    try:
        stride2, pad4, dil2, g = _geometry(tuple(weight.shape[2:]), stride, padding, dilation, groups)
    except TypeError as e:
        raise ConvTypeError(str(e)) from None
    except ValueError as e:
        raise ConvShapeError(str(e)) from None
    _check_shapes(x, weight, bias, stride2, pad4, dil2, g)
    args = (x, weight, bias, list(stride2), list(pad4), list(dil2), g)
    y = _conv2d_op(*args) if torch.compiler.is_compiling() else _FUNCTIONS[0](*args)
    return y.squeeze(0) if unbatched else y


def _check_shapes(x, weight, bias, stride, pad4, dilation, groups) -> None:
    c_out, c_in_g, kh, kw = weight.shape
    if x.shape[1] != c_in_g * groups:
        raise ConvShapeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{c_in_g * groups} channels, but got {x.shape[1]} channels instead"
        )
    if c_out % groups:
        raise ConvShapeError(f"out_channels ({c_out}) of weight must be divisible by groups ({groups})")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ConvShapeError(f"bias must have shape ({c_out},), got {tuple(bias.shape)}")
    ph, pw = x.shape[2] + pad4[0] + pad4[1], x.shape[3] + pad4[2] + pad4[3]
    if ph < dilation[0] * (kh - 1) + 1 or pw < dilation[1] * (kw - 1) + 1:
        raise ConvShapeError(
            f"padded input size per channel ({ph} x {pw}) is smaller than the (dilated) kernel "
            f"({dilation[0] * (kh - 1) + 1} x {dilation[1] * (kw - 1) + 1})"
        )


def _autocast_lower_precision() -> bool:
    """Whether CPU autocast asks for a dtype we do not compute (bfloat16 or float16)."""
    return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") not in _SUPPORTED


class Conv2d(torch.nn.Conv2d):
    """``torch.nn.Conv2d`` with the same constructor, parameters, initialisation and state_dict,
    computed by mlsci_fast's C++ kernel on CPU float32/float64 tensors.

    Gradients of any order are exact, and the layer works under ``torch.func``,
    ``torch.compile(fullgraph=True)`` and ``torch.export``. Other devices and dtypes (a CUDA
    tensor, float16), and CPU autocast to bfloat16/float16, go to torch's own convolution, so
    a model keeps working when moved; ``padding_mode`` other than ``'zeros'`` pads with torch
    first, as torch does. ``torch.jit.script`` scripts torch's own ``Conv2d`` with the same
    parameters in its place (TorchScript cannot call a Python kernel): the scripted model
    computes the same function with torch's kernel.
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if (input.device.type != "cpu" or input.dtype not in _SUPPORTED or weight.dtype != input.dtype
                or _autocast_lower_precision()):
            return super()._conv_forward(input, weight, bias)
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv2d(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def __prepare_scriptable__(self) -> torch.nn.Conv2d:
        ref = torch.nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride, self.padding,
                              self.dilation, self.groups, self.bias is not None, self.padding_mode,
                              device=self.weight.device, dtype=self.weight.dtype)
        ref.weight, ref.bias = self.weight, self.bias  # the same Parameters: training one trains both
        return ref
