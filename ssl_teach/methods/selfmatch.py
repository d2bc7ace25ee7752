"""SelfMatch (Kim et al., 2021): FixMatch started from a contrastively pre-trained encoder.

SelfMatch trains in two stages:

    stage 1 (SimCLR, no labels):   f, g = argmin NT-Xent(g(f(view(u))))   on the unlabeled images
    stage 2 (FixMatch):            start from f (g is dropped, the classifier is new) and train
                                   l_s + lambda_u l_u on the labeled and unlabeled images

Stage 1 is :class:`ssl_teach.methods.simclr.SimCLR`, a run of its own in the results store;
stage 2 is exactly FixMatch's loss (:mod:`ssl_teach.methods.fixmatch`, chapter 5), so this class
adds only the start: :meth:`SelfMatch.start_from` loads the pre-trained encoder into the model
(and restarts the EMA copy from it), keeping the freshly initialised classifier. Its
``pretrain_*`` hyper-parameters name the pre-training run, so they belong to the run's key:
``ssl_teach.pretraining`` finds (or first trains) that run and passes its encoder on.

The paper's comparison is at equal labels, not at equal compute; the book counts the
pre-training steps and seconds too (chapter 7).
"""

from __future__ import annotations

import warnings

import torch.nn as nn
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.checks import check_int, check_positive, check_temperature
from ssl_teach.contrastive import crop_boxes
from ssl_teach.ema import EMA
from ssl_teach.methods.base import Batch
from ssl_teach.methods.fixmatch import FixMatch


class SelfMatch(FixMatch):
    """FixMatch (stage 2) from the encoder a SimCLR run pre-trained (stage 1).

    Args:
        model, weak, strong, threshold, lambda_u, mu, ema_decay: FixMatch's
            (:class:`~ssl_teach.methods.fixmatch.FixMatch`).
        pretrain_steps: steps of the SimCLR pre-training run whose encoder this run starts from.
        pretrain_temperature, pretrain_projection_dim, pretrain_min_scale, pretrain_hflip: that
            run's :class:`~ssl_teach.methods.simclr.SimCLR` settings.
        pretrain_lr: that run's learning rate (``None``: the profile's, as for every run).

    Until :meth:`start_from` has loaded an encoder, the model is a random one and the first step
    warns: that is FixMatch, not SelfMatch. ``loss`` logs FixMatch's numbers plus ``pretrained``
    (1 once an encoder is loaded).
    """

    name = "selfmatch"

    def __init__(
        self,
        model: nn.Module,
        weak: Augmentation,
        strong: Augmentation,
        threshold: float = 0.95,
        lambda_u: float = 1.0,
        mu: int | None = None,
        ema_decay: float | None = 0.999,
        pretrain_steps: int = 500,
        pretrain_temperature: float = 0.5,
        pretrain_projection_dim: int = 32,
        pretrain_min_scale: float = 0.3,
        pretrain_hflip: bool = False,
        pretrain_lr: float | None = None,
    ) -> None:
        super().__init__(model, weak, strong, threshold, lambda_u, mu, ema_decay)
        check_int("pretrain_steps", pretrain_steps, least=1)
        check_temperature("pretrain_temperature", pretrain_temperature)
        check_int("pretrain_projection_dim", pretrain_projection_dim, least=1)
        try:
            crop_boxes(0, pretrain_min_scale)
        except ValueError as error:
            raise ValueError(f"pretrain_min_scale: {error}") from None
        if not isinstance(pretrain_hflip, bool):
            raise ValueError(f"pretrain_hflip must be True or False, got {pretrain_hflip!r}")
        if pretrain_lr is not None:
            check_positive("pretrain_lr", pretrain_lr)
        #: the SimCLR settings of the pre-training run (``ssl_teach.pretraining.pretraining_run``)
        self.pretraining = {"steps": pretrain_steps, "temperature": float(pretrain_temperature),
                            "projection_dim": pretrain_projection_dim, "min_scale": float(pretrain_min_scale),
                            "hflip": pretrain_hflip, "lr": pretrain_lr}
        #: where the loaded encoder came from (the pre-training run's record: key, steps, seconds)
        self.encoder_source: dict | None = None

    def start_from(self, encoder: dict[str, Tensor], source: dict | None = None) -> None:
        """Stage 2's start: load the pre-trained ``encoder`` (:func:`ssl_teach.contrastive.encoder_state`:
        every weight and buffer but the classifier's) into the model, keep its new classifier,
        and restart the EMA copy from the result. ``source`` describes the pre-training run."""
        if not isinstance(encoder, dict) or not encoder:
            raise ValueError(f"encoder must be a non-empty state dict (ssl_teach.contrastive.encoder_state), "
                             f"got {type(encoder).__name__}")
        own = {k for k in self.model.state_dict() if not k.startswith("classifier.")}
        given = set(encoder)
        if given != own:
            missing, unexpected = sorted(own - given)[:3], sorted(given - own)[:3]
            raise ValueError(f"the encoder does not fit this model: missing {missing}, unexpected {unexpected} "
                             "(was it pre-trained on another model or profile?)")
        self.model.load_state_dict(encoder, strict=False)  # the classifier stays as initialised
        if self.ema is not None:
            self.ema = EMA(self.model, self.ema.decay, warmup=self.ema_warmup)
        self.encoder_source = dict(source or {"key": None})

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        if self.encoder_source is None and step == 0:
            warnings.warn("SelfMatch is training from a random encoder, which is FixMatch: load the pre-trained "
                          "one with start_from(...), or train it through ssl_teach.experiments.result, which "
                          "finds or trains the pre-training run first", stacklevel=2)
        loss, logs = super().loss(batch, step)  # stage 2 is FixMatch's loss, unchanged
        logs["pretrained"] = float(self.encoder_source is not None)
        return loss, logs

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["pretrained"] = self.encoder_source is not None
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if state.get("pretrained") and self.encoder_source is None:
            self.encoder_source = {"key": None, "resumed": True}
