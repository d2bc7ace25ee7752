"""The runs chapter 9 (1-D time series) reads, and the command that trains them into the store.

``python -m ssl_teach.series_runs`` trains every missing run of :func:`series_runs` through
:func:`ssl_teach.experiments.fill` (resumable: a finished run is in the store), the most
important first: the floor, FixMatch and the ceiling at :data:`HEADLINE_BUDGET` labels per class
on both series datasets, then the strong-view ablation, then the label-budget curve.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ssl_teach.config import get_profile
from ssl_teach.data import SERIES_DATASETS
from ssl_teach.protocol import Run, ceiling_run
from ssl_teach.series_augment import DEFAULT_STRONG, STRONG_KINDS

#: Labels per class of the chapter's headline (the seed's "few labels a customer can give").
HEADLINE_BUDGET = 5
#: The label budgets of the chapter's curve.
BUDGETS = (1, 2, 5, 10)
#: The dataset of the strong-view ablation.
ABLATION_DATASET = "italy_power_demand"


def series_runs(profile: str = "book", other: str | None = "mixmatch",
                datasets: Sequence[str] = SERIES_DATASETS) -> list[Run]:
    """Every run the chapter reads, most important first, without repeats: the headline (floor,
    FixMatch, ceiling at :data:`HEADLINE_BUDGET`), the strong-view ablation on
    :data:`ABLATION_DATASET` (FixMatch with each other strong view), then the floor, FixMatch, Mean
    Teacher and ``other`` (the label-budget chapter's best other method) at every :data:`BUDGETS`."""
    seeds = get_profile(profile).seeds
    runs: list[Run] = []
    for name in datasets:
        runs += [Run("supervised", name, HEADLINE_BUDGET, s, profile) for s in seeds]
        runs += [Run("fixmatch", name, HEADLINE_BUDGET, s, profile) for s in seeds]
        runs += [ceiling_run(name, s, profile) for s in seeds]
    if ABLATION_DATASET in datasets:
        runs += [Run("fixmatch", ABLATION_DATASET, HEADLINE_BUDGET, s, profile, strong=kind)
                 for kind in STRONG_KINDS if kind != DEFAULT_STRONG[ABLATION_DATASET] for s in seeds]
    methods = ["supervised", "fixmatch", "mean_teacher"] + ([other] if other else [])
    for name in datasets:
        runs += [Run(m, name, n, s, profile) for n in BUDGETS for m in methods for s in seeds]
    return list(dict.fromkeys(runs))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ssl_teach.series_runs``: train the chapter's missing runs into the store."""
    from ssl_teach.experiments import best_other_method, fill

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="book")
    parser.add_argument("--datasets", nargs="+", default=list(SERIES_DATASETS))
    parser.add_argument("--other", default=None, help="the third method (default: the label-budget chapter's best "
                        "other method on MNIST, from the store; else mixmatch)")
    args = parser.parse_args(argv)
    other = args.other or best_other_method("mnist", args.profile) or "mixmatch"
    fill(series_runs(args.profile, other, args.datasets))


if __name__ == "__main__":
    main()
