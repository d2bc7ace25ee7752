"""Two moons: the smallest demonstration that unlabeled points can move a decision boundary.

Two labeled points, one at the tip of each moon, and 600 unlabeled ones. A classifier trained
on the two labels alone draws its boundary between the two points, across both moons. Label
propagation (Zhu and Ghahramani, 2002; here the normalised form of Zhou et al., 2004) spreads
the two labels along a k-nearest-neighbour graph of all the points: labels travel through
dense regions, not across the gap between the moons (the cluster assumption). The same
classifier trained on the propagated labels then draws its boundary through the gap. It runs in
about a second on a CPU. Explained in chapter 0.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssl_teach.checks import check_int


def two_moons(n_per_moon: int = 300, noise: float = 0.08, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``2 n_per_moon`` points ``[N, 2]`` (float32) of two interleaved half circles, and their
    classes ``[N]`` (0: upper moon, 1: lower moon), with Gaussian noise of std ``noise``."""
    check_int("n_per_moon", n_per_moon, least=1)
    rng = np.random.default_rng(seed)
    upper_angles, lower_angles = rng.uniform(0, np.pi, n_per_moon), rng.uniform(0, np.pi, n_per_moon)
    upper = np.c_[np.cos(upper_angles), np.sin(upper_angles)]
    lower = np.c_[1 - np.cos(lower_angles), 0.5 - np.sin(lower_angles)]
    points = np.r_[upper, lower] + rng.normal(0, noise, (2 * n_per_moon, 2))
    return points.astype(np.float32), np.r_[np.zeros(n_per_moon), np.ones(n_per_moon)].astype(np.int64)


def label_propagation(points: np.ndarray, labeled: np.ndarray, labels: np.ndarray, k: int = 10,
                      alpha: float = 0.99, iterations: int = 500) -> np.ndarray:
    """Classes for every point, spread from the ``labeled`` indices along a k-NN graph.

    Zhou et al. (2004): W is the symmetric k-nearest-neighbour graph with Gaussian weights,
    S = D^-1/2 W D^-1/2, and F <- alpha S F + (1 - alpha) Y is iterated from the one-hot labels Y;
    the class of a point is argmax F.
    """
    check_int("k", k, least=1)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    distances = np.square(points[:, None, :] - points[None, :, :]).sum(-1)
    neighbours = np.argsort(distances, axis=1)[:, 1 : k + 1]
    scale = np.median(distances[np.arange(len(points))[:, None], neighbours])
    weights = np.zeros_like(distances)
    rows = np.repeat(np.arange(len(points)), k)
    weights[rows, neighbours.ravel()] = np.exp(-distances[rows, neighbours.ravel()] / scale)
    weights = np.maximum(weights, weights.T)  # an undirected graph
    inv_sqrt = 1 / np.sqrt(weights.sum(1))
    similarity = inv_sqrt[:, None] * weights * inv_sqrt[None, :]
    seeds = np.zeros((len(points), int(labels.max()) + 1))
    seeds[labeled, labels] = 1
    spread = seeds.copy()
    for _ in range(iterations):
        spread = alpha * similarity @ spread + (1 - alpha) * seeds
    return spread.argmax(1)


def fit_mlp(points: np.ndarray, labels: np.ndarray, steps: int = 500, seed: int = 0) -> nn.Module:
    """A small MLP (2-64-64-2) fitted to ``points`` and ``labels`` with Adam, full batch."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.as_tensor(points), torch.as_tensor(labels)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, points: np.ndarray) -> np.ndarray:
    """The class ``model`` gives each of ``points``."""
    return model(torch.as_tensor(points, dtype=torch.float32)).argmax(1).numpy()
