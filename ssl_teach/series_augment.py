"""Weak and strong augmentations of 1-D time series, batched: ``[B, C, T]`` in, ``[B, C, T]`` out.

The image augmentations of :mod:`ssl_teach.augment` flip, shift and recolour pixels; none of
that means anything for a power-demand curve or a speech recording. Series have their own
(Iwana and Uchida, 2021, survey them on the UCR archive): change the *magnitude* (jitter,
scaling) or the *time axis* (time warping, window slicing, segment permutation). TS-TCC
(Eldele et al., 2021) pairs them as FixMatch pairs its views: scaling and jitter as the weak
view, segment permutation plus jitter as the strong one.

Every function draws its random numbers per series (and per channel where it says so) in one
tensor operation on the CPU (from ``generator``, or PyTorch's global generator, so ``set_seed``
makes a run reproducible on any device) and applies them to the whole batch at once, on the
batch's device; none loops over the batch in Python. The series of :data:`ssl_teach.data.SERIES`
are standardised per channel, so the standard deviations below are in units of a channel's
spread. A strong view must keep the class: permuting the segments of a day's demand curve moves
its morning peak to the evening, which may be exactly what tells winter from summer; chapter 9
measures which strong view keeps the class and which destroys it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.data import SERIES

#: The strong views :class:`SeriesStrongAugment` knows.
STRONG_KINDS = ("permutation", "time_warp", "window_slice")


def check_series_batch(x: Tensor, what: str = "x") -> None:
    """Raise a clear ``ValueError`` unless ``x`` is a float batch of series ``[B, C, T]`` with T >= 2."""
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.dtype.is_floating_point or x.shape[-1] < 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(
            f"{what} must be a float batch of series of shape [B, C, T] with T >= 2, got {shape}"
            + (f" of dtype {x.dtype}" if isinstance(x, Tensor) else "")
        )


def _check_number(name: str, value: float, least: float = 0) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value < least:
        raise ValueError(f"{name} must be a finite number >= {least}, got {value!r}")
    return float(value)


def _check_count(name: str, value: int, least: int, most: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least or (most is not None and value > most):
        allowed = f"an int in [{least}, {most}]" if most is not None else f"an int >= {least}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor) -> Tensor:
    """Standard normal numbers drawn on the CPU, moved to ``like``'s device and dtype."""
    return torch.randn(shape, generator=generator).to(device=like.device, dtype=like.dtype)


def _sample(x: Tensor, positions: Tensor) -> Tensor:
    """``x`` ``[B, C, T]`` read at fractional time ``positions`` ``[B, T']`` in [0, T - 1], linearly
    interpolated, the same positions for every channel of a series."""
    t = x.shape[-1]
    low = positions.floor().long().clamp(0, t - 2)
    weight = (positions - low).unsqueeze(1).to(x.dtype)  # [B, 1, T']
    index = low.unsqueeze(1).expand(-1, x.shape[1], -1)
    return x.gather(2, index) * (1 - weight) + x.gather(2, index + 1) * weight


# --------------------------------------------------------------------------- magnitude


def jitter(x: Tensor, sigma: float = 0.03, generator: torch.Generator | None = None) -> Tensor:
    """Add Gaussian noise of standard deviation ``sigma`` to every point (Iwana and Uchida, 2021,
    sigma = 0.03; TS-TCC's jitter, Eldele et al., 2021)."""
    check_series_batch(x)
    sigma = _check_number("sigma", sigma)
    return x + sigma * _randn(tuple(x.shape), generator, x)


def scaling(x: Tensor, sigma: float = 0.1, generator: torch.Generator | None = None) -> Tensor:
    """Multiply each channel of each series by its own factor drawn from N(1, ``sigma``^2) (Iwana
    and Uchida, 2021, sigma = 0.1; TS-TCC's weak view scales per channel too)."""
    check_series_batch(x)
    sigma = _check_number("sigma", sigma)
    return x * (1 + sigma * _randn((x.shape[0], x.shape[1], 1), generator, x))


# --------------------------------------------------------------------------- time axis


def permutation(x: Tensor, max_segments: int = 5, min_segments: int = 2,
                generator: torch.Generator | None = None) -> Tensor:
    """Cut each series at random points into between ``min_segments`` and ``max_segments``
    segments (its own number, drawn uniformly) and put the segments back in a random order, every
    channel alike (TS-TCC's strong view, Eldele et al., 2021, up to 5 segments; Iwana and Uchida,
    2021). The values of a series stay the same multiset; only their order changes."""
    check_series_batch(x)
    b, c, t = x.shape
    max_segments = _check_count("max_segments", max_segments, 1, t)
    min_segments = _check_count("min_segments", min_segments, 1, max_segments)
    m = max_segments
    segments = torch.randint(min_segments, max_segments + 1, (b, 1), generator=generator)
    # m - 1 distinct cut points in 1 .. t - 1 per series; the cuts a series does not use move to t
    cuts = torch.rand(b, t - 1, generator=generator).argsort(dim=1)[:, : m - 1] + 1
    unused = torch.arange(m - 1)[None, :] >= segments - 1
    cuts = torch.where(unused, torch.full_like(cuts, t), cuts).sort(dim=1).values
    bounds = torch.cat([torch.zeros(b, 1, dtype=torch.long), cuts, torch.full((b, 1), t)], dim=1)
    starts, lengths = bounds[:, :-1], bounds.diff(dim=1)  # [B, m]; unused segments are empty
    order = torch.rand(b, m, generator=generator).argsort(dim=1)  # output slot k shows segment order[k]
    out_lengths = lengths.gather(1, order)
    out_starts = out_lengths.cumsum(dim=1) - out_lengths
    steps = torch.arange(t).expand(b, t).contiguous()
    slot = torch.searchsorted(out_starts, steps, right=True) - 1  # the last slot starting at or before each step
    source = starts.gather(1, order.gather(1, slot)) + steps - out_starts.gather(1, slot)
    return x.gather(2, source.to(x.device).unsqueeze(1).expand(-1, c, -1))


def time_warp(x: Tensor, sigma: float = 0.2, knots: int = 4, generator: torch.Generator | None = None) -> Tensor:
    """Warp each series' time axis smoothly (Iwana and Uchida, 2021, sigma = 0.2, 4 knots): the
    local speed of time is drawn from N(1, ``sigma``^2) at ``knots`` + 2 evenly spaced points,
    interpolated linearly between them (the paper uses a cubic spline) and kept positive, and the
    series is read at the accumulated, rescaled times, every channel alike. The first and last
    points stay; the order of events is kept, their timing and durations change."""
    check_series_batch(x)
    sigma = _check_number("sigma", sigma)
    knots = _check_count("knots", knots, 0)
    b, _, t = x.shape
    speed = (1 + sigma * torch.randn(b, 1, knots + 2, generator=generator)).clamp(min=0.1)
    speed = F.interpolate(speed, size=t, mode="linear", align_corners=True)[:, 0]  # [B, T]
    elapsed = torch.cat([torch.zeros(b, 1), speed[:, 1:].cumsum(dim=1)], dim=1)
    positions = elapsed * ((t - 1) / elapsed[:, -1:])
    return _sample(x, positions.to(x.device))


def window_slice(x: Tensor, ratio: float = 0.9, generator: torch.Generator | None = None) -> Tensor:
    """Crop each series to a window of ``ratio`` of its length at a random start and stretch it
    back to the full length (window slicing; Le Guennec et al., 2016; Iwana and Uchida, 2021,
    ratio 0.9), every channel alike."""
    check_series_batch(x)
    if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 < ratio <= 1:
        raise ValueError(f"ratio must be a number in (0, 1], got {ratio!r}")
    b, _, t = x.shape
    span = ratio * (t - 1)
    start = torch.rand(b, 1, generator=generator) * (t - 1 - span)
    positions = start + torch.linspace(0, span, t)[None, :]
    return _sample(x, positions.to(x.device))


# --------------------------------------------------------------------------- the pairs


class SeriesWeakAugment:
    """The weak view: scaling per series and channel, then jitter (TS-TCC's weak view, Eldele et
    al., 2021, at Iwana and Uchida's magnitudes)."""

    def __init__(self, scale_sigma: float = 0.1, jitter_sigma: float = 0.03) -> None:
        self.scale_sigma = _check_number("scale_sigma", scale_sigma)
        self.jitter_sigma = _check_number("jitter_sigma", jitter_sigma)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return jitter(scaling(x, self.scale_sigma, generator), self.jitter_sigma, generator)

    def __repr__(self) -> str:
        return f"SeriesWeakAugment(scale_sigma={self.scale_sigma}, jitter_sigma={self.jitter_sigma})"


class SeriesStrongAugment:
    """The strong view: the weak view, then a change of the time axis (``kind``: segment
    ``"permutation"``, TS-TCC's; ``"time_warp"``; ``"window_slice"``), then more jitter
    (``jitter_sigma``; TS-TCC's strong view is permutation plus jitter)."""

    def __init__(self, weak: SeriesWeakAugment, kind: str = "time_warp", jitter_sigma: float = 0.1,
                 max_segments: int = 5, warp_sigma: float = 0.2, knots: int = 4, ratio: float = 0.9) -> None:
        if kind not in STRONG_KINDS:
            raise ValueError(f"kind must be one of {', '.join(STRONG_KINDS)}, got {kind!r}")
        self.weak, self.kind = weak, kind
        self.jitter_sigma = _check_number("jitter_sigma", jitter_sigma)
        self.max_segments = _check_count("max_segments", max_segments, 1)
        self.warp_sigma = _check_number("warp_sigma", warp_sigma)
        self.knots = _check_count("knots", knots, 0)
        if not isinstance(ratio, int | float) or isinstance(ratio, bool) or not 0 < ratio <= 1:
            raise ValueError(f"ratio must be a number in (0, 1], got {ratio!r}")
        self.ratio = float(ratio)

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x = self.weak(x, generator)
        if self.kind == "permutation":
            x = permutation(x, min(self.max_segments, x.shape[-1]), min(2, self.max_segments, x.shape[-1]),
                            generator=generator)
        elif self.kind == "time_warp":
            x = time_warp(x, self.warp_sigma, self.knots, generator)
        else:
            x = window_slice(x, self.ratio, generator)
        return jitter(x, self.jitter_sigma, generator)

    def __repr__(self) -> str:
        detail = {"permutation": f"max_segments={self.max_segments}",
                  "time_warp": f"warp_sigma={self.warp_sigma}, knots={self.knots}",
                  "window_slice": f"ratio={self.ratio}"}[self.kind]
        return f"SeriesStrongAugment({self.weak!r}, kind={self.kind!r}, {detail}, jitter_sigma={self.jitter_sigma})"


#: The protocol's strong view of each series dataset.
DEFAULT_STRONG = {"italy_power_demand": "time_warp", "japanese_vowels": "time_warp"}


def for_series(name: str, strong: str | None = None) -> tuple[SeriesWeakAugment, SeriesStrongAugment]:
    """The (weak, strong) pair of series dataset ``name`` (:data:`ssl_teach.data.SERIES`); ``strong``
    names another strong view than the protocol's (:data:`DEFAULT_STRONG`), one of :data:`STRONG_KINDS`."""
    if name not in SERIES:
        raise ValueError(f"unknown series dataset {name!r}; allowed: {', '.join(SERIES)}")
    weak = SeriesWeakAugment()
    return weak, SeriesStrongAugment(weak, kind=DEFAULT_STRONG[name] if strong is None else strong)
