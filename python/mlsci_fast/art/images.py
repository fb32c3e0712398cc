"""Images in and out for the CNN art: paths, PIL images, arrays or the names of images that
ship inside installed packages (no downloads)."""

from __future__ import annotations

import os

import numpy as np
import torch

__all__ = ["SAMPLE_IMAGES", "load_image", "sample_image", "to_uint8"]

# Limits checked before anything large is allocated.
_MAX_PIXELS = 100_000_000
MAX_SIZE = 4096

# name -> (package, loader)
SAMPLE_IMAGES = {
    "china": ("scikit-learn", "china.jpg"),
    "flower": ("scikit-learn", "flower.jpg"),
    "astronaut": ("scikit-image", "astronaut"),
    "coffee": ("scikit-image", "coffee"),
    "chelsea": ("scikit-image", "chelsea"),
    "rocket": ("scikit-image", "rocket"),
    "brick": ("scikit-image", "brick"),
    "grass": ("scikit-image", "grass"),
    "gravel": ("scikit-image", "gravel"),
}


def sample_image(name: str) -> np.ndarray:
    """An H x W x 3 uint8 image shipped with scikit-learn (china, flower) or scikit-image
    (astronaut, coffee, chelsea, rocket; textures brick, grass, gravel, grey made RGB)."""
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {name!r}; choose from {sorted(SAMPLE_IMAGES)}")
    package, key = SAMPLE_IMAGES[name]
    if package == "scikit-learn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(key)
    try:
        from skimage import data
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"the sample image {name!r} ships with scikit-image: "
                                  'pip install "mlsci_fast[art]"') from None
    img = np.asarray(getattr(data, key)())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3]).astype(np.uint8)


def _as_array(image) -> np.ndarray:
    if isinstance(image, str) and image in SAMPLE_IMAGES and not os.path.exists(image):
        return sample_image(image)
    if isinstance(image, (str, os.PathLike)):
        from PIL import Image

        if not os.path.exists(image):
            raise FileNotFoundError(f"image file {image!r} does not exist (sample images: {sorted(SAMPLE_IMAGES)})")
        try:
            with Image.open(image) as im:
                if im.width * im.height > _MAX_PIXELS:
                    raise ValueError(f"image {image!r} is {im.width} x {im.height} pixels; more than "
                                     f"{_MAX_PIXELS:,} is not supported (scale it down first)")
                return np.asarray(im.convert("RGB"))
        except (Image.UnidentifiedImageError, Image.DecompressionBombError) as e:
            raise ValueError(f"{image!r} is not an image file PIL can read: {e}") from None
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        return np.asarray(image.convert("RGB"))
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"an image array must be H x W x 3 (or x 4, or H x W grey), got shape {arr.shape}")
    return arr[:, :, :3]


def load_image(image, size: int | None = None) -> torch.Tensor:
    """A (1, 3, H, W) float32 tensor in [0, 1]; with `size`, resized so the longer side is `size`.

    `image`: a path, a PIL image, an H x W x 3 array (uint8 0..255, or float 0..1), a grey H x W
    array (made RGB) or the name of a sample image (see `SAMPLE_IMAGES`). `size` is at most
    `MAX_SIZE` (4096) and images at most 100 megapixels, checked before any large allocation.
    """
    if size is not None and not 16 <= int(size) <= MAX_SIZE:
        raise ValueError(f"size must be between 16 and {MAX_SIZE} pixels, got {size}")
    arr = _as_array(image)
    if arr.shape[0] * arr.shape[1] > _MAX_PIXELS:
        raise ValueError(f"the image is {arr.shape[1]} x {arr.shape[0]} pixels; more than {_MAX_PIXELS:,} is not "
                         "supported (scale it down first)")
    if arr.dtype == np.uint8:
        x = arr.astype(np.float32) / 255.0
    else:
        x = arr.astype(np.float32)
        if not np.isfinite(x).all():
            raise ValueError("the image contains NaN or infinity")
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"a float image must lie in [0, 1], got [{x.min():g}, {x.max():g}]")
    if min(x.shape[:2]) < 8:
        raise ValueError(f"the image is too small: {x.shape[0]} x {x.shape[1]} pixels")
    t = torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None]
    if size is not None:
        h, w = t.shape[-2:]
        s = int(size) / max(h, w)
        t = torch.nn.functional.interpolate(t, size=(max(1, round(h * s)), max(1, round(w * s))),
                                            mode="bilinear", align_corners=False, antialias=s < 1)
    return t.clamp(0, 1).contiguous()


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> H x W x 3 uint8."""
    x = x.detach()
    if x.ndim == 4:
        x = x[0]
    return (x.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
