"""SimCLR (Chen et al., 2020): contrastive pre-training of the encoder, without labels.

SelfMatch's first stage (Kim et al., 2021). Each step takes the loop's unlabeled batch of N
images and follows the paper's Algorithm 1:

    x~_2k-1 = view(x_k),  x~_2k = view(x_k)       two random views of every image
    h = f(x~),  z = g(h)                           encoder, then the projection head
    L = NT-Xent(z)                                 each view's positive: the other view of its image

with the pieces of :mod:`ssl_teach.contrastive`. Both views of every image go through the
network in ONE forward pass, so BatchNorm normalises the 2N views together (the paper's
"global BN" on one device). The loop's labeled batch is never used by the loss: its images and
labels are only kept for the evaluation, a nearest-class-mean readout of the frozen features
(:class:`~ssl_teach.contrastive.NearestClassMean`), so that a pre-training run's test accuracy
says what its features already know. After pre-training the head is dropped and the encoder is
what SelfMatch starts from (:func:`~ssl_teach.contrastive.encoder_state`,
:mod:`ssl_teach.methods.selfmatch`). Explained in chapter 7.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ssl_teach.checks import check_int, check_temperature
from ssl_teach.contrastive import (
    ContrastiveAugment,
    ContrastiveNetwork,
    NearestClassMean,
    encoder_state,
    nt_xent_loss,
    positive_is_nearest,
)
from ssl_teach.methods.base import Batch, Method


class SimCLR(Method):
    """SimCLR pre-training as a method of the one training loop (``ssl_teach.train.fit``).

    Args:
        model: the encoder, a model of :mod:`ssl_teach.models` (``build_model``); it is wrapped
            with a projection head (:class:`~ssl_teach.contrastive.ContrastiveNetwork`).
        temperature: t of NT-Xent (SimCLR: 0.1 on ImageNet, 0.5 on CIFAR-10; here 0.5).
        projection_dim: output size of the head (SimCLR: 128 from 2048 features; here 32 from
            LeNet's 64).
        min_scale: the smallest crop, as a fraction of the image's area (SimCLR: 0.08; here 0.3,
            because 8 % of a 28x28 digit is a stroke).
        hflip: whether the views are also flipped left-right (not for digits; clothes can be).

    ``loss`` logs ``loss_contrastive`` and ``positive_top1`` (the share of views whose most
    similar other view is their positive). The loss reads only the unlabeled batch.
    """

    name = "simclr"
    #: the evaluated features' BatchNorm statistics come from the unlabeled pool it trains on
    statistics_from_unlabeled = True

    def __init__(self, model: nn.Module, temperature: float = 0.5, projection_dim: int = 32,
                 min_scale: float = 0.3, hflip: bool = False) -> None:
        projection_dim = check_int("projection_dim", projection_dim, least=1)
        super().__init__(ContrastiveNetwork(model, projection_dim), ema_decay=None)
        self.temperature = check_temperature("temperature", temperature)
        self.views = ContrastiveAugment(min_scale, hflip)
        self.num_classes = model.classifier.out_features
        # the labeled images seen so far, for the evaluation's readout only (no loss reads them)
        self.probe_index = torch.zeros(0, dtype=torch.long)
        self.probe_images: Tensor | None = None
        self.probe_labels = torch.zeros(0, dtype=torch.long)

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        x = batch.x_unlabeled
        if len(x) < 2:
            raise ValueError(f"SimCLR needs at least 2 unlabeled images per step (each one's negatives are the "
                             f"others), got {len(x)}")
        view1, view2 = self.views(x), self.views(x)  # two random views of every image
        z = self.model.project(torch.cat([view1, view2]))  # z = g(f(x~)), one forward of 2N views
        z1, z2 = z.chunk(2)  # z1[k] and z2[k]: the two views of image k
        loss = nt_xent_loss(z1, z2, self.temperature)  # positives: the other view; negatives: 2N - 2 others
        self._remember_labeled(batch)
        return loss, {"loss_contrastive": loss.item(), "positive_top1": positive_is_nearest(z1, z2).item()}

    # ----------------------------------------------------------------------- evaluation only

    def _remember_labeled(self, batch: Batch) -> None:
        """Keep the labeled images not seen yet (by their training-set position) for the readout."""
        if batch.labeled_index is None:
            return
        seen = set(self.probe_index.tolist())
        keep = []
        for i, position in enumerate(batch.labeled_index.tolist()):
            if position not in seen:
                seen.add(position)
                keep.append(i)
        if not keep:
            return
        rows = torch.tensor(keep, device=batch.x_labeled.device)
        images, labels = batch.x_labeled[rows].detach(), batch.y_labeled[rows].detach()
        self.probe_index = torch.cat([self.probe_index, batch.labeled_index[rows].cpu()])
        self.probe_labels = torch.cat([self.probe_labels.to(labels.device), labels])
        self.probe_images = images if self.probe_images is None else torch.cat([self.probe_images, images])

    def eval_model(self) -> nn.Module:
        """The frozen encoder read out by the nearest class mean of the labeled images seen (the
        encoder's own random classifier before any was seen)."""
        if self.probe_images is None:
            return self.model.encoder
        return NearestClassMean(self.model.encoder, self.probe_images, self.probe_labels, self.num_classes)

    def encoder_state(self) -> dict[str, Tensor]:
        """The pre-trained encoder without head or classifier: what SelfMatch starts from."""
        return encoder_state(self.model.encoder)

    def to(self, device: torch.device) -> SimCLR:
        super().to(device)
        if self.probe_images is not None:
            self.probe_images = self.probe_images.to(device)
            self.probe_labels = self.probe_labels.to(device)
        return self

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["probe_index"] = self.probe_index.clone()
        state["probe_labels"] = self.probe_labels.clone()
        if self.probe_images is not None:
            state["probe_images"] = self.probe_images.clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.probe_index = state["probe_index"].cpu()
        self.probe_labels = state["probe_labels"]
        self.probe_images = state.get("probe_images")
