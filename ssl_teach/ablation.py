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
from ssl_teach.headline import converged
from ssl_teach.protocol import Run
from ssl_teach.train import History
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


def _records(runs: Sequence[Run]) -> list[dict] | None:
    from ssl_teach.experiments import stored

    records = [stored(run) for run in runs]
    return None if None in records else records  # type: ignore[return-value]


def _flat(record: dict) -> bool:
    """Whether the record's validation curve is flat; ``False`` for a run too short to judge (smoke)."""
    try:
        return converged(History.from_dict(record["history"]))
    except ValueError:
        return False


def _line(label: str, records: list[dict], against: list[dict] | None) -> Line:
    accs = [100 * r["test_acc"] for r in records]
    difference = None if against is None else paired_difference(accs, [100 * r["test_acc"] for r in against])
    return Line(label, accs, difference, all(_flat(r) for r in records))


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
        records = [_records(runs) for runs in groups]
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
    records = [_records(runs) for runs in groups]
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


@dataclass(frozen=True)
class Choice:
    """A hyper-parameter chosen on the validation split: each value's records on the validation
    seeds, and the recipe's value (accuracies in percent).

    Attributes:
        name: the hyper-parameter (``"w_max"``).
        recipe: the value the protocol's recipe uses.
        records: per value, its records on the validation seeds (values missing from the store left out).
    """

    name: str
    recipe: object
    records: dict[object, list[dict]]

    @property
    def validation(self) -> dict[object, float]:
        """The mean validation accuracy of each value."""
        return {v: statistics.mean(100 * r["val_acc"] for r in rs) for v, rs in self.records.items()}

    @property
    def winner(self) -> object:
        """The value with the highest mean validation accuracy (the recipe's on an exact tie)."""
        best = max(self.validation.values())
        tied = [v for v, acc in self.validation.items() if acc == best]
        return self.recipe if self.recipe in tied else tied[0]

    @property
    def sentence(self) -> str:
        """What the choice says about the recipe."""
        if len(self.records) < 2:
            return (f"Only the recipe's {self.name} = {self.recipe} is in the store: this page makes no choice, "
                    "and the recipe's value stands unchecked.")
        others = ", ".join(f"{v} {acc:.1f} %" for v, acc in self.validation.items())
        if self.winner == self.recipe:
            return f"Validation ({others}) keeps the recipe's {self.name} = {self.recipe}."
        return (f"Validation ({others}) prefers {self.name} = {self.winner} to the recipe's {self.recipe}: the "
                "recipe and this choice disagree, and the headline above is the recipe's.")

    def __str__(self) -> str:
        rows = [f"{self.name:>12} {'seed':>5} {'validation':>11} {'(test)':>8}"]
        rows += [f"{v!s:>12} {r['seed']:>5} {100 * r['val_acc']:>10.1f}% {100 * r['test_acc']:>7.1f}%"
                 for v, rs in self.records.items() for r in rs]
        return "\n".join(rows + [self.sentence])


def validation_choice(method: str, dataset: str, name: str, values: Sequence[object],
                      profile: str = "book") -> Choice:
    """``method``'s runs with each of ``values`` for the hyper-parameter ``name`` on the validation
    seeds (:data:`~ssl_teach.book_runs.VALIDATION_SEEDS`) at the chapters' 10 labels per class,
    read from the store; the choice is the best mean validation accuracy, the test accuracy is
    printed and never used."""
    from ssl_teach.book_runs import VALIDATION_SEEDS
    from ssl_teach.protocol import N_PER_CLASS, hyperparameters

    seeds = [s for s in VALIDATION_SEEDS if s in get_profile(profile).seeds]
    recipe = hyperparameters(method, steps=get_profile(profile).steps)[name]
    found = {v: _records([Run(method, dataset, N_PER_CLASS, s, profile, {name: v}) for s in seeds])
             for v in dict.fromkeys([recipe, *values])}
    return Choice(name, recipe, {v: rs for v, rs in found.items() if rs is not None})


def budget_report(profile: str = "book") -> str:
    """The floor's and the ceiling's candidate budgets (:data:`~ssl_teach.book_runs.BUDGET_CANDIDATES`)
    on the validation seeds, as the store holds them (it trains nothing, in any profile): each
    candidate's validation accuracy per seed, whether its validation
    curve is flat, the candidate :func:`~ssl_teach.book_runs.choose_budget` picks and the protocol's."""
    from ssl_teach.book_runs import BUDGET_CANDIDATES, VALIDATION_SEEDS, choose_budget
    from ssl_teach.experiments import stored
    from ssl_teach.protocol import N_PER_CLASS, PROTOCOL_FIT

    seeds = [s for s in VALIDATION_SEEDS if s in get_profile(profile).seeds]
    records_of: dict[str, dict | None] = {}  # each record read from the store once

    def read(run: Run) -> dict | None:
        if repr(run) not in records_of:  # never trained here, not even in the smoke profile
            records_of[repr(run)] = stored(run, retrain=False)
        return records_of[repr(run)]

    rows = []
    for role, by_dataset in BUDGET_CANDIDATES.items():
        for dataset, candidates in by_dataset.items():
            n_per_class = N_PER_CLASS if role == "floor" else None
            means = {}  # candidate index -> validation accuracies of its seeds
            for i, fit in enumerate(candidates):
                records = [read(Run("supervised", dataset, n_per_class, s, profile, fit_options=dict(fit)))
                           for s in seeds]
                cells = "not in the store"
                if None not in records:
                    means[i] = [100 * r["val_acc"] for r in records]  # type: ignore[index]
                    cells = "  ".join(f"seed {r['seed']} {100 * r['val_acc']:5.1f} %"  # type: ignore[index]
                                      f"{'' if _flat(r) else ' (not flat)'}" for r in records)  # type: ignore[arg-type]
                budget = ", ".join(f"{k} {v}" for k, v in fit.items() if k != "eval_every")
                rows.append(f"{role:<8} {dataset:<14} {budget:<36} {cells}")
            chosen = choose_budget(role, dataset, read, _flat, profile)
            protocol = PROTOCOL_FIT.get(profile, {}).get(role, {}).get(dataset)
            rows.append(f"{'':<24}-> chosen on validation: {chosen}; the protocol's: {protocol}")
            best = max(means, key=lambda i: statistics.mean(means[i])) if means else None
            if chosen is not None and best is not None and dict(candidates[best]) != chosen:
                mine = statistics.mean(means[[dict(c) for c in candidates].index(chosen)])
                rows.append(f"{'':<24}   a candidate that is not flat scores higher on validation: "
                            f"{statistics.mean(means[best]):.1f} % against the chosen one's {mine:.1f} %, so the "
                            "chosen budget's accuracy is a lower bound")
    return "\n".join(rows)
