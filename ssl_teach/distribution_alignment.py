"""Distribution alignment towards a uniform class prior: a prediction divided by the recent mean prediction.

SimMatch (Zheng et al., 2022) aligns the teacher's weak-view prediction p^w before unfolding and
calibration (official code, https://github.com/KyleZheng1997/simmatch,
``SimMatch.distribution_alignment``): p^w is divided by the mean of the last batch-mean
predictions and renormalised, and the window is updated with every batch (256 batches on
ImageNet, 32 in USB's CIFAR configs).

Explained in chapter 6 (chapters/06_simmatch.ipynb).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ssl_teach.checks import check_int, check_matrix


def distribution_alignment(p: Tensor, mean_prediction: Tensor) -> Tensor:
    """Distribution alignment: ``p / mean_prediction``, each row renormalised to sum to 1.

    ``mean_prediction`` ``[C]`` is the average of recent batch-mean predictions; classes the
    model has been predicting too often are scaled down, rare ones up (ReMixMatch's alignment
    towards a uniform class prior, as SimMatch uses it).
    """
    check_matrix("p", p)
    if not isinstance(mean_prediction, Tensor) or mean_prediction.shape != (p.shape[1],):
        shape = tuple(mean_prediction.shape) if isinstance(mean_prediction, Tensor) else type(mean_prediction).__name__
        raise ValueError(f"mean_prediction must have shape [{p.shape[1]}], got {shape}")
    aligned = p / mean_prediction.clamp_min(1e-12)
    return aligned / aligned.sum(dim=1, keepdim=True)


class DistributionAlignment:
    """A window of the last ``window`` batch-mean predictions, and alignment against their mean.

    ``align(p)`` first records ``p.mean(0)`` and then returns
    ``distribution_alignment(p, mean of the window)``. (The official code averages a zero-filled
    queue of 256 rows; zero rows only scale the mean by a constant, which the renormalisation
    cancels, so averaging the filled rows is the same.)
    """

    def __init__(self, num_classes: int, window: int = 32) -> None:
        window = check_int("window", window, least=1)  # number of batches
        self.history = torch.zeros(window, num_classes)
        self.count = 0  # batches seen; the next one is written at count % window

    @torch.no_grad()
    def align(self, p: Tensor) -> Tensor:
        check_matrix("p", p, cols=self.history.shape[1])
        self.history[self.count % len(self.history)] = p.detach().mean(0).to(self.history)
        self.count += 1
        filled = self.history[: min(self.count, len(self.history))]
        return distribution_alignment(p.detach(), filled.mean(0).to(p))

    def to(self, device: torch.device) -> DistributionAlignment:
        self.history = self.history.to(device)
        return self

    def state_dict(self) -> dict:
        return {"history": self.history.clone(), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        if state["history"].shape != self.history.shape:
            raise ValueError(f"distribution alignment window of shape {tuple(state['history'].shape)} "
                             f"does not fit this one, {tuple(self.history.shape)}")
        self.history = state["history"].clone().to(self.history.device)
        self.count = int(state["count"])
