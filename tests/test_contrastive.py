import math

import pytest
import torch
import torch.nn as nn

from ssl_teach.contrastive import (
    ContrastiveAugment,
    ContrastiveNetwork,
    NearestClassMean,
    ProjectionHead,
    crop_boxes,
    encoder_state,
    knn_accuracy,
    linear_probe_accuracy,
    nt_xent_logits,
    nt_xent_loss,
    positive_is_nearest,
    resized_crops,
)
from ssl_teach.models import LeNet

# Two images, four views, in 2-D so that every cosine is known by heart:
#   view 1: image 0 -> a0 = (1, 0),          image 1 -> a1 = (0, 1)
#   view 2: image 0 -> b0 = (1/2, sqrt(3)/2), image 1 -> b1 = (-1, 0)
# Stacked z = [a0, a1, b0, b1]; cosines: a0.a1 = 0, a0.b0 = 1/2, a0.b1 = -1, a1.b0 = sqrt(3)/2,
# a1.b1 = 0, b0.b1 = -1/2. At t = 0.5 every logit is 2 x cosine.
Z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
Z2 = torch.tensor([[0.5, math.sqrt(3) / 2], [-1.0, 0.0]])
T = 0.5
E, S3 = math.exp, math.sqrt(3)
# l(i) = -logit(i, positive) + log sum_{k != i} exp(logit(i, k)):
BY_HAND = [
    -1.0 + math.log(E(0) + E(1) + E(-2)),  # a0: positive b0 (logit 1); others a1 (0), b1 (-2)
    -0.0 + math.log(E(0) + E(S3) + E(0)),  # a1: positive b1 (logit 0); others a0 (0), b0 (sqrt 3)
    -1.0 + math.log(E(1) + E(S3) + E(-1)),  # b0: positive a0 (logit 1); others a1 (sqrt 3), b1 (-1)
    -0.0 + math.log(E(-2) + E(0) + E(-1)),  # b1: positive a1 (logit 0); others a0 (-2), b0 (-1)
]


def test_nt_xent_by_hand_two_images_four_views():
    loss = nt_xent_loss(Z1, Z2, T)
    assert loss.item() == pytest.approx(sum(BY_HAND) / 4, abs=1e-6)
    assert loss.item() == pytest.approx(0.98984, abs=1e-5)


def test_positives_are_the_other_view_of_the_same_image_and_the_diagonal_is_excluded():
    logits, positive = nt_xent_logits(Z1, Z2, T)
    assert positive.tolist() == [2, 3, 0, 1]  # a0 <-> b0, a1 <-> b1
    assert torch.isinf(logits.diagonal()).all() and (logits.diagonal() < 0).all()
    # the temperature is applied once: cos(a0, b0) / t = 0.5 / 0.5 = 1 (twice would give 2)
    assert logits[0, 2].item() == pytest.approx(1.0)
    assert logits[1, 2].item() == pytest.approx(S3)


def test_trap_forgetting_the_self_similarity_mask_changes_the_loss():
    """A view compared with itself (cosine 1, logit 1/t) would sit in every denominator."""
    z = torch.nn.functional.normalize(torch.cat([Z1, Z2]), dim=1)
    unmasked = z @ z.t() / T
    naive = torch.nn.functional.cross_entropy(unmasked, torch.tensor([2, 3, 0, 1]))
    with_self = [l_i + math.log(1 + E(2) / sum(E(v) for v in row))  # add exp(2) to each denominator
                 for l_i, row in zip(BY_HAND, [[0, 1, -2], [0, S3, 0], [1, S3, -1], [-2, 0, -1]], strict=True)]
    assert naive.item() == pytest.approx(sum(with_self) / 4, abs=1e-5)
    assert nt_xent_loss(Z1, Z2, T).item() < naive.item() - 0.5
    # with one image the positive is the only candidate: the loss is exactly 0, not log(1 + e^0)
    assert nt_xent_loss(Z1[:1], Z2[:1], T).item() == pytest.approx(0.0, abs=1e-7)


def test_trap_unnormalised_embeddings_give_the_cosine_loss_anyway():
    scaled = nt_xent_loss(10 * Z1, 0.1 * Z2, T)
    assert scaled.item() == pytest.approx(sum(BY_HAND) / 4, abs=1e-6)
    # a plain dot product would see these lengths (and give another loss)
    z = torch.cat([10 * Z1, 0.1 * Z2])
    dot = (z @ z.t() / T).masked_fill(torch.eye(4, dtype=torch.bool), float("-inf"))
    assert torch.nn.functional.cross_entropy(dot, torch.tensor([2, 3, 0, 1])).item() != pytest.approx(scaled.item())


def test_trap_temperature_applied_twice_would_give_the_loss_at_t_squared():
    assert nt_xent_loss(Z1, Z2, T).item() != pytest.approx(nt_xent_loss(Z1, Z2, T * T).item(), abs=1e-3)
    logits, _ = nt_xent_logits(Z1, Z2, 0.25)  # t = 0.25: logit = 4 x cosine
    assert logits[0, 2].item() == pytest.approx(2.0)


def test_symmetric_in_the_two_views_and_equal_to_the_papers_double_sum():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    loss = nt_xent_loss(z1, z2, 0.3)
    assert loss.item() == pytest.approx(nt_xent_loss(z2, z1, 0.3).item(), abs=1e-6)
    # the paper's eq. 1 written with loops: 2N anchors, positive the other view, k != i
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1).tolist()
    n = 5

    def sim(i: int, j: int) -> float:
        return sum(a * b for a, b in zip(z[i], z[j], strict=True)) / 0.3

    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        total += -sim(i, j) + math.log(sum(math.exp(sim(i, k)) for k in range(2 * n) if k != i))
    assert loss.item() == pytest.approx(total / (2 * n), abs=1e-5)


def test_gradient_reaches_both_views_and_pulls_positives_together():
    z1, z2 = Z1.clone().requires_grad_(True), Z2.clone().requires_grad_(True)
    nt_xent_loss(z1, z2, T).backward()
    assert z1.grad.abs().sum() > 0 and z2.grad.abs().sum() > 0
    # a small step against the gradient raises the cosine of each positive pair
    with torch.no_grad():
        a, b = z1 - 0.1 * z1.grad, z2 - 0.1 * z2.grad
        before = torch.nn.functional.cosine_similarity(Z1, Z2)
        after = torch.nn.functional.cosine_similarity(a, b)
    assert (after > before).all()


def test_positive_is_nearest():
    assert positive_is_nearest(Z1, Z2).item() == pytest.approx(0.5)  # a0 and b0 yes; a1 (b0 nearer) and b1 no


@pytest.mark.parametrize("temperature", [0, -0.5, float("nan"), float("inf"), "0.5", None])
def test_bad_temperature_names_the_argument(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got"):
        nt_xent_loss(Z1, Z2, temperature)


def test_bad_embeddings_raise_clearly():
    with pytest.raises(ValueError, match=r"z2 must have shape \[2, 2\], got \(1, 2\)"):
        nt_xent_loss(Z1, Z2[:1], T)
    with pytest.raises(ValueError, match="z1 must be a float tensor"):
        nt_xent_loss(torch.ones(4), Z2, T)
    with pytest.raises(ValueError, match="empty"):
        nt_xent_loss(Z1[:0], Z2[:0], T)


# --------------------------------------------------------------------------- views


def test_the_whole_box_is_the_image_and_a_flipped_whole_box_its_mirror():
    x = torch.rand(3, 1, 28, 28)
    whole = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3)
    assert torch.allclose(resized_crops(x, whole), x, atol=1e-5)
    flipped = resized_crops(x, whole, torch.tensor([True, False, True]))
    assert torch.allclose(flipped[0], x[0].flip(-1), atol=1e-5) and torch.allclose(flipped[1], x[1], atol=1e-5)


def test_a_crop_reads_only_its_box_by_hand():
    """Left half 1, right half 0. The box of the leftmost quarter (x in [-1, -0.5]) reads ones
    only; the rightmost quarter zeros only; both resized to 28 x 28."""
    x = torch.zeros(2, 1, 28, 28)
    x[:, :, :, :14] = 1.0
    boxes = torch.tensor([[-0.75, 0.0, 0.25, 1.0], [0.75, 0.0, 0.25, 1.0]])
    out = resized_crops(x, boxes)
    assert out.shape == (2, 1, 28, 28)
    assert torch.allclose(out[0], torch.ones(1, 28, 28)) and torch.allclose(out[1], torch.zeros(1, 28, 28))


def test_crop_boxes_keep_their_area_and_stay_inside():
    boxes = crop_boxes(2000, 0.3, generator=torch.Generator().manual_seed(0))
    cx, cy, w, h = boxes.unbind(1)
    assert ((cx.abs() + w) <= 1 + 1e-6).all() and ((cy.abs() + h) <= 1 + 1e-6).all()
    area = w * h
    assert area.max() <= 1 + 1e-6 and area.min() >= 0.3 * (3 / 4) ** 0.5 - 1e-6  # capped sides shrink an area
    assert (area >= 0.3 - 1e-6).float().mean() > 0.9
    aspect = w / h
    assert aspect.min() >= 0.74 and aspect.max() <= 4 / 3 + 0.01


def test_every_image_gets_its_own_view_and_a_generator_repeats_them():
    x = torch.rand(1, 1, 28, 28).expand(6, 1, 28, 28).contiguous()
    augment = ContrastiveAugment(min_scale=0.3)
    views = augment(x, generator=torch.Generator().manual_seed(1))
    assert views.shape == x.shape and views.dtype == x.dtype
    assert not torch.allclose(views[0], views[1])  # same image, different crops
    again = augment(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(views, again)


def test_a_series_is_cropped_along_time_only_window_slicing():
    t = torch.linspace(0, 1, 40)
    x = t.expand(3, 2, 40).contiguous()  # a ramp from 0 to 1 in each channel
    second_half = torch.tensor([[0.5, 0.7, 0.5, 0.2]] * 3)  # cy and h are ignored for series
    out = resized_crops(x, second_half)
    assert out.shape == (3, 2, 40)
    assert out[..., 0].min() >= 0.48 and torch.allclose(out[..., -1], torch.ones(3, 2), atol=0.02)
    assert (out.diff(dim=-1) > 0).all()  # still a ramp, stretched over the whole length
    views = ContrastiveAugment(min_scale=0.5)(x, generator=torch.Generator().manual_seed(0))
    assert views.shape == x.shape and not torch.allclose(views[0], views[1])


@pytest.mark.parametrize("min_scale", [0, -0.1, 1.5, "0.3", None])
def test_bad_min_scale_raises(min_scale):
    with pytest.raises(ValueError, match="min_scale"):
        ContrastiveAugment(min_scale=min_scale)


def test_bad_views_input_raises():
    with pytest.raises(ValueError, match="hflip must be True or False"):
        ContrastiveAugment(hflip="yes")
    with pytest.raises(ValueError, match=r"float image batch \[B, C, H, W\]"):
        ContrastiveAugment()(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"boxes must be a tensor \[B, 4\]"):
        resized_crops(torch.rand(2, 1, 8, 8), torch.zeros(3, 4))


# --------------------------------------------------------------------------- head and network


def test_projection_head_is_linear_relu_linear():
    head = ProjectionHead(3, 4, 2)
    linear1, relu, linear2 = head.net
    assert isinstance(relu, nn.ReLU) and (linear1.in_features, linear1.out_features) == (3, 4)
    h = torch.randn(5, 3)
    assert torch.allclose(head(h), linear2(torch.relu(linear1(h))))
    with pytest.raises(ValueError, match="out_dim must be an int >= 1"):
        ProjectionHead(3, 4, 0)


def test_contrastive_network_projects_features_and_keeps_only_the_encoder():
    network = ContrastiveNetwork(LeNet(), projection_dim=8)
    x = torch.rand(4, 1, 28, 28)
    assert network(x).shape == (4, 10) and network.project(x).shape == (4, 8)
    state = encoder_state(network.encoder)
    assert state and not any(k.startswith("classifier.") for k in state)
    assert set(state) == {k for k in LeNet().state_dict() if not k.startswith("classifier.")}
    with pytest.raises(ValueError, match="encoder must be a LeNet"):
        ContrastiveNetwork(nn.Linear(3, 3))


# --------------------------------------------------------------------------- frozen probes


def test_knn_by_hand():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = torch.tensor([0, 0, 1])
    test = torch.tensor([[1.0, 0.05], [0.1, 1.0], [0.6, 0.8]])  # nearest: 0, 1; third nearest to (0, 1)
    assert knn_accuracy(train, labels, test, torch.tensor([0, 1, 1]), k=1) == pytest.approx(1.0)
    # with k = 3 the majority of all three labeled images is class 0 for every test image
    assert knn_accuracy(train, labels, test, torch.tensor([0, 1, 1]), k=3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        knn_accuracy(train, labels, test, labels, k=0)


def test_linear_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(3).repeat(10)
    centres = torch.tensor([[4.0, 0.0], [0.0, 4.0], [-4.0, -4.0]])
    features = centres[labels] + 0.5 * torch.randn(30, 2, generator=g)
    test = centres[labels] + 0.5 * torch.randn(30, 2, generator=g)
    assert linear_probe_accuracy(features, labels, test, labels) == pytest.approx(1.0)
    shuffled = labels[torch.randperm(30, generator=g)]
    assert linear_probe_accuracy(features, shuffled, test, labels) < 0.8  # it reads the labels it is given


class _TwoPixels(nn.Module):
    """A stand-in encoder whose features are the first two pixels."""

    def forward(self, x, return_features=False):  # noqa: ANN001, ANN201
        f = x.flatten(1)[:, :2]
        return (f, f) if return_features else f


def test_nearest_class_mean_by_hand():
    images = torch.zeros(3, 1, 2, 2)
    images[0, 0, 0, 0], images[1, 0, 0, 0], images[1, 0, 0, 1], images[2, 0, 0, 1] = 1, 1, 0.2, 1
    probe = NearestClassMean(_TwoPixels(), images, torch.tensor([0, 0, 2]), num_classes=3).eval()
    x = torch.zeros(2, 1, 2, 2)
    x[0, 0, 0, 0], x[1, 0, 0, 1] = 1, 1
    logits = probe(x)
    # class 0's mean direction: (1, 0) + (1, 0.2)/|.| normalised; class 2: (0, 1); class 1: none
    mean0 = torch.nn.functional.normalize(torch.tensor([1.0, 0.0]) + torch.nn.functional.normalize(
        torch.tensor([1.0, 0.2]), dim=0), dim=0)
    assert logits[0, 0].item() == pytest.approx(mean0[0].item() / 0.1, abs=1e-5)
    assert logits[0, 2].item() == pytest.approx(0.0, abs=1e-6)
    assert torch.isinf(logits[:, 1]).all()  # a class without labeled images is never predicted
    assert logits.argmax(1).tolist() == [0, 2]
    assert probe.train()(x).shape == (2, 2)  # train mode (BatchNorm re-estimation): features only
