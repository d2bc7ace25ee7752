"""The runs chapter 7 (SelfMatch) reads, and the command that trains them into the store.

``python -m ssl_teach.selfmatch_runs`` trains every missing run of :func:`selfmatch_runs`
through :func:`ssl_teach.experiments.fill` (resumable), the most important first:

1. **the headline at equal total compute**: SelfMatch (a third of the profile's steps
   pre-training, two thirds fine-tuning: :data:`ssl_teach.protocol.PRETRAIN_SHARE`) against
   FixMatch from scratch (all the steps fine-tuning), with the floor and the ceiling, at each of
   :data:`BUDGETS` labels per class on :data:`DATASET`; each seed's pre-training run is trained
   once and serves every budget;
2. **more labeled sets where the seeds disagree**: the floor, FixMatch and SelfMatch (with the
   protocol's share of pre-training and with :data:`EXTRA_SHARES`) at :data:`EXTRA_BUDGET` label per
   class on the labeled sets of :data:`EXTRA_SEEDS` too (FixMatch's accuracy there moves by ten
   points from one labeled set to the next);
3. **how many pre-training steps pay off**: SelfMatch with each share of :data:`SWEEP_SHARES`
   of the same total steps at :data:`SWEEP_BUDGET` labels per class.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ssl_teach.config import get_profile
from ssl_teach.protocol import PRETRAIN_SHARE, Run, ceiling_run

#: the dataset of the chapter (digits: crops and resizes keep the class, no flip needed)
DATASET = "mnist"
#: the label budgets of the headline (the paper's 40 CIFAR-10 labels are 4 per class)
BUDGETS = (1, 4, 10)
#: the budget of the pre-training sweep (where the headline's runs differ most)
SWEEP_BUDGET = 1
#: the budget with extra labeled sets, and their seeds (beyond the protocol's 0, 1 and 2)
EXTRA_BUDGET = 1
EXTRA_SEEDS = (3, 4, 5)
#: the other pre-training share tried on the extra labeled sets: the sweep's best on validation
EXTRA_SHARES = (2 / 3,)
#: shares of the profile's steps spent pre-training in the sweep (1/3 is the headline's)
SWEEP_SHARES = (1 / 9, 1 / 3, 2 / 3)


def equal_compute_run(n_per_class: int, seed: int, profile: str = "book", share: float | None = None) -> Run:
    """SelfMatch at the steps of one FixMatch run, pre-training counted: ``share`` of the
    profile's steps pre-training (``None``: the protocol's :data:`~ssl_teach.protocol.PRETRAIN_SHARE`,
    the plain ``Run("selfmatch", ...)``), the rest fine-tuning."""
    if share is not None and not (isinstance(share, int | float) and 0 < share < 1):
        raise ValueError(f"share must be None or a number in (0, 1), got {share!r}")
    if share is None or abs(share - PRETRAIN_SHARE) < 1e-9:
        return Run("selfmatch", DATASET, n_per_class, seed, profile)
    total = get_profile(profile).steps
    pre = max(1, round(share * total))
    return Run("selfmatch", DATASET, n_per_class, seed, profile, options={"pretrain_steps": pre},
               fit_options={"steps": total - pre})


def selfmatch_runs(profile: str = "book") -> list[Run]:
    """Every run the chapter reads, most important first, without repeats (module docstring)."""
    seeds = get_profile(profile).seeds
    runs: list[Run] = []
    for n in BUDGETS:
        for s in seeds:
            runs += [Run("supervised", DATASET, n, s, profile), Run("fixmatch", DATASET, n, s, profile),
                     equal_compute_run(n, s, profile)]
    runs += [ceiling_run(DATASET, s, profile) for s in seeds]
    if profile != "smoke":  # the smoke profile proves the code runs on one seed
        runs += [Run(m, DATASET, EXTRA_BUDGET, s, profile) for s in EXTRA_SEEDS for m in ("supervised", "fixmatch")]
        runs += [equal_compute_run(EXTRA_BUDGET, s, profile) for s in EXTRA_SEEDS]
    runs += [equal_compute_run(SWEEP_BUDGET, s, profile, share) for share in SWEEP_SHARES for s in seeds]
    if profile != "smoke":
        runs += [equal_compute_run(EXTRA_BUDGET, s, profile, share) for share in EXTRA_SHARES for s in EXTRA_SEEDS]
    return list(dict.fromkeys(runs))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ssl_teach.selfmatch_runs``: train the chapter's missing runs into the store."""
    from ssl_teach.experiments import fill

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="book")
    fill(selfmatch_runs(parser.parse_args(argv).profile))


if __name__ == "__main__":
    main()
