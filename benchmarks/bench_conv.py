"""2-D convolution: mlsci_fast vs torch (oneDNN), numpy im2col + matmul and scipy, float32, on the
issue's four shapes; the backward pass (both gradients) vs torch's; 2 threads vs 1; and the
Keras-like fit loop vs a plain torch loop on the digits CNN.

Each timed benchmark records its GFLOP/s, the fraction of the machine's peak (PEAK_GFLOPS_PER_CORE
x threads; set MLSCI_PEAK_GFLOPS_PER_CORE for another CPU) and how busy the machine was: the CPU
time other processes used during the run, in cores (a loaded second core swings these figures
several-fold, so read a ratio next to its busy figure). The conftest prints them after the ratios.

Without --benchmark-enable each case runs once on a shrunken shape, as a smoke test.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mlsci_fast
from mlsci_fast import conv

# AVX-512 on this 2-core AMD EPYC (Zen 4): 16 float32 lanes x 2 (FMA) at 3.6 GHz. Our own
# micro-kernel reaches 115.7 GFLOP/s on one core with data in L1.
PEAK_GFLOPS_PER_CORE = float(os.environ.get("MLSCI_PEAK_GFLOPS_PER_CORE", "115.2"))

# name: (input shape, weight shape, stride, padding)
SHAPES = {
    "img512-3to16-3x3": ((1, 3, 512, 512), (16, 3, 3, 3), 1, 1),
    "mnist64-1to32-5x5": ((64, 1, 28, 28), (32, 1, 5, 5), 1, 0),
    "resnet32-64to64-3x3": ((32, 64, 56, 56), (64, 64, 3, 3), 1, 1),
    "stem8-3to64-7x7s2": ((8, 3, 224, 224), (64, 3, 7, 7), 2, 3),
}
SMOKE = {  # same channels and kernels, one small image each
    "img512-3to16-3x3": ((1, 3, 32, 32), (16, 3, 3, 3), 1, 1),
    "mnist64-1to32-5x5": ((2, 1, 28, 28), (32, 1, 5, 5), 1, 0),
    "resnet32-64to64-3x3": ((1, 64, 14, 14), (64, 64, 3, 3), 1, 1),
    "stem8-3to64-7x7s2": ((1, 3, 32, 32), (64, 3, 7, 7), 2, 3),
}


def _cpu_busy_jiffies() -> int:
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


class Busy:
    """Measures the CPU time other processes use while the block runs, in cores."""

    def __enter__(self):
        self.t0, self.j0, self.own0 = time.perf_counter(), _cpu_busy_jiffies(), sum(os.times()[:2])
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        total = (_cpu_busy_jiffies() - self.j0) / os.sysconf("SC_CLK_TCK")
        own = sum(os.times()[:2]) - self.own0
        self.cores = max(0.0, total - own) / wall if wall > 0 else 0.0


def _data(benchmark, name):
    xs, ws, stride, pad = (SMOKE if benchmark.disabled else SHAPES)[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    return x, w, stride, pad


def _flops(x, w, stride, pad) -> float:
    _, _, ho, wo = conv.conv2d_output_shape(x.shape, w.shape, stride, pad)
    return 2.0 * x.shape[0] * w.shape[0] * ho * wo * w.shape[1] * w.shape[2] * w.shape[3]


def numpy_im2col(x, w, stride, pad):
    """The textbook numpy convolution: padded windows (im2col) and one tensordot (BLAS matmul)."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def scipy_correlate(x, w, stride, pad):
    """scipy.signal.correlate over (channel, h, w) per output channel ('valid' on the padded input;
    scipy picks direct or FFT itself), then the stride."""
    from scipy.signal import correlate

    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = [correlate(xp, w[co][None], mode="valid")[:, 0, ::stride, ::stride] for co in range(w.shape[0])]
    return np.stack(out, axis=1)


def _timed(benchmark, fn, rounds=3):
    """Warm up, then time `rounds` rounds of enough calls to last >= 50 ms each, so that waking
    the cores and the thread pools is not what gets measured (conftest's _settle has let the
    previous benchmark's spinning thread pools go to sleep)."""
    fn()
    t = time.perf_counter()
    fn()
    single = time.perf_counter() - t
    iterations = 1 if benchmark.disabled else max(1, int(np.ceil(0.05 / max(single, 1e-6))))
    benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=1)


def _time(benchmark, fn, flops, n_threads, rounds=3):
    with Busy() as busy:
        _timed(benchmark, fn, rounds)
    if not benchmark.disabled:
        gflops = flops / benchmark.stats.stats.median / 1e9
        benchmark.extra_info.update(gflops=gflops, peak_fraction=gflops / (PEAK_GFLOPS_PER_CORE * n_threads),
                                    busy_cores=busy.cores)


IMPLS = ["mlsci_fast", "torch", "numpy-im2col", "scipy"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", list(SHAPES))
def bench_conv2d_forward(benchmark, record, name, impl):
    x, w, stride, pad = _data(benchmark, name)
    benchmark.group = f"conv2d-forward-{name}"
    record(impl)
    n_threads = mlsci_fast.get_num_threads()
    expected = conv.conv2d(x, w, stride=stride, padding=pad)
    if impl == "mlsci_fast":
        fn = lambda: conv.conv2d(x, w, stride=stride, padding=pad)  # noqa: E731
    elif impl == "torch":
        tx, tw = torch.from_numpy(x), torch.from_numpy(w)
        torch.set_num_threads(n_threads)

        def fn():
            with torch.no_grad():
                return F.conv2d(tx, tw, None, stride, pad).numpy()
    elif impl == "numpy-im2col":
        fn = lambda: numpy_im2col(x, w, stride, pad)  # noqa: E731
    else:
        fn = lambda: scipy_correlate(x, w, stride, pad)  # noqa: E731
    np.testing.assert_allclose(fn(), expected, rtol=2e-3, atol=2e-3 * np.abs(expected).max())
    _time(benchmark, fn, _flops(x, w, stride, pad), n_threads, rounds=1 if impl == "scipy" else 3)


@pytest.mark.parametrize("impl", ["mlsci_fast", "mlsci_fast-1thread"])
@pytest.mark.parametrize("name", list(SHAPES))
def bench_conv2d_thread_scaling(benchmark, record, name, impl):
    """Ours on all threads vs ours on one: the "speed-up" is the parallel scaling."""
    x, w, stride, pad = _data(benchmark, name)
    benchmark.group = f"conv2d-threads-{name}"
    record(impl)
    n_threads = 1 if impl.endswith("1thread") else mlsci_fast.get_num_threads()
    _time(benchmark, lambda: conv.conv2d(x, w, stride=stride, padding=pad, n_threads=n_threads),
          _flops(x, w, stride, pad), n_threads)


@pytest.mark.parametrize("impl", ["mlsci_fast", "torch"])
def bench_conv2d_backward(benchmark, record, impl):
    """Both gradients (input and weight) of the (32, 64, 56, 56) -> 64 3x3 layer from a given
    output gradient; torch runs aten's convolution_backward with the same two outputs."""
    name = "resnet32-64to64-3x3"
    x, w, stride, pad = _data(benchmark, name)
    gy = np.random.default_rng(1).standard_normal(conv.conv2d_output_shape(x.shape, w.shape, stride, pad),
                                                  dtype=np.float32)
    benchmark.group = f"conv2d-backward-{name}"
    record(impl)
    n_threads = mlsci_fast.get_num_threads()
    if impl == "mlsci_fast":
        def fn():
            gx = conv.conv2d_backward_data(gy, w, x.shape[2:], stride, pad)
            gw, _ = conv.conv2d_backward_weights(x, gy, w.shape[2:], stride, pad)
            return gx, gw
    else:
        torch.set_num_threads(n_threads)
        tx, tw, tg = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)

        def fn():
            gx, gw, _ = torch.ops.aten.convolution_backward(tg, tx, tw, None, [stride] * 2, [pad] * 2, [1, 1], False,
                                                            [0, 0], 1, [True, True, False])
            return gx.numpy(), gw.numpy()
    _time(benchmark, fn, 2 * _flops(x, w, stride, pad), n_threads)


@pytest.mark.parametrize("impl", ["mlsci_fast", "torch"])
@pytest.mark.parametrize("order", ["first", "second"])
def bench_layer_backward_orders(benchmark, record, order, impl):
    """Through the torch layer: the first backward (dL/dx, dL/dw of sum(tanh(y))), and the
    second (a gradient penalty: the weight gradient of |dL/dx|^2, which differentiates the
    backward pass itself) on the MNIST-like layer (64, 1, 28, 28) -> 32 5x5."""
    from mlsci_fast.nn import Conv2d

    name = "mnist64-1to32-5x5"
    x, w, stride, pad = _data(benchmark, name)
    benchmark.group = f"conv2d-layer-backward-{order}-{name}"
    record(impl)
    n_threads = mlsci_fast.get_num_threads()
    torch.set_num_threads(n_threads)
    layer = (Conv2d if impl == "mlsci_fast" else torch.nn.Conv2d)(w.shape[1], w.shape[0], w.shape[2:], stride, pad)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    tx = torch.from_numpy(x).requires_grad_()

    def fn():
        loss = torch.tanh(layer(tx)).sum()
        if order == "first":
            return torch.autograd.grad(loss, (tx, layer.weight))
        (gx,) = torch.autograd.grad(loss, tx, create_graph=True)
        return torch.autograd.grad((gx**2).sum(), layer.weight)

    # forward + first backward: 3 convolutions; the penalty adds the double backward's 4
    _time(benchmark, fn, (3 if order == "first" else 7) * _flops(x, w, stride, pad), n_threads)


def _digits_cnn_data():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16.0).astype(np.float32)[:, None], d.target


@pytest.mark.parametrize("impl", ["mlsci_fast", "plain-torch-loop"])
def bench_fit_loop_overhead(benchmark, record, impl):
    """Model.fit vs the hand-written torch loop (same model on torch's conv, same batches): the
    "speed-up" below 1 is the wrapper's overhead (target: at most 20%, i.e. >= 0.83)."""
    from mlsci_fast.nn import Model, small_cnn

    X, y = _digits_cnn_data()
    epochs = 1 if benchmark.disabled else 5
    benchmark.group = "nn-fit-digits-cnn"
    record(impl)

    def ours():
        torch.manual_seed(0)
        model = Model(small_cnn(1, 10, (8, 8), conv=torch.nn.Conv2d)).compile("adam", "cross_entropy", ["accuracy"])
        model.fit(X, y, epochs=epochs, batch_size=32, seed=0, verbose=0)

    def plain():
        torch.manual_seed(0)
        net = small_cnn(1, 10, (8, 8), conv=torch.nn.Conv2d)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(X), torch.from_numpy(y)
        gen = torch.Generator().manual_seed(0)
        for _ in range(epochs):
            net.train()
            order = torch.randperm(len(tx), generator=gen)
            correct = 0
            for i in range(0, len(tx), 32):
                idx = order[i:i + 32]
                opt.zero_grad()
                out = net(tx[idx])
                loss = loss_fn(out, ty[idx])
                loss.backward()
                opt.step()
                correct += int((out.argmax(1) == ty[idx]).sum())

    _timed(benchmark, ours if impl == "mlsci_fast" else plain)
