"""Tests of Mean Teacher (ssl_teach.methods.mean_teacher) and of fit's extra_eval.

A published library shipped a Mean Teacher that compared the teacher with itself, so its
consistency loss was always 0 (USB issues 102 and 226). The tests below would catch that bug:
the term must be non-zero when student and teacher differ, equal the value computed by hand
from the *student's* and the *teacher's* predictions, and send gradient to the student only.
"""

import math

import pytest
import torch
import torch.nn as nn

from ssl_teach import augment
from ssl_teach.config import set_seed
from ssl_teach.data import make_ssl_data
from ssl_teach.methods.base import Batch
from ssl_teach.methods.mean_teacher import MeanTeacher, mean_teacher_weight
from ssl_teach.methods.pi_model import PiModel
from ssl_teach.metrics import evaluate
from ssl_teach.models import SmallCNN
from ssl_teach.train import fit


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


def one_pixel_model() -> nn.Module:
    """logits = W x + b for 1x1 images: easy to compute by hand."""
    return nn.Sequential(nn.Flatten(), nn.Linear(1, 2))


def set_linear(model: nn.Module, weight: list[float], bias: list[float]) -> None:
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor(weight)[:, None])
        model[1].bias.copy_(torch.tensor(bias))


def one_pixel_batch() -> Batch:
    return Batch(x_labeled=torch.ones(1, 1, 1, 1), y_labeled=torch.tensor([0]),
                 x_unlabeled=torch.ones(1, 1, 1, 1), unlabeled_index=torch.tensor([0]),
                 unlabeled_true_labels=torch.tensor([0]))


def student_and_teacher_that_differ() -> MeanTeacher:
    method = MeanTeacher(one_pixel_model(), identity, w_max=1.0, rampup_steps=0, teacher_decay=0.9)
    set_linear(method.student, [1.0, 0.0], [0.0, 0.0])  # x = 1: logits [1, 0]
    set_linear(method.teacher, [0.0, 0.0], [0.0, 0.0])  # logits [0, 0]
    return method


def test_weight_follows_the_sigmoid_ramp():
    assert mean_teacher_weight(0, 10.0, 100) == pytest.approx(10 * math.exp(-5))  # the formula at 0
    assert mean_teacher_weight(50, 10.0, 100) == pytest.approx(10 * math.exp(-1.25))
    assert mean_teacher_weight(100, 10.0, 100) == 10.0
    assert mean_teacher_weight(0, 10.0, 0) == 10.0


def test_consistency_by_hand_is_nonzero_when_student_and_teacher_differ():
    method = student_and_teacher_that_differ()
    loss, logs = method.loss(one_pixel_batch(), step=5)
    # student: softmax([1, 0]) = [e / (1 + e), 1 / (1 + e)] = [0.731059, 0.268941]
    # teacher: softmax([0, 0]) = [0.5, 0.5]
    # consistency = mean over 2 classes of 0.231059^2 = 0.053388
    p = math.e / (1 + math.e)
    assert logs["loss_consistency"] == pytest.approx((p - 0.5) ** 2, rel=1e-5)
    assert logs["loss_consistency"] == pytest.approx(0.053388, abs=1e-6)
    # CE of the labeled image (class 0) under the student: -log 0.731059 = 0.313262
    assert logs["loss_labeled"] == pytest.approx(-math.log(p), rel=1e-5)
    assert loss.item() == pytest.approx(-math.log(p) + 1.0 * (p - 0.5) ** 2, rel=1e-5)


def test_consistency_is_zero_only_when_student_equals_teacher():
    method = student_and_teacher_that_differ()
    set_linear(method.teacher, [1.0, 0.0], [0.0, 0.0])  # now identical to the student
    _, logs = method.loss(one_pixel_batch(), step=5)
    assert logs["loss_consistency"] == pytest.approx(0.0, abs=1e-12)


def test_consistency_gradient_reaches_the_student_only():
    batch = one_pixel_batch()
    grads = {}
    for weight in (0.0, 1.0):
        method = student_and_teacher_that_differ()
        method.w_max = weight
        loss, _ = method.loss(batch, step=5)
        loss.backward()
        grads[weight] = [p.grad.clone() for p in method.student.parameters()]
        for p in method.teacher.parameters():
            assert p.grad is None and not p.requires_grad  # the teacher never gets a gradient
    # gradient of the consistency term alone = grad(CE + 1 * C) - grad(CE)
    consistency_grad = [g1 - g0 for g1, g0 in zip(grads[1.0], grads[0.0])]
    assert max(g.abs().max().item() for g in consistency_grad) > 1e-3
    # by hand: C = ((p0 - 0.5)^2 + (p1 - 0.5)^2) / 2 with p = softmax(W x + b), x = 1;
    # dC/dlogit_k = sum_j (p_j - 0.5) * dp_j/dlogit_k, dp_j/dlogit_k = p_j (1[j = k] - p_k)
    p = torch.tensor([math.e / (1 + math.e), 1 / (1 + math.e)], dtype=torch.float64)
    jacobian = torch.diag(p) - torch.outer(p, p)
    d_logits = jacobian @ (p - 0.5)  # (the mean over 2 classes halves the 2 of the square)
    weight_grad, bias_grad = consistency_grad
    assert torch.allclose(bias_grad.double(), d_logits, atol=1e-5)
    assert torch.allclose(weight_grad.double()[:, 0], d_logits * 1.0, atol=1e-5)  # x = 1


def test_teacher_follows_the_ema_formula_after_several_optimizer_steps(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    set_seed(0)
    method = MeanTeacher(SmallCNN(width=4), augment.for_dataset("mnist")[0], w_max=5.0,
                         rampup_steps=2, teacher_decay=0.8)
    expected = [p.detach().clone() for p in method.teacher.parameters()]
    initial = [p.detach().clone() for p in method.teacher.parameters()]
    decays = []
    original_after_step = method.after_step

    def after_step(step):
        # the recursion, written out: theta' <- a theta' + (1 - a) theta, a = min(1 - 1/(t + 1), 0.8)
        a = min(1 - 1 / (step + 1), 0.8)
        decays.append(a)
        for e, s in zip(expected, method.student.parameters()):
            e.mul_(a).add_((1 - a) * s.detach())
        own_statistics = [b.clone() for b in method.teacher.buffers()]
        original_after_step(step)
        # the teacher keeps the BatchNorm statistics of its own forward passes
        for b, own in zip(method.teacher.buffers(), own_statistics):
            assert torch.equal(b, own)

    method.after_step = after_step
    fit(method, data, "smoke", steps=6, eval_every=6, batch_size=8, mu=2, progress=False)
    assert decays == pytest.approx([0.0, 0.5, 2 / 3, 0.75, 0.8, 0.8])  # warm-up, then the cap
    for e, t in zip(expected, method.teacher.parameters()):
        assert torch.allclose(e, t, atol=1e-6)
    # the teacher moved, it is not the student, and it is not its initial copy
    assert any(not torch.allclose(t, i) for t, i in zip(method.teacher.parameters(), initial))
    assert any(not torch.allclose(t, s) for t, s in zip(method.teacher.parameters(),
                                                        method.student.parameters()))
    # BatchNorm running statistics: the teacher's own (gathered by its train-mode forwards on its
    # own views, with its own weights), not a copy of the student's
    teacher_bn = [m for m in method.teacher.modules() if isinstance(m, nn.BatchNorm2d)]
    student_bn = [m for m in method.student.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(int(m.num_batches_tracked) == 6 for m in teacher_bn)  # one forward per step
    assert not all(torch.allclose(t.running_mean, s.running_mean) for t, s in zip(teacher_bn, student_bn))
    assert method.eval_model() is method.teacher  # the teacher is the model evaluated


def test_teacher_forward_uses_batch_statistics_not_the_copied_running_ones(tiny_dataset):
    """The teacher runs in train mode: its running statistics do not change the target."""
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    x = data.images[:8].float() / 255
    batch = Batch(x, data.labels[:8], x, torch.arange(8), data.labels[:8])
    set_seed(0)
    method = MeanTeacher(SmallCNN(width=4), identity, w_max=1.0, rampup_steps=0)
    method.teacher.eval()  # e.g. left in eval mode by an evaluation
    with torch.no_grad():
        next(method.student.parameters()).mul_(1.5)  # make the student differ
    _, before = method.loss(batch, step=3)
    for module in method.teacher.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.fill_(5.0)
            module.running_var.fill_(100.0)
    _, after = method.loss(batch, step=3)
    assert method.teacher.training
    assert after["loss_consistency"] == pytest.approx(before["loss_consistency"], rel=1e-5)


def test_with_decay_zero_mean_teacher_is_the_pi_model_with_a_stop_gradient(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    x = data.images[:8].float() / 255
    batch = Batch(x, data.labels[:8], x, torch.arange(8), data.labels[:8])
    weak = augment.for_dataset("mnist")[0]
    set_seed(0)
    model = SmallCNN(width=4)
    teacher_method = MeanTeacher(model, weak, w_max=3.0, rampup_steps=10, teacher_decay=0.0)
    pi_method = PiModel(model, weak, w_max=3.0, rampup_steps=10, ema_decay=None)
    torch.manual_seed(7)
    mt_loss, mt_logs = teacher_method.loss(batch, step=4)
    torch.manual_seed(7)
    pi_loss, pi_logs = pi_method.loss(batch, step=4)
    assert mt_logs["loss_consistency"] > 0
    assert mt_loss.item() == pytest.approx(pi_loss.item(), rel=1e-5)
    assert mt_logs == pytest.approx(pi_logs, rel=1e-5)


@pytest.mark.parametrize("bad", [1.0, -0.01, 1.2, float("nan")])
def test_bad_teacher_decay_raises(bad):
    with pytest.raises(ValueError, match="teacher_decay"):
        MeanTeacher(one_pixel_model(), identity, teacher_decay=bad)


def test_bad_weights_raise():
    with pytest.raises(ValueError, match="w_max"):
        MeanTeacher(one_pixel_model(), identity, w_max=-1.0)
    with pytest.raises(ValueError, match="rampup_steps"):
        MeanTeacher(one_pixel_model(), identity, rampup_steps=-5)
    with pytest.raises(ValueError, match="w_max"):
        mean_teacher_weight(3, -2.0, 10)


def test_mean_teacher_state_dict_round_trip(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    set_seed(0)
    method = MeanTeacher(SmallCNN(width=4), augment.for_dataset("mnist")[0], teacher_decay=0.5)
    fit(method, data, "smoke", steps=3, eval_every=3, batch_size=8, mu=2, progress=False)
    copy = MeanTeacher(SmallCNN(width=4), augment.for_dataset("mnist")[0], teacher_decay=0.5)
    copy.load_state_dict(method.state_dict())
    for a, b in zip(copy.teacher.state_dict().values(), method.teacher.state_dict().values()):
        assert torch.equal(a, b)
    assert copy.ema.num_updates == 3


# --------------------------------------------------------------------------- fit(extra_eval=...)


def test_fit_records_extra_evaluations(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    set_seed(0)
    method = MeanTeacher(SmallCNN(width=4), augment.for_dataset("mnist")[0], teacher_decay=0.9)
    history = fit(method, data, "smoke", steps=4, eval_every=2, batch_size=8, mu=2, progress=False,
                  extra_eval={"student": lambda: method.student})
    assert history.eval["step"] == [2.0, 4.0]
    assert len(history.eval["student_acc"]) == 2
    assert history.eval["student_acc"][-1] == pytest.approx(
        evaluate(method.student, data.test_images, data.test_labels))
    assert history.final_accuracy == pytest.approx(
        evaluate(method.teacher, data.test_images, data.test_labels))
    assert method.student.training  # evaluating the student leaves it in train mode
    with pytest.raises(ValueError, match="extra_eval"):
        fit(method, data, "smoke", steps=1, progress=False, extra_eval={"test": lambda: method.student})
    with pytest.raises(ValueError, match="extra_eval"):
        fit(method, data, "smoke", steps=1, progress=False, extra_eval={"student": method.student})
