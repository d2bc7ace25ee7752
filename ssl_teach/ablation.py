"""What one change does: a method against its ablations, and a gain split into its credits.

An ablation answers a question only if it changes one thing, over the same seeds, and every
run is flat. :func:`ablation` reads chapter ``N``'s runs of :data:`~ssl_teach.book_runs.ABLATIONS`
(the full method and each variant on the same labeled sets) and gives each variant's paired
difference to the full method with its 95 % t interval; :func:`credit_split` gives the labels-only
references of a method's gain over the floor, each its own line: BatchNorm statistics from the
unlabeled pool, strong augmentation at the methods' step count, then the method. Both read the
store (:func:`ssl_teach.experiments.stored`; the ``smoke`` profile trains) and never choose on
the test set: flatness is judged on the validation split. Chapters 4 to 6 show them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ssl_teach.book_runs import ABLATION_BUDGET, ABLATION_DATASET, ABLATIONS, EXTRA_SEEDS, credit_runs
from ssl_teach.config import get_profile
from ssl_teach.experiments import stored_all
from ssl_teach.headline import record_flat
from ssl_teach.protocol import Run
from ssl_teach.uncertainty import PairedDifference, paired_difference


def verdict(difference: PairedDifference) -> str:
    """The book's tie rule on paired differences: ``"ahead"`` or ``"behind"`` only when the mean is
    more than twice their standard deviation (3 seeds: paired t above 3.46, p below about 0.07),
    else ``"a tie"``, which says the seeds cannot tell the two apart, not that they are equal."""
    if not abs(difference.mean) > 2 * difference.sd:
        return "a tie"
    return "ahead" if difference.mean > 0 else "behind"


@dataclass(frozen=True)
class Line:
    """One row of an ablation or a credit split (accuracies in percent, seed by seed).

    Attributes:
        label: the run's label (``"mixmatch[K=1]"``).
        accs: test accuracy per seed.
        difference: against the row it is compared with, paired by seed (``None`` for that row).
        flat: whether every seed's validation curve is flat over the last quarter
            (:func:`~ssl_teach.headline.converged`).
    """

    label: str
    accs: list[float]
    difference: PairedDifference | None
    flat: bool

    @property
    def mean(self) -> float:
        return statistics.mean(self.accs)

    @property
    def std(self) -> float:
        return statistics.stdev(self.accs) if len(self.accs) > 1 else float("nan")

    @property
    def verdict(self) -> str:
        """The book's tie rule on :attr:`difference` (:func:`verdict`); ``"reference"`` for the row compared with."""
        return "reference" if self.difference is None else verdict(self.difference)

    def __str__(self) -> str:
        return self.row()

    def row(self, width: int = 40) -> str:
        """The line as text, its label padded to ``width`` characters."""
        row = f"{self.label:<{width}} {self.mean:5.1f} ± {self.std:3.1f} %"
        if self.difference is not None:
            d = self.difference
            row += f"   {d.mean:+5.1f} [{d.low:+5.1f}, {d.high:+5.1f}]  p = {d.p:<6.2g} {self.verdict}"
        return row + ("" if self.flat else "   (not flat on validation)")


def _line(label: str, records: list[dict], against: list[dict] | None) -> Line:
    accs = [100 * r["test_acc"] for r in records]
    difference = None if against is None else paired_difference(accs, [100 * r["test_acc"] for r in against])
    return Line(label, accs, difference, all(record_flat(r) for r in records))


def ablation_seeds(chapter: int, profile: str = "book") -> tuple[int, ...]:
    """The labeled sets chapter ``chapter``'s ablation is paired over: the profile's seeds and, in
    the book profile, :data:`~ssl_teach.book_runs.EXTRA_SEEDS` where three seeds left it open."""
    seeds = tuple(get_profile(profile).seeds)
    extra = EXTRA_SEEDS.get(chapter, ()) if profile == "book" else ()
    return seeds + tuple(s for s in extra if s not in seeds)


def ablation(chapter: int, profile: str = "book") -> list[Line] | None:
    """Chapter ``chapter``'s full method, then each of its ablations (:data:`ABLATIONS`) against
    it, paired by seed (:func:`ablation_seeds`, or the profile's seeds while the extra labeled
    sets are not all stored), at :data:`ABLATION_BUDGET` labels per class on
    :data:`ABLATION_DATASET`; ``None`` when the store lacks a run (``make experiments`` trains them)."""
    if chapter not in ABLATIONS:
        raise ValueError(f"chapter must be one of {sorted(ABLATIONS)}, got {chapter!r}")
    full, variants = ABLATIONS[chapter]
    for seeds in dict.fromkeys((ablation_seeds(chapter, profile), tuple(get_profile(profile).seeds))):
        groups = [[Run(m, ABLATION_DATASET, ABLATION_BUDGET, s, profile, dict(options)) for s in seeds]
                  for m, options in ((full, {}), *variants)]
        records = [stored_all(runs) for runs in groups]
        if all(r is not None for r in records):
            return [_line(runs[0].label, recs, None if i == 0 else records[0])  # type: ignore[arg-type]
                    for i, (runs, recs) in enumerate(zip(groups, records))]
    return None


def credit_split(method: str, dataset: str, n_per_class: int, profile: str = "book") -> list[Line] | None:
    """The floor, then each labels-only reference of :func:`~ssl_teach.book_runs.credit_runs` and
    ``method`` against the floor, paired by seed: the BatchNorm pool's line (the floor's weights,
    statistics from the unlabeled images), strong augmentation at the methods' steps, the method.
    The lines are measured separately: they need not add up. ``None`` when a run is missing."""
    seeds = get_profile(profile).seeds
    references = credit_runs(dataset, n_per_class, profile)
    groups = [references[i * len(seeds):(i + 1) * len(seeds)] for i in range(3)]
    groups.append([Run(method, dataset, n_per_class, s, profile) for s in seeds])
    records = [stored_all(runs) for runs in groups]
    if any(r is None for r in records):
        return None
    return [_line(runs[0].label, recs, None if i == 0 else records[0])  # type: ignore[arg-type]
            for i, (runs, recs) in enumerate(zip(groups, records))]


def table(lines: Sequence[Line], against: str = "the first row") -> str:
    """The rows as text: mean ± sd over seeds, the paired difference to ``against`` with its 95 %
    interval and p, and the tie rule's verdict."""
    width = max(len(line.label) for line in lines)
    head = f"{'run':<{width}} {'test acc.':>13}   difference to {against} [95 % interval], paired t"
    return "\n".join([head, *(line.row(width) for line in lines)])


def difference_numbers(difference: PairedDifference | None) -> dict[str, float | str]:
    """What a page quotes of a paired difference: ``diff`` (its mean), ``low``, ``high``, ``p`` and
    the tie rule's ``verdict`` (:func:`verdict`); NaN and ``"not in the store"`` for ``None``."""
    if difference is None:
        return {"diff": math.nan, "low": math.nan, "high": math.nan, "p": math.nan, "verdict": "not in the store"}
    d = difference
    return {"diff": d.mean, "low": d.low, "high": d.high, "p": d.p, "verdict": verdict(d)}


def numbers(lines: Sequence[Line]) -> dict[str, float | str]:
    """What a page quotes of the rows, by position: ``<i>_mean``, ``<i>_std`` and, for every row
    but the first, ``<i>_diff``, ``<i>_low``, ``<i>_high``, ``<i>_p``, ``<i>_verdict``
    (:func:`difference_numbers`)."""
    out: dict[str, float | str] = {}
    for i, line in enumerate(lines):
        out |= {f"{i}_mean": line.mean, f"{i}_std": line.std}
        if line.difference is not None:
            out |= {f"{i}_{k}": v for k, v in difference_numbers(line.difference).items()}
    return out
