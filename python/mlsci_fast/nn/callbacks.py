"""Keras' training callbacks for `Model.fit`: EarlyStopping, ModelCheckpoint, LearningRateScheduler."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path

from .._io import check_writable

__all__ = ["Callback", "EarlyStopping", "LearningRateScheduler", "ModelCheckpoint"]


class Callback:
    """Base class: override any of the hooks; ``self.model`` is the `Model` being fitted."""

    model = None

    def set_model(self, model) -> None:
        self.model = model

    def on_train_begin(self, logs: dict | None = None) -> None: ...

    def on_train_end(self, logs: dict | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...


def _mode(mode: str, monitor: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs:
        raise ValueError(f"{who} monitors {monitor!r}, which this fit does not log; available: {sorted(logs)}"
                         + (" (val_* needs validation_split or validation_data)" if monitor.startswith("val_")
                            else ""))
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    With ``restore_best_weights=True`` the weights of the best epoch are put back at the end.
    """

    def __init__(self, monitor: str = "val_loss", *, min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 restore_best_weights: bool = False):
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor, self.min_delta, self.patience = monitor, abs(min_delta), patience
        self.mode = _mode(mode, monitor)
        self.restore_best_weights = restore_best_weights

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, None, None
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(logs or {}, self.monitor, "EarlyStopping")
        if self._better(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.module.state_dict())
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.module.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (`Model.save`) after each epoch, or only when `monitor` improved.

    `filepath` may name log entries and the 1-based epoch: ``"ckpt-{epoch:02d}-{val_loss:.3f}.pt"``.
    Files are written atomically.
    """

    def __init__(self, filepath: str | Path, monitor: str = "val_loss", *, save_best_only: bool = False,
                 mode: str = "auto"):
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.mode = _mode(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.saved: list[str] = []

    def on_train_begin(self, logs=None):
        check_writable(self.filepath.format_map(_AnyField()), "ModelCheckpoint filepath")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            improved = value < self.best if self.mode == "min" else value > self.best
            if not improved:
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        self.model.save(path)
        self.saved.append(path)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)`` (0-based epoch,
    current rate); the rate used is logged as ``"lr"``."""

    def __init__(self, schedule: Callable[[int, float], float]):
        if not callable(schedule):
            raise TypeError("schedule must be a callable (epoch, lr) -> lr")
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(self.schedule(epoch, float(opt.param_groups[0]["lr"])))
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"the schedule returned learning rate {lr} for epoch {epoch}")
        for group in opt.param_groups:
            group["lr"] = lr

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.param_groups[0]["lr"])


class _AnyField(dict):
    """Fills every `{name:format}` of a file name pattern with 0, to find its folder."""

    def __missing__(self, key):
        return 0
