"""FixMatch (Sohn et al., 2020): a confident weak view labels the strong view.

For every unlabeled image u the model sees a weakly augmented view (flip and shift) and a
strongly augmented one (RandAugment + Cutout, ``ssl_teach.augment``). Where the prediction on
the weak view is confident, its argmax becomes a hard pseudo-label that the strong view is
trained to predict (the paper's Algorithm 1 and equations 1-4):

    l_s = 1/B       sum_b      H(y_b, p(y | weak(x_b)))                              (eq. 2)
    q_b = softmax(f(weak(u_b))),  q_hat_b = argmax q_b           (no gradient; Alg. 1)
    l_u = 1/(mu B)  sum_b 1[max q_b >= tau] H(q_hat_b, p(y | strong(u_b)))           (eq. 4)
    loss = l_s + lambda_u l_u

Note the 1/(mu B): the masked sum is divided by the WHOLE unlabeled batch, not by the number of
confident images, so the unlabeled term grows with the mask rate. Labeled, weak and strong
batches go through the network in ONE forward pass in train mode, so BatchNorm sees (and
its running statistics average) all three together, as in the official code. The pseudo-label
comes from the student itself, not from the EMA model; the EMA model (optional) is only
evaluated.

Explained in chapter 5 (chapters/05_fixmatch.ipynb).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.checks import check_logits, check_threshold
from ssl_teach.methods.base import Batch, Method


def fixmatch_unlabeled_loss(
    logits_weak: Tensor, logits_strong: Tensor, threshold: float
) -> tuple[Tensor, Tensor]:
    """FixMatch's unlabeled loss (Sohn et al., 2020, eq. 4) and its mask.

    Args:
        logits_weak: ``[N, K]`` logits of the weak views; they only make the pseudo-labels
            and carry no gradient.
        logits_strong: ``[N, K]`` logits of the strong views of the same images, in the same
            order; the loss trains these.
        threshold: tau in [0, 1]; an image counts when its weak-view confidence
            ``max softmax >= threshold`` (0 uses every image, like plain pseudo-labeling).

    Returns:
        ``(loss, mask)``: the scalar ``sum(mask * CE(logits_strong, argmax)) / N``, divided by
        the whole batch N (not by ``mask.sum()``), and the float ``[N]`` mask of the images
        that were used.
    """
    check_logits("logits_weak", logits_weak)
    check_logits("logits_strong", logits_strong)
    if logits_weak.shape != logits_strong.shape:
        raise ValueError(
            f"logits_weak and logits_strong must have the same shape (one row per unlabeled image, "
            f"same order), got {tuple(logits_weak.shape)} and {tuple(logits_strong.shape)}"
        )
    if len(logits_weak) == 0:
        raise ValueError("logits_weak is empty: the unlabeled loss of an empty batch is undefined")
    threshold = check_threshold(threshold)
    with torch.no_grad():  # the target is a constant: no gradient into the pseudo-label
        probs = logits_weak.detach().softmax(dim=1)  # q_b = p(y | weak(u_b))
        confidence, pseudo_label = probs.max(dim=1)  # max q_b, q_hat_b = argmax q_b
        mask = (confidence >= threshold).float()  # 1[max q_b >= tau]
    per_image = F.cross_entropy(logits_strong, pseudo_label, reduction="none")  # H(q_hat_b, p(y|strong))
    loss = (per_image * mask).sum() / len(mask)  # eq. 4: divided by mu B, the whole unlabeled batch
    return loss, mask


class FixMatch(Method):
    """FixMatch with one concatenated forward of labeled, weak and strong batches.

    Args:
        model: the network (``ssl_teach.models.build_model``).
        weak, strong: the two augmentations, e.g. ``*ssl_teach.augment.for_dataset(name)``.
        threshold: tau, the confidence a weak-view prediction needs to become a pseudo-label
            (paper: 0.95).
        lambda_u: weight of the unlabeled loss (paper: 1).
        mu: unlabeled images per labeled image (paper: 7). The loop draws the batches
            (``fit(..., mu=...)``); when ``mu`` is given here, each step checks that the
            unlabeled batch really is ``mu`` times the labeled one.
        ema_decay: evaluate with an EMA of the parameters at this decay (paper: 0.999; in the
            book's 2,000-step runs, evaluating the model itself was within the validation noise,
            chapter 0); ``None`` evaluates the model itself.

    ``loss`` logs ``loss_labeled``, ``loss_unlabeled``, ``mask_rate`` (fraction of unlabeled
    images above the threshold), ``mask_correct_rate`` (fraction with a confident AND right
    pseudo-label; precision = mask_correct_rate / mask_rate) and ``pseudo_label_acc``
    (accuracy of all weak-view argmaxes). The true labels are read only for these logs.
    """

    name = "fixmatch"

    def __init__(
        self,
        model: nn.Module,
        weak: Augmentation,
        strong: Augmentation,
        threshold: float = 0.95,
        lambda_u: float = 1.0,
        mu: int | None = None,
        ema_decay: float | None = 0.999,
    ) -> None:
        super().__init__(model, ema_decay)
        if not callable(weak) or not callable(strong):
            raise ValueError(f"weak and strong must be augmentations (callables), got {weak!r} and {strong!r}")
        if (not isinstance(lambda_u, (int, float)) or isinstance(lambda_u, bool)
                or not math.isfinite(lambda_u) or lambda_u < 0):
            raise ValueError(f"lambda_u must be a finite number >= 0, got {lambda_u!r}")
        if mu is not None and (not isinstance(mu, int) or isinstance(mu, bool) or mu < 1):
            raise ValueError(f"mu must be None or an int >= 1, got {mu!r}")
        self.weak, self.strong = weak, strong
        self.threshold = check_threshold(threshold)
        self.lambda_u = float(lambda_u)
        self.mu = mu

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        n_labeled, n_unlabeled = len(batch.x_labeled), len(batch.x_unlabeled)
        if n_unlabeled == 0:
            raise ValueError("FixMatch needs unlabeled images, but the batch has none")
        if self.mu is not None and n_unlabeled != self.mu * n_labeled:
            raise ValueError(
                f"FixMatch was built with mu={self.mu}, so it expects {self.mu} x {n_labeled} "
                f"unlabeled images per step, got {n_unlabeled}; pass the same mu to fit()"
            )
        # Algorithm 1: one forward of concat(weak(x), weak(u), strong(u)) in train mode
        inputs = torch.cat([self.weak(batch.x_labeled), self.weak(batch.x_unlabeled),
                            self.strong(batch.x_unlabeled)])
        logits = self.model(inputs)
        logits_labeled = logits[:n_labeled]
        logits_weak, logits_strong = logits[n_labeled:].chunk(2)

        loss_labeled = F.cross_entropy(logits_labeled, batch.y_labeled)  # eq. 2
        loss_unlabeled, mask = fixmatch_unlabeled_loss(logits_weak, logits_strong, self.threshold)  # eq. 4
        loss = loss_labeled + self.lambda_u * loss_unlabeled

        with torch.no_grad():  # what the model learns from (true labels: measurement only)
            right = (logits_weak.argmax(1) == batch.unlabeled_true_labels).float()
            logs = {
                "loss_labeled": loss_labeled.item(),
                "loss_unlabeled": loss_unlabeled.item(),
                "mask_rate": mask.mean().item(),
                "mask_correct_rate": (mask * right).mean().item(),
                "pseudo_label_acc": right.mean().item(),
            }
        return loss, logs
