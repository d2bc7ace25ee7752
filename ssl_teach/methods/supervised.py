"""Supervised training on the labeled images only: the floor every method must beat.

loss = CE(f(weak(x_l)), y_l), the labeled term that every later method keeps. By default the
model is evaluated through an EMA of its parameters (decay 0.999, as in the papers; without it
the floor scored no better on the validation split, chapter 0). Either way ``fit`` recomputes
BatchNorm statistics for the evaluated weights from the labeled images alone
(``ssl_teach.evaluation``), so the floor sees no unlabeled image. Explained in chapter 0.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.methods.base import Batch, Method


class Supervised(Method):
    """Cross-entropy on weakly augmented labeled images.

    Args:
        model: the network.
        weak: the weak augmentation (``ssl_teach.augment.for_dataset(name)[0]``).
        ema_decay: evaluate with an EMA of the parameters at this decay; ``None`` evaluates
            the model itself.
    """

    name = "supervised"
    uses_unlabeled = False
    statistics_from_unlabeled = False

    def __init__(self, model: nn.Module, weak: Augmentation, ema_decay: float | None = 0.999) -> None:
        super().__init__(model, ema_decay)
        self.weak = weak

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        logits = self.model(self.weak(batch.x_labeled))
        loss = F.cross_entropy(logits, batch.y_labeled)
        return loss, {"loss_labeled": loss.item()}


class SupervisedPoolStatistics(Supervised):
    """The floor, evaluated with BatchNorm statistics from the unlabeled pool as every method is:
    the same weights as the floor of its seed, so its gain over the floor is the BatchNorm pool's
    share of a method's gain (the credit split of chapters 1 and 5). It trains on labels only."""

    name = "supervised_bn_pool"
    statistics_from_unlabeled = True
