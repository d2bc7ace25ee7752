"""Figures the chapters share: training curves, image grids and confidence histograms.

Each function draws on a given matplotlib ``Axes`` (or makes a compact figure) and returns the
figure, so a notebook can save or glue it. Explained where first used in chapter 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from ssl_teach.train import History


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def plot_curves(
    histories: Mapping[str, History], metric: str = "test_acc", ax: Axes | None = None,
    title: str | None = None, ylabel: str | None = None,
) -> Figure:
    """One line per run: ``metric`` (an ``eval`` or ``train`` column of ``History``) per step."""
    fig, ax = _axes(ax, (5.5, 3.2))
    for label, history in histories.items():
        table = history.eval if metric in history.eval else history.train
        if metric not in table:
            raise ValueError(f"{label!r} has no {metric!r}; it has {sorted(history.eval) + sorted(history.train)}")
        ax.plot(table["step"], table[metric], label=label, marker="o" if len(table["step"]) < 15 else None,
                markersize=3)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel or metric.replace("_", " "))
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig


def plot_hlines(values: Mapping[str, float], ax: Axes, colors: Sequence[str] | None = None) -> None:
    """Horizontal reference lines (e.g. the supervised floor and the all-labels ceiling)."""
    for i, (label, value) in enumerate(values.items()):
        color = colors[i] if colors else f"C{i + 3}"
        ax.axhline(value, linestyle="--", color=color, linewidth=1, label=f"{label} ({value:.1%})")
    ax.legend(frameon=False)


def image_grid(
    images: Tensor, labels: Tensor | None = None, classes: Sequence[str] | None = None,
    ncols: int = 10, scale: float = 0.7, title: str | None = None,
) -> Figure:
    """Show ``images`` (``[N, C, H, W]``, uint8 or float in [0, 1]) in a grid, captioned with
    their class names when ``labels`` is given."""
    images = images.detach().cpu()
    if images.dim() != 4:
        raise ValueError(f"images must be [N, C, H, W], got {tuple(images.shape)}")
    array = images.float().numpy() / (255.0 if images.dtype.is_floating_point is False else 1.0)
    n = len(array)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * (1.25 if labels is not None else 1)),
                             squeeze=False, layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        picture = array[i].transpose(1, 2, 0)
        ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture.clip(0, 1),
                  cmap="gray", vmin=0, vmax=1)
        if labels is not None:
            label = int(labels[i])
            ax.set_title(classes[label] if classes else str(label), fontsize=7, pad=2)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def confidence_histogram(
    confidence: Tensor, correct: Tensor | None = None, threshold: float | None = None,
    ax: Axes | None = None, bins: int = 40,
) -> Figure:
    """Histogram of max-softmax confidences, split into right and wrong predictions when
    ``correct`` is given, with the threshold drawn as a vertical line."""
    fig, ax = _axes(ax, (5.0, 3.0))
    confidence = confidence.detach().cpu().numpy()
    edges = np.linspace(0, 1, bins + 1)
    if correct is None:
        ax.hist(confidence, bins=edges, color="C0")
    else:
        right = correct.detach().cpu().numpy().astype(bool)
        ax.hist([confidence[right], confidence[~right]], bins=edges, stacked=True,
                color=["C2", "C3"], label=["pseudo-label right", "pseudo-label wrong"])
        ax.legend(frameon=False, loc="upper left")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", linewidth=1)
    ax.set_xlabel("confidence (max softmax probability)")
    ax.set_ylabel("unlabeled images")
    return fig


def plot_records(
    records: Mapping[str, Sequence[dict]], metric: str = "test_acc", ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Evaluation curves of store records (:func:`ssl_teach.experiments.result`): one colour per
    name, one line per seed, so the spread between labeled sets shows."""
    fig, ax = _axes(ax, (5.5, 3.2))
    for i, (label, runs) in enumerate(records.items()):
        for k, record in enumerate(runs):
            table = record["history"]["eval"]
            if metric not in table:
                raise ValueError(f"{label!r} has no {metric!r} in its evaluations; it has {sorted(table)}")
            ax.plot(table["step"], table[metric], color=f"C{i}", alpha=0.8, lw=1.2,
                    label=f"{label} ({len(runs)} seeds)" if k == 0 else None)
    ax.set_xlabel("training step")
    ax.set_ylabel(metric.replace("_acc", " accuracy").replace("_", " "))
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return fig
