"""Choices made on the validation split, never on the test set: a hyper-parameter's values
compared by their mean validation accuracy (:func:`validation_choice`, chapter 3's teacher decay
and consistency weight) and the floor's and the ceiling's training budgets
(:func:`budget_report`, the appendix). Both read the store and train nothing beyond what
:func:`ssl_teach.experiments.stored` does; the test accuracy is printed and never used.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ssl_teach.book_runs import BUDGET_CANDIDATES, VALIDATION_SEEDS, choose_budget
from ssl_teach.config import get_profile
from ssl_teach.experiments import stored, stored_all
from ssl_teach.headline import record_flat
from ssl_teach.protocol import N_PER_CLASS, PROTOCOL_FIT, Run, hyperparameters


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

    seeds = [s for s in VALIDATION_SEEDS if s in get_profile(profile).seeds]
    recipe = hyperparameters(method, steps=get_profile(profile).steps)[name]
    found = {v: stored_all([Run(method, dataset, N_PER_CLASS, s, profile, {name: v}) for s in seeds])
             for v in dict.fromkeys([recipe, *values])}
    return Choice(name, recipe, {v: rs for v, rs in found.items() if rs is not None})


def budget_report(profile: str = "book") -> str:
    """The floor's and the ceiling's candidate budgets (:data:`~ssl_teach.book_runs.BUDGET_CANDIDATES`)
    on the validation seeds, as the store holds them (it trains nothing, in any profile): each
    candidate's validation accuracy per seed, whether its validation
    curve is flat, the candidate :func:`~ssl_teach.book_runs.choose_budget` picks and the protocol's."""

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
                                      f"{'' if record_flat(r) else ' (not flat)'}" for r in records)  # type: ignore[arg-type]
                budget = ", ".join(f"{k} {v}" for k, v in fit.items() if k != "eval_every")
                rows.append(f"{role:<8} {dataset:<14} {budget:<36} {cells}")
            chosen = choose_budget(role, dataset, read, record_flat, profile)
            protocol = PROTOCOL_FIT.get(profile, {}).get(role, {}).get(dataset)
            rows.append(f"{'':<24}-> chosen on validation: {chosen}; the protocol's: {protocol}")
            best = max(means, key=lambda i: statistics.mean(means[i])) if means else None
            if chosen is not None and best is not None and dict(candidates[best]) != chosen:
                mine = statistics.mean(means[[dict(c) for c in candidates].index(chosen)])
                rows.append(f"{'':<24}   a candidate that is not flat scores higher on validation: "
                            f"{statistics.mean(means[best]):.1f} % against the chosen one's {mine:.1f} %, so the "
                            "chosen budget's accuracy is a lower bound")
    return "\n".join(rows)
