"""The method interface: what the one training loop (``ssl_teach.train.fit``) asks of a method.

A method holds its model, its hyper-parameters and, if any, its teacher or memory bank. Each
step the loop hands it a :class:`Batch` of raw images (augmentation is the method's business,
because methods differ in which views they need) and the method returns the loss to minimise
and a dict of numbers to log. Explained in chapter 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ssl_teach.ema import EMA


@dataclass
class Batch:
    """One training step's data, as float images in [0, 1] on the training device.

    Attributes:
        x_labeled, y_labeled: labeled images ``[B, C, H, W]`` and their labels ``[B]``.
        x_unlabeled: unlabeled images ``[mu B, C, H, W]`` (empty for supervised training).
        unlabeled_index: their positions in the training set (temporal ensembling keeps a
            prediction per image).
        unlabeled_true_labels: their true labels, **only** for measuring pseudo-label
            precision; no loss may read them.
        labeled_index: positions of the labeled images in the training set (``fit`` fills
            it; SimMatch writes each labeled image's embedding at its own slot of a memory
            bank). ``None`` where a caller does not provide it.
    """

    x_labeled: Tensor
    y_labeled: Tensor
    x_unlabeled: Tensor
    unlabeled_index: Tensor
    unlabeled_true_labels: Tensor
    labeled_index: Tensor | None = None


class Method:
    """Base class of all methods.

    Subclasses implement :meth:`loss`. With ``ema_decay`` the method keeps an
    :class:`~ssl_teach.ema.EMA` of the model, updates it after every optimizer step and is
    evaluated with it (the references evaluate FixMatch, MixMatch and SimMatch this way).
    Methods with more state override ``state_dict``/``load_state_dict`` and ``to``.
    """

    name = "method"
    #: whether the loop should draw unlabeled batches for this method
    uses_unlabeled = True
    #: whether evaluation recomputes BatchNorm statistics on the unlabeled pool (else the labeled images)
    statistics_from_unlabeled = True
    #: whether the EMA's weight follows the warm-up min(1 - 1/(t + 1), decay) (``ssl_teach.ema``)
    ema_warmup = True

    def __init__(self, model: nn.Module, ema_decay: float | None = None) -> None:
        self.model = model
        self.ema = EMA(model, ema_decay, warmup=self.ema_warmup) if ema_decay is not None else None

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        """The loss to minimise at ``step`` and the numbers to log."""
        raise NotImplementedError

    def after_step(self, step: int) -> None:
        """Called after each optimizer step: updates the EMA model, if any."""
        if self.ema is not None:
            self.ema.update(self.model)

    def eval_model(self) -> nn.Module:
        """The model to evaluate: the EMA model where the method has one."""
        return self.ema.model if self.ema is not None else self.model

    def to(self, device: torch.device) -> Method:
        self.model.to(device)
        if self.ema is not None:
            self.ema.model.to(device)
        return self

    def state_dict(self) -> dict:
        state: dict = {"model": self.model.state_dict()}
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
