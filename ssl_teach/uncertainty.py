"""How sure a few seeds make a comparison: paired t intervals and a bootstrap of the gap's share.

A headline of the book pairs a method with the floor seed by seed (the same labeled set), so
the question is whether the mean of the paired differences is away from zero. With 3 seeds
the paired t statistic has 2 degrees of freedom: the book's rule "a difference within twice
the standard deviation of the paired differences is a tie" is ``|t| <= 2 sqrt(3) = 3.46``, a
two-sided p of about 0.07, and the 95 % interval of the mean difference is about 2.5 standard
deviations wide on each side. Both functions use ``scipy.stats`` (Student's t and
``bootstrap``); chapter 0 explains them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class PairedDifference:
    """The mean of paired differences ``a - b`` with its t interval.

    Attributes:
        mean, sd: of the differences (sample standard deviation).
        low, high: the ``confidence`` interval of the mean (Student's t, ``n - 1`` degrees of freedom).
        t, p: the paired t statistic and its two-sided p value (``nan`` for one pair or no spread).
        n: the number of pairs.
    """

    mean: float
    sd: float
    low: float
    high: float
    t: float
    p: float
    n: int
    confidence: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies on one side of zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return (f"{self.mean:+.1f} points, {100 * self.confidence:.0f} % interval [{self.low:+.1f}, "
                f"{self.high:+.1f}] (paired t = {self.t:.2f}, p = {self.p:.2g}, {self.n} seeds)")


def _values(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) == 0 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers, got {values!r}")
    return array


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedDifference:
    """The mean of ``a[i] - b[i]`` with its paired-t ``confidence`` interval (``scipy.stats.t``)."""
    a, b = _values("a", a), _values("b", b)
    if len(a) != len(b):
        raise ValueError(f"a and b must pair one to one, got {len(a)} and {len(b)} values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    diffs = a - b
    n, mean = len(diffs), float(diffs.mean())
    sd = float(diffs.std(ddof=1)) if n > 1 else math.nan
    if n < 2 or sd == 0:
        return PairedDifference(mean, sd, mean if sd == 0 else math.nan, mean if sd == 0 else math.nan,
                                math.nan, math.nan, n, confidence)
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    t = mean / se
    p = float(2 * stats.t.sf(abs(t), n - 1))
    return PairedDifference(mean, sd, mean - half, mean + half, t, p, n, confidence)


@dataclass(frozen=True)
class Share:
    """The share of the floor-to-ceiling gap a method closes, in percent, with a bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float = 0.95

    def __str__(self) -> str:
        return f"{self.estimate:.0f} % [{self.low:.0f}, {self.high:.0f}]"


def _share(method: np.ndarray, floor: np.ndarray, ceiling: np.ndarray, axis: int = -1) -> np.ndarray:
    return 100 * (method - floor).mean(axis) / (ceiling.mean(axis) - floor.mean(axis))


def gap_share(method: Sequence[float], floor: Sequence[float], ceiling: Sequence[float], confidence: float = 0.95,
              n_resamples: int = 9999, seed: int = 0) -> Share:
    """``mean(method - floor) / (mean(ceiling) - mean(floor))`` in percent, with a percentile
    bootstrap interval over the seeds (``scipy.stats.bootstrap``, the three lists resampled
    together, seed by seed). With 3 seeds there are only 10 distinct resamples: the interval says
    how much the seeds disagree, not more."""
    method, floor, ceiling = _values("method", method), _values("floor", floor), _values("ceiling", ceiling)
    if not len(method) == len(floor) == len(ceiling):
        raise ValueError(f"method, floor and ceiling must pair seed by seed, got {len(method)}, {len(floor)} and "
                         f"{len(ceiling)} values")
    if ceiling.mean() <= floor.mean():
        raise ValueError(f"the ceiling ({ceiling.mean():.2f}) must be above the floor ({floor.mean():.2f})")
    estimate = float(_share(method, floor, ceiling))
    if len(method) < 2:
        return Share(estimate, math.nan, math.nan, confidence)
    result = stats.bootstrap((method, floor, ceiling), _share, paired=True, vectorized=True, method="percentile",
                             confidence_level=confidence, n_resamples=n_resamples, random_state=seed)
    low, high = result.confidence_interval
    return Share(estimate, float(low), float(high), confidence)
