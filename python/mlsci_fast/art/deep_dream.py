"""DeepDream (Mordvintsev, Olah & Tyka 2015): ask the network what it sees in an image, then
change the image so that it sees it more: gradient ascent on the activations of chosen layers,
from coarse to fine scales (octaves), with random shifts (jitter) against grid artefacts."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .._progress import Progress
from .._validation import check_scalar
from .features import FeatureExtractor
from .images import load_image, to_uint8

__all__ = ["deep_dream"]

_DEFAULT_LAYERS = {"efficientnet": ("block6", "block9"), "vgg": ("relu4_3",)}


def deep_dream(
    image,
    *,
    feature_net=None,
    layers=None,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 0.02,
    jitter: int = 16,
    size: int | None = 512,
    seed: int = 0,
    progress: bool | None = None,
) -> np.ndarray:
    """Dream on an image; returns an H x W x 3 uint8 array (longer side `size`).

    Parameters
    ----------
    image : path, PIL image, H x W x 3 array or a sample-image name ("flower", "astronaut", ...)
    feature_net : None (EfficientNet-Lite0, ImageNet weights), a torch module, a `vgg()` model or
        a path to a VGG-16/19 state-dict; or a ready `FeatureExtractor`.
    layers : layer names whose activations are amplified (mean of squares). Default: two middle
        blocks of EfficientNet-Lite0 ("block6", "block9": eyes, scales, petals), relu4_3 for VGG.
        Earlier layers give strokes and textures, later ones objects.
    octaves, octave_scale : the image is dreamt at `octaves` scales, each `octave_scale` times the
        previous, smallest first; the detail found at one scale is carried to the next. The
        smallest scale must keep 16 pixels on the shorter side (a 512 x 384 image allows 8
        octaves at 1.4), and octaves is at most 32.
    steps : gradient-ascent steps per octave.
    step_size : step in units of the mean absolute gradient (the image lives in [0, 1]).
    jitter : largest random shift in pixels before each step (seeded).
    size : the longer side of the working image; None keeps the input size.
    seed : seeds the jitter.
    progress : show progress (default: when stderr is a terminal or a notebook).
    """
    check_scalar(octaves, "octaves", numbers.Integral, min_val=1, max_val=32)
    check_scalar(octave_scale, "octave_scale", numbers.Real, min_val=1.0)
    check_scalar(steps, "steps", numbers.Integral, min_val=1)
    check_scalar(step_size, "step_size", numbers.Real, min_val=0.0, include_min=False)
    check_scalar(jitter, "jitter", numbers.Integral, min_val=0)
    base = load_image(image, size)
    H, W = base.shape[-2:]
    if octaves > 1 and octave_scale > 1 and min(H, W) / octave_scale ** (octaves - 1) < 16:
        most = 1 + max(0, math.floor(math.log(min(H, W) / 16) / math.log(octave_scale) + 1e-9))
        raise ValueError(f"octaves={octaves} at octave_scale={octave_scale} shrinks the {W} x {H} image below 16 "
                         f"pixels; at most {most} octaves fit")
    fe = feature_net if isinstance(feature_net, FeatureExtractor) else FeatureExtractor(feature_net)
    if layers is None:
        if fe.kind not in _DEFAULT_LAYERS:
            raise ValueError("layers must be given for a custom feature_net (names from FeatureExtractor.layer_names)")
        layers = _DEFAULT_LAYERS[fe.kind]
    layers = fe.check(layers, "deep_dream")
    shapes = [(max(16, round(H / octave_scale**k)), max(16, round(W / octave_scale**k)))
              for k in range(octaves - 1, -1, -1)]
    gen = torch.Generator().manual_seed(int(seed))
    detail = torch.zeros(1, 3, *shapes[0])
    x = base
    with Progress(octaves * steps, "dream", "steps", enabled=progress) as bar:
        for o, shape in enumerate(shapes):
            img = torch.nn.functional.interpolate(base, size=shape, mode="bilinear", align_corners=False,
                                                  antialias=True)
            detail = torch.nn.functional.interpolate(detail, size=shape, mode="bilinear", align_corners=False)
            x = (img + detail).clamp(0, 1)
            for s in range(steps):
                dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=gen).tolist() if jitter else (0, 0))
                xr = torch.roll(x, (dy, dx), (2, 3)).requires_grad_(True)
                acts = fe(xr, layers)
                loss = sum(a.pow(2).mean() for a in acts.values())
                (grad,) = torch.autograd.grad(loss, xr)
                grad = torch.roll(grad, (-dy, -dx), (2, 3))
                x = (x + step_size * grad / (grad.abs().mean() + 1e-12)).clamp(0, 1).detach()
                bar.update(o * steps + s + 1)
            detail = x - img
    return to_uint8(x)
