"""Neural networks on torch: our convolution as a torch layer, and a Keras-like `Model`.

`Conv2d` is a drop-in ``torch.nn.Conv2d`` (same constructor, parameters and state_dict keys)
whose forward and backward run mlsci_fast's C++ kernel. `Model` wraps any ``torch.nn.Module``
with Keras' ``compile`` / ``fit`` / ``evaluate`` / ``predict`` / ``summary``; `mlp` and
`small_cnn` build the course's two models. Needs torch: ``pip install "mlsci_fast[deep]"``.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("torch") is None:  # pragma: no cover - exercised only without torch
    raise ImportError('mlsci_fast.nn needs PyTorch: pip install "mlsci_fast[deep]"')

from .builders import mlp, small_cnn
from .callbacks import Callback, EarlyStopping, LearningRateScheduler, ModelCheckpoint
from .layers import Conv2d, ConvShapeError, ConvTypeError, conv2d
from .model import History, Model

__all__ = [
    "Callback",
    "Conv2d",
    "ConvShapeError",
    "ConvTypeError",
    "EarlyStopping",
    "History",
    "LearningRateScheduler",
    "Model",
    "ModelCheckpoint",
    "conv2d",
    "mlp",
    "small_cnn",
]
