"""Probability estimates for SVMs: Platt scaling and pairwise coupling.

- Platt, "Probabilistic outputs for support vector machines" (2000), with the numerically safer
  Newton iteration of Lin, Lin & Weng, "A note on Platt's probabilistic outputs for support
  vector machines", Machine Learning 68 (2007).
- Wu, Lin & Weng, "Probability estimates for multi-class classification by pairwise coupling",
  JMLR 5 (2004), their second method.
"""

from __future__ import annotations

import numpy as np

MIN_PROB = 1e-7  # pairwise probabilities are kept inside [MIN_PROB, 1 - MIN_PROB]


def sigmoid_train(dec: np.ndarray, positive: np.ndarray, max_iter: int = 100) -> tuple[float, float]:
    """Fit P(positive | f) = 1 / (1 + exp(A f + B)) to decision values f by maximum likelihood.

    Targets are Platt's regularised ones, (N+ + 1) / (N+ + 2) and 1 / (N- + 2), so that a
    separable training set does not drive |A| to infinity.
    """
    dec = np.asarray(dec, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    t = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    A, B = 0.0, np.log((n_neg + 1.0) / (n_pos + 1.0))

    def nll(A: float, B: float) -> float:
        z = dec * A + B
        # log(1 + exp(z)) - (1 - t) z, written to avoid overflow for either sign of z
        return float(np.sum(np.where(z >= 0, t * z + np.log1p(np.exp(-z)), (t - 1.0) * z + np.log1p(np.exp(z)))))

    with np.errstate(over="ignore", invalid="ignore"):  # np.where evaluates both branches
        return _newton(dec, t, A, B, nll, max_iter)


def _newton(dec, t, A, B, nll, max_iter):
    f = nll(A, B)
    sigma = 1e-12  # keeps the Hessian positive definite
    for _ in range(max_iter):
        z = dec * A + B
        p = np.where(z >= 0, np.exp(-z) / (1.0 + np.exp(-z)), 1.0 / (1.0 + np.exp(z)))  # P(positive)
        q = 1.0 - p
        d2 = p * q
        h11 = sigma + np.dot(dec * dec, d2)
        h22 = sigma + d2.sum()
        h21 = np.dot(dec, d2)
        d1 = t - p
        g1, g2 = np.dot(dec, d1), d1.sum()
        if abs(g1) < 1e-5 and abs(g2) < 1e-5:
            break
        det = h11 * h22 - h21 * h21
        dA = -(h22 * g1 - h21 * g2) / det
        dB = -(-h21 * g1 + h11 * g2) / det
        gd = g1 * dA + g2 * dB
        step = 1.0
        while step >= 1e-10:  # backtracking line search (Armijo)
            new_f = nll(A + step * dA, B + step * dB)
            if new_f < f + 1e-4 * step * gd:
                A, B, f = A + step * dA, B + step * dB, new_f
                break
            step /= 2.0
        else:
            break  # no progress possible: a flat likelihood
    return float(A), float(B)


def sigmoid_predict(dec: np.ndarray, A: float, B: float) -> np.ndarray:
    z = dec * A + B
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(z >= 0, np.exp(-z) / (1.0 + np.exp(-z)), 1.0 / (1.0 + np.exp(z)))


def couple(r: np.ndarray, max_iter: int | None = None) -> np.ndarray:
    """Class probabilities from pairwise ones, for many samples at once.

    r has shape (n_samples, k, k) with r[:, i, j] = P(i | i or j) and r[:, j, i] = 1 - r[:, i, j].
    Solves min_p sum_i sum_{j != i} (r_ji p_i - r_ij p_j)^2 with sum(p) = 1 by Wu, Lin & Weng's
    fixed-point iteration; returns shape (n_samples, k).
    """
    n, k, _ = r.shape
    max_iter = max(100, k) if max_iter is None else max_iter
    Q = -r.transpose(0, 2, 1) * r  # Q[t, j] = -r_jt r_tj
    diag = np.einsum("njt,njt->nt", r, r) - np.einsum("ntt,ntt->nt", r, r)  # sum_{j != t} r_jt^2
    idx = np.arange(k)
    Q[:, idx, idx] = diag
    p = np.full((n, k), 1.0 / k)
    eps = 0.005 / k
    active = np.ones(n, dtype=bool)
    for _ in range(max_iter):
        Qp = np.einsum("ntj,nj->nt", Q, p)
        pQp = np.einsum("nt,nt->n", p, Qp)
        err = np.abs(Qp - pQp[:, None]).max(axis=1)
        active &= err >= eps
        if not active.any():
            break
        a = np.flatnonzero(active)
        Pa, Qa, Qpa, pQpa = p[a], Q[a], Qp[a], pQp[a]
        for t in range(k):
            diff = (-Qpa[:, t] + pQpa) / Qa[:, t, t]
            Pa[:, t] += diff
            pQpa = (pQpa + diff * (diff * Qa[:, t, t] + 2.0 * Qpa[:, t])) / (1.0 + diff) ** 2
            Qpa = (Qpa + diff[:, None] * Qa[:, t, :]) / (1.0 + diff)[:, None]
            Pa /= (1.0 + diff)[:, None]
        p[a] = Pa
    return p
