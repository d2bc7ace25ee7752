"""One evaluation for every method: BatchNorm statistics that belong to the evaluated weights.

In eval mode a BatchNorm layer normalises with running statistics gathered during training.
In short runs those statistics do not belong to the weights being tested:

* an EMA model's statistics (copied from the live model, as the references do) were gathered
  by *other* weights, the live ones of the last few steps;
* even the live model's were gathered on training batches (for FixMatch, two thirds of them
  strongly augmented) while its weights kept moving.

The references get away with it through BatchNorm momentum 0.001 over a million steps; our
runs are a thousand times shorter. So before every evaluation ``fit`` calls
:func:`evaluation_model`: a copy of the method's evaluated model (its EMA model where it has
one) whose statistics are recomputed with its own weights ("precise BatchNorm", Wu and
Johnson, 2021) on clean training images from the pool the method may see: the labeled images
only for a method that learns from no unlabeled image (the floor, the ceiling), the unlabeled
stream (which includes the labeled images) otherwise. The floor never sees an unlabeled image,
not even through BatchNorm. The appendix on the protocol (``chapters/appendix_protocol.ipynb``) measures what
skipping this costs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch.nn as nn
from torch import Tensor

from ssl_teach.batchnorm import recompute_bn_statistics
from ssl_teach.data import SSLData
from ssl_teach.methods.base import Method
from ssl_teach.metrics import evaluate

#: Images that estimate the statistics before each evaluation: 8 batches of 256.
STATISTICS_BATCHES = 8
STATISTICS_BATCH_SIZE = 256


def statistics_pool(method: Method, data: SSLData) -> Tensor:
    """The training images whose statistics the evaluated model may use: ``data.unlabeled`` for a
    method that sees them (``method.statistics_from_unlabeled``), else ``data.labeled``."""
    if method.statistics_from_unlabeled and len(data.unlabeled):
        return data.unlabeled
    return data.labeled


def evaluation_model(method: Method, data: SSLData, model: nn.Module | None = None) -> nn.Module:
    """``model`` (default: ``method.eval_model()``) in eval mode, as a copy whose BatchNorm
    statistics were recomputed with its own weights on :func:`statistics_pool` images."""
    model = method.eval_model() if model is None else model
    return recompute_bn_statistics(model, data, None, STATISTICS_BATCHES, STATISTICS_BATCH_SIZE,
                                   seed=0, pool=statistics_pool(method, data))


def evaluate_method(method: Method, data: SSLData,
                    extra: Mapping[str, Callable[[], nn.Module]] | None = None) -> dict[str, float]:
    """One evaluation row: ``test_acc``, ``val_acc`` (when there is a validation split) and
    ``<name>_acc`` for each model of ``extra``, every model evaluated through
    :func:`evaluation_model`."""
    model = evaluation_model(method, data)
    row = {"test_acc": evaluate(model, data.test_images, data.test_labels)}
    if len(data.val):
        val = data.val.to(data.device)
        row["val_acc"] = evaluate(model, data.images[val], data.labels[val])
    for name, get_model in (extra or {}).items():
        row[f"{name}_acc"] = evaluate(evaluation_model(method, data, get_model()), data.test_images,
                                      data.test_labels)
    return row
