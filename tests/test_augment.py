import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from ssl_teach import augment
from ssl_teach.augment import (
    COLOUR_OPS,
    GRAYSCALE_OPS,
    StrongAugment,
    WeakAugment,
    cutout,
    for_dataset,
    op_equalize,
    op_posterize,
    random_translate,
)


def digit_batch(n: int = 16) -> torch.Tensor:
    """A bright bar in the middle of a dark 28x28 image, repeated ``n`` times."""
    x = torch.zeros(n, 1, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0
    return x


@pytest.mark.parametrize("name, shape", [("mnist", (8, 1, 28, 28)), ("fashion_mnist", (8, 1, 28, 28)),
                                         ("cifar10", (8, 3, 32, 32))])
def test_views_keep_shape_dtype_and_range(name, shape):
    x = torch.rand(shape)
    for view in for_dataset(name):
        out = view(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0 and out.max() <= 1


def test_each_image_gets_its_own_random_parameters():
    x = digit_batch(32)
    weak, strong = for_dataset("mnist")
    for view in (weak, strong):
        out = view(x).flatten(1)
        distinct = {tuple(row.tolist()) for row in out}
        assert len(distinct) > 8  # identical inputs, many different outputs


def test_views_are_reproducible_under_a_seed_and_a_generator():
    x = torch.rand(8, 1, 28, 28)
    _, strong = for_dataset("fashion_mnist")
    torch.manual_seed(5)
    a = strong(x)
    torch.manual_seed(5)
    assert torch.equal(a, strong(x))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    assert torch.equal(strong(x, generator=g1), strong(x, generator=g2))


def test_weak_digit_view_is_an_exact_shift_never_a_flip():
    """Recognisable: each weak view is the original moved by at most 4 pixels."""
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28) * (torch.rand(64, 1, 28, 28) > 0.7)
    weak, _ = for_dataset("mnist")
    out = weak(x)
    padded = torch.nn.functional.pad(x, [4] * 4)
    for i in range(len(x)):
        matches = [torch.equal(out[i], padded[i, :, dy : dy + 28, dx : dx + 28])
                   for dy in range(9) for dx in range(9)]
        assert any(matches), f"image {i} is not a shifted copy"


def test_translate_moves_content():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1
    g = torch.Generator().manual_seed(0)
    outs = {tuple(torch.nonzero(random_translate(x, 1, generator=g)[0, 0])[0].tolist()) for _ in range(50)}
    assert outs == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}


def test_fashion_and_cifar_flip_digits_do_not():
    assert for_dataset("mnist")[0].hflip is False
    assert for_dataset("fashion_mnist")[0].hflip is True
    assert for_dataset("cifar10")[0].padding_mode == "reflect"


@pytest.mark.parametrize("op", COLOUR_OPS, ids=lambda op: op.__name__)
def test_every_randaugment_op_keeps_shape_and_range(op):
    for x in (torch.rand(6, 1, 28, 28), torch.rand(6, 3, 32, 32)):
        if op not in GRAYSCALE_OPS and x.shape[1] == 1:
            continue
        out = op(x, torch.rand(6))
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_equalize_matches_pil():
    rng = np.random.default_rng(0)
    pictures = (rng.beta(2, 5, size=(4, 28, 28)) * 255).astype(np.uint8)
    ours = op_equalize(torch.from_numpy(pictures).float().div(255)[:, None], torch.zeros(4))
    for picture, mine in zip(pictures, ours):
        reference = np.asarray(ImageOps.equalize(Image.fromarray(picture)), dtype=np.float32)
        assert np.allclose(mine[0].numpy() * 255, reference, atol=1e-3)
    flat = torch.full((1, 1, 4, 4), 0.5)  # one grey level only: nothing to equalise
    assert torch.allclose(op_equalize(flat, torch.zeros(1)), flat, atol=1 / 255)


def test_posterize_matches_pil():
    picture = np.arange(256, dtype=np.uint8).reshape(16, 16)
    x = torch.from_numpy(picture).float().div(255)[None, None]
    for bits, magnitude in ((4, 0.0), (6, 0.5), (8, 1.0)):
        ours = op_posterize(x, torch.tensor([magnitude]))[0, 0].numpy() * 255
        reference = np.asarray(ImageOps.posterize(Image.fromarray(picture), bits), dtype=np.float32)
        assert np.allclose(ours, reference, atol=1e-3), bits


def test_cutout_paints_a_square_of_the_given_size():
    x = torch.zeros(200, 1, 28, 28)
    out = cutout(x, size=14, fill=0.5, generator=torch.Generator().manual_seed(0))
    painted = (out == 0.5).sum(dim=(1, 2, 3))
    assert painted.max() == 14 * 14  # a square fully inside the image
    assert painted.min() > 0  # the centre is always inside


def test_strong_view_differs_more_than_weak():
    x = digit_batch(64)
    weak, strong = for_dataset("mnist")
    torch.manual_seed(0)
    assert (strong(x) - x).abs().mean() > (weak(x) - x).abs().mean()
    assert isinstance(strong, StrongAugment) and isinstance(weak, WeakAugment)


@pytest.mark.parametrize("bad", [torch.zeros(28, 28), torch.zeros(2, 1, 28, 28, dtype=torch.uint8)])
def test_bad_input_names_the_expected_batch(bad):
    weak, strong = for_dataset("mnist")
    for view in (weak, strong):
        with pytest.raises(ValueError, match=r"float image batch of shape \[B, C, H, W\]"):
            view(bad)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        augment.for_dataset("svhn")
