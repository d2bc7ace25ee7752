"""Mean Teacher (Tarvainen and Valpola, 2017): the target comes from an EMA of the student.

Explained in chapter 3 (chapters/03_mean_teacher.ipynb).

The Pi-model's target is the model's own prediction on another view, as noisy as the model
itself. Mean Teacher takes the target from a *teacher* whose weights are an exponential moving
average of the student's, updated after every optimizer step (eq. 3):

    theta'_t = a theta'_(t-1) + (1 - a) theta_t,     a = min(1 - 1/(t + 1), decay)
    loss     = CE(student(aug(x_l)), y_l)
               + w(t) * 1/(C |B|) * sum_i || softmax(student(aug(x_i))) - softmax(teacher(aug'(x_i))) ||^2
    w(t)     = w_max * exp(-5 (1 - t/T)^2) during the first T steps, then w_max

The teacher runs under ``torch.no_grad`` (the target carries no gradient: only the student
learns from the loss; the teacher learns only through the average). The teacher is the model
that is evaluated. The EMA is :class:`ssl_teach.ema.EMA`, the same object every other method
uses for evaluation (here without its copy of the student's BatchNorm statistics: the teacher
keeps its own, see :class:`MeanTeacher`). With decay 0 the teacher *is* the student and Mean
Teacher becomes the Pi-model with a stop-gradient on the target view
(``ssl_teach.methods.pi_model.PiModel``).

A published library's Mean Teacher compared the teacher's prediction with itself, so its
consistency loss was always 0 and it trained as supervised-only (USB issues 102 and 226). The
student's prediction below comes from ``self.model`` (with gradient) and the target from
``self.teacher`` (without); ``tests/test_mean_teacher.py`` checks that the term is non-zero when
the two differ and that its gradient reaches the student's parameters only.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.augment import Augmentation
from ssl_teach.checks import check_int, check_number
from ssl_teach.methods.base import Batch, Method
from ssl_teach.methods.pi_model import consistency_mse
from ssl_teach.ramps import sigmoid_rampup


def mean_teacher_weight(step: int, w_max: float, rampup_steps: int) -> float:
    """w(t) = w_max * exp(-5 (1 - t/T)^2) for t < T, then w_max (the reference code's
    ``consistency * sigmoid_rampup(epoch, consistency_rampup)``, evaluated per step here)."""
    check_int("step", step)
    w_max = check_number("w_max", w_max, 0.0)
    return w_max * sigmoid_rampup(step, check_int("rampup_steps", rampup_steps))


class MeanTeacher(Method):
    """Student and EMA teacher; consistency between student(view 1) and teacher(view 2).

    BatchNorm. The teacher's forward during training runs in **train mode**: BatchNorm normalises
    with the statistics of the teacher's own batch, computed with the teacher's own weights,
    exactly as the student's forward does, and as the reference PyTorch code does
    (``ema_model.train()`` in CuriousAI/mean-teacher). In eval mode it would normalise with
    running statistics, and those would have to come from somewhere: :class:`~ssl_teach.ema.EMA`
    copies them from the student, but they were gathered with the student's weights, not the
    teacher's averaged ones, so they do not fit the teacher (badly so early on, and whenever
    the consistency term keeps the student's weights moving). For the same reason the teacher
    **keeps its own running statistics**: its train-mode forward updates them every step, and
    :meth:`after_step` averages the parameters but leaves the teacher's buffers alone, as the
    reference code does (it averages ``parameters()`` only). The teacher, evaluated in eval
    mode like every method's EMA model, therefore uses statistics that belong to its weights.

    Args:
        model: the student network (the teacher is an EMA copy of it).
        augment: the random view (``ssl_teach.augment.for_dataset(name)[0]``, the weak one).
        w_max: the largest consistency weight (>= 0).
        rampup_steps: steps of the sigmoid ramp-up of w(t).
        teacher_decay: the EMA decay a of the teacher, in [0, 1) (the paper: 0.99 during the
            ramp-up, 0.999 after; the book's 2,700-step runs use 0.99 throughout, which beat
            0.999 on the validation split, ``ssl_teach.experiments.recipe``, chapter 3).
    """

    name = "mean_teacher"

    def __init__(self, model: nn.Module, augment: Augmentation, w_max: float = 10.0,
                 rampup_steps: int = 300, teacher_decay: float = 0.99) -> None:
        teacher_decay = check_number("teacher_decay", teacher_decay, 0.0, 1.0, high_inclusive=False)
        super().__init__(model, ema_decay=teacher_decay)  # self.ema holds the teacher
        self.augment = augment
        self.w_max = check_number("w_max", w_max, 0.0)
        self.rampup_steps = check_int("rampup_steps", rampup_steps)

    @property
    def student(self) -> nn.Module:
        return self.model

    @property
    def teacher(self) -> nn.Module:
        return self.ema.model  # type: ignore[union-attr]

    def consistency_weight(self, step: int) -> float:
        return mean_teacher_weight(step, self.w_max, self.rampup_steps)

    def loss(self, batch: Batch, step: int) -> tuple[Tensor, dict[str, float]]:
        x_labeled = self.augment(batch.x_labeled)
        view_1 = self.augment(batch.x_unlabeled)  # the student's view
        view_2 = self.augment(batch.x_unlabeled)  # the teacher's view, another random one
        logits = self.student(torch.cat([x_labeled, view_1]))
        logits_labeled, student_logits = logits.split([len(x_labeled), len(view_1)])
        self.teacher.train()  # batch statistics of its own batch (see the class docstring)
        with torch.no_grad():  # the target carries no gradient
            teacher_probs = self.teacher(view_2).softmax(1)

        loss_labeled = F.cross_entropy(logits_labeled, batch.y_labeled)  # CE on labeled images
        loss_consistency = consistency_mse(student_logits.softmax(1), teacher_probs)  # student vs teacher
        weight = self.consistency_weight(step)  # w(t)
        loss = loss_labeled + weight * loss_consistency
        return loss, {"loss_labeled": loss_labeled.item(),
                      "loss_consistency": loss_consistency.item(), "weight": weight}

    def after_step(self, step: int) -> None:
        """theta' <- a theta' + (1 - a) theta over the parameters (eq. 3); the teacher keeps the
        BatchNorm statistics its own forward passes gathered (``EMA.update`` would copy the
        student's)."""
        own_statistics = [buffer.clone() for buffer in self.teacher.buffers()]
        super().after_step(step)  # the EMA update of the teacher
        with torch.no_grad():
            for buffer, own in zip(self.teacher.buffers(), own_statistics, strict=True):
                buffer.copy_(own)

    # eval_model (inherited) returns the teacher.
