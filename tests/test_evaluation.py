"""The one evaluation: BatchNorm statistics of the evaluated weights, from the images the method may see."""

import pytest
import torch

from ssl_teach.augment import for_dataset
from ssl_teach.batchnorm import recompute_bn_statistics
from ssl_teach.data import load_dataset, make_ssl_data
from ssl_teach.evaluation import evaluation_model, statistics_pool
from ssl_teach.methods import FixMatch, Supervised
from ssl_teach.metrics import evaluate
from ssl_teach.models import LeNet, build_model
from ssl_teach.train import fit


def _bn_buffers(model):
    return [b.clone() for name, b in model.named_buffers() if "running" in name]


def test_the_floor_takes_its_statistics_from_labeled_images_and_fixmatch_from_the_unlabeled_stream(tiny_dataset):
    data = make_ssl_data(tiny_dataset, 2, seed=0)
    weak, strong = for_dataset("mnist")
    assert torch.equal(statistics_pool(Supervised(LeNet(), weak), data), data.labeled)
    assert torch.equal(statistics_pool(FixMatch(LeNet(), weak, strong), data), data.unlabeled)


def test_the_floor_never_touches_an_unlabeled_image(tiny_dataset):
    """Two datasets that differ only in the images outside the labeled set give the floor the same
    weights, the same BatchNorm statistics and the same accuracies: it never read them."""
    weak, _ = for_dataset("mnist")
    runs = []
    for fill in (0, 255):
        data = make_ssl_data(tiny_dataset, 2, n_val_per_class=0, seed=0)
        images = data.images.clone()
        outside = torch.ones(len(images), dtype=torch.bool)
        outside[data.labeled] = False
        images[outside] = fill
        data.images = images
        torch.manual_seed(0)
        method = Supervised(LeNet(), weak, ema_decay=0.9)
        history = fit(method, data, "smoke", steps=6, eval_every=3, progress=False)
        runs.append((history.eval["test_acc"], _bn_buffers(evaluation_model(method, data)),
                     [p.clone() for p in method.eval_model().parameters()]))
    (acc_a, bn_a, w_a), (acc_b, bn_b, w_b) = runs
    assert acc_a == acc_b
    assert all(torch.equal(a, b) for a, b in zip(bn_a, bn_b))
    assert all(torch.equal(a, b) for a, b in zip(w_a, w_b))


def test_evaluation_recomputes_statistics_for_the_evaluated_weights(tiny_dataset):
    data = make_ssl_data(tiny_dataset, 2, seed=0)
    weak, strong = for_dataset("mnist")
    method = FixMatch(LeNet(), weak, strong, ema_decay=0.9)
    method.model.train()(torch.rand(32, 1, 28, 28) * 9)  # statistics of inputs unlike the data
    evaluated = evaluation_model(method, data)
    assert not evaluated.training and evaluated is not method.eval_model()
    by_hand = recompute_bn_statistics(method.eval_model(), data, None, 8, 256, seed=0, pool=data.unlabeled)
    assert all(torch.equal(a, b) for a, b in zip(_bn_buffers(evaluated), _bn_buffers(by_hand)))
    assert not all(torch.allclose(a, b) for a, b in zip(_bn_buffers(evaluated), _bn_buffers(method.eval_model())))


def test_after_a_short_run_the_standard_evaluation_agrees_with_statistics_recomputed_another_way():
    """The deliverable's check on real digits: a 120-step FixMatch run with an EMA (whose copied
    buffers belong to other weights) scores within 1 point of the same weights with statistics
    recomputed on weakly augmented views with another seed (a sampling difference: 0.8 points,
    8 of 1,000 test digits, on the 2-core machines of 2026-12-01)."""
    try:
        dataset = load_dataset("mnist", download=False)
    except FileNotFoundError as error:
        pytest.skip(f"no offline MNIST: {error}")
    data = make_ssl_data(dataset, 10, seed=0)
    weak, strong = for_dataset("mnist")
    torch.manual_seed(0)
    method = FixMatch(build_model("mnist", "book"), weak, strong, ema_decay=0.99)
    history = fit(method, data, "book", steps=120, eval_every=120, progress=False)
    other_way = recompute_bn_statistics(method.eval_model(), data, weak, batches=20, batch_size=256, seed=123)
    recomputed = evaluate(other_way, data.test_images, data.test_labels)
    assert abs(history.final_accuracy - recomputed) <= 0.01, (history.final_accuracy, recomputed)
    assert history.final_accuracy > 0.5  # it learned something: the agreement is not between two chance levels
