"""pix2pix after a short training: edges -> photo, on crops of photos that ship offline.

Trains on Canny-edge / photo pairs cut from five photos (china, astronaut, chelsea, rocket,
coffee) and translates the edges of a photo it never saw (flower.jpg). Be warned what a CPU demo
on five photos gives: textured, muddy translations whose colours are guessed; edges do not say
that a flower is orange, and blurred background crops have no edges at all (after 10 epochs,
25 s: test L1 0.26, no better than painting every pixel the training photos' mean colour; 30
epochs do no better). The paper trains for hours on thousands of pairs. The tour's stereo ->
disparity task, where the view determines the output far more, learns measurable depth. Writes a
grid of test edges, true crops and translations.

    python examples/art_pix2pix.py --epochs 10 --out pix2pix.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from PIL import Image

from mlsci_fast.art import Pix2Pix, paired_data


def run(n: int = 400, size: int = 64, epochs: int = 10, out: str = "pix2pix.png", model_path: str | None = None,
        seed: int = 0) -> dict:
    A, B = paired_data("edges2photo", n=n, size=size, seed=seed)
    At, Bt = paired_data("edges2photo", n=16, size=size, split="test", seed=seed)
    model = Pix2Pix(1, 3, base_filters=16, seed=seed)
    t0 = time.perf_counter()
    model.fit(A, B, epochs=epochs, batch_size=8, validation=(At, Bt), progress=False, checkpoint=model_path)
    seconds = time.perf_counter() - t0
    P = model.predict(At[:8])
    rows = [np.concatenate([np.repeat(At[i], 3, axis=2), Bt[i], P[i]], axis=0) for i in range(8)]
    Image.fromarray((np.concatenate(rows, axis=1) * 255).astype(np.uint8)).save(out)
    return {"seconds": seconds, "val_l1": model.history_["val_l1"],
            "mean_baseline_l1": float(np.abs(Bt - B.mean(axis=(0, 1, 2))).mean()), "out": out}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=400)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", default="pix2pix.png")
    p.add_argument("--model", default=None, help="save the model here after every epoch")
    args = p.parse_args(argv)
    r = run(args.pairs, epochs=args.epochs, out=args.out, model_path=args.model)
    print(f"trained {args.epochs} epochs in {r['seconds']:.0f} s; test L1 {r['val_l1'][0]:.3f} -> "
          f"{r['val_l1'][-1]:.3f} (mean colour everywhere: {r['mean_baseline_l1']:.3f}); wrote {r['out']}")


if __name__ == "__main__":
    main()
