"""The course's two models: a fully connected network (x -> sigma(W x) layers) and a small CNN."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .layers import Conv2d

__all__ = ["mlp", "small_cnn"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "elu": nn.ELU}


def _activation(name: str) -> nn.Module:
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}") from None


def mlp(n_inputs: int, n_outputs: int, hidden: Sequence[int] = (64,), *, activation: str = "relu",
        dropout: float = 0.0) -> nn.Sequential:
    """A multilayer perceptron: Flatten, then Linear + activation (+ Dropout) per hidden layer,
    then a Linear output layer giving logits (pair it with ``loss="cross_entropy"``).

    Keras' ``Sequential([Dense(64, activation="relu"), Dense(10)])`` is ``mlp(n_inputs, 10, (64,))``.
    """
    if n_inputs < 1 or n_outputs < 1 or any(h < 1 for h in hidden):
        raise ValueError(f"layer sizes must be positive, got n_inputs={n_inputs}, hidden={tuple(hidden)}, "
                         f"n_outputs={n_outputs}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_inputs
    for h in hidden:
        layers += [nn.Linear(width, h), _activation(activation)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


def small_cnn(in_channels: int = 1, n_classes: int = 10, image_size: tuple[int, int] = (8, 8), *,
              channels: Sequence[int] = (16, 32), kernel_size: int = 3, hidden: int = 64, dropout: float = 0.0,
              conv: type[nn.Conv2d] = Conv2d) -> nn.Sequential:
    """A small CNN: per entry of `channels` a 'same'-padded convolution, ReLU and 2x2 max-pooling,
    then Flatten, a hidden Linear + ReLU layer and a Linear layer giving `n_classes` logits.

    `conv` is the convolution layer class: mlsci_fast's `Conv2d` (default) or ``torch.nn.Conv2d``
    (the same model on torch's kernel, for comparison).
    """
    h, w = image_size
    if min(h, w) < 2 ** len(channels):
        raise ValueError(f"image_size {image_size} is too small for {len(channels)} 2x2 poolings")
    layers: list[nn.Module] = []
    c = in_channels
    for out in channels:
        layers += [conv(c, out, kernel_size, padding="same"), nn.ReLU(), nn.MaxPool2d(2)]
        c, h, w = out, h // 2, w // 2
    layers += [nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_classes))
    return nn.Sequential(*layers)

