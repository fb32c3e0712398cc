"""`Conv2d`: torch's Conv2d layer with forward and both gradients computed by our C++ kernel.

Tensors reach the kernel without copies: a contiguous CPU tensor and the numpy array the kernel
reads share memory (``Tensor.numpy()``), and the kernel's output array becomes the result tensor
(``torch.from_numpy``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .. import _core
from .._threads import get_num_threads
from ..conv import _geometry

__all__ = ["Conv2d", "conv2d"]

_SUPPORTED = (torch.float32, torch.float64)


class _Conv2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, pad4, dilation, groups):
        xn = x.detach().contiguous().numpy()
        wn = weight.detach().contiguous().numpy()
        bn = None if bias is None else bias.detach().contiguous().numpy()
        y = _core.conv.forward(xn, wn, bn, stride, pad4, dilation, groups, get_num_threads())
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, pad4, dilation, groups)
        ctx.has_bias = bias is not None
        return torch.from_numpy(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y):
        x, weight = ctx.saved_tensors
        stride, pad4, dilation, groups = ctx.geometry
        g = grad_y.contiguous().numpy()
        n_threads = get_num_threads()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            wn = weight.detach().contiguous().numpy()
            grad_x = torch.from_numpy(
                _core.conv.backward_data(g, wn, tuple(x.shape[2:]), stride, pad4, dilation, groups, n_threads)
            )
        want_b = ctx.has_bias and ctx.needs_input_grad[2]
        if ctx.needs_input_grad[1] or want_b:
            xn = x.detach().contiguous().numpy()
            gw, gb = _core.conv.backward_weights(xn, g, tuple(weight.shape[2:]), stride, pad4, dilation, groups,
                                                 want_b, n_threads)
            grad_w = torch.from_numpy(gw) if ctx.needs_input_grad[1] else None
            grad_b = torch.from_numpy(gb) if want_b else None
        return grad_x, grad_w, grad_b, None, None, None, None


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride=1, padding=0,
           dilation=1, groups=1) -> torch.Tensor:
    """``torch.nn.functional.conv2d`` computed by mlsci_fast's kernel (autograd included).

    CPU tensors of dtype float32 or float64, all of the same dtype; `padding` may be an int, a
    pair, ``'valid'`` or ``'same'``. Unbatched (C, H, W) input is accepted, as in torch.
    """
    for name, t in (("input", x), ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.device.type != "cpu":
            raise ValueError(f"{name} is on {t.device}; mlsci_fast's kernel runs on the CPU (use torch.nn.Conv2d)")
        if t.dtype not in _SUPPORTED:
            raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"input ({x.dtype}), weight ({weight.dtype}) and bias must have the same dtype")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D, got shape {tuple(weight.shape)}")
    if x.dim() not in (3, 4):
        raise ValueError(f"expected 3-D (unbatched) or 4-D (batched) input, got shape {tuple(x.shape)}")
    unbatched = x.dim() == 3
    if unbatched:
        x = x.unsqueeze(0)
    stride2, pad4, dil2, g = _geometry(tuple(weight.shape[2:]), stride, padding, dilation, groups)
    if x.shape[1] != weight.shape[1] * g:
        raise ValueError(
            f"Given groups={g}, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{weight.shape[1] * g} channels, but got {x.shape[1]} channels instead"
        )
    y = _Conv2dFunction.apply(x, weight, bias, stride2, pad4, dil2, g)
    return y.squeeze(0) if unbatched else y


class Conv2d(torch.nn.Conv2d):
    """``torch.nn.Conv2d`` with the same constructor, parameters, initialisation and state_dict,
    computed by mlsci_fast's C++ kernel on CPU float32/float64 tensors.

    Other devices and dtypes (a CUDA tensor, float16) fall back to torch's own convolution, so a
    model keeps working when moved; ``padding_mode`` other than ``'zeros'`` pads with torch first,
    as torch does.
    """

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if input.device.type != "cpu" or input.dtype not in _SUPPORTED or weight.dtype != input.dtype:
            return super()._conv_forward(input, weight, bias)
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return conv2d(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)
