"""DeepDream on a photo: what EfficientNet-Lite0 sees in it, made visible.

Early layers paint strokes and textures, middle layers eyes, scales and petals, late layers
object parts. Writes the photo and three dreams (one per depth) side by side.

    python examples/art_deep_dream.py --image flower --out dream.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from mlsci_fast.art import FeatureExtractor, deep_dream, load_image, to_uint8

DEPTHS = {"early": ("block2",), "middle": ("block6", "block9"), "late": ("block13",)}


def run(image: str = "flower", size: int = 448, out: str = "dream.png", seed: int = 0) -> dict:
    fe = FeatureExtractor()
    tiles, seconds = [to_uint8(load_image(image, size))], {}
    for name, layers in DEPTHS.items():
        t0 = time.perf_counter()
        tiles.append(deep_dream(image, feature_net=fe, layers=layers, size=size, seed=seed, progress=False))
        seconds[name] = time.perf_counter() - t0
    Image.fromarray(np.concatenate(tiles, axis=1)).save(out)
    return {"seconds": seconds, "shape": tiles[1].shape, "out": out}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", default="flower", help="a path or a sample image name")
    p.add_argument("--size", type=int, default=448)
    p.add_argument("--out", default="dream.png")
    args = p.parse_args(argv)
    r = run(args.image, args.size, args.out)
    for name, s in r["seconds"].items():
        print(f"{name} layers {DEPTHS[name]}: {s:.1f} s")
    print(f"wrote {r['out']}")


if __name__ == "__main__":
    main()
