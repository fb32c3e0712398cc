"""2-D convolution on numpy arrays, with torch's semantics (a cross-correlation).

``conv2d(x, w)`` equals ``torch.nn.functional.conv2d`` on the same arrays: NCHW input (or CHW,
unbatched), weight ``(out_channels, in_channels / groups, kh, kw)``, stride, zero padding (an int,
a pair, ``'valid'`` or ``'same'``), dilation and groups. The two gradients are
``conv2d_backward_data`` and ``conv2d_backward_weights``; `mlsci_fast.nn.Conv2d` wraps all three
as a torch layer. float32 and float64 are computed in their own precision; results do not depend
on the thread count.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from . import _core
from ._threads import resolve

__all__ = ["conv2d", "conv2d_backward_data", "conv2d_backward_weights", "conv2d_output_shape", "normalize_padding"]

_DTYPES = (np.float32, np.float64)


def _pair(value, name: str, *, minimum: int) -> tuple[int, int]:
    items = (value, value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    try:
        a, b = items
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    for v in (a, b):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(a), int(b)


def normalize_padding(padding, kernel_size: Sequence[int], stride, dilation) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) zero padding from an int, a pair, ``'valid'`` or ``'same'``.

    ``'same'`` follows torch: stride 1 only; when the dilated kernel's extent is even the extra
    row/column goes to the bottom/right.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if _pair(stride, "stride", minimum=1) != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions (as in torch)")
        out = []
        for k, d in zip(kernel_size, _pair(dilation, "dilation", minimum=1)):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)  # type: ignore[return-value]
    ph, pw = _pair(padding, "padding", minimum=0)
    return ph, ph, pw, pw


def conv2d_output_shape(input_shape, weight_shape, stride=1, padding=0, dilation=1) -> tuple[int, int, int, int]:
    """The output shape ``(n, out_channels, h_out, w_out)`` of `conv2d` for these shapes."""
    n, _, h, w = input_shape
    c_out, _, kh, kw = weight_shape
    (sh, sw), (dh, dw) = _pair(stride, "stride", minimum=1), _pair(dilation, "dilation", minimum=1)
    pt, pb, pl, pr = normalize_padding(padding, (kh, kw), stride, dilation)
    return n, c_out, (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


def _array(a, name: str, ndims: tuple[int, ...]) -> np.ndarray:
    if type(a).__module__.startswith("torch"):
        raise TypeError(f"{name} is a torch tensor; use mlsci_fast.nn.Conv2d for tensors, or pass {name}.numpy()")
    arr = np.asarray(a)
    if arr.dtype not in _DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
    if arr.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _same_dtype(**arrays: np.ndarray | None) -> None:
    named = {k: v for k, v in arrays.items() if v is not None}
    if len({v.dtype for v in named.values()}) > 1:
        detail = ", ".join(f"{k} is {v.dtype}" for k, v in named.items())
        raise TypeError(f"all arrays must have the same dtype, but {detail}")


def _geometry(kernel_hw, stride, padding, dilation, groups):
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"groups must be a positive int, got {groups!r}")
    stride2 = _pair(stride, "stride", minimum=1)
    dilation2 = _pair(dilation, "dilation", minimum=1)
    pad4 = normalize_padding(padding, kernel_hw, stride2, dilation2)
    return stride2, pad4, dilation2, int(groups)


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, *, n_threads: int | None = None) -> np.ndarray:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : ndarray, shape (n, c_in, h, w) or (c_in, h, w)
        float32 or float64.
    w : ndarray, shape (c_out, c_in / groups, kh, kw)
        Same dtype as `x`.
    bias : ndarray of shape (c_out,), optional
    stride, dilation : int or pair of ints
    padding : int, pair of ints, 'valid' or 'same'
        Zero padding on both sides of each spatial dimension.
    groups : int
        Input and output channels are split into `groups` independent convolutions
        (``groups == c_in`` is a depthwise convolution).
    n_threads : int, optional
        OpenMP threads; the default is `mlsci_fast.get_num_threads()`.

    Returns
    -------
    ndarray, shape (n, c_out, h_out, w_out) (or without n for unbatched input), dtype of `x`.
    """
    xa = _array(x, "x", (3, 4))
    wa = _array(w, "w", (4,))
    ba = None if bias is None else _array(bias, "bias", (1,))
    _same_dtype(x=xa, w=wa, bias=ba)
    unbatched = xa.ndim == 3
    if unbatched:
        xa = xa[None]
    stride2, pad4, dil2, g = _geometry(wa.shape[2:], stride, padding, dilation, groups)
    if xa.shape[1] != wa.shape[1] * g:
        raise ValueError(
            f"Given groups={g}, weight of size {list(wa.shape)}, expected input{list(xa.shape)} to have "
            f"{wa.shape[1] * g} channels, but got {xa.shape[1]} channels instead"
        )
    if wa.shape[0] % g:
        raise ValueError(f"out_channels ({wa.shape[0]}) of w must be divisible by groups ({g})")
    y = _core.conv.forward(xa, wa, ba, stride2, pad4, dil2, g, resolve(n_threads))
    return y[0] if unbatched else y


def conv2d_backward_data(grad_output, w, input_hw, stride=1, padding=0, dilation=1, groups=1, *,
                         n_threads: int | None = None) -> np.ndarray:
    """The gradient of `conv2d` with respect to its input: ``dL/dx`` from ``dL/dy``.

    `input_hw` is the input's (h, w): several input sizes give the same output size when the
    stride is above one. This is the adjoint of `conv2d` without bias:
    ``<conv2d(x, w), g> == <x, conv2d_backward_data(g, w, x.shape[-2:])>``.
    """
    ga = _array(grad_output, "grad_output", (4,))
    wa = _array(w, "w", (4,))
    _same_dtype(grad_output=ga, w=wa)
    stride2, pad4, dil2, g = _geometry(wa.shape[2:], stride, padding, dilation, groups)
    hw = _pair(tuple(input_hw), "input_hw", minimum=1)
    return _core.conv.backward_data(ga, wa, hw, stride2, pad4, dil2, g, resolve(n_threads))


def conv2d_backward_weights(x, grad_output, kernel_hw, stride=1, padding=0, dilation=1, groups=1, *,
                            bias: bool = False, n_threads: int | None = None):
    """The gradients of `conv2d` with respect to its weight (and bias): ``(dL/dw, dL/db or None)``.

    The sums over the batch run in an order fixed by the shapes, so the result is bitwise the same
    for any thread count.
    """
    xa = _array(x, "x", (4,))
    ga = _array(grad_output, "grad_output", (4,))
    _same_dtype(x=xa, grad_output=ga)
    kh, kw = _pair(tuple(kernel_hw), "kernel_hw", minimum=1)
    stride2, pad4, dil2, g = _geometry((kh, kw), stride, padding, dilation, groups)
    if xa.shape[1] % g:
        raise ValueError(f"in_channels ({xa.shape[1]}) of x must be divisible by groups ({g})")
    return _core.conv.backward_weights(xa, ga, (kh, kw), stride2, pad4, dil2, g, bool(bias), resolve(n_threads))
