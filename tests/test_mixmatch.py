import copy
import math

import pytest
import torch
from helpers import random_batch

from ssl_teach.augment import for_dataset
from ssl_teach.config import set_seed
from ssl_teach.data import make_ssl_data
from ssl_teach.methods.mixmatch import (
    MixMatch,
    guess_labels,
    interleave,
    mixmatch_loss,
    mixup,
    sharpen,
)
from ssl_teach.models import SmallCNN
from ssl_teach.train import fit


def entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


# --------------------------------------------------------------------------- sharpen


def test_sharpen_by_hand():
    # T = 0.5: p^2 = [0.36, 0.16], sum 0.52 -> [0.6923, 0.3077]
    q = sharpen(torch.tensor([[0.6, 0.4]]), 0.5)
    assert torch.allclose(q, torch.tensor([[0.36 / 0.52, 0.16 / 0.52]]), atol=1e-6)


def test_sharpen_sums_to_one_lowers_entropy_keeps_argmax():
    torch.manual_seed(0)
    p = torch.rand(50, 10).softmax(1)
    for T in (0.1, 0.5, 0.9):
        q = sharpen(p, T)
        assert torch.allclose(q.sum(1), torch.ones(50), atol=1e-5)
        assert (entropy(q) < entropy(p)).all()
        assert torch.equal(q.argmax(1), p.argmax(1))
    assert (entropy(sharpen(p, 2.0)) > entropy(p)).all()  # T > 1 flattens


def test_sharpen_with_t_one_is_the_identity_and_small_t_tends_to_one_hot():
    torch.manual_seed(0)
    p = torch.rand(20, 10).softmax(1)
    assert torch.allclose(sharpen(p, 1.0), p, atol=1e-6)
    # 0.5^(1/T) underflows float32 for T = 1e-3; the log-domain form still gives one-hot
    q = sharpen(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), 1e-3)
    assert torch.isfinite(q).all()
    assert torch.allclose(q, torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), atol=1e-6)


@pytest.mark.parametrize("T", [0, -0.5, float("inf"), float("nan")])
def test_sharpen_rejects_bad_temperature(T):
    with pytest.raises(ValueError, match="T must be a finite number > 0"):
        sharpen(torch.tensor([[0.5, 0.5]]), T)


def test_sharpen_rejects_negative_probabilities():
    with pytest.raises(ValueError, match="probabilities"):
        sharpen(torch.tensor([[-0.1, 1.1]]), 0.5)


# --------------------------------------------------------------------------- mixup


def test_mixup_lambda_at_least_half_and_targets_mixed_with_the_same_lambda():
    torch.manual_seed(0)
    n = 64
    x = torch.eye(n)  # row i is the one-hot vector e_i: the mix shows lambda and the partner
    y = torch.eye(n)
    x_mixed, y_mixed, lam = mixup(x, y, alpha=0.75)
    assert lam.shape == (n,) and (lam >= 0.5).all() and (lam <= 1).all()
    assert torch.allclose(x_mixed, y_mixed)  # same lambda AND same partner for inputs and targets
    # each mixed row keeps its own item with weight lambda' >= 0.5 (more when it drew itself)
    own = x_mixed[torch.arange(n), torch.arange(n)]
    assert (own >= lam - 1e-6).all() and (own >= 0.5).all()
    assert len(set(lam.tolist())) > n // 2  # one lambda per sample
    assert torch.allclose(x_mixed.sum(1), torch.ones(n))  # convex combinations


def test_mixup_per_batch_uses_one_lambda_and_images_mix_like_targets():
    torch.manual_seed(1)
    x = torch.rand(16, 1, 4, 4)
    y = torch.eye(16)
    x_mixed, y_mixed, lam = mixup(x, y, alpha=0.75, per_sample=False)
    assert len(set(lam.tolist())) == 1 and lam[0] >= 0.5
    partner = y_mixed.clone()
    partner[torch.arange(16), torch.arange(16)] = 0
    j = partner.argmax(1)  # the partner each row was mixed with
    stayed = partner.sum(1) == 0  # rows that drew themselves
    expected = lam[0] * x + (1 - lam[0]) * x[j]
    assert torch.allclose(x_mixed[~stayed], expected[~stayed], atol=1e-6)


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan")])
def test_mixup_rejects_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        mixup(torch.rand(4, 3), torch.eye(4)[:, :3], alpha)


def test_mixup_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="same number of rows, got 4 and 3"):
        mixup(torch.rand(4, 1, 2, 2), torch.eye(3), 0.75)


# --------------------------------------------------------------------------- the loss


def test_mixmatch_loss_by_hand():
    # L_X: logits (0, 0) -> log_softmax = (-log 2, -log 2); soft CE with any target summing to 1 = log 2
    # L_U: logits (log 3, 0) -> softmax (0.75, 0.25); target (1, 0): ((-0.25)^2 + 0.25^2) / 2 = 0.0625
    logits_x = torch.zeros(1, 2, requires_grad=True)
    logits_u = torch.tensor([[math.log(3), 0.0]], requires_grad=True)
    loss, loss_x, loss_u = mixmatch_loss(logits_x, torch.tensor([[0.75, 0.25]]),
                                         logits_u, torch.tensor([[1.0, 0.0]]), weight_u=10.0)
    assert loss_x.item() == pytest.approx(math.log(2), abs=1e-6)
    assert loss_u.item() == pytest.approx(0.0625, abs=1e-6)
    assert loss.item() == pytest.approx(math.log(2) + 10 * 0.0625, abs=1e-6)  # 1.3181
    loss.backward()
    # d L_X / d logits = softmax - target = (0.5 - 0.75, 0.5 - 0.25)
    assert torch.allclose(logits_x.grad, torch.tensor([[-0.25, 0.25]]), atol=1e-6)


def test_mixmatch_loss_targets_get_no_gradient():
    targets = torch.tensor([[0.5, 0.5]], requires_grad=True)
    loss, _, _ = mixmatch_loss(torch.zeros(1, 2, requires_grad=True), targets,
                               torch.zeros(1, 2, requires_grad=True), targets, 1.0)
    loss.backward()
    assert targets.grad is None


def test_mixmatch_loss_rejects_mismatched_shapes_and_negative_weight():
    with pytest.raises(ValueError, match="logits_u and targets_u"):
        mixmatch_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError, match="weight_u"):
        mixmatch_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), -1.0)


# --------------------------------------------------------------------------- guessing and BN


def bn_state(model):
    return {k: v.clone() for k, v in model.state_dict().items()
            if "running" in k or "num_batches" in k}


def test_guessing_does_not_change_batchnorm_running_statistics():
    set_seed(0)
    model = SmallCNN(width=4)
    views = [torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28)]
    before = bn_state(model)
    q = guess_labels(model, views, T=0.5)
    after = bn_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and not q.requires_grad
    # ... while a plain train-mode forward would have changed them (the test can fail)
    model(torch.cat(views))
    assert not torch.equal(before["features.1.running_mean"], bn_state(model)["features.1.running_mean"])


def test_guess_is_the_sharpened_average_over_views_with_batch_statistics():
    set_seed(0)
    model = SmallCNN(width=4)
    views = [torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28)]
    q = guess_labels(model, views, T=0.5)
    reference = copy.deepcopy(model)  # train mode: BN normalises with the batch's statistics
    with torch.no_grad():
        probs = reference(torch.cat(views)).softmax(1)
    expected = sharpen((probs[:8] + probs[8:]) / 2, 0.5)
    assert torch.allclose(q, expected, atol=1e-5)


def test_interleave_is_its_own_inverse_and_mixes_every_chunk_into_the_first():
    chunks = [torch.full((6,), float(i)) for i in range(3)]  # chunk i holds the value i
    mixed = interleave(chunks)
    assert sorted(mixed[0].tolist()) == [0, 0, 1, 1, 2, 2]  # a proportional share of each
    back = interleave(mixed)
    assert all(torch.equal(a, b) for a, b in zip(back, chunks))
    with pytest.raises(ValueError, match="equal length"):
        interleave([torch.zeros(3), torch.zeros(2)])


# --------------------------------------------------------------------------- the method


@pytest.mark.parametrize("bn_mode, updates", [("concat", 1), ("separate", 3), ("interleave", 1)])
def test_bn_modes_update_running_statistics_as_documented(bn_mode, updates):
    """K = 2, mu = 1: three chunks of B; guessing never counts."""
    set_seed(0)
    model = SmallCNN(width=4)
    method = MixMatch(model, for_dataset("fashion_mnist")[0], bn_mode=bn_mode, ema_decay=None)
    loss, logs = method.loss(random_batch(4, 1), step=0)
    assert model.features[1].num_batches_tracked.item() == updates
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_interleaved_forward_puts_every_row_back_in_place():
    """In eval mode BN uses its running statistics, so chunking cannot change a row's logits:
    the interleaved forward must return exactly the logits of one forward, in the same order."""
    set_seed(0)
    model = SmallCNN(width=4).eval()  # eval mode: BN uses running stats, so chunking is irrelevant
    method = MixMatch(model, for_dataset("fashion_mnist")[0], bn_mode="interleave", ema_decay=None)
    mixed = torch.rand(12, 1, 28, 28)
    with torch.no_grad():
        together = model(mixed)
        chunked = method.forward_mixed(mixed, 4)
    assert torch.allclose(together, chunked, atol=1e-5)


def test_ramp_up_starts_at_zero_and_reaches_lambda_u():
    set_seed(0)
    method = MixMatch(SmallCNN(width=4), for_dataset("fashion_mnist")[0], lambda_u=75, rampup_steps=100,
                      ema_decay=None)
    _, logs0 = method.loss(random_batch(4, 1), step=0)
    _, logs50 = method.loss(random_batch(4, 1), step=50)
    _, logs200 = method.loss(random_batch(4, 1), step=200)
    assert (logs0["weight_u"], logs50["weight_u"], logs200["weight_u"]) == (0.0, 37.5, 75.0)


def test_true_labels_are_only_measured_never_learned_from():
    method = MixMatch(SmallCNN(width=4), for_dataset("fashion_mnist")[0], rampup_steps=0, ema_decay=None)
    batch = random_batch(4, 1)
    set_seed(3)
    loss_a, _ = method.loss(batch, 5)
    batch.unlabeled_true_labels = (batch.unlabeled_true_labels + 1) % 10
    set_seed(3)
    loss_b, _ = method.loss(batch, 5)
    assert loss_a.item() == loss_b.item()


def test_bad_hyper_parameters_raise():
    weak = for_dataset("fashion_mnist")[0]
    model = SmallCNN(width=4)
    for kwargs, word in (({"T": 0}, "T must"), ({"alpha": 0}, "alpha must"), ({"K": 0}, "K must"),
                         ({"lambda_u": -1}, "lambda_u"), ({"bn_mode": "split"}, "bn_mode"),
                         ({"rampup_steps": -1}, "rampup_steps")):
        with pytest.raises(ValueError, match=word):
            MixMatch(model, weak, **kwargs)


def test_chunked_modes_need_a_multiple_of_the_labeled_batch():
    method = MixMatch(SmallCNN(width=4), for_dataset("fashion_mnist")[0], bn_mode="separate")
    batch = random_batch(4, 1)
    batch.x_unlabeled = batch.x_unlabeled[:3]
    batch.unlabeled_true_labels = batch.unlabeled_true_labels[:3]
    with pytest.raises(ValueError, match="multiple of the labeled batch"):
        method.loss(batch, 0)


def test_fit_runs_mixmatch(tiny_dataset):
    set_seed(0)
    data = make_ssl_data(tiny_dataset, n_per_class=4)
    method = MixMatch(SmallCNN(width=8), for_dataset("mnist")[0], rampup_steps=5, bn_mode="interleave",
                      ema_decay=0.9)
    history = fit(method, data, "smoke", steps=8, eval_every=4, batch_size=8, mu=1, progress=False)
    assert {"loss_labeled", "loss_unlabeled", "weight_u", "guess_acc"} <= set(history.train)
    assert 0.0 <= history.final_accuracy <= 1.0


def test_the_ablation_without_mixup_trains_on_the_unmixed_images_and_their_targets(monkeypatch):
    """MixMatchWithoutMixUp never calls mixup; its labeled loss is the plain cross-entropy of the
    labeled images' weak views against their one-hot labels."""
    import ssl_teach.methods.mixmatch as mm

    weak, _ = for_dataset("mnist")
    set_seed(0)
    ablation = mm.MixMatchWithoutMixUp(SmallCNN(), weak, K=2, rampup_steps=0, ema_decay=None)
    monkeypatch.setattr(mm, "mixup", lambda *a, **k: pytest.fail("the ablation must not mix"))
    batch = random_batch(4, 1)
    set_seed(1)
    loss, logs = ablation.loss(batch, step=0)
    assert math.isfinite(loss.item()) and ablation.name == "mixmatch_without_mixup"
    set_seed(1)  # the same weak views again: the labeled term is the cross-entropy on them
    x_hat = weak(batch.x_labeled)
    ablation.model.train()
    expected = torch.nn.functional.cross_entropy(ablation.model(torch.cat([x_hat, weak(batch.x_unlabeled),
                                                                           weak(batch.x_unlabeled)]))[:4],
                                                 batch.y_labeled)
    assert logs["loss_labeled"] == pytest.approx(expected.item(), rel=1e-4)
