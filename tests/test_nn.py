"""The Keras-like Model: fit/evaluate/predict, history, callbacks, save/load and resume, summary,
builders and bad input."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from mlsci_fast.nn import (
    Callback,
    EarlyStopping,
    History,
    LearningRateScheduler,
    Model,
    ModelCheckpoint,
    mlp,
    small_cnn,
)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return (d.images / 16.0).astype(np.float32), d.target


def compiled_mlp(seed=0, **compile_kwargs):
    torch.manual_seed(seed)
    kwargs = dict(optimizer="adam", loss="cross_entropy", metrics=["accuracy"]) | compile_kwargs
    return Model(mlp(64, 10, (32,))).compile(**kwargs)


def test_fit_learns_and_records_history(digits):
    X, y = digits
    model = compiled_mlp()
    history = model.fit(X, y, epochs=5, batch_size=32, validation_split=0.2, seed=1, verbose=0)
    assert isinstance(history, History) and history is model.history
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1, 2, 3, 4] and len(history.seconds) == 5 and history.seed == 1
    assert all(len(v) == 5 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] > 0.75
    # the validation split is the last 20% of the samples, as in Keras
    n_val = int(len(X) * 0.2)
    ev = model.evaluate(X[-n_val:], y[-n_val:])
    assert ev["accuracy"] == pytest.approx(history.history["val_accuracy"][-1])
    assert ev["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-5)


def test_evaluate_and_predict_agree_with_torch(digits):
    X, y = digits
    model = compiled_mlp()
    model.fit(X, y, epochs=1, verbose=0, seed=0)
    logits = model.predict(X[:300], batch_size=64)
    assert logits.shape == (300, 10) and logits.dtype == np.float32
    with torch.no_grad():
        ref = model.module(torch.from_numpy(X[:300])).numpy()
    np.testing.assert_allclose(logits, ref, rtol=1e-6, atol=1e-6)
    ev = model.evaluate(X[:300], y[:300], batch_size=7)
    assert ev["accuracy"] == pytest.approx(np.mean(ref.argmax(1) == y[:300]))
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(ref), torch.from_numpy(y[:300])).item()
    assert ev["loss"] == pytest.approx(expected, rel=1e-5)


def test_same_seeds_same_run_and_resume_equals_uninterrupted(digits, tmp_path):
    X, y = digits
    a = compiled_mlp()
    ha = a.fit(X, y, epochs=4, batch_size=64, seed=3, verbose=0)
    b = compiled_mlp()
    b.fit(X, y, epochs=2, batch_size=64, seed=3, verbose=0)
    b.save(tmp_path / "half.pt")
    c = compiled_mlp(seed=99)  # different initial weights: load must overwrite them
    c.load(tmp_path / "half.pt")
    hc = c.fit(X, y, epochs=2, batch_size=64, seed=3, verbose=0, initial_epoch=2)
    assert hc.epoch == [2, 3]
    assert hc.history["loss"] == ha.history["loss"][2:]
    for pa, pc in zip(a.module.parameters(), c.module.parameters()):
        torch.testing.assert_close(pa, pc, rtol=0, atol=0)


def test_save_load_round_trip_and_wrong_files(digits, tmp_path):
    X, y = digits
    model = compiled_mlp()
    model.fit(X, y, epochs=1, verbose=0, seed=0)
    model.save(tmp_path / "sub" / "m.pt")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.pt"]  # no temporary left behind
    other = Model(mlp(64, 10, (32,))).load(tmp_path / "sub" / "m.pt")
    np.testing.assert_array_equal(other.predict(X[:50]), model.predict(X[:50]))
    assert other.history.history == model.history.history
    with pytest.raises(ValueError, match="different architecture"):
        Model(mlp(64, 10, (16,))).load(tmp_path / "sub" / "m.pt")
    torch.save({"a": 1}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a file written by"):
        model.load(tmp_path / "plain.pt")


def test_early_stopping_and_restore_best(digits):
    X, y = digits
    model = compiled_mlp(learning_rate=1e-3)
    # an improvement of 10 in the loss never happens: stops after patience + 1 epochs
    stop = EarlyStopping("loss", min_delta=10.0, patience=2)
    history = model.fit(X, y, epochs=20, verbose=0, callbacks=[stop], seed=0)
    assert len(history.epoch) == 3 and stop.stopped_epoch == 2

    class Sabotage(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 3:  # ruin the weights after the best epoch: restore must undo it
                with torch.no_grad():
                    for p in self.model.module.parameters():
                        p.mul_(0.0)

    model = compiled_mlp()
    best = EarlyStopping("val_accuracy", patience=1, restore_best_weights=True)
    h = model.fit(X, y, epochs=6, verbose=0, validation_split=0.2, callbacks=[best, Sabotage()], seed=0)
    assert best.mode == "max"
    n_val = int(len(X) * 0.2)
    assert model.evaluate(X[-n_val:], y[-n_val:])["accuracy"] == pytest.approx(max(h.history["val_accuracy"]))


def test_early_stopping_without_validation_names_the_problem(digits):
    X, y = digits
    with pytest.raises(ValueError, match="monitors 'val_loss'.*validation_split"):
        compiled_mlp().fit(X, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_model_checkpoint(digits, tmp_path):
    X, y = digits
    every = ModelCheckpoint(tmp_path / "e{epoch:02d}-{loss:.3f}.pt", monitor="loss")
    best = ModelCheckpoint(tmp_path / "best.pt", monitor="val_accuracy", save_best_only=True)
    model = compiled_mlp()
    model.fit(X, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[every, best], seed=0)
    assert [p.split("/")[-1][:4] for p in every.saved] == ["e01-", "e02-", "e03-"]
    assert all((tmp_path / p.split("/")[-1]).exists() for p in every.saved)
    assert 1 <= len(best.saved) <= 3 and (tmp_path / "best.pt").exists()
    lost = ModelCheckpoint(tmp_path / "missing" / "e{epoch:02d}-{loss:.3f}.pt", monitor="loss")
    with pytest.raises(ValueError, match="ModelCheckpoint filepath=.*does not exist"):  # before epoch 1
        compiled_mlp().fit(X, y, epochs=3, verbose=0, callbacks=[lost], seed=0)


def test_learning_rate_scheduler(digits):
    X, y = digits
    model = compiled_mlp(optimizer="sgd", learning_rate=0.1)
    h = model.fit(X, y, epochs=3, verbose=0, seed=0,
                  callbacks=[LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)])
    assert h.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    with pytest.raises(ValueError, match="learning rate -1"):
        model.fit(X, y, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: -1)])


def test_summary_lists_layers_shapes_and_parameters():
    torch.manual_seed(0)
    net = small_cnn(1, 10, (8, 8))
    text = Model(net).summary((1, 8, 8), print_fn=None)
    lines = text.splitlines()
    assert "(None, 16, 8, 8)" in text and "(None, 32, 2, 2)" in text and "(None, 10)" in text
    assert any("Conv2d" in line and "160" in line for line in lines)
    total = sum(p.numel() for p in net.parameters())
    assert f"Total params: {total:,}" in text
    with pytest.raises(ValueError, match="needs input_shape"):
        Model(net).summary()


def test_progress_bar_and_plot(digits, capsys):
    X, y = digits
    model = compiled_mlp()
    h = model.fit(X[:200], y[:200], epochs=2, batch_size=50, verbose=1, seed=0)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "4/4 batches" in err and "accuracy=" in err
    fig = h.plot()
    assert len(fig.axes) == 2


def test_regression_loss_and_custom_metric():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], dtype=np.float32))[:, None]

    def max_error(out, target):
        return (out - target).abs().max()

    torch.manual_seed(0)
    model = Model(torch.nn.Linear(3, 1)).compile("adam", "mse", ["mae", max_error], learning_rate=0.05)
    h = model.fit(X, y, epochs=40, batch_size=32, verbose=0, seed=0)
    assert set(h.history) == {"loss", "mae", "max_error"}
    assert h.history["loss"][-1] < 1e-3


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m, X, y: Model(mlp(64, 10)).fit(X, y), RuntimeError, "call compile"),
        (lambda m, X, y: m.fit(X, y[:-1]), ValueError, "one entry per sample"),
        (lambda m, X, y: m.fit(X, y, validation_split=1.0), ValueError, "validation_split must be in"),
        (lambda m, X, y: m.fit(X, y, epochs=0), ValueError, "epochs must be a positive int"),
        (lambda m, X, y: m.fit(X, y, batch_size=2.5), ValueError, "batch_size must be a positive int"),
        (lambda m, X, y: m.fit(np.where(X > 0.5, np.nan, X), y), ValueError, "x contains NaN"),
        (lambda m, X, y: m.fit(X, y + 0.5), ValueError, "integer class labels"),
        (lambda m, X, y: m.fit(X, y, validation_split=0.1, validation_data=(X, y)), ValueError, "not both"),
        (lambda m, X, y: m.compile("adamax"), ValueError, "optimizer must be one of"),
        (lambda m, X, y: m.compile("adam", "hinge"), ValueError, "loss must be one of"),
        (lambda m, X, y: m.compile("adam", "mse", ["f1"]), ValueError, "unknown metric"),
        (lambda m, X, y: Model("not a module"), TypeError, "torch.nn.Module"),
        (lambda m, X, y: m.fit(X, y, callbacks=[object()]), TypeError, "callbacks must be"),
    ],
)
def test_bad_input(digits, call, error, match):
    X, y = digits
    with pytest.raises(error, match=match):
        call(compiled_mlp(), X[:100], y[:100].astype(np.float64))


def test_builders_validate():
    with pytest.raises(ValueError, match="activation must be one of"):
        mlp(4, 2, activation="swish")
    with pytest.raises(ValueError, match="too small"):
        small_cnn(1, 10, (3, 3))
    assert isinstance(mlp(4, 2, (8, 8), dropout=0.2)[3], torch.nn.Dropout)


def test_numpy_integers_are_accepted(digits):
    X, y = digits
    h = compiled_mlp().fit(X[:64], y[:64], epochs=np.int64(2), batch_size=np.int32(32), verbose=0, seed=0)
    assert h.epoch == [0, 1]
