"""Restricted Boltzmann machines: training in C++, and the link to the Ising model.

An RBM is an energy-based model, E(v, h) = -v.b_v - h.b_h - h W v, over binary visible units v
and hidden units h with no connections within a layer, so each layer given the other is a set
of independent coin flips (block Gibbs sampling). `BernoulliRBM` has scikit-learn's interface
and defaults (persistent contrastive divergence, PCD-1) plus CD-k/PCD-k, momentum, weight decay,
shuffled minibatches and long-chain sampling; each training epoch runs in one C++ call.

The course's physics link: the Ising model's Boltzmann distribution is also an energy-based
model over binary units. `ising_configurations` (`mlsci_fast.ising.configurations`) draws
equilibrium spin configurations; an RBM trained on them generates new configurations whose
magnetisation and energy (`ising_observables`) follow the temperature it was trained at.

Examples
--------
>>> import numpy as np
>>> from mlsci_fast.rbm import BernoulliRBM
>>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
>>> rbm = BernoulliRBM(n_components=2, n_iter=5, random_state=0).fit(X)
>>> rbm.transform(X).shape
(4, 2)
"""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _core, _seed, _threads
from . import random as _random
from ._progress import Progress
from ._validation import check_scalar
from .ising import configuration_observables as ising_observables  # the RBM lesson's data, from ising
from .ising import configurations as ising_configurations

__all__ = ["BernoulliRBM", "ising_configurations", "ising_observables"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow warnings


class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli restricted Boltzmann machine (scikit-learn's `BernoulliRBM` API).

    Parameters
    ----------
    n_components : int, default=256
        Hidden units.
    learning_rate : float, default=0.1
        Step size per minibatch (the gradient is averaged over the minibatch).
    batch_size : int, default=10
        Samples per minibatch.
    n_iter : int, default=10
        Epochs (passes over the training data), at most 10**6.
    method : {"pcd", "cd"}, default="pcd"
        "pcd": persistent contrastive divergence (Tieleman 2008; scikit-learn's): the negative
        chain continues between updates. "cd": contrastive divergence (Hinton 2002): the chain
        restarts at the data each update.
    k : int, default=1
        Gibbs steps per update, at most 10,000 (an epoch runs without a stop check; CD-k uses
        k = 1 to 20).
    momentum : float, default=0.0
        Momentum of the parameter updates (0.5-0.9 speeds training; Hinton 2010).
    weight_decay : float, default=0.0
        L2 penalty on the weights.
    shuffle : bool, default=True
        Shuffle the samples every epoch (scikit-learn does not).
    random_state : int, numpy Generator or None, default=None
        Seeds the initial weights, the shuffles and every Gibbs draw.
    verbose : int or bool, default=0
        Print the pseudo-likelihood after each epoch (as scikit-learn); True also shows a progress
        line.
    n_threads : int or None, default=None
        Threads for `gibbs`/`sample` (training is one sequential chain of updates).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The weights W.
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    h_samples_ : ndarray of shape (batch_size, n_components)
        The persistent chains' hidden states.
    n_features_in_ : int
    history_ : dict
        Per epoch: "pseudo_likelihood" (mean over the training data) and "seconds".
    """

    def __init__(
        self,
        n_components: int = 256,
        *,
        learning_rate: float = 0.1,
        batch_size: int = 10,
        n_iter: int = 10,
        method: str = "pcd",
        k: int = 1,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        shuffle: bool = True,
        verbose=0,
        random_state=None,
        n_threads: int | None = None,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.shuffle = shuffle
        self.verbose = verbose
        self.random_state = random_state
        self.n_threads = n_threads

    # -- checks -----------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_scalar(self.n_components, "n_components", numbers.Integral, min_val=1)
        check_scalar(self.learning_rate, "learning_rate", numbers.Real, min_val=0.0, include_min=False)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, min_val=1)
        check_scalar(self.n_iter, "n_iter", numbers.Integral, min_val=0, max_val=10**6)
        check_scalar(self.k, "k", numbers.Integral, min_val=1, max_val=10_000)
        check_scalar(self.momentum, "momentum", numbers.Real, min_val=0.0, max_val=1.0, include_max=False)
        check_scalar(self.weight_decay, "weight_decay", numbers.Real, min_val=0.0)
        if self.method not in ("pcd", "cd"):
            raise ValueError(f"method must be 'pcd' or 'cd', got {self.method!r}")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be a bool, got {self.shuffle!r}")
        if self.n_threads is not None:
            _threads.resolve(self.n_threads)

    @staticmethod
    def _check_unit_interval(X: np.ndarray, name: str = "X") -> None:
        # Like scikit-learn, values outside [0, 1] are computed with (the formulas still run),
        # but they are not probabilities, so say so.
        if X.size and (X.min() < 0 or X.max() > 1):
            warnings.warn(f"{name} should lie in [0, 1] (binary data or probabilities), got values in "
                          f"[{X.min():g}, {X.max():g}]; the RBM treats them as probabilities. Scale the data, "
                          "e.g. with MinMaxScaler", UserWarning, stacklevel=3)

    def _init(self, n_features: int) -> None:
        self._seed = _seed.resolve(self.random_state, "random_state")
        self.components_ = 0.01 * _random.normal((self.n_components, n_features), self._seed, step=0)
        self.intercept_hidden_ = np.zeros(self.n_components)
        self.intercept_visible_ = np.zeros(n_features)
        self.h_samples_ = np.zeros((self.batch_size, self.n_components))
        self._vel = [np.zeros_like(self.components_), np.zeros(self.n_components), np.zeros(n_features)]
        self._epochs = 0
        self._draws = 0  # sample() calls without a seed, each a fresh stream
        self.history_ = {"pseudo_likelihood": [], "seconds": []}

    def _epoch(self, X: np.ndarray, order: np.ndarray, batch_size: int) -> None:
        if self.h_samples_.shape[0] != batch_size:  # persistent chains: one per minibatch row
            chain = np.zeros((batch_size, self.n_components))
            m = min(batch_size, self.h_samples_.shape[0])
            chain[:m] = self.h_samples_[:m]
            self.h_samples_ = chain
        _core.rbm.train_epoch(
            self.components_, self.intercept_hidden_, self.intercept_visible_, self.h_samples_, *self._vel,
            X, order, float(self.learning_rate), int(batch_size), int(self.k), self.method == "pcd",
            float(self.momentum), float(self.weight_decay), self._seed, self._epochs % 2**32,
        )
        self._epochs += 1

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: ArrayLike, y=None) -> BernoulliRBM:
        """Train for `n_iter` epochs on X of shape (n_samples, n_features), values in [0, 1]."""
        self._check_params()
        X = validate_data(self, X, dtype=np.float64, order="C")
        self._check_unit_interval(X)
        self._init(X.shape[1])
        n = len(X)
        show = self.verbose is True or (isinstance(self.verbose, int) and self.verbose > 1)
        with Progress(int(self.n_iter), "rbm", "epochs", enabled=bool(show)) as bar:
            for it in range(int(self.n_iter)):
                t0 = time.perf_counter()
                if self.shuffle:
                    order = np.argsort(_random.uniform(n, self._seed, step=1 + self._epochs % (2**32 - 1)))
                else:
                    order = np.arange(n)
                self._epoch(X, order.astype(np.int64), int(self.batch_size))
                self.history_["seconds"].append(time.perf_counter() - t0)
                if self.verbose:
                    pl = float(self.score_samples(X).mean())
                    self.history_["pseudo_likelihood"].append(pl)
                    print(f"[BernoulliRBM] Iteration {it + 1}, pseudo-likelihood = {pl:.2f}, "
                          f"time = {self.history_['seconds'][-1]:.2f}s")
                bar.update(it + 1)
        return self

    def partial_fit(self, X: ArrayLike, y=None) -> BernoulliRBM:
        """One update with X as a single minibatch (scikit-learn's semantics)."""
        self._check_params()
        first = not hasattr(self, "components_")
        X = validate_data(self, X, dtype=np.float64, order="C", reset=first)
        self._check_unit_interval(X)
        if first:
            self._init(X.shape[1])
        self._epoch(X, np.arange(len(X), dtype=np.int64), len(X))
        return self

    # -- inference --------------------------------------------------------------------------
    def _validate(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, order="C", reset=False)
        self._check_unit_interval(X)
        return X

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Hidden-unit probabilities P(h = 1 | v), shape (n_samples, n_components)."""
        X = self._validate(X)
        return _sigmoid(X @ self.components_.T + self.intercept_hidden_)

    def _free_energy(self, v: np.ndarray) -> np.ndarray:
        hidden = np.logaddexp(0, v @ self.components_.T + self.intercept_hidden_).sum(axis=1)
        return -v @ self.intercept_visible_ - hidden

    def score_samples(self, X: ArrayLike) -> np.ndarray:
        """Pseudo-log-likelihood of each sample, estimated as scikit-learn does: n_features *
        log sigmoid(F(v~) - F(v)), with v~ = v with one unit flipped and F the free energy.

        Unlike scikit-learn, the flipped unit is not drawn afresh on every call: it is a hash
        of the sample's values and the model's seed, so a sample's score is the same whatever
        its row, its batch or the call (reproducible, and order- and subset-invariant).
        """
        X = self._validate(X)
        nv = X.shape[1]
        q = np.round(X * 65536.0).astype(np.int64).astype(np.uint64)
        bits = (_random.uniform((nv, 2), self._seed, step=2**32 - 1) * 2.0**32).astype(np.uint64)
        mult = (bits[:, 0] << np.uint64(32)) | bits[:, 1] | np.uint64(1)
        h = (q * mult).sum(axis=1, dtype=np.uint64)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
        j = (h % np.uint64(nv)).astype(np.int64)
        flipped = X.copy()
        rows = np.arange(len(X))
        flipped[rows, j] = 1.0 - flipped[rows, j]
        return -nv * np.logaddexp(0, -(self._free_energy(flipped) - self._free_energy(X)))

    def gibbs(self, v: ArrayLike) -> np.ndarray:
        """One block Gibbs step v -> h -> v; returns the new visible states (bool)."""
        return self.sample(len(np.atleast_2d(v)), n_steps=1, init=v)

    def sample(self, n_samples: int, *, n_steps: int = 1000, init: ArrayLike | None = None, seed=None) -> np.ndarray:
        """Draw visible configurations by running n_samples independent Gibbs chains.

        Parameters
        ----------
        n_samples : int
            Chains (one sample each).
        n_steps : int, default=1000
            Gibbs steps per chain (burn-in: more steps, closer to the model's distribution).
        init : array of shape (n_samples, n_features), optional
            Starting visible states in [0, 1] (e.g. data: a "reconstruction"); default random
            coin flips.
        seed : int or None
            Seeds the draws; None uses the model's seed and a fresh step each call.

        Returns
        -------
        ndarray of bool, shape (n_samples, n_features)
        """
        check_is_fitted(self)
        check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
        check_scalar(n_steps, "n_steps", numbers.Integral, min_val=1)
        nv = self.components_.shape[1]
        if seed is None:
            seed, step0 = self._seed, (2**30 + 7919 * self._draws) % 2**32
            self._draws += 1
        else:
            seed, step0 = _seed.resolve(seed), 0
        if init is None:
            v = (_random.uniform((int(n_samples), nv), seed, step=(step0 + 2**31) % 2**32) < 0.5).astype(np.float64)
        else:
            v = self._validate(np.atleast_2d(init)).copy()
            if len(v) != n_samples:
                raise ValueError(f"init has {len(v)} rows, n_samples is {n_samples}")
        _core.rbm.gibbs(self.components_, self.intercept_hidden_, self.intercept_visible_, v, int(n_steps), seed,
                        step0, _threads.resolve(self.n_threads))
        return v.astype(bool)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    @property
    def _n_features_out(self) -> int:
        return self.components_.shape[0]

