"""A method against the floor and the ceiling over the protocol's seeds: the book's headline.

A headline (:func:`headline`) is the mean and standard deviation over the seeds, the paired
difference to the floor (same labeled set, seed by seed) and the share of the floor-to-ceiling
gap closed; a difference within twice the standard deviation of the paired differences is a
tie (:mod:`ssl_teach.uncertainty` says how sure that is). :func:`converged` is the book's rule
for a flat curve. Explained in chapter 0.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from ssl_teach.train import History
from ssl_teach.uncertainty import PairedDifference, Share, gap_share, paired_difference

#: The tolerance of :func:`converged`, in points: five images of the 1,000 test images or of the
#: 500 validation images (one validation image is 0.2 points).
FLAT_POINTS = {"test_acc": 0.5, "val_acc": 1.0}


def converged(history: History, metric: str | None = None, points: float | None = None) -> bool:
    """Whether ``metric`` is flat over the last quarter of the run: its evaluations there (at
    least two) stay within ``points`` percentage points of each other (default
    :data:`FLAT_POINTS`: five images). The default metric is the validation accuracy, so that no
    budget is chosen on the test set; a record without validation evaluations (made before the
    ceiling had a validation split) is judged on ``test_acc``."""
    if metric is None:
        metric = "val_acc" if history.eval.get("val_acc") else "test_acc"
    if metric not in history.eval:
        raise ValueError(f"metric must be one of the run's evaluations ({', '.join(history.eval)}), got {metric!r}")
    points = FLAT_POINTS.get(metric, 0.5) if points is None else points
    steps, values = history.eval["step"], history.eval[metric]
    tail = [v for s, v in zip(steps, values) if s >= 0.75 * steps[-1]]
    if len(tail) < 2:
        raise ValueError(f"the last quarter of the run has {len(tail)} evaluation(s) of {metric}; "
                         "evaluate more often (eval_every) to judge convergence")
    return 100 * (max(tail) - min(tail)) <= points



def record_flat(record: dict) -> bool:
    """Whether a store record's validation curve is flat (:func:`converged`); ``False`` for a run
    too short to judge (a smoke run with one evaluation in its last quarter)."""
    try:
        return converged(History.from_dict(record["history"]))
    except ValueError:
        return False

def _stdev(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


@dataclass
class Headline:
    """A method against the floor and the ceiling over the same seeds (accuracies in percent).

    Attributes:
        accs, floor_accs: per-seed test accuracies of the method and of the floor.
        ceiling: mean test accuracy of the ceiling.
        mean, std: of ``accs`` (sample standard deviation).
        gain, gain_std: mean and standard deviation of the paired differences to the floor.
        share: the share of the floor-to-ceiling gap closed, ``gain / (ceiling - floor mean)``.
        tie: whether ``|gain| <= 2 gain_std``, a difference within the noise of the seeds (with 3
            seeds a paired t of at most 3.46, two-sided p of at least 0.074; :mod:`ssl_teach.uncertainty`).
        ceiling_accs: per-seed accuracies of the ceiling, paired with ``accs`` (optional; they give
            :meth:`share_interval` its bootstrap interval).
    """

    accs: list[float]
    floor_accs: list[float]
    ceiling: float
    mean: float = 0.0
    std: float = 0.0
    gain: float = 0.0
    gain_std: float = 0.0
    share: float = 0.0
    tie: bool = True
    ceiling_accs: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.accs) != len(self.floor_accs) or not self.accs:
            raise ValueError(f"accs and floor_accs must pair seed by seed, got {len(self.accs)} and "
                             f"{len(self.floor_accs)} values")
        diffs = [a - f for a, f in zip(self.accs, self.floor_accs)]
        self.mean, self.std = statistics.mean(self.accs), _stdev(self.accs)
        self.gain, self.gain_std = statistics.mean(diffs), _stdev(diffs)
        gap = self.ceiling - statistics.mean(self.floor_accs)
        self.share = 100 * self.gain / gap if gap > 0 else math.nan
        self.tie = not (abs(self.gain) > 2 * self.gain_std)

    @property
    def difference(self) -> PairedDifference:
        """The paired difference to the floor with its 95 % t interval and p value."""
        return paired_difference(self.accs, self.floor_accs)

    def share_interval(self, ceiling_accs: Sequence[float] | None = None) -> Share:
        """The share of the gap with a bootstrap interval over the seeds, given the ceiling's
        per-seed accuracies (paired with :attr:`accs` seed by seed; default :attr:`ceiling_accs`)."""
        return gap_share(self.accs, self.floor_accs, self.ceiling_accs if ceiling_accs is None else ceiling_accs)

    def share_bounds(self) -> tuple[float, float]:
        """The low and high ends of :meth:`share_interval`, NaN where there is no interval: one
        seed, no ceiling paired by seed, or a ceiling not above the floor (a smoke run)."""
        try:
            share = self.share_interval()
        except ValueError:
            return math.nan, math.nan
        return share.low, share.high

    @property
    def share_low(self) -> float:
        """The low end of the share's bootstrap interval (:meth:`share_bounds`)."""
        return self.share_bounds()[0]

    @property
    def share_high(self) -> float:
        """The high end of the share's bootstrap interval (:meth:`share_bounds`)."""
        return self.share_bounds()[1]

    def __str__(self) -> str:
        verdict = "a tie with the floor" if self.tie else ("above" if self.gain > 0 else "below") + " the floor"
        d = self.difference
        share = (str(self.share_interval()) if len(self.ceiling_accs) == len(self.accs) > 1
                 else f"{self.share:.0f} %")
        return (f"{self.mean:.1f} ± {self.std:.1f} % over {len(self.accs)} seeds; {self.gain:+.1f} ± "
                f"{self.gain_std:.1f} points against the floor, 95 % interval [{d.low:+.1f}, {d.high:+.1f}] "
                f"(paired t p = {d.p:.2g}; {verdict} by the book's rule), {share} of the gap to the ceiling "
                f"({self.ceiling:.1f} %) closed")


def headline(method_runs: Sequence[dict], floor_runs: Sequence[dict], ceiling_runs: Sequence[dict]) -> Headline:
    """The :class:`Headline` of records of a method, the floor and the ceiling (paired by seed)."""
    floor = {r["seed"]: r for r in floor_runs}
    missing = [r["seed"] for r in method_runs if r["seed"] not in floor]
    if missing:
        raise ValueError(f"no floor run for seeds {missing}: a headline pairs every seed with its floor")
    ceiling = {r["seed"]: r for r in ceiling_runs}
    paired = all(r["seed"] in ceiling for r in method_runs)
    return Headline([100 * r["test_acc"] for r in method_runs],
                    [100 * floor[r["seed"]]["test_acc"] for r in method_runs],
                    statistics.mean(100 * r["test_acc"] for r in ceiling_runs),
                    ceiling_accs=[100 * ceiling[r["seed"]]["test_acc"] for r in method_runs] if paired else [])
