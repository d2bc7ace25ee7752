"""Ramp-up schedules for the weight of an unsupervised loss, and the learning-rate schedule.

An unsupervised term that is switched on at full weight from step 0 trains the network on the
guesses of a random model. The Pi-model and Mean Teacher ramp its weight up with
exp(-5 (1 - t)^2) (Laine and Aila, 2017, appendix A); MixMatch ramps it up linearly.
Explained in chapter 2.
"""

from __future__ import annotations

import math


def _progress(step: float, length: float) -> float:
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step!r}")
    return 1.0 if length == 0 else min(step / length, 1.0)


def linear_rampup(step: float, length: float) -> float:
    """t = min(step / length, 1): 0 at step 0, 1 from ``length`` on (1 when ``length`` is 0)."""
    return _progress(step, length)


def sigmoid_rampup(step: float, length: float) -> float:
    """exp(-5 (1 - t)^2) with t = min(step / length, 1): exp(-5) at 0, 1 from ``length`` on."""
    t = _progress(step, length)
    return math.exp(-5.0 * (1.0 - t) ** 2)


def cosine_lr_factor(step: float, total_steps: float) -> float:
    """FixMatch's learning-rate multiplier cos(7 pi k / (16 K)) (Sohn et al., 2020, sec. 3):
    1 at the start, cos(7 pi / 16) ~ 0.2 at the end."""
    return math.cos(7.0 * math.pi * _progress(step, total_steps) / 16.0)
