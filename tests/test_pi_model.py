"""Tests of the Pi-model and temporal ensembling (ssl_teach.methods.pi_model)."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from ssl_teach import augment
from ssl_teach.config import set_seed
from ssl_teach.data import make_ssl_data
from ssl_teach.methods.base import Batch
from ssl_teach.methods.pi_model import (
    PiModel,
    TemporalEnsembling,
    consistency_mse,
    ensemble_targets,
    ensemble_update,
    pi_rampup_weight,
)
from ssl_teach.models import SmallCNN
from ssl_teach.train import fit


class ShiftingViews:
    """A deterministic 'augmentation': call k returns x + 0.1 k, so every view differs."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = x + 0.1 * self.calls
        self.calls += 1
        return out


def linear_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


def tiny_batch(seed: int = 1) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(x_labeled=torch.rand(2, 1, 2, 2, generator=g), y_labeled=torch.tensor([0, 2]),
                 x_unlabeled=torch.rand(3, 1, 2, 2, generator=g),
                 unlabeled_index=torch.tensor([0, 1, 2]), unlabeled_true_labels=torch.tensor([0, 1, 2]))


# --------------------------------------------------------------------------- pure pieces


def test_consistency_mse_by_hand():
    p = torch.tensor([[0.7, 0.2, 0.1], [0.5, 0.5, 0.0]])
    q = torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.5, 0.0]])
    # differences 0.2, -0.1, -0.1, 0, 0, 0 -> squares 0.04 + 0.01 + 0.01 = 0.06, mean over
    # batch AND classes (2 x 3 = 6 numbers): 0.01 (a sum over classes would give 0.03)
    assert consistency_mse(p, q).item() == pytest.approx(0.01)
    assert consistency_mse(p, p).item() == 0.0


def test_consistency_mse_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        consistency_mse(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\[B, C\]"):
        consistency_mse(torch.zeros(3), torch.zeros(3))


def test_rampup_weight_is_zero_at_step_zero_then_follows_the_sigmoid():
    # step 0: 0, although sigmoid_rampup(0, T) = exp(-5) (Laine and Aila zero the first epoch)
    assert pi_rampup_weight(0, 10.0, 100) == 0.0
    assert pi_rampup_weight(0, 10.0, 0) == 0.0
    # t = 50 / 100: 10 exp(-5 * 0.5^2) = 10 exp(-1.25) = 2.8650
    assert pi_rampup_weight(50, 10.0, 100) == pytest.approx(10 * math.exp(-1.25))
    assert pi_rampup_weight(50, 10.0, 100) == pytest.approx(2.8650, abs=1e-4)
    # t = 1 / 100: 10 exp(-5 * 0.99^2)
    assert pi_rampup_weight(1, 10.0, 100) == pytest.approx(10 * math.exp(-5 * 0.99**2))
    assert pi_rampup_weight(100, 10.0, 100) == 10.0
    assert pi_rampup_weight(5000, 10.0, 100) == 10.0
    assert pi_rampup_weight(1, 10.0, 0) == 10.0  # no ramp: full weight from step 1


def test_bias_correction_by_hand():
    a = 0.6
    ensemble, counts = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    z1 = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    ensemble, counts = ensemble_update(ensemble, counts, torch.tensor([0, 2]), z1, a)
    # Z = 0.4 z1 after one update; 1 - 0.6^1 = 0.4, so the corrected target is z1 itself
    assert torch.allclose(ensemble[0], torch.tensor([0.36, 0.04]))
    targets, has_target = ensemble_targets(ensemble, counts, a)
    assert has_target.tolist() == [True, False, True]
    assert torch.allclose(targets[[0, 2]], z1)
    assert torch.equal(targets[1], torch.zeros(2))  # no prediction yet: no target
    z2 = torch.tensor([[0.5, 0.5]])
    ensemble, counts = ensemble_update(ensemble, counts, torch.tensor([0]), z2, a)
    # Z = 0.6 * 0.4 z1 + 0.4 z2 = 0.24 z1 + 0.4 z2, total weight 1 - 0.6^2 = 0.64
    # target = (0.24 z1 + 0.4 z2) / 0.64 = 0.375 z1 + 0.625 z2 = [0.65, 0.35]
    targets, _ = ensemble_targets(ensemble, counts, a)
    assert counts.tolist() == [2, 0, 1]
    assert torch.allclose(targets[0], torch.tensor([0.375 * 0.9 + 0.625 * 0.5, 0.375 * 0.1 + 0.625 * 0.5]))
    assert torch.allclose(targets[0], torch.tensor([0.65, 0.35]))
    assert targets[0].sum().item() == pytest.approx(1.0)  # an average of distributions
    # without the correction the target would be [0.416, 0.224], far from a distribution
    assert ensemble[0].sum().item() == pytest.approx(0.64)


def test_ensemble_update_does_not_modify_its_inputs():
    ensemble, counts = torch.zeros(2, 2), torch.zeros(2, dtype=torch.long)
    ensemble_update(ensemble, counts, torch.tensor([1]), torch.tensor([[0.5, 0.5]]), 0.6)
    assert ensemble.abs().sum() == 0 and counts.sum() == 0


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "0.6"])
def test_bad_decay_raises(bad):
    ensemble, counts = torch.zeros(2, 2), torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="decay"):
        ensemble_targets(ensemble, counts, bad)
    with pytest.raises(ValueError, match="decay"):
        ensemble_update(ensemble, counts, torch.tensor([0]), torch.ones(1, 2) / 2, bad)
    with pytest.raises(ValueError, match="ensemble_decay"):
        TemporalEnsembling(linear_model(), ShiftingViews(), 3, 3, ensemble_decay=bad)


def test_bad_weights_and_steps_raise():
    with pytest.raises(ValueError, match="w_max"):
        pi_rampup_weight(5, -1.0, 10)
    with pytest.raises(ValueError, match="rampup_steps"):
        pi_rampup_weight(5, 1.0, -10)
    with pytest.raises(ValueError, match="w_max"):
        PiModel(linear_model(), ShiftingViews(), w_max=-0.5)
    with pytest.raises(ValueError, match="rampup_steps"):
        PiModel(linear_model(), ShiftingViews(), rampup_steps=-1)
    with pytest.raises(ValueError, match="w_max"):
        TemporalEnsembling(linear_model(), ShiftingViews(), 3, 3, w_max=-1)
    with pytest.raises(ValueError, match="num_images"):
        TemporalEnsembling(linear_model(), ShiftingViews(), 0, 3)
    with pytest.raises(ValueError, match="ensemble_update|probs"):
        ensemble_update(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), torch.tensor([0]),
                        torch.ones(1, 3) / 3, 0.6)


# --------------------------------------------------------------------------- the Pi-model


def hand_pi_loss(model: nn.Module, batch: Batch, weight: float, detach_target: bool) -> torch.Tensor:
    """The Pi-model loss written out: views are x + 0 (labeled), x + 0.1 and x + 0.2."""
    ce = F.cross_entropy(model(batch.x_labeled + 0.0), batch.y_labeled)
    p1 = model(batch.x_unlabeled + 0.1).softmax(1)
    p2 = model(batch.x_unlabeled + 0.2).softmax(1)
    if detach_target:
        p2 = p2.detach()
    return ce + weight * ((p1 - p2) ** 2).mean()


def gradients(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_pi_loss_and_gradient_match_the_formula(stop_gradient):
    """The book stops the gradient on the second view (the target); check which branch."""
    batch = tiny_batch()
    method = PiModel(linear_model(), ShiftingViews(), w_max=30.0, rampup_steps=0,
                     stop_gradient=stop_gradient, ema_decay=None)
    loss, logs = method.loss(batch, step=3)
    loss.backward()
    got = gradients(method.model)

    reference = linear_model()  # same initial weights
    expected_loss = hand_pi_loss(reference, batch, 30.0, detach_target=stop_gradient)
    expected_loss.backward()
    assert loss.item() == pytest.approx(expected_loss.item(), rel=1e-6)
    for g, e in zip(got, gradients(reference)):
        assert torch.allclose(g, e, atol=1e-6)
    assert logs["weight"] == 30.0 and logs["loss_consistency"] > 0

    # the other choice gives a different gradient, so the check above can tell them apart
    other = linear_model()
    hand_pi_loss(other, batch, 30.0, detach_target=not stop_gradient).backward()
    assert not all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, gradients(other)))


def test_target_view_receives_no_gradient():
    """Record the model's outputs per call: only the first forward (labeled + view 1) may
    be part of the autograd graph; the second view's output must not need a gradient."""
    outputs = []
    model = linear_model()
    model.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    method = PiModel(model, ShiftingViews(), w_max=1.0, rampup_steps=0, ema_decay=None)
    method.loss(tiny_batch(), step=1)
    assert len(outputs) == 2
    assert outputs[0].requires_grad  # labeled + view 1: learns
    assert not outputs[1].requires_grad  # view 2: the target


def test_weight_is_zero_at_step_zero_so_the_loss_is_the_cross_entropy():
    batch = tiny_batch()
    method = PiModel(linear_model(), ShiftingViews(), w_max=100.0, rampup_steps=10, ema_decay=None)
    loss, logs = method.loss(batch, step=0)
    assert logs["weight"] == 0.0
    assert logs["loss_consistency"] > 0  # the term exists, its weight is 0
    assert loss.item() == pytest.approx(logs["loss_labeled"])


def test_pi_model_trains_in_the_loop(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    set_seed(0)
    method = PiModel(SmallCNN(width=8), augment.for_dataset("mnist")[0], w_max=10.0,
                     rampup_steps=4, ema_decay=0.9)
    history = fit(method, data, "smoke", steps=6, eval_every=3, batch_size=8, mu=2, progress=False)
    assert {"loss_labeled", "loss_consistency", "weight"} <= set(history.train)
    assert history.train["weight"][-1] == pytest.approx(10.0)
    assert 0.0 <= history.final_accuracy <= 1.0


# --------------------------------------------------------------------------- temporal ensembling


def test_temporal_ensembling_uses_past_predictions_as_bias_corrected_targets():
    batch = tiny_batch()
    method = TemporalEnsembling(linear_model(), lambda x: x, num_images=5, num_classes=3,
                                w_max=10.0, rampup_steps=0, ensemble_decay=0.6, ema_decay=None)
    # first visit: no target yet, the consistency term is exactly 0
    loss, logs = method.loss(batch, step=1)
    assert logs["loss_consistency"] == 0.0 and logs["with_target"] == 0.0
    first = method.model(batch.x_unlabeled).softmax(1).detach()
    method.after_step(1)
    assert method.counts.tolist() == [1, 1, 1, 0, 0]
    assert torch.allclose(method.ensemble[:3], 0.4 * first)  # (1 - a) z
    # change the model: the target must be the *old* prediction (z~ = 0.4 z / (1 - 0.6) = z)
    with torch.no_grad():
        method.model[1].weight.add_(0.5)
    loss, logs = method.loss(batch, step=2)
    now = method.model(batch.x_unlabeled).softmax(1)
    expected = ((now - first) ** 2).mean().item()
    assert logs["with_target"] == 1.0
    assert logs["loss_consistency"] == pytest.approx(expected, rel=1e-5)
    assert expected > 0
    # and its gradient flows into the model, never into the ensemble
    loss.backward()
    assert method.model[1].weight.grad.abs().sum() > 0
    assert not method.ensemble.requires_grad


def test_temporal_ensembling_state_round_trip_and_index_check(tiny_dataset):
    data = make_ssl_data(tiny_dataset, n_per_class=3)
    set_seed(0)
    method = TemporalEnsembling(SmallCNN(width=8), augment.for_dataset("mnist")[0],
                                num_images=len(data.images), num_classes=10, rampup_steps=2,
                                ema_decay=0.9)
    fit(method, data, "smoke", steps=4, eval_every=4, batch_size=8, mu=2, progress=False)
    assert int(method.counts.sum()) == 4 * 16  # every unlabeled image drawn counted once
    state = method.state_dict()
    copy = TemporalEnsembling(SmallCNN(width=8), augment.for_dataset("mnist")[0],
                              num_images=len(data.images), num_classes=10)
    copy.load_state_dict(state)
    assert torch.equal(copy.ensemble, method.ensemble) and torch.equal(copy.counts, method.counts)

    too_small = TemporalEnsembling(linear_model(), lambda x: x, num_images=2, num_classes=3)
    with pytest.raises(ValueError, match="num_images"):
        too_small.loss(tiny_batch(), step=1)
