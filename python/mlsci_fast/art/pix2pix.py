"""pix2pix (Isola, Zhu, Zhou & Efros 2017): image-to-image translation with a conditional GAN.

A U-Net generator G maps an input image A to an output B; a PatchGAN discriminator D judges
(A, B) pairs patch by patch, real or generated. G minimises D's judgement plus lambda * |G(A) - B|_1
(the L1 term gets the colours and layout right, the GAN term the sharp detail). Trained here
on the CPU on small crops; `paired_data` builds training pairs from images that ship offline:
greyscale -> colour, edges -> photo, and one view of scikit-image's stereo motorcycle -> its
measured disparity (depth from a single image).
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import pickle

import numpy as np
import torch
from torch import nn

from .._io import atomic_write, check_writable
from .._progress import Progress
from .._validation import check_scalar
from .features import conv_layer
from .images import sample_image

__all__ = ["PatchDiscriminator", "Pix2Pix", "UNetGenerator", "paired_data"]


class UNetGenerator(nn.Module):
    """Encoder-decoder with skip connections: `depth` stride-2 4x4 convolutions down (batch norm,
    leaky ReLU), as many transposed convolutions up (batch norm, ReLU, dropout on the two
    innermost as the paper's noise), each up-step concatenated with the mirror down-step; tanh out.
    Inputs need H and W divisible by 2**depth."""

    def __init__(self, in_channels: int, out_channels: int, base: int = 32, depth: int = 6):
        super().__init__()
        widths = [min(base * 2**i, base * 8) for i in range(depth)]
        self.down = nn.ModuleList()
        cin = in_channels
        for i, w in enumerate(widths):
            layers = [conv_layer(cin, w, 4, 2, 1, bias=i == 0)]
            if 0 < i < depth - 1:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2))
            self.down.append(nn.Sequential(*layers))
            cin = w
        self.up = nn.ModuleList()
        for i in range(depth - 1, 0, -1):
            cin_up = widths[i] if i == depth - 1 else widths[i] * 2
            layers = [nn.ConvTranspose2d(cin_up, widths[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(widths[i - 1]),
                      nn.ReLU()]
            if i >= depth - 2:
                layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))
        self.out = nn.Sequential(nn.ConvTranspose2d(widths[0] * 2, out_channels, 4, 2, 1), nn.Tanh())

    def forward(self, x):
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
        skips.pop()
        for u in self.up:
            x = torch.cat([u(x), skips.pop()], dim=1)
        return self.out(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN: a fully convolutional classifier whose every output pixel judges one patch of
    the (input, output) pair (70 x 70 pixels with the paper's 3 layers)."""

    def __init__(self, in_channels: int, base: int = 32, n_layers: int = 3):
        super().__init__()
        layers = [conv_layer(in_channels, base, 4, 2, 1), nn.LeakyReLU(0.2)]
        w = base
        for i in range(1, n_layers + 1):
            w_next = min(base * 2**i, base * 8)
            stride = 2 if i < n_layers else 1
            layers += [conv_layer(w, w_next, 4, stride, 1, bias=False), nn.BatchNorm2d(w_next), nn.LeakyReLU(0.2)]
            w = w_next
        layers.append(conv_layer(w, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, a, b):
        return self.net(torch.cat([a, b], dim=1))


def _patch_grid(size: int, n_layers: int = 3) -> int:
    """Side of PatchDiscriminator's output for an input side `size` (4 x 4 kernels, padding 1)."""
    for i in range(n_layers + 2):
        size = (size + 2 - 4) // (2 if i < n_layers else 1) + 1
    return size


def _as_batch(x, name: str, channels: int | None = None) -> torch.Tensor:
    """(N, H, W, C) uint8 or [0, 1] floats (or (N, H, W)) -> (N, C, H, W) float32 in [-1, 1]."""
    arr = np.asarray(x)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"{name} must have shape (n, height, width, channels), got {arr.shape}")
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1] (or be uint8), got [{arr.min():g}, {arr.max():g}]")
    if channels is not None and arr.shape[3] != channels:
        raise ValueError(f"{name} has {arr.shape[3]} channels, the model was built for {channels}")
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2) * 2.0 - 1.0


class Pix2Pix:
    """A pix2pix model: U-Net generator + PatchGAN discriminator, trained with Adam.

    Parameters
    ----------
    in_channels, out_channels : channels of the input images A and the output images B.
    base_filters : width of the first layer (the paper: 64; 32 trains 4x faster on a CPU).
    depth : down-sampling steps of the U-Net; images need H and W divisible by 2**depth.
        None: chosen at the first `fit` as log2 of the smaller image side (down to 1 x 1), at most 8.
    lambda_l1 : weight of the L1 term (the paper's 100).
    learning_rate, beta1 : Adam's (the paper's 2e-4 and 0.5).
    seed : seeds the initial weights, the shuffling and the dropout.

    Attributes
    ----------
    generator, discriminator : the torch modules.
    history_ : per epoch "d_loss", "g_gan", "g_l1" (and "val_l1" with validation data).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, *, base_filters: int = 32,
                 depth: int | None = None, lambda_l1: float = 100.0, learning_rate: float = 2e-4,
                 beta1: float = 0.5, seed: int = 0):
        check_scalar(in_channels, "in_channels", numbers.Integral, min_val=1)
        check_scalar(out_channels, "out_channels", numbers.Integral, min_val=1)
        check_scalar(base_filters, "base_filters", numbers.Integral, min_val=4)
        if depth is not None:
            check_scalar(depth, "depth", numbers.Integral, min_val=2, max_val=8)
        check_scalar(lambda_l1, "lambda_l1", numbers.Real, min_val=0.0)
        check_scalar(learning_rate, "learning_rate", numbers.Real, min_val=0.0, include_min=False)
        check_scalar(beta1, "beta1", numbers.Real, min_val=0.0, max_val=1.0, include_max=False)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.base_filters, self.depth = int(base_filters), depth
        self.lambda_l1, self.learning_rate, self.beta1 = float(lambda_l1), float(learning_rate), float(beta1)
        self.seed = int(seed)
        self.generator = self.discriminator = None
        self.history_: dict[str, list[float]] = {"d_loss": [], "g_gan": [], "g_l1": [], "val_l1": []}
        self._epochs = 0

    def _build(self, h: int, w: int) -> None:
        if self.depth is None:
            self.depth = max(2, min(8, int(math.log2(min(h, w)))))
        torch.manual_seed(self.seed)
        self.generator = UNetGenerator(self.in_channels, self.out_channels, self.base_filters, self.depth)
        self.discriminator = PatchDiscriminator(self.in_channels + self.out_channels, self.base_filters)
        betas = (self.beta1, 0.999)
        self._opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.learning_rate, betas=betas)
        self._opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.learning_rate, betas=betas)

    def _check_size(self, t: torch.Tensor, name: str) -> None:
        k = 2**self.depth
        h, w = t.shape[-2:]
        if h % k or w % k:
            raise ValueError(f"{name} is {h} x {w} pixels; with depth={self.depth} both sides must be multiples of {k}")
        if _patch_grid(min(h, w)) < 1:
            raise ValueError(f"{name} is too small ({h} x {w}); the discriminator needs at least 24 x 24 pixels")

    def fit(self, A, B=None, *, epochs: int = 10, batch_size: int = 4, validation: tuple | None = None,
            progress: bool | None = None, checkpoint: str | os.PathLike | None = None) -> Pix2Pix:
        """Train on pairs A[i] -> B[i]: arrays (n, H, W, C) in [0, 1] or uint8, or ``fit((A, B))``
        as `paired_data` returns them. Calling `fit` again continues the training; with
        `checkpoint`, the model is saved there (atomically) after every epoch, and
        ``Pix2Pix.load(checkpoint).fit(A, B, ...)`` continues from it. Progress is shown by
        default when stderr is a terminal or a notebook."""
        if checkpoint is not None:
            check_writable(checkpoint, "checkpoint")
        if B is None:
            if not (isinstance(A, (tuple, list)) and len(A) == 2):
                raise ValueError("give the pairs as fit(A, B) or fit((A, B))")
            A, B = A
        check_scalar(epochs, "epochs", numbers.Integral, min_val=1)
        check_scalar(batch_size, "batch_size", numbers.Integral, min_val=1)
        a = _as_batch(A, "A", self.in_channels)
        b = _as_batch(B, "B", self.out_channels)
        if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
            raise ValueError(f"A and B must hold the same number of images of the same size, got "
                             f"{tuple(a.shape)} and {tuple(b.shape)} (n, C, H, W)")
        if self.generator is None:
            self._build(*a.shape[2:])
        self._check_size(a, "A")
        val = None
        if validation is not None:
            val = (_as_batch(validation[0], "validation A", self.in_channels),
                   _as_batch(validation[1], "validation B", self.out_channels))
        bce = nn.BCEWithLogitsLoss()
        n = a.shape[0]
        gen = torch.Generator().manual_seed(self.seed + 7919 * self._epochs)
        with Progress(int(epochs), "pix2pix", "epochs", enabled=progress) as bar:
            for e in range(int(epochs)):
                torch.manual_seed(self.seed + 104729 * (self._epochs + 1))  # the dropout's draws
                self.generator.train()
                self.discriminator.train()
                sums = np.zeros(3)
                order = torch.randperm(n, generator=gen)
                for start in range(0, n, int(batch_size)):
                    idx = order[start:start + int(batch_size)]
                    xa, xb = a[idx], b[idx]
                    fake = self.generator(xa)
                    # discriminator: real pairs -> 1, generated pairs -> 0
                    self._opt_d.zero_grad()
                    real_logits = self.discriminator(xa, xb)
                    fake_logits = self.discriminator(xa, fake.detach())
                    d_loss = 0.5 * (bce(real_logits, torch.ones_like(real_logits))
                                    + bce(fake_logits, torch.zeros_like(fake_logits)))
                    d_loss.backward()
                    self._opt_d.step()
                    # generator: fool the discriminator, stay close to B in L1
                    self._opt_g.zero_grad()
                    logits = self.discriminator(xa, fake)
                    g_gan = bce(logits, torch.ones_like(logits))
                    g_l1 = (fake - xb).abs().mean()
                    (g_gan + self.lambda_l1 * g_l1).backward()
                    self._opt_g.step()
                    sums += np.array([d_loss.item(), g_gan.item(), g_l1.item()]) * len(idx)
                self._epochs += 1
                for key, v in zip(("d_loss", "g_gan", "g_l1"), sums / n):
                    self.history_[key].append(float(v))
                extra = None
                if val is not None:
                    l1 = float(np.abs(self.predict(validation[0]) - _unit(validation[1])).mean())
                    self.history_["val_l1"].append(l1)
                    extra = f"val L1 {l1:.3f}"
                if checkpoint is not None:
                    self.save(checkpoint)
                bar.update(e + 1, extra)
        return self

    def translate(self, image) -> np.ndarray:
        """Translate one image (H x W x C, uint8 or [0, 1]) -> H x W x out_channels uint8."""
        arr = np.asarray(image)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        out = self.predict(arr[None])[0]
        return (out * 255.0 + 0.5).astype(np.uint8)

    def predict(self, A, batch_size: int = 16) -> np.ndarray:
        """Translate images A (n, H, W, C) -> (n, H, W, out_channels) floats in [0, 1].

        The generator runs in training mode, as in the paper: its dropout is the GAN's noise and
        batch norm uses the batch's statistics (it was trained that way)."""
        if self.generator is None:
            raise RuntimeError("this Pix2Pix model is not trained yet: call fit(A, B) first")
        a = _as_batch(A, "A", self.in_channels)
        self._check_size(a, "A")
        torch.manual_seed(self.seed)
        self.generator.train()
        # batch statistics, as in training; the running statistics stay as trained
        saved = {k: v.clone() for k, v in self.generator.state_dict().items() if "running" in k or "batches" in k}
        outs = []
        try:
            with torch.no_grad():
                for s in range(0, a.shape[0], batch_size):
                    outs.append(self.generator(a[s:s + batch_size]))
        finally:
            self.generator.load_state_dict(saved, strict=False)
        return ((torch.cat(outs) + 1.0) / 2.0).clamp(0, 1).permute(0, 2, 3, 1).numpy()

    def save(self, path: str | os.PathLike) -> None:
        """Write the model (weights, optimiser states, settings, history) atomically."""
        if self.generator is None:
            raise RuntimeError("nothing to save: the model is not trained yet")
        state = {"settings": dict(in_channels=self.in_channels, out_channels=self.out_channels,
                                  base_filters=self.base_filters, depth=self.depth, lambda_l1=self.lambda_l1,
                                  learning_rate=self.learning_rate, beta1=self.beta1, seed=self.seed),
                 "generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                 "opt_g": self._opt_g.state_dict(), "opt_d": self._opt_d.state_dict(),
                 "history": self.history_, "epochs": self._epochs}
        atomic_write(path, lambda f: torch.save(state, f), ".pt")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Pix2Pix:
        """Read a model written by `save` (or by `fit`'s checkpoint).

        The file is unpickled with ``weights_only=True``: tensors, numbers, strings and containers
        only, so a crafted file cannot run code; anything else in it is refused with a ValueError.
        """
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
            raise ValueError(f"{path} is not a Pix2Pix file, or holds more than weights and numbers: "
                             f"{str(exc).splitlines()[0]}") from None
        keys = ("settings", "generator", "discriminator", "opt_g", "opt_d", "history", "epochs")
        if not isinstance(state, dict) or any(k not in state for k in keys):
            raise ValueError(f"{path} is not a Pix2Pix file: it needs the entries {keys}")
        settings, history, epochs = state["settings"], state["history"], state["epochs"]
        known = set(inspect.signature(cls).parameters)
        if not isinstance(settings, dict) or not set(settings) <= known:
            raise ValueError(f"{path}: settings must be a dict of {sorted(known)}")
        if (not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values())
                or not isinstance(epochs, int) or epochs < 0):
            raise ValueError(f"{path}: history must be a dict of lists and epochs a count")
        model = cls(**settings)  # checks each setting (depth at most 8)
        if model.depth is None:
            raise ValueError(f"{path}: settings has no depth")
        model._build(2**model.depth, 2**model.depth)
        try:
            model.generator.load_state_dict(state["generator"])
            model.discriminator.load_state_dict(state["discriminator"])
            model._opt_g.load_state_dict(state["opt_g"])
            model._opt_d.load_state_dict(state["opt_d"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: the weights do not match the settings: {str(exc).splitlines()[0]}") from None
        model.history_, model._epochs = history, epochs
        return model


def _unit(x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 3:
        arr = arr[..., None]
    return arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)


# ---- training pairs from images that ship offline -------------------------------------------------
_PHOTOS = {"train": ("china", "astronaut", "chelsea", "rocket", "coffee"), "test": ("flower",)}


def _crops(img: np.ndarray, n: int, size: int, rng: np.random.Generator, x_range=(0.0, 1.0)) -> np.ndarray:
    h, w = img.shape[:2]
    lo, hi = int(x_range[0] * w), int(x_range[1] * w) - size
    if hi <= lo or h < size:
        raise ValueError(f"crops of {size} pixels do not fit in a {h} x {w} image")
    ys = rng.integers(0, h - size + 1, n)
    xs = rng.integers(lo, hi + 1, n)
    return np.stack([img[y:y + size, x:x + size] for y, x in zip(ys, xs)])


def _edges(rgb: np.ndarray) -> np.ndarray:
    """Canny edges of each crop's luminance (white on black), as pix2pix's edges -> photo pairs."""
    from skimage.feature import canny

    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0
    return np.stack([canny(g, sigma=1.5) for g in grey]).astype(np.float32)[..., None]


def paired_data(task: str = "grey2colour", *, n: int = 200, size: int = 64, split: str = "train",
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training (or test) pairs (A, B), float32 arrays (n, size, size, C) in [0, 1].

    task:
      "grey2colour": A greyscale (1 channel), B the colour photo (3).
      "edges2photo": A the photo's Canny edges (1 channel, 0/1), B the photo (3).
      "stereo2disparity": A the left view of scikit-image's stereo motorcycle (3 channels), B its
        measured disparity (1 channel, nearer = brighter; unknown pixels 0).
    split: "train" or "test": different photos (the test photo is flower.jpg) or, for the stereo
    pair, the left three quarters of the scene vs the right quarter.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    check_scalar(n, "n", numbers.Integral, min_val=1)
    check_scalar(size, "size", numbers.Integral, min_val=16)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    if task == "stereo2disparity":
        try:
            from skimage import data
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                'the stereo pair ships with scikit-image: pip install "mlsci_fast[art]"') from None
        left, _, disp = data.stereo_motorcycle()
        disp = np.nan_to_num(np.asarray(disp, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        disp = np.clip(disp / np.percentile(disp[disp > 0], 99.5), 0, 1)
        both = np.concatenate([left.astype(np.float32) / 255.0, disp[..., None]], axis=2)
        crops = _crops(both, int(n), int(size), rng, (0.0, 0.75) if split == "train" else (0.75, 1.0))
        return crops[..., :3].astype(np.float32), crops[..., 3:].astype(np.float32)
    if task not in ("grey2colour", "edges2photo"):
        raise ValueError(f"task must be 'grey2colour', 'edges2photo' or 'stereo2disparity', got {task!r}")
    names = _PHOTOS[split]
    per = [int(n) // len(names) + (1 if i < int(n) % len(names) else 0) for i in range(len(names))]
    photos = np.concatenate([_crops(sample_image(name), k, int(size), rng) for name, k in zip(names, per) if k])
    B = photos.astype(np.float32) / 255.0
    if task == "grey2colour":
        A = (B @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    else:
        A = _edges(photos).astype(np.float32)
    return A, B
