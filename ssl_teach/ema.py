"""Exponential moving average (EMA) of a model's parameters.

Mean Teacher (Tarvainen and Valpola, 2017, eq. 3) keeps a teacher whose weights are
theta'_t = a theta'_(t-1) + (1 - a) theta_t, updated after every optimizer step, with
a = min(1 - 1/(t + 1), decay) so the first steps are a true average rather than a slow drift
from the random initialisation (``warmup=False``: the constant a = decay of the official
FixMatch and SimMatch code, whose average starts at the initial weights). FixMatch, MixMatch
and SimMatch evaluate with such an average.
Only *parameters* are averaged; buffers (BatchNorm's running statistics) are copied from the
live model, as the references do. Those copied statistics belong to the live weights, not to
the averaged ones, so the book never evaluates them: ``fit`` recomputes the statistics of
whatever model it evaluates (``ssl_teach.evaluation``). A teacher that makes targets in train
mode normalises with its batch's own statistics and does not read the buffers either.
Explained in chapter 0 and chapter 3.
"""

from __future__ import annotations

import copy

import torch
import torch.nn as nn


class EMA:
    """An averaged copy of ``model``: call ``update(model)`` after each optimizer step.

    Attributes:
        model: the averaged model (no gradients; use it for evaluation or as a teacher).
        decay: the largest averaging weight a.
        warmup: whether a follows the warm-up min(1 - 1/(t + 1), decay) (else a = decay throughout).
        num_updates: how many times ``update`` has run.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = True) -> None:
        if not isinstance(decay, (int, float)) or not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.model = copy.deepcopy(model)
        self.model.requires_grad_(False)
        self.num_updates = 0

    def current_decay(self) -> float:
        """The weight a the next ``update`` uses: min(1 - 1/(t + 1), decay), or decay without the warm-up."""
        return min(1.0 - 1.0 / (self.num_updates + 1), self.decay) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """theta' <- a theta' + (1 - a) theta over parameters; buffers are copied (and recomputed
        before any evaluation, see ``ssl_teach.evaluation``)."""
        a = self.current_decay()
        for averaged, live in zip(self.model.parameters(), model.parameters(), strict=True):
            averaged.mul_(a).add_(live.detach(), alpha=1.0 - a)
        for averaged, live in zip(self.model.buffers(), model.buffers(), strict=True):
            averaged.copy_(live)
        self.num_updates += 1

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "num_updates": self.num_updates,
                "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.num_updates = int(state["num_updates"])
        self.decay = float(state["decay"])
