"""A Keras-like training API on any ``torch.nn.Module``: compile, fit, evaluate, predict, summary,
save and load.

The training loop is the plain torch loop (zero_grad, forward, loss, backward, step) on tensors
converted once per `fit`; batches are index slices of those tensors, and metrics are accumulated
as tensors and read once per epoch, so the wrapper costs little over a hand-written loop.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import _plotting
from .._io import atomic_write
from .._progress import Progress
from .callbacks import Callback

__all__ = ["History", "Model"]

_OPTIMIZERS = {"adam": (torch.optim.Adam, 1e-3), "adamw": (torch.optim.AdamW, 1e-3),
               "sgd": (torch.optim.SGD, 1e-2), "rmsprop": (torch.optim.RMSprop, 1e-3)}
_LOSSES = {
    "cross_entropy": nn.CrossEntropyLoss,
    "sparse_categorical_crossentropy": nn.CrossEntropyLoss,
    "mse": nn.MSELoss,
    "mean_squared_error": nn.MSELoss,
    "mae": nn.L1Loss,
    "mean_absolute_error": nn.L1Loss,
    "binary_crossentropy": nn.BCEWithLogitsLoss,
    "nll": nn.NLLLoss,
}
_CLASS_LOSSES = (nn.CrossEntropyLoss, nn.NLLLoss)
_FORMAT = "mlsci_fast.nn.Model/1"


def _accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Classification accuracy: argmax of logits vs integer labels, or logit > 0 for one output."""
    if out.dim() > 1 and out.shape[-1] > 1:
        pred = out.argmax(dim=-1)
        target = y if y.dim() == pred.dim() else y.argmax(dim=-1)
    else:
        pred = (out.reshape(-1) > 0).to(y.dtype)
        target = y.reshape(-1)
    return (pred == target).to(torch.float64).mean()


def _mae(out, y):
    return (out - y.reshape(out.shape)).abs().mean()


def _mse(out, y):
    return ((out - y.reshape(out.shape)) ** 2).mean()


_METRICS = {"accuracy": _accuracy, "acc": _accuracy, "mae": _mae, "mse": _mse}


class History:
    """What `Model.fit` recorded: ``history["loss"]``, ``history["val_accuracy"]``, ... one entry
    per epoch, ``epoch`` (0-based indices) and ``seconds`` (wall time per epoch)."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.seconds: list[float] = []
        self.seed: int | None = None

    def _append(self, epoch: int, logs: dict, seconds: float) -> None:
        self.epoch.append(epoch)
        self.seconds.append(seconds)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items())
        return f"History({len(self.epoch)} epochs: {last})"

    def plot(self, metrics: Sequence[str] | None = None, *, path: str | os.PathLike | None = None, ax=None):
        """One panel per metric (loss first), training and validation curves per epoch; returns the
        matplotlib Figure (with `path`, also saves it). ax: one Axes per metric."""
        names = list(metrics) if metrics else [k for k in self.history if not k.startswith("val_") and k != "lr"]
        unknown = [n for n in names if n not in self.history]
        if unknown:
            raise ValueError(f"metrics: {unknown} not recorded; the history has {list(self.history)}")
        fig, axes, owned = _plotting.subplots(ax, len(names), path=path, figsize=(4.5 * len(names), 3.4))
        epochs = np.asarray(self.epoch) + 1
        for ax, name in zip(axes, names):
            ax.plot(epochs, self.history[name], "o-", label="training")
            if "val_" + name in self.history:
                ax.plot(epochs, self.history["val_" + name], "s--", label="validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.legend()
        return _plotting.finish(fig, path, owned)


class Model:
    """Keras' model workflow for a torch module.

    Examples
    --------
    >>> model = Model(small_cnn(1, 10, (8, 8)))
    >>> model.compile("adam", "cross_entropy", metrics=["accuracy"])
    >>> history = model.fit(X_train, y_train, epochs=10, batch_size=64, validation_split=0.1)
    >>> model.evaluate(X_test, y_test)
    {'loss': 0.08, 'accuracy': 0.975}
    """

    def __init__(self, module: nn.Module):
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.optimizer: torch.optim.Optimizer | None = None
        self.loss_fn: Callable | None = None
        self.metrics: dict[str, Callable] = {}
        self.history: History | None = None
        self.stop_training = False
        self._compile_args: dict = {}
        self._sample_shape: tuple[int, ...] | None = None

    # ---- configuration --------------------------------------------------------------------
    def compile(self, optimizer="adam", loss="cross_entropy", metrics: Sequence | None = None, *,
                learning_rate: float | None = None) -> Model:
        """Choose the optimizer, loss and metrics.

        Parameters
        ----------
        optimizer : {'adam', 'adamw', 'sgd', 'rmsprop'}, a torch optimizer, or a callable
            ``params -> optimizer``. Names use Keras' default learning rates unless
            `learning_rate` is given.
        loss : {'cross_entropy', 'mse', 'mae', 'binary_crossentropy', 'nll'} (and Keras' long
            names), or a callable ``(output, target) -> scalar tensor``.
        metrics : names ('accuracy', 'mae', 'mse') or callables ``(output, target) -> scalar``.
        """
        params = [p for p in self.module.parameters() if p.requires_grad]
        if isinstance(optimizer, str):
            if optimizer not in _OPTIMIZERS:
                raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)} or a torch optimizer, "
                                 f"got {optimizer!r}")
            cls, default_lr = _OPTIMIZERS[optimizer]
            self.optimizer = cls(params, lr=default_lr if learning_rate is None else learning_rate)
        elif isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
            if learning_rate is not None:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate
        elif callable(optimizer):
            self.optimizer = optimizer(params)
            if not isinstance(self.optimizer, torch.optim.Optimizer):
                raise TypeError("optimizer(params) must return a torch.optim.Optimizer")
        else:
            raise TypeError("optimizer must be a name, a torch optimizer or a callable, "
                            f"got {type(optimizer).__name__}")
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(f"loss must be one of {sorted(_LOSSES)} or a callable, got {loss!r}")
            self.loss_fn = _LOSSES[loss]()
        elif callable(loss):
            self.loss_fn = loss
        else:
            raise TypeError(f"loss must be a name or a callable, got {type(loss).__name__}")
        self.metrics = {}
        for m in metrics or ():
            if isinstance(m, str):
                if m not in _METRICS:
                    raise ValueError(f"unknown metric {m!r}; use one of {sorted(_METRICS)} or a callable")
                self.metrics["accuracy" if m == "acc" else m] = _METRICS[m]
            elif callable(m):
                self.metrics[getattr(m, "__name__", f"metric_{len(self.metrics)}")] = m
            else:
                raise TypeError(f"metrics must be names or callables, got {m!r}")
        self._compile_args = {"optimizer": optimizer if isinstance(optimizer, str) else type(self.optimizer).__name__,
                              "loss": loss if isinstance(loss, str) else getattr(loss, "__name__", "custom"),
                              "metrics": list(self.metrics)}
        return self

    # ---- data -------------------------------------------------------------------------------
    def _dtype(self) -> torch.dtype:
        for p in self.module.parameters():
            if p.is_floating_point():
                return p.dtype
        return torch.get_default_dtype()

    def _device(self) -> torch.device:
        for p in self.module.parameters():
            return p.device
        return torch.device("cpu")

    def _inputs(self, x, name: str = "x") -> torch.Tensor:
        t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
        if not (t.is_floating_point() or t.dtype in (torch.int64, torch.int32, torch.uint8, torch.bool)):
            raise TypeError(f"{name} must be numeric, got {t.dtype}")
        if t.dim() == 0 or t.shape[0] == 0:
            raise ValueError(f"{name} must have at least one sample, got shape {tuple(t.shape)}")
        t = t.to(device=self._device(), dtype=self._dtype())
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinity")
        self._sample_shape = tuple(t.shape[1:])
        return t

    def _targets(self, y, n: int, name: str = "y") -> torch.Tensor:
        t = y if isinstance(y, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(np.asarray(y)))
        if t.dim() == 0 or t.shape[0] != n:
            raise ValueError(f"{name} must have one entry per sample ({n}), got shape {tuple(t.shape)}")
        if isinstance(self.loss_fn, _CLASS_LOSSES) and not t.is_floating_point():
            return t.to(device=self._device(), dtype=torch.int64)
        if isinstance(self.loss_fn, _CLASS_LOSSES) and t.dim() == 1:
            if not torch.equal(t, t.round()):
                raise ValueError(f"{name} must hold integer class labels for a classification loss")
            return t.to(device=self._device(), dtype=torch.int64)
        t = t.to(device=self._device(), dtype=self._dtype())
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinity")
        return t

    def _require_compiled(self, what: str) -> None:
        if self.optimizer is None or self.loss_fn is None:
            raise RuntimeError(f"call compile(optimizer, loss, metrics) before {what}")

    # ---- training ---------------------------------------------------------------------------
    def fit(self, x, y, epochs: int = 1, batch_size: int = 32, *, validation_split: float = 0.0,
            validation_data: tuple | None = None, callbacks: Sequence[Callback] | None = None, shuffle: bool = True,
            verbose: int = 1, seed: int | None = None, initial_epoch: int = 0) -> History:
        """Train for `epochs` passes over (x, y) in mini-batches; returns the `History`.

        `validation_split` holds out the last fraction of the samples (before shuffling, as
        Keras does); `validation_data=(x_val, y_val)` gives them explicitly. `seed` fixes the
        shuffling, epoch by epoch, so a run continued from `load` with `initial_epoch` repeats the
        uninterrupted one (the weights' initialisation and dropout draw from torch's global
        generator: seed it with torch.manual_seed). None draws a seed, kept as ``History.seed``.
        ``verbose=1`` draws a progress bar per epoch.
        """
        self._require_compiled("fit")
        for name, v in (("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_split and validation_data is not None:
            raise ValueError("give validation_split or validation_data, not both")
        epochs, batch_size, initial_epoch = int(epochs), int(batch_size), int(initial_epoch)
        X = self._inputs(x)
        Y = self._targets(y, X.shape[0])
        Xv = Yv = None
        if validation_data is not None:
            if len(validation_data) != 2:
                raise ValueError("validation_data must be a pair (x_val, y_val)")
            Xv = self._inputs(validation_data[0], "validation_data[0]")
            Yv = self._targets(validation_data[1], Xv.shape[0], "validation_data[1]")
        elif validation_split:
            n_val = int(math.floor(X.shape[0] * validation_split))
            if n_val < 1 or n_val >= X.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves no training or no validation sample "
                                 f"of {X.shape[0]}")
            X, Xv, Y, Yv = X[:-n_val], X[-n_val:], Y[:-n_val], Y[-n_val:]
        self._sample_shape = tuple(X.shape[1:])
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else int(seed)
        callbacks = list(callbacks or ())
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be mlsci_fast.nn callbacks, got {type(cb).__name__}")
            cb.set_model(self)
        self.history = History()
        self.history.seed = seed
        self.stop_training = False
        n = X.shape[0]
        n_batches = (n + batch_size - 1) // batch_size
        for cb in callbacks:
            cb.on_train_begin({})
        for epoch in range(initial_epoch, initial_epoch + epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            t0 = time.perf_counter()
            # The shuffle of epoch e depends on (seed, e) only, so fitting epochs 0..k, saving, loading
            # and fitting on with initial_epoch=k+1 repeats the uninterrupted run.
            generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
            logs = self._train_epoch(X, Y, batch_size, shuffle, generator, n_batches,
                                     Progress(n_batches, f"epoch {epoch + 1}/{initial_epoch + epochs}", "batches",
                                              enabled=verbose > 0), Xv, Yv)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            self.history._append(epoch, logs, time.perf_counter() - t0)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end({})
        return self.history

    def _train_epoch(self, X, Y, batch_size, shuffle, generator, n_batches, progress, Xv, Yv) -> dict:
        module, opt, loss_fn = self.module, self.optimizer, self.loss_fn
        module.train()
        n = X.shape[0]
        order = torch.randperm(n, generator=generator).to(X.device) if shuffle else None
        total_loss = torch.zeros((), dtype=torch.float64)
        totals = {k: torch.zeros((), dtype=torch.float64) for k in self.metrics}
        with progress:
            for b in range(n_batches):
                if order is None:
                    xb, yb = X[b * batch_size:(b + 1) * batch_size], Y[b * batch_size:(b + 1) * batch_size]
                else:
                    idx = order[b * batch_size:(b + 1) * batch_size]
                    xb, yb = X[idx], Y[idx]
                opt.zero_grad(set_to_none=True)
                out = module(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    total_loss += loss.detach().to(torch.float64) * xb.shape[0]
                    for k, fn in self.metrics.items():
                        totals[k] += torch.as_tensor(fn(out.detach(), yb), dtype=torch.float64) * xb.shape[0]
                progress.update(b + 1)
            logs = {"loss": float(total_loss) / n}
            if not math.isfinite(logs["loss"]):
                raise FloatingPointError("the training loss became NaN or infinite; lower the learning rate")
            logs.update({k: float(v) / n for k, v in totals.items()})
            if Xv is not None:
                logs.update({"val_" + k: v for k, v in self._evaluate(Xv, Yv, 1024).items()})
            progress.update(n_batches, ", ".join(f"{k}={v:.4g}" for k, v in logs.items()), force=True)
        return logs

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def _evaluate(self, X, Y, batch_size) -> dict:
        self.module.eval()
        n = X.shape[0]
        total_loss = 0.0
        totals = dict.fromkeys(self.metrics, 0.0)
        for i in range(0, n, batch_size):
            xb, yb = X[i:i + batch_size], Y[i:i + batch_size]
            out = self.module(xb)
            total_loss += float(self.loss_fn(out, yb)) * xb.shape[0]
            for k, fn in self.metrics.items():
                totals[k] += float(fn(out, yb)) * xb.shape[0]
        return {"loss": total_loss / n, **{k: v / n for k, v in totals.items()}}

    def evaluate(self, x, y, batch_size: int = 1024) -> dict[str, float]:
        """The loss and metrics on (x, y), as a dict (model in eval mode, no gradients)."""
        self._require_compiled("evaluate")
        X = self._inputs(x)
        return self._evaluate(X, self._targets(y, X.shape[0]), batch_size)

    @torch.no_grad()
    def predict(self, x, batch_size: int = 1024) -> np.ndarray:
        """The module's outputs for x (eval mode, no gradients), as a numpy array."""
        X = self._inputs(x)
        self.module.eval()
        outs = [self.module(X[i:i + batch_size]) for i in range(0, X.shape[0], batch_size)]
        return torch.cat(outs).cpu().numpy()

    # ---- inspection -------------------------------------------------------------------------
    def summary(self, input_shape: Sequence[int] | None = None, print_fn: Callable[[str], None] | None = print) -> str:
        """A table of the leaf layers with their output shapes and parameter counts.

        `input_shape` is the shape of one sample, e.g. ``(1, 28, 28)``; it defaults to the shape
        of the data last passed to fit, evaluate or predict. Returns the text (and prints it
        unless ``print_fn=None``).
        """
        shape = tuple(input_shape) if input_shape is not None else self._sample_shape
        if shape is None:
            raise ValueError("summary needs input_shape (the shape of one sample, e.g. (1, 8, 8)) before any fit")
        rows: list[tuple[str, str, int]] = []
        hooks = []
        for name, mod in self.module.named_modules():
            if next(mod.children(), None) is not None:
                continue

            def hook(m, _inputs, output, name=name):
                out_shape = tuple(output.shape) if isinstance(output, torch.Tensor) else "?"
                n_params = sum(p.numel() for p in m.parameters(recurse=False))
                rows.append((f"{name or 'module'} ({type(m).__name__})", str((None, *out_shape[1:])), n_params))

            hooks.append(mod.register_forward_hook(hook))
        was_training = self.module.training
        try:
            self.module.eval()
            with torch.no_grad():
                self.module(torch.zeros((1, *shape), dtype=self._dtype(), device=self._device()))
        finally:
            for h in hooks:
                h.remove()
            self.module.train(was_training)
        total = sum(p.numel() for p in self.module.parameters())
        trainable = sum(p.numel() for p in self.module.parameters() if p.requires_grad)
        head = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(head[i]), *(len(str(r[i])) for r in rows)) for i in range(3)]
        line = "  ".join("-" * w for w in widths)
        text = "\n".join(
            [f'Model: "{type(self.module).__name__}", input {(None, *shape)}',
             "  ".join(h.ljust(w) for h, w in zip(head, widths)), line]
            + ["  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), f"{r[2]:,}".rjust(widths[2])]) for r in rows]
            + [line, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
               f"Non-trainable params: {total - trainable:,}"]
        )
        if print_fn is not None:
            print_fn(text)
        return text

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the weights, the optimizer state, the compile settings and the history to `path`
        (a torch file), atomically: a crash never leaves a half-written file."""
        path = Path(path)
        state = {
            "format": _FORMAT,
            "module": type(self.module).__name__,
            "state_dict": self.module.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "compile": self._compile_args,
            "history": None if self.history is None else
            {"history": self.history.history, "epoch": self.history.epoch, "seconds": self.history.seconds,
             "seed": self.history.seed},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: torch.save(state, f), ".pt")

    def load(self, path: str | os.PathLike) -> Model:
        """Restore what `save` wrote into this model (same architecture): weights, the optimizer
        state when this model is compiled, and the history. Returns self."""
        state = torch.load(Path(path), map_location=self._device(), weights_only=True)
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a file written by mlsci_fast.nn.Model.save")
        try:
            self.module.load_state_dict(state["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{path} holds weights of a different architecture ({state['module']}): {exc}") from None
        if self.optimizer is not None and state["optimizer"] is not None:
            self.optimizer.load_state_dict(state["optimizer"])
        if state["history"] is not None:
            self.history = History()
            self.history.history = state["history"]["history"]
            self.history.epoch = state["history"]["epoch"]
            self.history.seconds = state["history"]["seconds"]
            self.history.seed = state["history"].get("seed")
        return self
