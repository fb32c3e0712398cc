"""Neural style transfer (Gatys, Ecker & Bethge 2016): an image whose deep features match the
content image's and whose feature correlations (Gram matrices) match the style image's.

Residual networks stylise poorly with Gatys' losses: their activations are peaky (a few large
values dominate the Gram matrices, and the layers with the largest values dominate the sum).
Wang, Li & Vasconcelos (CVPR 2021, "SWAG") smooth the activations with a softmax over each
layer before the losses (``swag=True``, with a `temperature`). Here every layer's style loss is
also divided by its value at the start, so each layer counts equally whatever the scale of its
activations; with that, EfficientNet-Lite0's block outputs stylise cleanly without the softmax,
which on those linear outputs (values up to about +-45) is nearly one-hot and leaves the image
almost unchanged. So SWAG is off by default, and on for users' networks that need it.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from .._progress import Progress
from .._validation import check_scalar
from .features import FeatureExtractor
from .images import load_image, to_uint8

__all__ = ["style_transfer"]

_DEFAULTS = {
    "efficientnet": (("block9",), ("stem", "block0", "block2", "block4", "block7")),  # block outputs
    "vgg": (("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
}


def _swag(f: torch.Tensor, temperature: float) -> torch.Tensor:
    # softmax over all of a layer's activations (per image), rescaled to mean 1
    n = f[0].numel()
    return torch.softmax(f.flatten(1) / temperature, dim=1).view_as(f) * n


def _gram(f: torch.Tensor) -> torch.Tensor:
    b, c, h, w = f.shape
    m = f.reshape(b, c, h * w)
    return m @ m.transpose(1, 2) / (c * h * w)


def style_transfer(
    content,
    style,
    *,
    feature_net=None,
    content_layers=None,
    style_layers=None,
    content_weight: float = 1.0,
    style_weight: float = 100.0,
    tv_weight: float = 1.0,
    steps: int = 200,
    size: int = 384,
    optimizer: str = "lbfgs",
    learning_rate: float | None = None,
    swag: bool = False,
    temperature: float = 1.0,
    init: str = "content",
    seed: int = 0,
    progress: bool | None = None,
    history: list | None = None,
) -> np.ndarray:
    """Paint `content` in the style of `style`; returns an H x W x 3 uint8 array whose longer
    side is `size`.

    Parameters
    ----------
    content, style : path, PIL image, H x W x 3 array or a sample-image name ("china", "coffee",
        "brick", "gravel", ...).
    feature_net : None (EfficientNet-Lite0 with ImageNet weights), a torch module, `vgg()` or a
        path to a VGG-16/19 state-dict, or a `FeatureExtractor`.
    content_layers, style_layers : layer names (defaults per network: EfficientNet-Lite0 content
        "block9", style stem, block0, 2, 4, 7; VGG relu4_2 and relu1_1 ... relu5_1).
    content_weight, style_weight, tv_weight : weights of the losses. The content term is relative
        (squared error over the target's squared norm); each style layer's term is divided by its
        value at the start, so the weights mean the same for any network and layer; the
        total-variation term is the mean squared difference of neighbouring pixels times 1e3.
    steps : optimiser iterations.
    size : longer side of the result (the style image is scaled to the same longer side).
    optimizer : "lbfgs" (Gatys') or "adam".
    learning_rate : Adam's step (default 0.02); L-BFGS uses 1 with a strong-Wolfe line search.
    swag : softmax-transform the activations (SWAG) before both losses; default False (see above).
    temperature : the softmax temperature (SWAG).
    init : "content" (start from the content image) or "noise" (seeded).
    seed : seeds "noise".
    progress : show progress (default: when stderr is a terminal or a notebook).
    history : if a list, the total loss after each iteration is appended to it.
    """
    for name, value in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
        check_scalar(value, name, numbers.Real, min_val=0.0)
    check_scalar(steps, "steps", numbers.Integral, min_val=1)
    check_scalar(size, "size", numbers.Integral, min_val=32)
    check_scalar(temperature, "temperature", numbers.Real, min_val=0.0, include_min=False)
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}")
    fe = feature_net if isinstance(feature_net, FeatureExtractor) else FeatureExtractor(feature_net)
    defaults = _DEFAULTS.get(fe.kind)
    if defaults is None and (content_layers is None or style_layers is None):
        raise ValueError("content_layers and style_layers must be given for a custom feature_net")
    content_layers = fe.check(content_layers or defaults[0], "content_layers")
    style_layers = fe.check(style_layers or defaults[1], "style_layers")
    use_swag = bool(swag)

    c_img = load_image(content, size)
    s_img = load_image(style, size)
    layers = list(dict.fromkeys(content_layers + style_layers))

    def transform(f):
        return _swag(f, temperature) if use_swag else f

    with torch.no_grad():
        c_feats = {k: transform(v) for k, v in fe(c_img, content_layers).items()}
        s_grams = {k: _gram(transform(v)) for k, v in fe(s_img, style_layers).items()}
    c_norm = {k: v.pow(2).sum().clamp_min(1e-30) for k, v in c_feats.items()}

    if init == "content":
        x = c_img.clone()
    else:
        gen = torch.Generator().manual_seed(int(seed))
        x = torch.rand(c_img.shape, generator=gen)
    with torch.no_grad():  # each style layer's loss at the start: its unit
        f0 = fe(x, style_layers)
        s_norm = {k: (_gram(transform(f0[k])) - s_grams[k]).pow(2).sum().clamp_min(1e-30) for k in style_layers}
    x.requires_grad_(True)

    def loss_fn():
        feats = fe(x, layers)
        lc = sum((transform(feats[k]) - c_feats[k]).pow(2).sum() / c_norm[k] for k in content_layers)
        ls = sum((_gram(transform(feats[k])) - s_grams[k]).pow(2).sum() / s_norm[k] for k in style_layers)
        tv = (x[..., 1:, :] - x[..., :-1, :]).pow(2).mean() + (x[..., :, 1:] - x[..., :, :-1]).pow(2).mean()
        return content_weight * lc / len(content_layers) + style_weight * ls / len(style_layers) + tv_weight * 1e3 * tv

    with Progress(int(steps), "style", "iterations", enabled=progress) as bar:
        if optimizer == "adam":
            opt = torch.optim.Adam([x], lr=learning_rate or 0.02)
            for it in range(int(steps)):
                opt.zero_grad()
                loss = loss_fn()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
                if history is not None:
                    history.append(float(loss.detach()))
                bar.update(it + 1)
        else:
            done = 0
            while done < steps:
                chunk = min(20, steps - done)
                opt = torch.optim.LBFGS([x], lr=learning_rate or 1.0, max_iter=chunk, history_size=20,
                                        line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)

                def closure():
                    opt.zero_grad()
                    loss = loss_fn()
                    loss.backward()
                    return loss

                loss = opt.step(closure)
                with torch.no_grad():
                    x.clamp_(0, 1)
                if history is not None:
                    history.append(float(loss.detach()))
                done += chunk
                bar.update(done)
    return to_uint8(x)
