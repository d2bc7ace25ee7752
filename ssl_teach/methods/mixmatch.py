"""MixMatch (Berthelot et al., 2019): guess labels, sharpen them, MixUp everything.

The paper's Algorithm 1, for a labeled batch (x, p) and an unlabeled batch u:

    x_hat = weak(x);  u_hat_k = weak_k(u), k = 1..K              (K random weak views)
    q_bar = 1/K sum_k softmax(f(u_hat_k))                        (label guessing, eq. 6; no gradient)
    q     = Sharpen(q_bar, T) = q_bar^(1/T) / sum_j q_bar_j^(1/T)    (eq. 7)
    W     = Shuffle(concat(x_hat, u_hat_1..u_hat_K))
    X'    = MixUp(x_hat_i, W_i),  U' = MixUp(u_hat_i, W_(|X| + i))  (eqs. 8-11)
    L_X   = 1/|X'| sum H(p, softmax(f(x')))                        (eq. 3, soft cross-entropy)
    L_U   = 1/(L |U'|) sum ||q - softmax(f(u'))||^2                 (eq. 4, L classes)
    loss  = L_X + lambda_U * ramp(step) * L_U                       (eq. 5, linear ramp-up)

MixUp: lambda ~ Beta(alpha, alpha), lambda' = max(lambda, 1 - lambda) (eq. 9), so each mixed
item stays closer to its own input and keeps it on the "labeled" or "unlabeled" side of the loss.
Here lambda is drawn PER SAMPLE, as the official code does (``MixMode.augment_pair``): one lambda
per batch makes the whole batch's mixing strength (and so the loss scale) jump together from
step to step, while per-sample lambdas average that noise within the batch. ``mixup`` takes
``per_sample=False`` for the per-batch variant of the PyTorch ports.

Label guessing runs in train mode (batch statistics, like the official code) under no_grad,
and does NOT update BatchNorm's running statistics (:func:`frozen_bn_statistics`).

How the mixed batch goes through BatchNorm is the ``bn_mode`` option (the chapter's ablation):

* ``"concat"``: one forward of all mixed images; BN normalises with the statistics of the whole
  mix and its running statistics average the whole mix (FixMatch does this);
* ``"separate"``: one forward per chunk of B images (the labeled chunk, then the unlabeled
  chunks), each normalised by its own statistics and each updating the running statistics;
* ``"interleave"``: the official code: swap slices between the chunks so the first chunk holds
  a proportional share of every chunk (:func:`interleave`), forward chunk by chunk, and let only
  that first chunk update the running statistics; swap the logits back.

Explained in chapter 4 (chapters/04_mixmatch.ipynb).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.batchnorm import frozen_bn_statistics
from ssl_teach.checks import check_positive
from ssl_teach.methods.base import Batch, Method
from ssl_teach.ramps import linear_rampup

BN_MODES = ("concat", "separate", "interleave")



# --------------------------------------------------------------------------- the pure pieces


def sharpen(p: Tensor, T: float) -> Tensor:
    """Sharpen(p, T)_i = p_i^(1/T) / sum_j p_j^(1/T) (Berthelot et al., 2019, eq. 7).

    ``p`` holds probability vectors along its last dimension. T < 1 lowers the entropy (T -> 0
    tends to one-hot), T = 1 keeps ``p``, T > 1 flattens it. Computed as softmax(log p / T),
    which is the same quantity without underflow when T is small.
    """
    T = check_positive("T", T)
    if not isinstance(p, Tensor) or p.dim() < 1 or not p.dtype.is_floating_point:
        raise ValueError(f"p must be a float tensor of probabilities [..., K], got {p!r}")
    if (p < 0).any():
        raise ValueError("p must hold probabilities (>= 0), got negative entries")
    return torch.softmax(torch.log(p) / T, dim=-1)  # = p^(1/T) / sum_j p_j^(1/T)


def mixup(
    x: Tensor, y: Tensor, alpha: float, per_sample: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    """MixMatch's MixUp (eqs. 8-11): mix every row with a random partner from the same batch.

    lambda ~ Beta(alpha, alpha), lambda' = max(lambda, 1 - lambda),
    x' = lambda' x + (1 - lambda') x[perm],  y' = lambda' y + (1 - lambda') y[perm].

    Args:
        x: inputs ``[N, ...]`` (images).
        y: targets ``[N, K]`` (one-hot labels or guessed distributions).
        alpha: the Beta distribution's parameter (> 0; MixMatch uses 0.75).
        per_sample: one lambda per row (the official code, default) or one for the batch.

    The randomness comes from PyTorch's global generator (``set_seed`` makes it reproducible).

    Returns:
        ``(x_mixed, y_mixed, lam)`` with ``lam`` the ``[N]`` lambdas' (all >= 0.5) used for
        both the inputs and the targets.
    """
    alpha = check_positive("alpha", alpha)
    if not isinstance(x, Tensor) or not isinstance(y, Tensor) or x.dim() < 1 or y.dim() != 2:
        raise ValueError("mixup needs inputs x [N, ...] and targets y [N, K]")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of rows, got {len(x)} and {len(y)}")
    n = len(x)
    beta = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
    lam = beta.sample((n if per_sample else 1,))  # lambda ~ Beta(alpha, alpha)   (eq. 8)
    perm = torch.randperm(n)  # the partner of row i is row perm[i]
    lam = torch.maximum(lam, 1 - lam).expand(n).to(x.device, x.dtype)  # eq. 9: lambda' >= 0.5
    perm = perm.to(x.device)
    lam_x = lam.reshape(-1, *([1] * (x.dim() - 1)))
    x_mixed = lam_x * x + (1 - lam_x) * x[perm]  # eq. 10
    y_mixed = lam[:, None].to(y.dtype) * y + (1 - lam[:, None].to(y.dtype)) * y[perm]  # eq. 11
    return x_mixed, y_mixed, lam



@torch.no_grad()
def guess_labels(model: nn.Module, views: Sequence[Tensor], T: float) -> Tensor:
    """q = Sharpen(1/K sum_k softmax(f(view_k)), T) (eqs. 6-7): the target of the unlabeled
    images, from K views of the same batch, without gradient and without touching BatchNorm's
    running statistics. All K views go through the network in one forward pass."""
    if len(views) == 0:
        raise ValueError("guess_labels needs at least one view of the unlabeled batch")
    if any(v.shape != views[0].shape for v in views):
        raise ValueError(f"all views must have the same shape, got {[tuple(v.shape) for v in views]}")
    with frozen_bn_statistics(model):
        probs = model(torch.cat(list(views))).softmax(dim=1)  # softmax(f(u_hat_k)) for every k
    q_bar = probs.view(len(views), len(views[0]), -1).mean(dim=0)  # eq. 6: average over K views
    return sharpen(q_bar, T)  # eq. 7


def interleave(chunks: Sequence[Tensor]) -> list[Tensor]:
    """The official MixMatch ``interleave``: split each of the n equal chunks into n slices and
    swap slice i of chunk 0 with slice i of chunk i, so chunk 0 holds a proportional share of
    every chunk. Applying it twice gives back the original chunks."""
    n = len(chunks)
    size = len(chunks[0])
    if any(len(c) != size for c in chunks):
        raise ValueError(f"interleave needs chunks of equal length, got {[len(c) for c in chunks]}")
    groups = [size // n] * n
    for i in range(size - sum(groups)):
        groups[-i - 1] += 1
    offsets = [0]
    for g in groups:
        offsets.append(offsets[-1] + g)
    sliced = [[c[offsets[p]:offsets[p + 1]] for p in range(n)] for c in chunks]
    for i in range(1, n):
        sliced[0][i], sliced[i][i] = sliced[i][i], sliced[0][i]
    return [torch.cat(s) for s in sliced]


def mixmatch_loss(
    logits_x: Tensor, targets_x: Tensor, logits_u: Tensor, targets_u: Tensor, weight_u: float
) -> tuple[Tensor, Tensor, Tensor]:
    """loss = L_X + weight_u L_U (eqs. 3-5), returned as ``(loss, L_X, L_U)``.

    L_X = mean over rows of -sum_k targets_x log softmax(logits_x)   (soft cross-entropy)
    L_U = mean over rows AND classes of (softmax(logits_u) - targets_u)^2
    ``weight_u`` is lambda_U times the ramp-up factor; the targets carry no gradient.
    """
    for name, logits, targets in (("x", logits_x, targets_x), ("u", logits_u, targets_u)):
        if logits.dim() != 2 or logits.shape != targets.shape:
            raise ValueError(f"logits_{name} and targets_{name} must both be [N, K] of the same shape, "
                             f"got {tuple(logits.shape)} and {tuple(targets.shape)}")
    if (not isinstance(weight_u, (int, float)) or not math.isfinite(weight_u) or weight_u < 0):
        raise ValueError(f"weight_u must be a finite number >= 0, got {weight_u!r}")
    loss_x = -(targets_x.detach() * F.log_softmax(logits_x, dim=1)).sum(dim=1).mean()  # eq. 3
    loss_u = ((logits_u.softmax(dim=1) - targets_u.detach()) ** 2).mean()  # eq. 4
    return loss_x + weight_u * loss_u, loss_x, loss_u  # eq. 5


# --------------------------------------------------------------------------- the method


class MixMatch(Method):
    """MixMatch as in the paper's Algorithm 1.

    Args:
        model: the network.
        weak: the weak augmentation (``ssl_teach.augment.for_dataset(name)[0]``).
        K: weak views per unlabeled image for label guessing (paper: 2).
        T: sharpening temperature (paper: 0.5).
        alpha: MixUp's Beta(alpha, alpha) (paper: 0.75).
        lambda_u: weight of the unlabeled L2 loss (paper: 75 for CIFAR-10, 100 by default).
        rampup_steps: steps of the linear ramp-up of lambda_u (the references: 16 x 1024).
        bn_mode: ``"concat"``, ``"separate"`` or ``"interleave"`` (see the module docstring).
        per_sample_lambda: one MixUp lambda per image (official code) or per batch.
        ema_decay: evaluate with an EMA of the parameters (paper: 0.999); ``None`` evaluates
            the model itself.

    The unlabeled batch may be any multiple of the labeled one (the paper uses the same size,
    ``fit(..., mu=1)``; the book's protocol gives every method mu = 3). ``loss`` logs
    ``loss_labeled``, ``loss_unlabeled``, ``weight_u``, and, for measurement only,
    ``guess_acc`` (argmax of the guess equals the true label) and ``guess_confidence`` (mean
    max of the sharpened guess).
    """

    name = "mixmatch"
    #: mix the batch with MixUp (the paper's last step); :class:`MixMatchWithoutMixUp` turns it off
    use_mixup = True

    def __init__(
        self,
        model: nn.Module,
        weak: Augmentation,
        K: int = 2,
        T: float = 0.5,
        alpha: float = 0.75,
        lambda_u: float = 75.0,
        rampup_steps: int = 16_384,
        bn_mode: str = "concat",
        per_sample_lambda: bool = True,
        ema_decay: float | None = 0.999,
    ) -> None:
        super().__init__(model, ema_decay)
        if not isinstance(K, int) or isinstance(K, bool) or K < 1:
            raise ValueError(f"K must be an int >= 1, got {K!r}")
        if (not isinstance(lambda_u, (int, float)) or isinstance(lambda_u, bool)
                or not math.isfinite(lambda_u) or lambda_u < 0):
            raise ValueError(f"lambda_u must be a finite number >= 0, got {lambda_u!r}")
        if not isinstance(rampup_steps, int) or isinstance(rampup_steps, bool) or rampup_steps < 0:
            raise ValueError(f"rampup_steps must be an int >= 0, got {rampup_steps!r}")
        if bn_mode not in BN_MODES:
            raise ValueError(f"bn_mode must be one of {BN_MODES}, got {bn_mode!r}")
        self.weak = weak
        self.K, self.T, self.alpha = K, check_positive("T", T), check_positive("alpha", alpha)
        self.lambda_u, self.rampup_steps = float(lambda_u), rampup_steps
        self.bn_mode, self.per_sample_lambda = bn_mode, per_sample_lambda

    def forward_mixed(self, mixed: Tensor, chunk: int) -> Tensor:
        """Logits of the mixed batch, through BatchNorm as ``bn_mode`` says."""
        if self.bn_mode == "concat":
            return self.model(mixed)
        if len(mixed) % chunk:
            raise ValueError(f"bn_mode={self.bn_mode!r} needs the unlabeled batch to be a multiple of "
                             f"the labeled batch ({chunk}), got {len(mixed) - chunk} unlabeled images")
        chunks = list(mixed.split(chunk))
        if self.bn_mode == "separate":  # every chunk normalised alone, every chunk updates BN
            return torch.cat([self.model(c) for c in chunks])
        chunks = interleave(chunks)  # "interleave": chunk 0 now represents the whole mix
        logits = [self.model(chunks[0])]  # only this forward updates the running statistics
        with frozen_bn_statistics(self.model):
            logits += [self.model(c) for c in chunks[1:]]
        return torch.cat(interleave(logits))  # swap back: row i is again mixed[i]

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        n_labeled = len(batch.x_labeled)
        if len(batch.x_unlabeled) == 0:
            raise ValueError("MixMatch needs unlabeled images, but the batch has none")

        x_hat = self.weak(batch.x_labeled)  # one weak view of each labeled image
        u_hats = [self.weak(batch.x_unlabeled) for _ in range(self.K)]  # K weak views of each u
        q = guess_labels(self.model, u_hats, self.T)  # eqs. 6-7, no gradient, BN untouched
        p = F.one_hot(batch.y_labeled, q.shape[1]).to(q.dtype)

        inputs = torch.cat([x_hat, *u_hats])  # concat(X_hat, U_hat): W before shuffling
        targets = torch.cat([p, *([q] * self.K)])
        if self.use_mixup:
            mixed_x, mixed_y, _ = mixup(inputs, targets, self.alpha, per_sample=self.per_sample_lambda)
        else:  # the ablation: every image keeps its own (guessed) target
            mixed_x, mixed_y = inputs, targets

        logits = self.forward_mixed(mixed_x, n_labeled)
        weight_u = self.lambda_u * linear_rampup(step, self.rampup_steps)  # eq. 5 ramp
        loss, loss_x, loss_u = mixmatch_loss(logits[:n_labeled], mixed_y[:n_labeled],
                                             logits[n_labeled:], mixed_y[n_labeled:], weight_u)
        with torch.no_grad():  # measurement only: the true labels never enter the loss
            logs = {
                "loss_labeled": loss_x.item(),
                "loss_unlabeled": loss_u.item(),
                "weight_u": weight_u,
                "guess_acc": (q.argmax(1) == batch.unlabeled_true_labels).float().mean().item(),
                "guess_confidence": q.max(1).values.mean().item(),
            }
        return loss, logs


class MixMatchWithoutMixUp(MixMatch):
    """MixMatch with its MixUp step removed, the paper's "without MixUp" ablation (Table 4 of
    Berthelot et al., 2019): label guessing, sharpening and the two losses stay."""

    name = "mixmatch_without_mixup"
    use_mixup = False
