"""The book's protocol: one set of splits, one floor, one ceiling, 3-seed headlines.

Every chapter compares a method with the same two references, trained once and kept in the
results store (:mod:`ssl_teach.store`):

* the **floor**: ``supervised`` on the labeled images only (10 per class), seeds 0, 1, 2;
* the **ceiling**: ``supervised`` with every training label (``n_per_class=None``), trained
  until its curve is flat, seeds 0, 1, 2.

For each dataset and seed :func:`protocol_data` draws the labeled set (10 per class) and a
validation split (:data:`VAL_PER_CLASS` labeled images per class, never trained on) from one
random order per class; every choice of a hyper-parameter is made on the validation splits
(seeds 0 and 1 for the recipe of chapter 0), never on the test set. A headline
(:func:`headline`) is the mean and standard deviation over the seeds, the paired difference
to the floor (same labeled set, seed by seed) and the share of the floor-to-ceiling gap
closed; a difference within twice the standard deviation of the paired differences is a tie.

:func:`result` returns a run's record from the store, training it first when it is missing
(or when ``force=True``); :func:`stored` only reads it. A chapter trains its own headline and
reads every other run, so that it executes in minutes. ``python -m ssl_teach.experiments
--book`` (``make experiments``) fills the store with every run the chapters read
(:func:`book_runs`). Explained in chapter 0.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ssl_teach.augment import Augmentation, for_dataset
from ssl_teach.config import Profile, get_profile, set_seed
from ssl_teach.data import DATASETS, Dataset, SSLData, data_id, dataset_id, load_dataset, make_ssl_data
from ssl_teach.methods import FixMatch, MeanTeacher, Method, MixMatch, PiModel, PseudoLabel, SimMatch, Supervised
from ssl_teach.models import ClassifierWithProjection, build_model
from ssl_teach.store import Store
from ssl_teach.train import History, fit
from ssl_teach.uncertainty import PairedDifference, Share, gap_share, paired_difference

RETRAIN_ENV = "SSL_TEACH_RETRAIN"
SEEDS = (0, 1, 2)
#: Labeled images per class in every chapter's headline.
N_PER_CLASS = 10
#: Validation images per class, set aside in every split but the ceiling's (which uses every label).
VAL_PER_CLASS = 50

#: How the floor and the ceiling are trained, per profile and dataset: ``fit`` options chosen so
#: that their curves are flat over the last quarter of the run (chapter 0 shows the curves). The
#: floor converges within 1,000 steps on 100 images; the ceiling takes a larger batch and longer.
PROTOCOL_FIT: dict[str, dict[str, dict[str, dict]]] = {
    "book": {
        "floor": {"mnist": {"steps": 1000, "eval_every": 100}, "fashion_mnist": {"steps": 1000, "eval_every": 100}},
        "ceiling": {"mnist": {"steps": 3000, "eval_every": 250},
                    "fashion_mnist": {"steps": 3500, "batch_size": 256, "lr": 0.1, "eval_every": 250}},
    },
    "smoke": {
        "floor": {"mnist": {"steps": 20, "eval_every": 5}, "fashion_mnist": {"steps": 20, "eval_every": 5}},
        "ceiling": {"mnist": {"steps": 20, "eval_every": 5}, "fashion_mnist": {"steps": 20, "eval_every": 5}},
    },
    "scale_up": {
        "floor": {name: {"steps": 3000, "eval_every": 250} for name in ("mnist_full", "fashion_mnist", "cifar10")},
        "ceiling": {"mnist_full": {"steps": 6000, "batch_size": 128, "eval_every": 500},
                    "fashion_mnist": {"steps": 8000, "batch_size": 256, "lr": 0.1, "eval_every": 500},
                    "cifar10": {"steps": 20000, "batch_size": 128, "eval_every": 1000}},
    },
}


def protocol_fit(method: str, dataset: str, n_per_class: int | None, profile: str) -> dict:
    """The ``fit`` options the protocol gives a run: the floor's or the ceiling's budget for
    ``supervised`` (and ``supervised_strong``), nothing beyond the profile's for every other
    method: each sees the same images, ``steps`` x (``batch_size`` labeled + ``mu`` x
    ``batch_size`` unlabeled)."""
    if method not in SUPERVISED:
        return {}
    role = "ceiling" if n_per_class is None else "floor"
    return dict(PROTOCOL_FIT.get(profile, {}).get(role, {}).get(dataset, {}))


#: The protocol's methods by name. Their constructors' defaults plus :func:`recipe` are the
#: book's recipe; a run's ``options`` override them. ``supervised_strong`` is the floor trained
#: on strongly augmented labeled images (RandAugment and Cutout, FixMatch's strong view), so that
#: a method's gain is not credited to its augmentation (Oliver et al., 2018).
METHODS: dict[str, type[Method]] = {
    "supervised": Supervised, "supervised_strong": Supervised, "pseudo_label": PseudoLabel,
    "pi_model": PiModel, "mean_teacher": MeanTeacher, "mixmatch": MixMatch, "fixmatch": FixMatch,
    "simmatch": SimMatch,
}
#: the methods trained on labels only: the floor and the ceiling get :data:`PROTOCOL_FIT`'s budget
SUPERVISED = ("supervised", "supervised_strong")

#: what a constructor argument of this name receives: the dataset's weak or strong view
_VIEWS = {"weak": 0, "augment": 0, "strong": 1}
#: methods whose arguments receive another view than :data:`_VIEWS` says
_VIEW_OVERRIDES = {"supervised_strong": {"weak": 1}}


def recipe(method: str, steps: int) -> dict:
    """The protocol's settings of ``method`` beyond its constructor's defaults, for a run of
    ``steps`` steps (ramps are a share of the run). Every method sees the same images (mu = 3).

    * pseudo-labeling: weight 1 ramped up linearly over the first 40 % of the run, threshold 0.95
      (the reimplementations in google-research/fixmatch and USB);
    * Pi-model and Mean Teacher: w_max = 30 reached after 40 % of the run (Laine and Aila ramp
      over 80 of 300 epochs; for the Pi-model 30 beat 10 on the validation split of seeds 0 and
      1, chapter 2); the teacher's decay 0.99 (Tarvainen and Valpola's ramp-up phase), which
      beat 0.999 on the validation split of seeds 0 and 1 (chapter 3);
    * MixMatch: its paper's settings, the ramp-up of lambda_u over the first quarter of the run
      (the paper ramps over 16,384 of 1,048,576 steps; ours are a thousand times shorter).
    """
    ramp = int(0.4 * steps)
    return {
        "pseudo_label": {"alpha_f": 1.0, "t1": 0, "t2": ramp, "threshold": 0.95},
        "pi_model": {"w_max": 30.0, "rampup_steps": ramp},
        "mean_teacher": {"w_max": 30.0, "rampup_steps": ramp, "teacher_decay": 0.99},
        "mixmatch": {"rampup_steps": steps // 4},
    }.get(method, {})


def hyperparameters(method: str, options: dict | None = None, steps: int | None = None) -> dict:
    """Every plain (number, string, bool or ``None``) hyper-parameter of ``method``'s constructor,
    its default (or :func:`recipe`'s setting for a run of ``steps``, default: the ``book``
    profile's) updated with ``options``: the method part of a run's full configuration."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; allowed: {', '.join(METHODS)}")
    defaults = {name: p.default for name, p in inspect.signature(METHODS[method]).parameters.items()
                if p.default is not p.empty and isinstance(p.default, int | float | str | bool | None)}
    defaults.update(recipe(method, get_profile("book").steps if steps is None else steps))
    unknown = set(options or {}) - set(defaults)
    if unknown:
        raise ValueError(f"{method} has no hyper-parameter {', '.join(sorted(unknown))}; it has "
                         f"{', '.join(defaults)}")
    return {**defaults, **(options or {})}


@dataclass(frozen=True)
class Run:
    """One training run of the protocol, as a configuration.

    Attributes:
        method: a key of :data:`METHODS`.
        dataset: ``"mnist"`` (the book's 5,000-digit sample), ``"mnist_full"``,
            ``"fashion_mnist"`` or ``"cifar10"``; the profile may train on another
            (:attr:`data`: ``scale_up`` trains ``"mnist_full"`` for ``"mnist"``).
        n_per_class: labeled images per class; ``None`` for the all-labels ceiling.
        seed: the labeled set, the initialisation and the batch order.
        profile: the profile's name (an earlier name is replaced by the current one).
        options: the method's hyper-parameters to change from its defaults (a default passed
            here is the same run as the default itself).
        fit_options: ``fit`` arguments that differ from the profile's (``steps``, ``lr``, ...).
    """

    method: str
    dataset: str
    n_per_class: int | None = N_PER_CLASS
    seed: int = 0
    profile: str = "book"
    options: dict = field(default_factory=dict, hash=False)
    fit_options: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if self.n_per_class is not None and (not isinstance(self.n_per_class, int) or self.n_per_class < 1):
            raise ValueError(f"n_per_class must be None (all labels) or an int >= 1, got {self.n_per_class!r}")
        object.__setattr__(self, "profile", get_profile(self.profile).name)  # a clear error, or the current name
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        check_fit_options(self.fit_options)
        check_hyperparameters(self)  # an unknown method or option, or a value its method refuses

    @property
    def data(self) -> str:
        """The dataset the run trains and tests on (the profile's choice for :attr:`dataset`)."""
        return get_profile(self.profile).dataset(self.dataset)

    @property
    def label(self) -> str:
        """The method's name, plus the settings that differ from the protocol's: ``"fixmatch"``,
        ``"fixmatch[ema_decay=0.999]"``. Records carry it as ``method``, so a variant is never
        mistaken for the headline run; it is not part of the key, so a run stays the same run
        when a default changes and only its label follows."""
        defaults = hyperparameters(self.method, steps=self.steps)
        fit_defaults = self._fit_defaults()
        extra = {**{k: v for k, v in self.options.items() if defaults[k] != v},
                 **{k: v for k, v in self.fit_options.items() if fit_defaults.get(k) != v}}
        return self.method + ("[" + ",".join(f"{k}={v}" for k, v in sorted(extra.items())) + "]" if extra else "")

    def _fit_defaults(self) -> dict:
        """The ``fit`` options of the profile, with the protocol's budget for a floor or ceiling."""
        profile = get_profile(self.profile)
        return {"steps": profile.steps, "batch_size": profile.batch_size, "mu": profile.mu, "lr": profile.lr,
                "eval_every": profile.eval_every,
                **protocol_fit(self.method, self.data, self.n_per_class, self.profile)}

    def config(self, dataset: Dataset | None = None) -> dict:
        """The run's full configuration: what the store keys it by, the images included
        (:func:`~ssl_teach.data.data_id` of :attr:`data`, or of ``dataset`` when the run is
        given other images), so a record of other images is never read for it."""
        fit_options = {**self._fit_defaults(), **self.fit_options}
        images = data_id(self.data) if dataset is None else dataset_id(dataset)
        config = {**asdict(self), "hyperparameters": hyperparameters(self.method, self.options, self.steps),
                  "fit_options": fit_options, "val_per_class": self.val_per_class, "data": images}
        del config["options"]  # in "hyperparameters": a default passed as an option is the same run
        return config

    @property
    def val_per_class(self) -> int:
        return val_per_class(self.n_per_class)

    @property
    def steps(self) -> int:
        """The run's optimizer steps."""
        return self.fit_options.get("steps", self._fit_defaults()["steps"])


def val_per_class(n_per_class: int | None) -> int:
    """The validation images per class set aside: none for the ceiling, which uses every label."""
    return 0 if n_per_class is None else VAL_PER_CLASS


def floor_run(dataset: str, seed: int, profile: str = "book", n_per_class: int = N_PER_CLASS) -> Run:
    """The floor: supervised training on the labeled images only (budget: :data:`PROTOCOL_FIT`)."""
    return Run("supervised", dataset, n_per_class, seed, profile)


def ceiling_run(dataset: str, seed: int, profile: str = "book") -> Run:
    """The ceiling: supervised training on every label (budget: :data:`PROTOCOL_FIT`)."""
    return Run("supervised", dataset, None, seed, profile)


def protocol_data(dataset: Dataset, n_per_class: int | None, seed: int, profile: Profile | str | None = None,
                  device: str | None = None) -> SSLData:
    """The protocol's split of ``dataset`` for ``seed``: ``n_per_class`` labeled images per class
    and :data:`VAL_PER_CLASS` validation images per class, the rest unlabeled; ``n_per_class=None``
    (the ceiling) labels every training image and sets no validation image apart."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return make_ssl_data(dataset, n_per_class, n_val_per_class=val_per_class(n_per_class), seed=seed,
                         max_test=profile.max_test, device=device)


#: The ``fit`` options a run may change, and what each must be.
FIT_OPTIONS = {"steps": "an int >= 1", "batch_size": "an int >= 1", "mu": "an int >= 1",
               "eval_every": "an int >= 1", "lr": "a number > 0", "momentum": "a number in [0, 1)",
               "weight_decay": "a number >= 0"}


def check_fit_options(fit_options: dict) -> None:
    """Raise a clear ``ValueError`` for a ``fit`` option a run cannot have (:data:`FIT_OPTIONS`)."""
    for name, value in fit_options.items():
        if name not in FIT_OPTIONS:
            raise ValueError(f"fit_options has no {name!r}; allowed: {', '.join(FIT_OPTIONS)}")
        number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ok = number and {
            "lr": lambda v: v > 0, "momentum": lambda v: 0 <= v < 1, "weight_decay": lambda v: v >= 0,
        }.get(name, lambda v: isinstance(v, int) and v >= 1)(value)
        if not ok:
            raise ValueError(f"fit_options[{name!r}] must be {FIT_OPTIONS[name]}, got {value!r}")


class _Split:
    """A stand-in for the labeled part of a split: what :func:`build` reads of it."""

    def __init__(self, n_per_class: int | None, num_classes: int = 10) -> None:
        n = num_classes * (n_per_class or 1)
        self.labeled, self.labels = torch.arange(n), torch.arange(n) % num_classes


def check_hyperparameters(run: Run) -> None:
    """Raise the method's own ``ValueError`` when ``run``'s options are not a valid method (a
    threshold of 1.5, a negative weight): the method is built once with a fresh model, leaving
    every random number generator as it was."""
    hyperparameters(run.method, run.options, run.steps)  # unknown method or option names
    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            build(run, _Split(run.n_per_class))  # type: ignore[arg-type]
        except ValueError as error:
            raise ValueError(f"Run({run.method!r}, options={run.options!r}): {error}") from None
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])


def build(run: Run, data: SSLData, weak: Augmentation | None = None, strong: Augmentation | None = None) -> Method:
    """The method of ``run`` with a fresh model of its dataset and profile; SimMatch gets the
    projection head and its memory bank's labeled images from ``data``."""
    if weak is None or strong is None:
        weak, strong = for_dataset(run.data)
    set_seed(run.seed)
    cls = METHODS[run.method]
    parameters = inspect.signature(cls).parameters
    view_of = {**_VIEWS, **_VIEW_OVERRIDES.get(run.method, {})}
    arguments = {name: (weak, strong)[i] for name, i in view_of.items() if name in parameters}
    model = build_model(run.data, run.profile)
    if cls is SimMatch:
        model = ClassifierWithProjection(model)
        arguments.update(labeled_index=data.labeled, labeled_labels=data.labels[data.labeled])
    return cls(model, **arguments, **hyperparameters(run.method, run.options, run.steps))


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
    data = protocol_data(dataset, run.n_per_class, run.seed, run.profile)
    method = build(run, data)
    labels = "all" if run.n_per_class is None else run.n_per_class
    # a method with an EMA model is evaluated with it; its raw weights are recorded too (raw_acc)
    raw = {"raw": lambda: method.model} if method.ema is not None else None
    start = time.perf_counter()
    history = fit(method, data, run.profile, seed=run.seed, progress=progress, extra_eval=raw,
                  desc=f"{run.method} {run.dataset} {labels}/class seed {run.seed}", **config["fit_options"])
    record = store.save(config, history.to_dict(), time.perf_counter() - start, label=run.label,
                        data_source=dataset.source)
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


def stored(run: Run, store: Store | None = None, dataset: Dataset | None = None) -> dict | None:
    """The store's record of ``run``, or ``None`` when it has none: unlike :func:`result`, it
    never trains. A chapter trains its own headline with :func:`result` and reads every other
    run (other methods, other datasets, ablations, sweeps) with this, so that it executes in
    minutes; ``make experiments`` trains them all (:func:`book_runs`). The ``smoke`` profile and
    ``$SSL_TEACH_RETRAIN=1`` train anyway, as :func:`result` does."""
    if _always_trained(run):
        return result(run, store, progress=False, dataset=dataset)
    return _read(run, store or Store(), dataset)


def converged(history: History, metric: str = "test_acc", points: float = 0.5) -> bool:
    """Whether ``metric`` is flat over the last quarter of the run: its evaluations there (at
    least two) stay within ``points`` percentage points of each other."""
    steps, values = history.eval["step"], history.eval[metric]
    tail = [v for s, v in zip(steps, values) if s >= 0.75 * steps[-1]]
    if len(tail) < 2:
        raise ValueError(f"the last quarter of the run has {len(tail)} evaluation(s) of {metric}; "
                         "evaluate more often (eval_every) to judge convergence")
    return 100 * (max(tail) - min(tail)) <= points


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
        tie: whether ``|gain| <= 2 gain_std``, a difference within the noise of the seeds.
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

    def share_interval(self, ceiling_accs: Sequence[float]) -> Share:
        """The share of the gap with a bootstrap interval over the seeds, given the ceiling's
        per-seed accuracies (paired with :attr:`accs` seed by seed)."""
        return gap_share(self.accs, self.floor_accs, ceiling_accs)

    def __str__(self) -> str:
        verdict = "a tie with the floor" if self.tie else ("above" if self.gain > 0 else "below") + " the floor"
        return (f"{self.mean:.1f} ± {self.std:.1f} % over {len(self.accs)} seeds; {self.gain:+.1f} ± "
                f"{self.gain_std:.1f} points against the floor ({verdict}), {self.share:.0f} % of the gap to "
                f"the ceiling ({self.ceiling:.1f} %) closed")


def headline(method_runs: Sequence[dict], floor_runs: Sequence[dict], ceiling_runs: Sequence[dict]) -> Headline:
    """The :class:`Headline` of records of a method, the floor and the ceiling (paired by seed)."""
    floor = {r["seed"]: r for r in floor_runs}
    missing = [r["seed"] for r in method_runs if r["seed"] not in floor]
    if missing:
        raise ValueError(f"no floor run for seeds {missing}: a headline pairs every seed with its floor")
    return Headline([100 * r["test_acc"] for r in method_runs],
                    [100 * floor[r["seed"]]["test_acc"] for r in method_runs],
                    statistics.mean(100 * r["test_acc"] for r in ceiling_runs))


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


def recipe_study(profile: str = "book") -> list[Run]:
    """The runs behind the short-run recipe, compared on the validation split (seeds 0 and 1):
    the floor with and without the papers' EMA of decay 0.999; FixMatch for 2,000 steps without
    the EMA at the paper's threshold 0.95, then one change at a time (the EMA; threshold 0.9);
    then, with the settings that won, 2,700 steps (about 3 minutes). The settings are spelled
    out, so the runs stay the same whatever the defaults become. Chapter 0 shows them."""
    runs = []
    for seed in (0, 1):
        runs += [Run("supervised", "mnist", N_PER_CLASS, seed, profile, options={"ema_decay": decay})
                 for decay in (0.999, None)]
        runs += [Run("fixmatch", "mnist", N_PER_CLASS, seed, profile, options={"ema_decay": decay, "threshold": tau},
                     fit_options={"steps": steps})
                 for decay, tau, steps in ((None, 0.95, 2000), (0.999, 0.95, 2000), (None, 0.9, 2000),
                                           (0.999, 0.95, 2700))]
    return runs


#: The validation seeds of a choice between settings (the headline's seeds are the profile's).
VALIDATION_SEEDS = (0, 1)
#: Every method of chapters 1 to 6 and its headline datasets (the floor on strong views too).
BOOK_HEADLINES = {"mnist": ("supervised_strong", "pseudo_label", "pi_model", "mean_teacher", "mixmatch",
                            "fixmatch", "simmatch"),
                  "fashion_mnist": ("supervised_strong", "mixmatch", "fixmatch", "simmatch")}
#: The variants the chapters read, as (method, dataset, options, fit_options, seeds); ``None``
#: seeds are the profile's. Chapter by chapter: pseudo-labeling's tiny weight (1); the Pi-model's
#: w_max and its ramp-up (2); Mean Teacher's decay (3); MixMatch's BatchNorm mode (4); FixMatch's
#: threshold (5) and its run at the capstone's budget (the assignments); SimMatch without its
#: instance loss (6).
BOOK_VARIANTS: tuple[tuple[str, str, dict, dict, tuple[int, ...] | None], ...] = (
    ("pseudo_label", "mnist", {"alpha_f": 1e-4}, {}, (0,)),
    ("pi_model", "mnist", {"w_max": 10.0}, {}, VALIDATION_SEEDS),
    ("pi_model", "mnist", {"rampup_steps": 0}, {}, (0,)),
    ("mean_teacher", "mnist", {"teacher_decay": 0.999}, {}, VALIDATION_SEEDS),
    ("mixmatch", "mnist", {"bn_mode": "separate"}, {}, None),
    ("fixmatch", "mnist", {"threshold": 0.8}, {}, VALIDATION_SEEDS),
    ("fixmatch", "mnist", {"threshold": 0.99}, {}, VALIDATION_SEEDS),
    ("fixmatch", "fashion_mnist", {}, {"steps": 1000}, None),
    ("simmatch", "mnist", {"use_instance": False}, {}, None),
)


def book_runs(profile: str = "book") -> list[Run]:
    """Every run the chapters read: the floors and ceilings, each chapter's headline on its
    datasets and the variants of :data:`BOOK_VARIANTS` (``make experiments``; chapter 0's
    recipe runs are :func:`recipe_study`)."""
    seeds = get_profile(profile).seeds
    runs = [make(dataset, s, profile) for make in (floor_run, ceiling_run) for dataset in BOOK_HEADLINES
            for s in seeds]
    runs += [Run(m, dataset, N_PER_CLASS, s, profile) for dataset, methods in BOOK_HEADLINES.items()
             for m in methods for s in seeds]
    runs += [Run(m, dataset, N_PER_CLASS, s, profile, dict(options), dict(fit_options))
             for m, dataset, options, fit_options, variant_seeds in BOOK_VARIANTS
             for s in (seeds if variant_seeds is None else [s for s in variant_seeds if s in seeds])]
    return runs


#: The label budgets of the label-budget chapter (labeled images per class), in the order the
#: grid fills them: the small budgets first, where methods separate in the papers' tables.
GRID_BUDGETS = (4, 1, 25, 10)
#: The methods of the label-budget grid: the floor, the floor on strong views, every method.
GRID_METHODS = ("fixmatch", "supervised", "supervised_strong", "mixmatch", "simmatch", "mean_teacher",
                "pi_model", "pseudo_label")


def grid_runs(profile: str = "book") -> list[Run]:
    """Every run of the label-budget grid: each of :data:`GRID_METHODS` on MNIST and Fashion-MNIST
    at each of :data:`GRID_BUDGETS` labels per class over the profile's seeds, with the recipes of
    the chapters (the 10-per-class runs are the chapters' own), then the ceilings. Ordered so
    that an interrupted grid has finished whole comparisons: budget, dataset, method, seed."""
    seeds = get_profile(profile).seeds
    runs = [Run(m, dataset, n, s, profile) for n in GRID_BUDGETS for dataset in BOOK_HEADLINES
            for m in GRID_METHODS for s in seeds]
    return runs + [ceiling_run(dataset, s, profile) for dataset in BOOK_HEADLINES for s in seeds]


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
    parser.add_argument("--force", action="store_true", help="retrain runs the store already has")
    args = parser.parse_args(argv)
    if args.grid:
        fill(grid_runs(args.profile), force=args.force)
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
