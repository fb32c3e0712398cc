"""A physics-informed CNN for the 2-D Poisson equation: the use that needs exact higher-order
gradients through the convolution.

The problem: -(u_xx + u_yy) = f on the unit square, u = 0 on its boundary, with
f = 2 pi^2 sin(pi x) sin(pi y), whose solution is u = sin(pi x) sin(pi y). The network is fully
convolutional with 1 x 1 kernels, so evaluated on a collocation grid (the coordinates as two
input channels) each pixel's output is the same small network of that pixel's (x, y): a PINN
(Raissi, Perdikaris & Karniadakis, J. Comput. Phys. 378, 686 (2019)) evaluated as a CNN. The
boundary condition is built in, u = x (1 - x) y (1 - y) N(x, y), and the loss is the mean squared
residual of the equation, with u_xx and u_yy taken by autograd through the network. Its weight
gradient therefore differentiates the convolution three times (twice for the Laplacian, once
for training): a backward pass that is differentiable only once would drop terms silently.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .layers import Conv2d

__all__ = ["PoissonPINNResult", "poisson_pinn"]


@dataclass
class PoissonPINNResult:
    """The training run: the loss after every step, the network's solution on the grid, the
    exact one, and the relative L2 error between them."""

    loss: np.ndarray
    u: np.ndarray
    exact: np.ndarray
    l2_error: float
    seconds: float
    conv: str
    parameters: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"PoissonPINNResult(conv={self.conv}, steps={len(self.loss)}, final loss={self.loss[-1]:.3e}, "
                f"relative L2 error={self.l2_error:.3e}, {self.seconds:.1f} s)")


def _network(conv, width: int, depth: int) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    c = 2
    for _ in range(depth):
        layers += [conv(c, width, 1, dtype=torch.float64), torch.nn.Tanh()]
        c = width
    layers.append(conv(c, 1, 1, dtype=torch.float64))
    return torch.nn.Sequential(*layers)


def poisson_pinn(conv: type = Conv2d, *, n_grid: int = 24, width: int = 16, depth: int = 2, steps: int = 600,
                 lr: float = 1e-2, seed: int = 0) -> PoissonPINNResult:
    """Train the PINN above with Adam and return its loss curve and solution.

    Parameters
    ----------
    conv : type
        The convolution layer class: `mlsci_fast.nn.Conv2d` or ``torch.nn.Conv2d``. The same seed
        gives both the same initial weights, so their loss curves can be compared step by step.
    n_grid : int
        Collocation points per side (interior points of a uniform grid).
    width, depth : int
        Channels of each hidden layer and the number of hidden layers.
    steps : int
        Adam steps, each on the whole grid.
    lr : float
        Adam's learning rate.
    seed : int
        torch's seed for the initial weights.
    """
    for name, value, low in (("n_grid", n_grid, 2), ("width", width, 1), ("depth", depth, 1), ("steps", steps, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    torch.manual_seed(seed)
    net = _network(conv, width, depth)
    h = 1.0 / (n_grid + 1)
    t = torch.linspace(h, 1 - h, n_grid, dtype=torch.float64)
    gy, gx = torch.meshgrid(t, t, indexing="ij")
    coords = torch.stack([gx, gy])[None].requires_grad_()  # (1, 2, n, n): x and y channels
    x, y = coords[:, 0:1], coords[:, 1:2]
    source = 2 * math.pi**2 * torch.sin(math.pi * gx) * torch.sin(math.pi * gy)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    losses = np.empty(steps)
    start = time.perf_counter()

    def solution():
        return x * (1 - x) * y * (1 - y) * net(coords)  # u = 0 on the boundary by construction

    for step in range(steps):
        opt.zero_grad()
        u = solution()
        (du,) = torch.autograd.grad(u.sum(), coords, create_graph=True)
        (d2x,) = torch.autograd.grad(du[:, 0].sum(), coords, create_graph=True)
        (d2y,) = torch.autograd.grad(du[:, 1].sum(), coords, create_graph=True)
        residual = d2x[0, 0] + d2y[0, 1] + source
        loss = (residual**2).mean()
        loss.backward()
        opt.step()
        losses[step] = loss.item()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        u = solution()[0, 0].numpy()
    exact = (torch.sin(math.pi * gx) * torch.sin(math.pi * gy)).numpy()
    l2 = float(np.linalg.norm(u - exact) / np.linalg.norm(exact))
    name = f"{conv.__module__}.{conv.__qualname__}"
    return PoissonPINNResult(losses, u, exact, l2, seconds, name,
                             dict(n_grid=n_grid, width=width, depth=depth, steps=steps, lr=lr, seed=seed))
