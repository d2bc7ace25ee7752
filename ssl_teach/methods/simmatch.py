"""SimMatch (Zheng et al., 2022): semantic and instance similarity with a labeled memory bank.

FixMatch (chapter 5) compares an image with ten *class* vectors (the classifier's rows: the
semantic similarity p). SimMatch also compares its low-dimensional, L2-normalised embedding
with the embeddings of the *labeled images* kept in a memory bank (the instance similarity q),
and lets the two propagate into each other through the bank's labels:

    p^w   = DA(softmax(f_teacher(weak(u))))          distribution alignment of the weak view
    q^w_j = softmax_j(z^w . b_j / t)                 instance similarity to bank item j
    q^s_j = softmax_j(z^s . b_j / t)                 the same for the strong view (student)
    unfolding:   q_hat_j = q^w_j p^w[y_j] / sum_i q^w_i p^w[y_i]     (p^w reshapes q^w)
    aggregation: agg_c   = sum_{j: y_j = c} q^w_j                    (q^w summed per class)
    calibrated:  p_hat   = a p^w + (1 - a) agg                       (q^w reshapes p^w)
    l_s  = CE(y, p(y | weak(x)))
    l_u  = 1/(mu B) sum_b 1[max p_hat_b >= tau] H(p_hat_b, p(y | strong(u_b)))
    l_in = 1/(mu B) sum_b H(q_hat_b, q^s_b)
    loss = l_s + lambda_u l_u + lambda_in l_in

What we checked in the official code (https://github.com/KyleZheng1997/simmatch,
``models/simmatch.py``, ``SimMatch.forward``/``_update_bank``/``distribution_alignment``, and
``simmatch.py``, ``train`` and the argument defaults), and follow here:

* **The aggregation sums q^w, not the unfolded q_hat**: the calibrated pseudo-label mixes p^w
  with the per-class sums of the *raw* instance similarities; q_hat is only the target of the
  instance loss.
* **The targets come from the EMA teacher.** The student forwards labeled + strong views in one
  concatenated pass; the EMA teacher (in train mode, no gradient) forwards labeled + weak views.
  p^w, q^w and the labeled embeddings written into the bank are all the teacher's. (That pass
  leaves the teacher's BatchNorm running statistics alone: ``ssl_teach.ema`` copies them from
  the student, and every evaluation recomputes them for the teacher's own weights,
  ``ssl_teach.evaluation``.)
* **The bank** (``ssl_teach.memory_bank``) holds one embedding per labeled image and its label,
  starts random, and is written after the step's targets are computed.
* **Distribution alignment** (``ssl_teach.distribution_alignment``, a window of recent batches)
  is applied to p^w before unfolding and calibration, and updated with every batch.
* **When the instance terms start**: the official code uses neither the instance loss nor the
  calibration during the first epoch (``start_unlabel=epoch>0``), until the bank holds real
  embeddings and labels. Our runs are shorter than an epoch of Fashion-MNIST, so we start them
  as soon as every bank slot has been written once (plus an optional ``start_step``).
* Temperatures t = 0.1 for teacher and student, a = 0.9; on CIFAR (USB's configs) tau = 0.95,
  lambda_u = lambda_in = 1, embedding size 128: our defaults. The ImageNet scripts use tau =
  0.7, lambda_u = 10, lambda_in = 5.
* The unlabeled loss is a soft cross-entropy against p_hat, masked by max p_hat >= tau and
  averaged over the whole unlabeled batch (like FixMatch's).

The official code is multi-GPU only (all-gather, shuffled BatchNorm); this one runs on one CPU.
Explained in chapter 6 (chapters/06_simmatch.ipynb).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.batchnorm import frozen_bn_statistics
from ssl_teach.checks import check_fraction, check_int, check_number, check_temperature, check_threshold
from ssl_teach.checks import check_matrix as _check_matrix
from ssl_teach.distribution_alignment import DistributionAlignment, distribution_alignment  # noqa: F401 - re-exported
from ssl_teach.memory_bank import LabeledMemoryBank, check_bank_labels
from ssl_teach.methods.base import Batch, Method

# --------------------------------------------------------------------------- the pure pieces


def instance_similarity(embeddings: Tensor, bank: Tensor, temperature: float = 0.1) -> Tensor:
    """The instance similarity q (paper: q^w for the weak view, q^s for the strong one).

    ``q_j = exp(z . b_j / t) / sum_i exp(z . b_i / t)``: a softmax over the ``K`` bank items
    of the dot products of each ``[N, D]`` embedding ``z`` with each ``[K, D]`` bank embedding
    ``b_j`` (cosine similarities when both are L2-normalised), at temperature ``t`` (paper:
    0.1). Returns ``[N, K]``; rows sum to 1.
    """
    _check_matrix("embeddings", embeddings)
    _check_matrix("bank", bank, cols=embeddings.shape[1])
    temperature = check_temperature("temperature", temperature)
    return (embeddings @ bank.t() / temperature).softmax(dim=1)


def unfold(q_w: Tensor, p_w: Tensor, bank_labels: Tensor) -> Tensor:
    """Unfolding: the class prediction reshapes the instance similarity (SimMatch's q_hat).

    ``q_hat_j = q^w_j p^w[y_j] / sum_i q^w_i p^w[y_i]``: each bank item's similarity is scaled
    by the probability the (weak-view) class prediction gives to that item's label ``y_j``,
    then renormalised over the bank. ``q_w`` is ``[N, K]``, ``p_w`` is ``[N, C]``,
    ``bank_labels`` is ``[K]``; returns ``[N, K]``. It is the target of the instance loss.
    """
    _check_matrix("q_w", q_w)
    _check_matrix("p_w", p_w, rows=q_w.shape[0])
    check_bank_labels(bank_labels, p_w.shape[1], size=q_w.shape[1])
    scaled = q_w * p_w[:, bank_labels.to(p_w.device)]  # q^w_j * p^w[y_j]
    return scaled / scaled.sum(dim=1, keepdim=True)


def aggregate(q: Tensor, bank_labels: Tensor, num_classes: int) -> Tensor:
    """Aggregation: a distribution over bank items summed per class.

    ``agg_c = sum_{j : y_j = c} q_j``. ``q`` is ``[N, K]`` and ``bank_labels`` ``[K]``; returns
    ``[N, num_classes]`` (rows sum to what the rows of ``q`` sum to). SimMatch aggregates the
    raw instance similarity q^w (checked in the official ``SimMatch.forward``).
    """
    _check_matrix("q", q)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
    labels = check_bank_labels(bank_labels, num_classes, size=q.shape[1]).to(q.device)
    out = torch.zeros(q.shape[0], num_classes, dtype=q.dtype, device=q.device)
    return out.scatter_add(1, labels.expand(q.shape[0], -1), q)


def calibrated_prediction(p_w: Tensor, q_w: Tensor, bank_labels: Tensor, a: float = 0.9) -> Tensor:
    """The calibrated pseudo-label ``p_hat = a p^w + (1 - a) aggregate(q^w)`` (paper: alpha = 0.9).

    The instance similarity, summed per class, smooths the class prediction. Both parts sum to
    1 per row, so ``p_hat`` does too. ``a = 1`` gives back ``p^w`` (FixMatch's target).
    """
    a = check_fraction("a", a)
    _check_matrix("p_w", p_w)
    return a * p_w + (1.0 - a) * aggregate(q_w, bank_labels, p_w.shape[1])


def soft_unlabeled_loss(p_hat: Tensor, logits_strong: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """SimMatch's unlabeled loss and its mask.

    ``sum_b 1[max p_hat_b >= tau] H(p_hat_b, softmax(logits_strong_b)) / N``: a soft
    cross-entropy against the calibrated pseudo-label (a constant, no gradient), masked by its
    confidence and divided by the whole unlabeled batch ``N`` (as in FixMatch, chapter 5).
    """
    _check_matrix("p_hat", p_hat)
    _check_matrix("logits_strong", logits_strong, rows=p_hat.shape[0], cols=p_hat.shape[1])
    if len(p_hat) == 0:
        raise ValueError("p_hat is empty: the unlabeled loss of an empty batch is undefined")
    threshold = check_threshold(threshold)
    target = p_hat.detach()
    mask = (target.max(dim=1).values >= threshold).float()
    per_image = -(target * F.log_softmax(logits_strong, dim=1)).sum(dim=1)
    return (per_image * mask).sum() / len(mask), mask


def instance_loss(q_hat: Tensor, q_s: Tensor) -> Tensor:
    """SimMatch's instance consistency loss ``1/N sum_b H(q_hat_b, q^s_b)``.

    ``q_hat`` (the unfolded weak-view similarity, a constant) is the target; ``q_s`` (the
    strong view's similarity to the bank) is trained.
    """
    _check_matrix("q_hat", q_hat)
    _check_matrix("q_s", q_s, rows=q_hat.shape[0], cols=q_hat.shape[1])
    return -(q_hat.detach() * q_s.clamp_min(1e-12).log()).sum(dim=1).mean()


# --------------------------------------------------------------------------- the method


class SimMatch(Method):
    """SimMatch on one device: EMA teacher, labeled memory bank, distribution alignment.

    Args:
        model: a :class:`ssl_teach.models.ClassifierWithProjection` (logits and an L2-normalised
            embedding).
        weak, strong: the two augmentations (``ssl_teach.augment.for_dataset``).
        labeled_index: ``[K]`` positions of the labeled images in the training set
            (``data.labeled``); bank slot ``j`` belongs to ``labeled_index[j]``.
        labeled_labels: ``[K]`` their labels (``data.labels[data.labeled]``).
        threshold: tau on max p_hat (0.95, USB's CIFAR config; 0.7 on ImageNet).
        lambda_u, lambda_in: weights of the unlabeled and the instance loss (1 and 1).
        temperature: t of the instance similarities, teacher and student (0.1).
        a: weight of p^w in the calibrated prediction (0.9).
        da_window: batches in the distribution-alignment window (32; ``None`` turns alignment off).
        use_instance: ``False`` drops the instance loss (ablation); the calibration stays.
        start_step: the instance terms (instance loss and calibration) start at this step, and
            not before every bank slot has been written once.
        ema_decay: decay of the EMA teacher, which also is the evaluated model.

    ``loss`` logs ``loss_labeled``, ``loss_unlabeled``, ``loss_instance``, ``mask_rate``,
    ``mask_correct_rate``, ``pseudo_label_acc`` (argmax p_hat vs the true labels, measurement
    only) and ``instance_active``.
    """

    name = "simmatch"

    def __init__(
        self,
        model: nn.Module,
        weak: Augmentation,
        strong: Augmentation,
        labeled_index: Tensor,
        labeled_labels: Tensor,
        threshold: float = 0.95,
        lambda_u: float = 1.0,
        lambda_in: float = 1.0,
        temperature: float = 0.1,
        a: float = 0.9,
        da_window: int | None = 32,
        use_instance: bool = True,
        start_step: int = 0,
        ema_decay: float = 0.999,
    ) -> None:
        if not hasattr(model, "embedding_dim") or not hasattr(model, "num_classes"):
            raise ValueError(f"model must return an embedding: wrap it in ssl_teach.models.ClassifierWithProjection, "
                             f"got {type(model).__name__}")
        if ema_decay is None:
            raise ValueError("SimMatch needs an EMA teacher: ema_decay must be a number in [0, 1), got None")
        super().__init__(model, ema_decay)
        if not callable(weak) or not callable(strong):
            raise ValueError(f"weak and strong must be augmentations (callables), got {weak!r} and {strong!r}")
        for name, value in (("lambda_u", lambda_u), ("lambda_in", lambda_in)):
            if check_number(name, value, 0.0) == math.inf:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        start_step = check_int("start_step", start_step, least=0)
        if (not isinstance(labeled_index, Tensor) or labeled_index.dim() != 1
                or labeled_index.dtype.is_floating_point or len(labeled_index) == 0):
            raise ValueError("labeled_index must be a non-empty integer tensor [K] (data.labeled), got "
                             f"{tuple(labeled_index.shape) if isinstance(labeled_index, Tensor) else labeled_index!r}")
        if int(labeled_index.min()) < 0 or len(labeled_index.unique()) != len(labeled_index):
            raise ValueError("labeled_index must hold distinct positions >= 0 in the training set")
        num_classes = int(model.num_classes)
        check_bank_labels(labeled_labels, num_classes)
        if len(labeled_labels) != len(labeled_index):
            raise ValueError(f"labeled_labels has {len(labeled_labels)} labels but labeled_index has "
                             f"{len(labeled_index)} images: the bank needs one label per labeled image")
        self.weak, self.strong = weak, strong
        self.threshold = check_threshold(threshold)
        self.lambda_u, self.lambda_in = float(lambda_u), float(lambda_in)
        self.temperature = check_temperature("temperature", temperature)
        self.a = check_fraction("a", a)
        self.use_instance = bool(use_instance)
        self.start_step = start_step
        self.num_classes = num_classes
        self.labeled_index = labeled_index.detach().cpu().long()
        # training-set position -> bank slot (-1: not a labeled image)
        self._slot_of = torch.full((int(self.labeled_index.max()) + 1,), -1, dtype=torch.long)
        self._slot_of[self.labeled_index] = torch.arange(len(self.labeled_index))
        self.bank = LabeledMemoryBank(labeled_labels.cpu(), model.embedding_dim, num_classes)
        self.da = DistributionAlignment(num_classes, da_window) if da_window is not None else None

    def slots(self, labeled_index: Tensor) -> Tensor:
        """Bank slots of the labeled images at these training-set positions."""
        index = labeled_index.to(self._slot_of.device)
        if len(index) and (int(index.min()) < 0 or int(index.max()) >= len(self._slot_of)
                           or bool((self._slot_of[index.clamp(0, len(self._slot_of) - 1)] < 0).any())):
            raise ValueError(f"batch.labeled_index holds positions that are not in the labeled set this SimMatch "
                             f"was built with ({len(self.bank)} images): the bank must match the labeled set")
        return self._slot_of[index]

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        n_labeled, n_unlabeled = len(batch.x_labeled), len(batch.x_unlabeled)
        if n_unlabeled == 0:
            raise ValueError("SimMatch needs unlabeled images, but the batch has none")
        if batch.labeled_index is None:
            raise ValueError("SimMatch needs batch.labeled_index (the labeled images' positions in the training "
                             "set, which fit() provides) to write them into its memory bank")
        slots = self.slots(batch.labeled_index)
        x_weak = self.weak(batch.x_labeled)
        u_weak, u_strong = self.weak(batch.x_unlabeled), self.strong(batch.x_unlabeled)

        # the student: one forward of concat(labeled, strong) in train mode
        logits, z = self.model(torch.cat([x_weak, u_strong]), return_embedding=True)
        logits_labeled, logits_strong = logits[:n_labeled], logits[n_labeled:]
        z_strong = z[n_labeled:]

        # the EMA teacher (train mode: batch statistics; no gradient): labeled and weak views. This
        # pass only makes targets, so it leaves the teacher's BatchNorm running statistics alone
        # (evaluation recomputes them for the teacher's weights: ssl_teach.evaluation).
        with torch.no_grad():
            teacher = self.ema.model
            teacher.train()
            with frozen_bn_statistics(teacher):
                logits_t, z_t = teacher(torch.cat([x_weak, u_weak]), return_embedding=True)
            z_labeled_t, z_weak_t = z_t[:n_labeled], z_t[n_labeled:]
            p_w = logits_t[n_labeled:].softmax(dim=1)
            if self.da is not None:
                p_w = self.da.align(p_w)  # distribution alignment of p^w
            bank = self.bank.embeddings.clone()  # the bank as it was before this step's write
            bank_labels = self.bank.labels.clone()
            active = step >= self.start_step and self.bank.full
            if active:
                q_w = instance_similarity(z_weak_t, bank, self.temperature)  # q^w
                q_hat = unfold(q_w, p_w, bank_labels)  # unfolding: target of the instance loss
                p_hat = calibrated_prediction(p_w, q_w, bank_labels, self.a)  # aggregation of q^w
            else:
                p_hat = p_w

        loss_labeled = F.cross_entropy(logits_labeled, batch.y_labeled)
        loss_unlabeled, mask = soft_unlabeled_loss(p_hat, logits_strong, self.threshold)
        if active and self.use_instance:
            q_s = instance_similarity(z_strong, bank, self.temperature)  # q^s (student)
            loss_in = instance_loss(q_hat, q_s)
        else:
            loss_in = logits.new_zeros(())
        loss = loss_labeled + self.lambda_u * loss_unlabeled + self.lambda_in * loss_in

        # the bank: the teacher's embeddings of this batch's labeled images, at their slots
        self.bank.write(slots, z_labeled_t, batch.y_labeled)

        with torch.no_grad():  # measurement only (true labels)
            right = (p_hat.argmax(1) == batch.unlabeled_true_labels).float()
            logs = {
                "loss_labeled": loss_labeled.item(),
                "loss_unlabeled": loss_unlabeled.item(),
                "loss_instance": loss_in.item(),
                "mask_rate": mask.mean().item(),
                "mask_correct_rate": (mask * right).mean().item(),
                "pseudo_label_acc": right.mean().item(),
                "instance_active": float(active),
            }
        return loss, logs

    def to(self, device: torch.device) -> SimMatch:
        super().to(device)
        self.bank.to(device)
        if self.da is not None:
            self.da.to(device)
        return self

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["bank"] = self.bank.state_dict()
        state["labeled_index"] = self.labeled_index.clone()
        if self.da is not None:
            state["da"] = self.da.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        if not torch.equal(state["labeled_index"].cpu(), self.labeled_index):
            raise ValueError("the checkpoint's memory bank belongs to a different labeled set "
                             f"({len(state['labeled_index'])} images) than this SimMatch ({len(self.labeled_index)})")
        super().load_state_dict(state)
        self.bank.load_state_dict(state["bank"])
        if self.da is not None:
            self.da.load_state_dict(state["da"])


class SimMatchConstantEMA(SimMatch):
    """SimMatch whose teacher is the official code's EMA: the constant momentum ``ema_decay`` from
    the first step, without :mod:`ssl_teach.ema`'s warm-up (chapter 6 measures the difference)."""

    name = "simmatch_constant_ema"
    ema_warmup = False

