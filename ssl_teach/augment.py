"""Weak and strong augmentations as batched tensor operations with per-sample randomness.

The usual reference code augments one PIL image at a time inside a ``DataLoader``; here a
whole batch ``[B, C, H, W]`` (float, in [0, 1]) is augmented at once, on whatever device it
lives, and every image still gets its own random parameters. The random parameters are drawn
on the CPU (from ``generator``, or from PyTorch's global generator, so ``set_seed`` makes a run
reproducible on any device). Explained in chapter 0 and, for the strong view, chapter 5.

* weak = random horizontal flip (not for digits: a flipped 2 is no 2) + random translation by
  up to 12.5 % of the side, as in FixMatch (Sohn et al., 2020, section 2.3);
* strong = weak + RandAugment (Cubuk et al., 2020) with 2 random operations per image at random
  magnitudes, as FixMatch's RA variant does, + Cutout (DeVries and Taylor, 2017) of half the
  side (14 px on 28x28, 16 px on 32x32).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Augmentation = Callable[[Tensor], Tensor]


def _check_batch(x: Tensor) -> None:
    if not isinstance(x, Tensor) or x.dim() != 4 or not x.dtype.is_floating_point:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"augmentations take a float image batch of shape [B, C, H, W] in [0, 1], got {shape}"
            + (f" of dtype {x.dtype}" if isinstance(x, Tensor) else "")
        )


def _rand(n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``n`` uniform numbers in [0, 1), drawn on the CPU, moved to ``device``."""
    return torch.rand(n, generator=generator).to(device)


def _randint(high: int, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
    return torch.randint(high, (n,), generator=generator).to(device)


# --------------------------------------------------------------------------- weak pieces


def random_hflip(x: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Flip each image left-right with probability ``p``."""
    flip = _rand(len(x), generator, x.device) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_translate(
    x: Tensor, max_shift: int, padding_mode: str = "constant",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Shift each image by its own integer offset in ``[-max_shift, max_shift]`` on each axis.

    Same as torchvision's ``RandomCrop(size, padding=max_shift)`` applied per image: pad, then
    crop at a random corner, done for the whole batch with one indexing operation.
    """
    if max_shift == 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4, mode=padding_mode)
    top = _randint(2 * max_shift + 1, b, generator, x.device)
    left = _randint(2 * max_shift + 1, b, generator, x.device)
    rows = top[:, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = left[:, None] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def cutout(
    x: Tensor, size: int, fill: float = 0.5, generator: torch.Generator | None = None
) -> Tensor:
    """Paint a ``size`` x ``size`` square at a random centre of each image with ``fill``.

    The square may stick out of the image, as in DeVries and Taylor (2017).
    """
    b, _, h, w = x.shape
    cy = _randint(h, b, generator, x.device)[:, None, None]
    cx = _randint(w, b, generator, x.device)[:, None, None]
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    low, high = size // 2, size - size // 2
    inside = (ys >= cy - low) & (ys < cy + high) & (xs >= cx - low) & (xs < cx + high)
    return torch.where(inside[:, None], torch.full_like(x, fill), x)


# --------------------------------------------------------------------------- RandAugment ops
# Each op maps a batch x [b, C, H, W] and per-image magnitudes m [b] in [0, 1] to a batch.


def _per_image(m: Tensor) -> Tensor:
    return m[:, None, None, None]


def _blend(degenerate: Tensor, x: Tensor, m: Tensor) -> Tensor:
    """PIL's ``ImageEnhance`` with factor 0.1 .. 1.9: 1 keeps the image, < 1 moves it towards
    ``degenerate``, > 1 away from it."""
    factor = _per_image(0.1 + 1.8 * m)
    return (degenerate + factor * (x - degenerate)).clamp(0, 1)


def _grayscale(x: Tensor) -> Tensor:
    if x.shape[1] == 1:
        return x
    weights = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype)
    return (x * weights[None, :, None, None]).sum(1, keepdim=True)


def op_identity(x: Tensor, m: Tensor) -> Tensor:
    return x


def op_autocontrast(x: Tensor, m: Tensor) -> Tensor:
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    scale = torch.where(high > low, 1.0 / (high - low), torch.ones_like(high))
    return torch.where(high > low, (x - low) * scale, x)


def op_equalize(x: Tensor, m: Tensor) -> Tensor:
    """Histogram equalisation per image and channel, PIL's algorithm (``ImageOps.equalize``),
    batched with ``scatter_add``."""
    b, c, h, w = x.shape
    levels = (x * 255).round().long().clamp(0, 255).view(b * c, h * w)
    hist = torch.zeros(b * c, 256, device=x.device, dtype=torch.long)
    hist.scatter_add_(1, levels, torch.ones_like(levels))
    last_used = 255 - (hist.flip(1) > 0).long().argmax(1, keepdim=True)  # highest level present
    step = (h * w - hist.gather(1, last_used)) // 255
    below = hist.cumsum(1) - hist  # pixels strictly below each level
    lut = ((below + step // 2) // step.clamp(min=1)).clamp(max=255)
    equalised = lut.gather(1, levels)
    out = torch.where(step > 0, equalised, levels)  # PIL leaves such images unchanged
    return out.view(b, c, h, w).to(x.dtype) / 255


def op_brightness(x: Tensor, m: Tensor) -> Tensor:
    return _blend(torch.zeros_like(x), x, m)


def op_contrast(x: Tensor, m: Tensor) -> Tensor:
    mean = _grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(mean.expand_as(x), x, m)


def op_color(x: Tensor, m: Tensor) -> Tensor:
    return _blend(_grayscale(x).expand_as(x), x, m)


def op_sharpness(x: Tensor, m: Tensor) -> Tensor:
    c = x.shape[1]
    kernel = torch.ones(3, 3, device=x.device, dtype=x.dtype)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).expand(c, 1, 3, 3)
    smooth = F.conv2d(F.pad(x, [1] * 4, mode="replicate"), kernel, groups=c)
    return _blend(smooth, x, m)


def op_posterize(x: Tensor, m: Tensor) -> Tensor:
    bits = (4 + (m * 4.999).floor()).clamp(4, 8)  # 4 .. 8 bits kept
    step = _per_image(2 ** (8 - bits))
    return ((x * 255).round() / step).floor() * step / 255


def op_solarize(x: Tensor, m: Tensor) -> Tensor:
    threshold = _per_image(m)  # invert every pixel at or above a threshold in [0, 1]
    return torch.where(x >= threshold, 1 - x, x)


def _affine(x: Tensor, theta: Tensor, fill: float = 0.0) -> Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (out + fill).clamp(0, 1)


def _signed(m: Tensor) -> Tensor:
    return 2 * m - 1  # [0, 1] -> [-1, 1]


def _theta(m: Tensor) -> Tensor:
    theta = torch.zeros(len(m), 2, 3, device=m.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    return theta


def op_rotate(x: Tensor, m: Tensor) -> Tensor:
    angle = _signed(m) * math.radians(30)
    theta = _theta(m)
    theta[:, 0, 0], theta[:, 0, 1] = angle.cos(), -angle.sin()
    theta[:, 1, 0], theta[:, 1, 1] = angle.sin(), angle.cos()
    return _affine(x, theta)


def op_shear_x(x: Tensor, m: Tensor) -> Tensor:
    theta = _theta(m)
    theta[:, 0, 1] = _signed(m) * 0.3
    return _affine(x, theta)


def op_shear_y(x: Tensor, m: Tensor) -> Tensor:
    theta = _theta(m)
    theta[:, 1, 0] = _signed(m) * 0.3
    return _affine(x, theta)


def op_translate_x(x: Tensor, m: Tensor) -> Tensor:
    theta = _theta(m)
    theta[:, 0, 2] = _signed(m) * 0.3 * 2  # affine_grid spans [-1, 1]: 2 = the whole width
    return _affine(x, theta)


def op_translate_y(x: Tensor, m: Tensor) -> Tensor:
    theta = _theta(m)
    theta[:, 1, 2] = _signed(m) * 0.3 * 2
    return _affine(x, theta)


GRAYSCALE_OPS: tuple[Callable[[Tensor, Tensor], Tensor], ...] = (
    op_identity, op_autocontrast, op_equalize, op_brightness, op_contrast, op_sharpness,
    op_posterize, op_solarize, op_rotate, op_shear_x, op_shear_y, op_translate_x, op_translate_y,
)
COLOUR_OPS = GRAYSCALE_OPS + (op_color,)


def rand_augment(
    x: Tensor, num_ops: int = 2, ops: tuple[Callable[[Tensor, Tensor], Tensor], ...] | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """RandAugment with random magnitudes (FixMatch's RA): each image gets ``num_ops`` ops
    drawn uniformly from ``ops``, each at its own magnitude drawn from [0, 1]."""
    if ops is None:
        ops = GRAYSCALE_OPS if x.shape[1] == 1 else COLOUR_OPS
    b = len(x)
    choice = torch.randint(len(ops), (num_ops, b), generator=generator)
    magnitude = torch.rand(num_ops, b, generator=generator).to(x.device)
    x = x.clone()
    for round_ in range(num_ops):
        for k, op in enumerate(ops):
            chosen = torch.nonzero(choice[round_] == k).flatten().to(x.device)
            if len(chosen):
                x[chosen] = op(x[chosen], magnitude[round_, chosen]).to(x.dtype)
    return x


# --------------------------------------------------------------------------- the pairs


class WeakAugment:
    """Random flip (optional) and random translation, per image."""

    def __init__(self, hflip: bool, max_shift: int, padding_mode: str = "constant") -> None:
        self.hflip, self.max_shift, self.padding_mode = hflip, max_shift, padding_mode

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        _check_batch(x)
        if self.hflip:
            x = random_hflip(x, generator=generator)
        return random_translate(x, self.max_shift, self.padding_mode, generator=generator)

    def __repr__(self) -> str:
        return f"WeakAugment(hflip={self.hflip}, max_shift={self.max_shift})"


class StrongAugment:
    """The weak view, then RandAugment (``num_ops`` random ops), then Cutout."""

    def __init__(self, weak: WeakAugment, num_ops: int = 2, cutout_size: int = 14) -> None:
        self.weak, self.num_ops, self.cutout_size = weak, num_ops, cutout_size

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x = self.weak(x, generator=generator)
        x = rand_augment(x, self.num_ops, generator=generator)
        return cutout(x, self.cutout_size, generator=generator)

    def __repr__(self) -> str:
        return (f"StrongAugment({self.weak!r}, num_ops={self.num_ops}, "
                f"cutout_size={self.cutout_size})")


def for_dataset(name: str) -> tuple[WeakAugment, StrongAugment]:
    """The (weak, strong) pair suited to ``"mnist"`` (and ``"mnist_full"``), ``"fashion_mnist"``
    or ``"cifar10"``."""
    if name in ("mnist", "mnist_full"):  # digits: no flip, black background
        weak = WeakAugment(hflip=False, max_shift=4)
        return weak, StrongAugment(weak, cutout_size=14)
    if name == "fashion_mnist":  # clothes are left-right symmetric enough to flip
        weak = WeakAugment(hflip=True, max_shift=4)
        return weak, StrongAugment(weak, cutout_size=14)
    if name == "cifar10":  # as in the FixMatch reference code: reflect padding
        weak = WeakAugment(hflip=True, max_shift=4, padding_mode="reflect")
        return weak, StrongAugment(weak, cutout_size=16)
    raise ValueError(f"unknown dataset {name!r}; allowed: mnist, mnist_full, fashion_mnist, cifar10")
