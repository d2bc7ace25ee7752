"""Pseudo-labeling (Lee, 2013): a model labels the unlabeled images with its own predictions.

Explained in chapter 1 (``chapters/01_pseudo_labeling.ipynb``).

Online variant (Lee, 2013). Every step, each unlabeled image x' gets the class the model
currently finds most likely as its target, y' = argmax_k f_k(x'), and the model is trained on it
as if it were a true label:

    L = (1/n) sum_m CE(f(x_m), y_m)  +  alpha(t) (1/n') sum_m CE(f(x'_m), y'_m)

The weight alpha(t) is 0 at first (the guesses of an untrained model are noise), then grows
linearly, then stays at alpha_f (:func:`lee_alpha`). The target carries no gradient: it is a
label, not something to optimise.

Threshold variant (the reimplementations in google-research/fixmatch ``pseudo_label.py`` and
USB ``semilearn/algorithms/pseudolabel``): only pseudo-labels whose confidence max_k p_k(x')
reaches a threshold (0.95 there) enter the loss, and the masked sum is divided by the WHOLE
unlabeled batch size n', not by the number of confident images, so a step in which few images
are confident contributes a small loss rather than a loud one. Their weight ramps linearly from
0 over the first 40 % of training, which is ``lee_alpha(t, 0, 0.4 * steps, 1.0)``. Like them we
forward the unlabeled batch without updating BatchNorm's running statistics, so the statistics
used at test time come from labeled batches only (and ``alpha_f -> 0`` really is supervised
training).

Offline variant ("label, then retrain", self-training): train on the labels, pseudo-label the
unlabeled images the model is confident about (:func:`pseudo_label_dataset`), retrain on the
union of labeled and pseudo-labeled images (:func:`with_pseudo_labels` builds the data), repeat.
Nothing in the loss tells a wrong pseudo-label from a right one, so the retrained model
reproduces most of the wrong labels it was taught, though less reliably than the right ones,
and far more often than a model that never saw them (chapter 1 measures the three rates):
that is confirmation bias.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.batchnorm import frozen_bn_statistics
from ssl_teach.checks import check_threshold
from ssl_teach.data import SSLData
from ssl_teach.methods.base import Batch, Method
from ssl_teach.models import predict_logits

# --------------------------------------------------------------------------- the schedule


def lee_alpha(t: float, t1: float, t2: float, alpha_f: float) -> float:
    """Lee (2013)'s weight of the pseudo-label term at time ``t``.

    alpha(t) = 0 for t < t1; alpha_f (t - t1) / (t2 - t1) for t1 <= t < t2; alpha_f for t >= t2.

    Lee counts t in epochs; the book counts optimizer steps and sets t1 and t2 as fractions of
    the step budget. With ``t1 == t2`` the weight jumps from 0 to ``alpha_f`` at ``t1``.
    """
    for name, value in (("t", t), ("t1", t1), ("t2", t2), ("alpha_f", alpha_f)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise ValueError(f"{name} must be a number, got {value!r}")
    if t1 < 0:
        raise ValueError(f"t1 must be >= 0, got {t1!r}")
    if t2 < t1:
        raise ValueError(f"t2 must be >= t1 (the ramp ends after it starts), got t1={t1!r} and t2={t2!r}")
    if alpha_f < 0:
        raise ValueError(f"alpha_f must be >= 0 (a negative weight rewards wrong pseudo-labels), got {alpha_f!r}")
    if t < t1:
        return 0.0
    if t < t2:
        return float(alpha_f) * (t - t1) / (t2 - t1)
    return float(alpha_f)


# --------------------------------------------------------------------------- the pure pieces


@torch.no_grad()
def make_pseudo_labels(logits: Tensor, threshold: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """Pseudo-labels from logits ``[N, K]``: ``(targets, mask, confidence)``.

    targets y' = argmax_k logits (Lee, 2013), confidence = max_k softmax(logits), and
    mask = confidence >= threshold (``threshold=0`` keeps every image, as Lee does).
    Computed under ``no_grad``: the targets are labels, they carry no gradient.
    """
    threshold = check_threshold(threshold)
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a tensor of shape [N, K], got {shape}")
    confidence, targets = logits.detach().softmax(dim=1).max(dim=1)
    mask = confidence >= threshold
    return targets, mask, confidence


def pseudo_label_loss(logits: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """(1/n') sum_m mask_m CE(logits_m, targets_m): the masked sum over the WHOLE batch.

    Dividing by n' (the batch size) rather than by mask.sum() is what the reference code does:
    when only 2 of 100 images are confident, their loss counts 2/100 as much as a full batch,
    instead of being blown up to a full batch's weight.
    """
    if logits.dim() != 2 or targets.shape != logits.shape[:1] or mask.shape != logits.shape[:1]:
        raise ValueError(
            f"logits must be [N, K] with targets and mask [N], got {tuple(logits.shape)}, "
            f"{tuple(targets.shape)} and {tuple(mask.shape)}"
        )
    if len(logits) == 0:
        raise ValueError("the unlabeled batch is empty: the pseudo-label loss is undefined")
    per_image = F.cross_entropy(logits, targets.detach(), reduction="none")
    return (per_image * mask.float()).sum() / len(logits)



# --------------------------------------------------------------------------- online


class PseudoLabel(Method):
    """Online pseudo-labeling (Lee, 2013), optionally with a confidence threshold.

    Args:
        model: the network.
        weak: the augmentation applied to labeled and unlabeled images.
        alpha_f: final weight of the pseudo-label term.
        t1, t2: steps where the weight starts ramping up and where it reaches ``alpha_f``.
        threshold: keep only pseudo-labels with confidence >= threshold (0: all, as Lee).
        ema_decay: evaluate with an EMA of the parameters at this decay (``None``: the model).
    """

    name = "pseudo_label"
    uses_unlabeled = True

    def __init__(self, model: nn.Module, weak: Augmentation, *, alpha_f: float, t1: float, t2: float,
                 threshold: float = 0.0, ema_decay: float | None = 0.999) -> None:
        lee_alpha(0, t1, t2, alpha_f)  # validates t1, t2 and alpha_f
        super().__init__(model, ema_decay)
        self.weak = weak
        self.alpha_f, self.t1, self.t2 = float(alpha_f), t1, t2
        self.threshold = check_threshold(threshold)

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        alpha = lee_alpha(step, self.t1, self.t2, self.alpha_f)               # alpha(t)
        logits_labeled = self.model(self.weak(batch.x_labeled))
        loss_labeled = F.cross_entropy(logits_labeled, batch.y_labeled)       # (1/n) sum CE(f(x), y)
        # while alpha(t) = 0 the unlabeled term cannot move the weights: skip its backward pass
        with frozen_bn_statistics(self.model), torch.set_grad_enabled(alpha > 0 and torch.is_grad_enabled()):
            logits_unlabeled = self.model(self.weak(batch.x_unlabeled))
        targets, mask, confidence = make_pseudo_labels(logits_unlabeled, self.threshold)  # y' = argmax f(x')
        loss_unlabeled = pseudo_label_loss(logits_unlabeled, targets, mask)    # (1/n') sum mask CE(f(x'), y')
        loss = loss_labeled + alpha * loss_unlabeled                           # L = L_labeled + alpha(t) L_unlabeled

        # measurement only: the true labels never enter the loss
        right = targets == batch.unlabeled_true_labels
        return loss, {
            "loss_labeled": loss_labeled.item(),
            "loss_unlabeled": loss_unlabeled.item(),
            "alpha": alpha,
            "mask_rate": mask.float().mean().item(),
            "correct_rate": (right & mask).float().mean().item(),
            "pl_accuracy": right.float().mean().item(),
        }


# --------------------------------------------------------------------------- offline


@torch.no_grad()
def confident_predictions(model: nn.Module, images: Tensor, threshold: float,
                          batch_size: int = 1024) -> tuple[Tensor, Tensor, Tensor]:
    """The model's predictions on ``images`` whose confidence is >= ``threshold``.

    Returns ``(index, pseudo_labels, confidence)``: positions in ``images`` (on the CPU), the
    argmax classes and the max softmax probabilities. The model is run in eval mode.
    """
    threshold = check_threshold(threshold)
    if not isinstance(images, Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"images must be a tensor of shape [N, C, H, W], got {shape}")
    logits = predict_logits(model, images, batch_size)
    targets, mask, confidence = make_pseudo_labels(logits, threshold)
    index = torch.nonzero(mask).flatten()
    return index.cpu(), targets[index], confidence[index]


def pseudo_label_dataset(model: nn.Module, images: Tensor, threshold: float) -> tuple[Tensor, Tensor, Tensor]:
    """Offline pseudo-labeling: ``(confident_images, pseudo_labels, confidence)``.

    Keeps the images the model labels with confidence >= ``threshold``, with the argmax as
    their label. Use :func:`confident_predictions` when you also need their positions.
    """
    index, labels, confidence = confident_predictions(model, images, threshold)
    return images[index.to(images.device)], labels, confidence


def with_pseudo_labels(data: SSLData, index: Tensor, pseudo_labels: Tensor) -> SSLData:
    """A copy of ``data`` whose labeled set also holds the training images at ``index``, labeled
    with ``pseudo_labels`` (the retraining set of the offline variant).

    Images that are truly labeled keep their true label. Images are shared, not copied; the
    copy's ``labels`` hold the pseudo-labels, so measure precision against the original
    ``data.labels``.
    """
    index = torch.as_tensor(index).long().cpu().flatten()
    pseudo_labels = torch.as_tensor(pseudo_labels).long().flatten()
    if index.shape != pseudo_labels.shape:
        raise ValueError(f"index and pseudo_labels must have the same length, "
                         f"got {len(index)} and {len(pseudo_labels)}")
    if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(data.labels)):
        raise ValueError(f"index must lie in [0, {len(data.labels) - 1}], got values from "
                         f"{int(index.min())} to {int(index.max())}")
    if len(pseudo_labels) and (int(pseudo_labels.min()) < 0 or int(pseudo_labels.max()) >= data.num_classes):
        raise ValueError(f"pseudo_labels must lie in [0, {data.num_classes - 1}]")
    if len(torch.unique(index)) != len(index):
        raise ValueError("index holds the same image more than once")
    keep = ~torch.isin(index, data.labeled.cpu())      # true labels win over pseudo-labels
    index, pseudo_labels = index[keep], pseudo_labels[keep]
    labels = data.labels.clone()
    labels[index.to(labels.device)] = pseudo_labels.to(labels.device)
    labeled = torch.cat([data.labeled.cpu(), index]).sort().values
    return dataclasses.replace(data, labels=labels, labeled=labeled)
