"""Running the book's protocol through the results store, and the command that fills it.

:func:`result` returns a run's record from the store (:mod:`ssl_teach.store`), training it
first when it is missing (or when ``force=True``); :func:`stored` only reads it. A chapter
trains its own headline and reads every other run, so that it executes in minutes;
:func:`compare` gives a method's runs next to the floor's and the ceiling's with their
headline. ``python -m ssl_teach.experiments --book`` (``make experiments``) fills the store
with every run the chapters read, ``--grid`` (``make grid``) with the label-budget grid.

The protocol itself (:class:`Run`, the splits, the recipe) is :mod:`ssl_teach.protocol`, the
headline's statistics :mod:`ssl_teach.headline`, the lists of runs :mod:`ssl_teach.book_runs`;
their names are available here too, as the chapters use them. Explained in chapter 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ssl_teach import pretraining
from ssl_teach.book_runs import (
    ABLATION_BUDGET,
    ABLATION_DATASET,
    ABLATIONS,
    BOOK_HEADLINES,
    BOOK_VARIANTS,
    BUDGET_CANDIDATES,
    CREDIT_REFERENCES,
    GRID_BUDGETS,
    GRID_METHODS,
    POOL_FRACTIONS,
    VALIDATION_SEEDS,
    ablation_runs,
    book_runs,
    budget_study,
    choose_budget,
    credit_runs,
    grid_runs,
    pool_runs,
    recipe_study,
)
from ssl_teach.config import get_profile
from ssl_teach.data import Dataset, load_dataset
from ssl_teach.headline import Headline, converged, headline
from ssl_teach.protocol import (
    FIT_OPTIONS,
    METHODS,
    N_PER_CLASS,
    PROTOCOL_FIT,
    SEEDS,
    SUPERVISED,
    VAL_PER_CLASS,
    Run,
    build,
    ceiling_run,
    check_fit_options,
    check_hyperparameters,
    floor_run,
    hyperparameters,
    protocol_data,
    protocol_fit,
    recipe,
    val_per_class,
)
from ssl_teach.store import Store
from ssl_teach.train import fit

#: the names of the protocol, the headline and the book's runs, read through this module by the chapters
__all__ = [
    "ABLATIONS", "ABLATION_BUDGET", "ABLATION_DATASET", "CREDIT_REFERENCES", "ablation_runs", "credit_runs",
    "BUDGET_CANDIDATES", "budget_study", "choose_budget",
    "BOOK_HEADLINES", "BOOK_VARIANTS", "FIT_OPTIONS", "POOL_FRACTIONS", "best_other_method", "pool_runs",
    "GRID_BUDGETS", "GRID_METHODS", "METHODS", "MISSING",
    "N_PER_CLASS", "PROTOCOL_FIT", "RETRAIN_ENV", "SEEDS", "SUPERVISED", "USED", "VALIDATION_SEEDS",
    "VAL_PER_CLASS", "Comparison", "Headline", "Run", "book_runs", "build", "ceiling_run", "check_fit_options",
    "check_hyperparameters", "compare", "converged", "estimated_seconds", "fill", "floor_run", "grid_runs",
    "headline", "hyperparameters", "main", "protocol_data", "protocol_fit", "recipe", "recipe_study", "result",
    "results", "stored", "used_summary", "val_per_class",
]

RETRAIN_ENV = "SSL_TEACH_RETRAIN"

_DATASETS: dict[str, Dataset] = {}


def _dataset(name: str) -> Dataset:
    if name not in _DATASETS:
        _DATASETS[name] = load_dataset(name)
    return _DATASETS[name]


#: Every record :func:`result` returned in this process, in order (a chapter lists them).
USED: list[dict] = []


def result(run: Run, store: Store | None = None, force: bool = False, progress: bool = True,
           dataset: Dataset | None = None) -> dict:
    """The store's record of ``run``; trains it (and stores it) when missing or when ``force``.

    ``$SSL_TEACH_RETRAIN=1`` forces fresh training everywhere. The ``smoke`` profile always
    trains (it exists to prove the code runs) and is never committed (``.gitignore``).
    """
    store = store or Store()
    config = run.config(dataset)
    record = None if force or _always_trained(run) else _read(run, store, dataset)
    if record is not None:
        return record
    dataset = dataset or _dataset(run.data)
    data = protocol_data(dataset, run.n_per_class, run.seed, run.profile, unlabeled_fraction=run.unlabeled_fraction)
    method = build(run, data)
    pretraining.prepare(run, method, store, dataset, progress)  # SelfMatch: its pre-trained encoder
    labels = "all" if run.n_per_class is None else run.n_per_class
    # a method with an EMA model is evaluated with it; its raw weights are recorded too (raw_acc)
    raw = {"raw": lambda: method.model} if method.ema is not None else None
    start = time.perf_counter()
    history = fit(method, data, run.profile, seed=run.seed, progress=progress, extra_eval=raw,
                  desc=f"{run.method} {run.dataset} {labels}/class seed {run.seed}", **config["fit_options"])
    record = store.save(config, history.to_dict(), time.perf_counter() - start, label=run.label,
                        data_source=dataset.source)
    pretraining.keep(method, store, config, record)  # SimCLR: its encoder beside its record
    record["from_store"] = False
    USED.append(record)
    return record


def _always_trained(run: Run) -> bool:
    """Whether ``run`` is trained whatever the store holds: in the ``smoke`` profile, or under
    ``$SSL_TEACH_RETRAIN=1``."""
    return run.profile == "smoke" or os.environ.get(RETRAIN_ENV, "") not in ("", "0")


def _read(run: Run, store: Store, dataset: Dataset | None = None) -> dict | None:
    """The store's record of ``run`` (on ``dataset``'s images when given; marked as read from it
    and listed in :data:`USED`), or ``None``."""
    record = store.load(run.config(dataset), label=run.label)
    if record is not None:
        record["from_store"] = True
        USED.append(record)
    return record


def used_summary() -> str:
    """One line per run :func:`result` returned here (once, however often it was read): where it
    came from, when and how long it took."""
    lines, seen = [], set()
    for r in USED:
        if (r.get("key"), r["profile"], r["dataset"], r["seed"]) in seen:
            continue
        seen.add((r.get("key"), r["profile"], r["dataset"], r["seed"]))
        origin = "store" if r["from_store"] else "trained now"
        lines.append(f"{r['method']} {r['dataset']} {r['n_per_class'] or 'all'}/class seed {r['seed']} "
                     f"({r['profile']}): {100 * r['test_acc']:.2f} %, {r['seconds']:.0f} s, {origin}, {r['when']}")
    return "\n".join(lines)


def results(runs: Sequence[Run], **kwargs: object) -> list[dict]:
    """:func:`result` for each run, in order."""
    return [result(run, **kwargs) for run in runs]  # type: ignore[arg-type]


#: What a chapter prints for a run :func:`stored` did not find.
MISSING = "not in the store: `make experiments` trains it"


def stored(run: Run, store: Store | None = None, dataset: Dataset | None = None, *,
           retrain: bool = True) -> dict | None:
    """The store's record of ``run``, or ``None`` when it has none: unlike :func:`result`, it
    never trains. A chapter trains its own headline with :func:`result` and reads every other
    run (other methods, other datasets, ablations, sweeps) with this, so that it executes in
    minutes; ``make experiments`` trains them all (:func:`book_runs`). The ``smoke`` profile and
    ``$SSL_TEACH_RETRAIN=1`` train anyway, as :func:`result` does, unless ``retrain=False``
    (a report of runs far longer than a smoke run: the budget study's)."""
    if retrain and _always_trained(run):
        return result(run, store, progress=False, dataset=dataset)
    return _read(run, store or Store(), dataset)


def stored_all(runs: Sequence[Run], store: Store | None = None, dataset: Dataset | None = None) -> list[dict] | None:
    """The store's records of every run of ``runs`` (:func:`stored`), or ``None`` when one is missing."""
    records = [stored(run, store, dataset) for run in runs]
    return None if None in records else records  # type: ignore[return-value]


@dataclass
class Comparison:
    """A method's runs on the protocol next to the floor's and the ceiling's (store records,
    seed by seed), and their :class:`Headline`. What every chapter's headline cell shows."""

    method: list[dict]
    floor: list[dict]
    ceiling: list[dict]
    headline: Headline


def compare(method: str, dataset: str, profile: str = "book", options: dict | None = None,
            fit_options: dict | None = None, data: Dataset | None = None,
            floor_method: str = "supervised", train: bool = True) -> Comparison | None:
    """:func:`result` of ``method`` on the labeled sets of the profile's seeds (0, 1 and 2 in the
    ``book`` profile), of the floor (``floor_method``: ``"supervised"``, or
    ``"supervised_strong"`` for the floor on strong views) and of the ceiling on the same
    seeds, with their headline. Missing runs are trained first; with ``train=False`` the
    method's runs are only read (:func:`stored`), and the answer is ``None`` when one of them
    is missing (the floor and the ceiling are still trained when missing)."""
    seeds = get_profile(profile).seeds
    runs = [Run(method, dataset, N_PER_CLASS, s, profile, dict(options or {}), dict(fit_options or {}))
            for s in seeds]
    if train:
        method_records = results(runs, dataset=data)
    else:
        method_records = [stored(run, dataset=data) for run in runs]
        if None in method_records:
            return None
    floor = results([Run(floor_method, dataset, N_PER_CLASS, s, profile) for s in seeds], dataset=data)
    ceiling = results([ceiling_run(dataset, s, profile) for s in seeds], dataset=data)
    return Comparison(method_records, floor, ceiling, headline(method_records, floor, ceiling))



def estimated_seconds(run: Run, records: Sequence[dict]) -> float:
    """How long ``run`` should take, from the stored records: the mean seconds of the same method
    and dataset in the same profile (any label budget), else of every record of the profile."""
    same = [r["seconds"] for r in records if r["profile"] == run.profile and r["dataset"] == run.dataset
            and r["config"]["method"] == run.method and r["n_per_class"] is not None]
    every = [r["seconds"] for r in records if r["profile"] == run.profile]
    return statistics.mean(same or every or [60.0])


def fill(runs: Sequence[Run], force: bool = False, store: Store | None = None) -> list[dict]:
    """:func:`result` of every run, resumable (a finished run is in the store, so a second call
    goes on where the first stopped), with a progress bar over the runs whose time left is
    estimated from the stored seconds (:func:`estimated_seconds`)."""
    from tqdm.auto import tqdm

    store = store or Store()
    records = store.records()
    missing = [run for run in runs if force or store.load(run.config()) is None]
    left = sum(estimated_seconds(run, records) for run in missing)
    out = []
    bar = tqdm(runs, desc=f"{len(missing)} of {len(runs)} runs to train", unit="run")
    for run in bar:
        bar.set_postfix_str(f"about {left / 3600:.1f} h left")
        record = result(run, store=store, force=force)
        if not record["from_store"]:
            left = max(0.0, left - estimated_seconds(run, records))
        origin = "store" if record["from_store"] else f"trained in {record['seconds']:.0f} s"
        bar.write(f"{record['method']:>26} {run.dataset:>13} {record['n_per_class'] or 'all'!s:>4}/class seed "
                  f"{record['seed']}: test {100 * record['test_acc']:.2f} % ({origin})")
        out.append(record)
    return out


def best_other_method(dataset: str, profile: str = "book", store: Store | None = None) -> str | None:
    """The semi-supervised method other than FixMatch with the best mean *validation* accuracy at
    10 labels per class on ``dataset`` over the profile's seeds (the pool study's second method),
    from the store; ``None`` when no method has all its seeds there."""
    store = store or Store()
    means = {}
    for method in GRID_METHODS:
        if method in SUPERVISED or method == "fixmatch":
            continue
        records = [store.load(Run(method, dataset, N_PER_CLASS, s, profile).config())
                   for s in get_profile(profile).seeds]
        if None not in records:
            means[method] = statistics.mean(r["val_acc"] for r in records)
    return max(means, key=means.get) if means else None


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m ssl_teach.experiments``: fill the store with the protocol's runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="book")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion_mnist"])
    parser.add_argument("--methods", nargs="+", default=["fixmatch"], help="besides the floor and the ceiling")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--recipe", action="store_true", help="the runs behind the recipe instead")
    parser.add_argument("--book", action="store_true",
                        help="every run the chapters read instead (book_runs: headlines, variants)")
    parser.add_argument("--grid", action="store_true",
                        help="the label-budget grid instead (grid_runs: every method at 1, 4, 10, 25 labels per class)")
    parser.add_argument("--ablations", action="store_true",
                        help="the isolating ablations and the credit references instead (ablation_runs)")
    parser.add_argument("--budgets", action="store_true",
                        help="the floor's and the ceiling's candidate budgets instead (budget_study, on validation)")
    parser.add_argument("--force", action="store_true", help="retrain runs the store already has")
    args = parser.parse_args(argv)
    if args.budgets:
        fill(budget_study(args.profile), force=args.force)
        return
    if args.ablations:
        fill(ablation_runs(args.profile), force=args.force)
        return
    if args.grid:
        runs = grid_runs(args.profile)
        others = {dataset: best_other_method(dataset, args.profile) for dataset in BOOK_HEADLINES}
        runs += pool_runs({d: m for d, m in others.items() if m is not None}, args.profile)
        fill(list(dict.fromkeys(runs)), force=args.force)
        return
    if args.book:
        book = book_runs(args.profile)
        plans = {dataset: [run for run in book if run.dataset == dataset] for dataset in BOOK_HEADLINES}
    else:
        plans = ({"mnist": recipe_study(args.profile)} if args.recipe else {
            dataset: [floor_run(dataset, s, args.profile) for s in args.seeds]
            + [ceiling_run(dataset, s, args.profile) for s in args.seeds]
            + [Run(m, dataset, N_PER_CLASS, s, args.profile) for m in args.methods for s in args.seeds]
            for dataset in args.datasets})
    for dataset, runs in plans.items():
        for record in results(runs, force=args.force):
            origin = "store" if record["from_store"] else f"trained in {record['seconds']:.0f} s"
            print(f"{record['method']:>26} {dataset:>13} {record['n_per_class'] or 'all'!s:>4}/class seed "
                  f"{record['seed']}: test {100 * record['test_acc']:.2f} % ({origin})", flush=True)


if __name__ == "__main__":
    main()
