"""Handwritten digits with a multilayer perceptron and a small CNN, Keras-style, on our conv kernel.

Data: scikit-learn's 1,797 real 8x8 handwritten digits (ships inside the wheel), a stratified 75/25
split. The MLP is the course's composition of x -> sigma(W x) layers; the CNN has two 'same' 3x3
convolutions (mlsci_fast.nn.Conv2d, our C++ kernel) with ReLU and 2x2 max-pooling, then a dense
layer. Both train with Adam through mlsci_fast.nn.Model; the learning rate halves every 10 epochs.
The figure shows what the course says a CNN learns: the first layer's 3x3 filters (edges, curves,
blobs) and the feature maps they produce on one test digit, next to the training curves.

    python examples/cnn_digits.py --out cnn_digits.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mlsci_fast.nn import LearningRateScheduler, Model, mlp, small_cnn


def load(seed: int = 0):
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]  # (n, 1, 8, 8) in [0, 1]
    return train_test_split(X, d.target, test_size=0.25, random_state=seed, stratify=d.target)


def _schedule(epoch: int, lr: float) -> float:
    return 1e-3 * 0.5 ** (epoch // 10)


def train(module, X_train, y_train, X_test, y_test, epochs: int, seed: int, verbose: int):
    model = Model(module).compile("adam", "cross_entropy", ["accuracy"])
    t0 = time.perf_counter()
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=32, validation_data=(X_test, y_test), seed=seed,
                        verbose=verbose, callbacks=[LearningRateScheduler(_schedule)])
    return model, history, time.perf_counter() - t0


def run(seed: int = 0, epochs: int = 30, out: str | None = None, verbose: int = 0) -> dict:
    X_train, X_test, y_train, y_test = load(seed)
    torch.manual_seed(seed)
    mlp_model, _, mlp_seconds = train(mlp(64, 10, (128, 64)), X_train, y_train, X_test, y_test, epochs, seed, verbose)
    torch.manual_seed(seed)
    cnn = small_cnn(1, 10, (8, 8), channels=(32, 64), hidden=128, dropout=0.25)
    cnn_model, history, cnn_seconds = train(cnn, X_train, y_train, X_test, y_test, epochs, seed, verbose)
    result = {
        "mlp_test_accuracy": mlp_model.evaluate(X_test, y_test)["accuracy"],
        "cnn_test_accuracy": cnn_model.evaluate(X_test, y_test)["accuracy"],
        "mlp_seconds": mlp_seconds,
        "cnn_seconds": cnn_seconds,
        "n_train": len(X_train),
        "n_test": len(X_test),
        "summary": cnn_model.summary(print_fn=None),
    }
    if out:
        plot(cnn_model, history, X_test[0], y_test[0], out)
    return result


def plot(model: Model, history, digit: np.ndarray, label: int, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conv1 = model.module[0]
    filters = conv1.weight.detach().numpy()[:, 0]  # (32, 3, 3)
    with torch.no_grad():
        maps = torch.relu(conv1(torch.from_numpy(digit[None]))).numpy()[0]  # (32, 8, 8)
    fig = plt.figure(figsize=(13, 6.2))
    grid = fig.add_gridspec(4, 16, hspace=0.5, wspace=0.25)
    for i in range(16):
        for row, (images, cmap) in enumerate(((filters, "RdBu_r"), (maps, "viridis"))):
            ax = fig.add_subplot(grid[row, i])
            img = images[i]
            lim = np.abs(img).max() or 1.0
            ax.imshow(img, cmap=cmap, vmin=-lim if cmap == "RdBu_r" else 0, vmax=lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(["filter", "feature\nmap"][row], fontsize=9)
    ax = fig.add_subplot(grid[2:, 0:3])
    ax.imshow(digit[0], cmap="gray_r")
    ax.set_title(f"input (label {label})", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    epochs = np.asarray(history.epoch) + 1
    ax = fig.add_subplot(grid[2:, 4:10])
    ax.plot(epochs, history.history["loss"], label="training")
    ax.plot(epochs, history.history["val_loss"], label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[2:, 11:16])
    ax.plot(epochs, history.history["accuracy"], label="training")
    ax.plot(epochs, history.history["val_accuracy"], label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0.8, 1.0)
    ax.legend(fontsize=8)
    fig.suptitle("first-layer 3x3 filters of the digits CNN (top) and what 16 of them see in a test digit")
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default="cnn_digits.png", help="figure file ('' for none)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    r = run(args.seed, args.epochs, args.out or None, verbose=0 if args.quiet else 1)
    print(r["summary"])
    print(f"8x8 digits, {r['n_train']} training / {r['n_test']} test images, {args.epochs} epochs")
    print(f"MLP 64-128-64-10: test accuracy {r['mlp_test_accuracy']:.3f} ({r['mlp_seconds']:.1f} s)")
    print(f"CNN (our Conv2d): test accuracy {r['cnn_test_accuracy']:.3f} ({r['cnn_seconds']:.1f} s)")
    if args.out:
        print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
