"""BatchNorm's running statistics: keeping them out of a forward pass, and recomputing them.

In train mode a BatchNorm layer normalises with the statistics of the batch in front of it and
also updates its running mean and variance, which eval mode then uses. Two consequences matter
for semi-supervised learning:

* a forward pass that only *guesses* targets (MixMatch's label guessing, a pseudo-label pass)
  should not move the running statistics (:func:`frozen_bn_statistics`; the TF baselines and
  USB's ``freeze_bn`` do the same);
* after a short run the running statistics lag behind the weights, and an EMA model's copy of
  them was gathered by *other* weights; :func:`recompute_bn_statistics` re-estimates them with
  the evaluated weights themselves, which every evaluation of ``fit`` does
  (``ssl_teach.evaluation``; chapter 0 measures the cost of skipping it).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.checks import check_int
from ssl_teach.data import SSLData, to_float


def _batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@contextmanager
def frozen_bn_statistics(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, BatchNorm layers in train mode normalise with the batch's statistics
    but do not update their running statistics (nor ``num_batches_tracked``)."""
    layers = _batchnorm_layers(model)
    saved = [m.track_running_stats for m in layers]
    try:
        for m in layers:
            m.track_running_stats = False  # PyTorch then passes no running buffers in training
        yield model
    finally:
        for m, tracked in zip(layers, saved):
            m.track_running_stats = tracked


@torch.no_grad()
def recompute_bn_statistics(model: nn.Module, data: SSLData, augment: Augmentation | None = None,
                            batches: int = 10, batch_size: int = 256, seed: int = 0,
                            pool: Tensor | None = None) -> nn.Module:
    """A copy of ``model`` in eval mode whose BatchNorm statistics are a plain (cumulative)
    average, computed with the model's own final weights, over ``batches`` batches of random
    training images from ``pool`` (indices into ``data.images``; default ``data.unlabeled``),
    augmented with ``augment`` (``None``: the images as they are). ``model`` is not changed.
    This is "precise BatchNorm" (Wu and Johnson, 2021); ``ssl_teach.evaluation`` applies it
    before every evaluation.
    """
    check_int("batches", batches, least=1)
    check_int("batch_size", batch_size, least=1)
    pool = data.unlabeled if pool is None else pool
    if len(pool) == 0:
        raise ValueError("the pool of images (default data.unlabeled) is empty: there are no images "
                         "to recompute the statistics from")
    model = copy.deepcopy(model).train()
    layers = _batchnorm_layers(model)
    if not layers:
        return model.eval()
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # None: a cumulative average instead of an exponential one
    generator = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        pick = pool[torch.randint(len(pool), (batch_size,), generator=generator)]
        images = to_float(data.images[pick.to(data.images.device)])
        model(augment(images, generator=generator) if augment is not None else images)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    return model.eval()
