"""The book's protocol, as a configuration: one run of a method on one labeled set.

Every chapter compares a method with the same two references:

* the **floor**: ``supervised`` on the labeled images only (10 per class), seeds 0, 1, 2;
* the **ceiling**: ``supervised`` with every training label outside the validation split
  (``n_per_class=None``), trained until its validation curve is flat, seeds 0, 1, 2.

For each dataset and seed :func:`protocol_data` draws the labeled set (10 per class) and a
validation split (:data:`VAL_PER_CLASS` labeled images per class, never trained on) from one
random order per class; every choice of a hyper-parameter is made on the validation splits
(seeds 0 and 1 for the recipe of chapter 0), never on the test set, and so are the floor's and
the ceiling's budgets (:func:`~ssl_teach.book_runs.budget_study`). A :class:`Run` names one
training run (method, dataset, labels per class, seed, profile, settings), checks it at once
and gives the configuration the results store keys it by; :func:`build` makes its method.
Running it through the store is :mod:`ssl_teach.experiments`; its statistics are
:mod:`ssl_teach.headline`. Explained in chapter 0.
"""

from __future__ import annotations

import inspect
import math
import random
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ssl_teach.augment import Augmentation, for_dataset
from ssl_teach.config import Profile, get_profile, set_seed
from ssl_teach.data import (
    DATASETS,
    SERIES,
    SERIES_DATASETS,
    Dataset,
    SSLData,
    data_id,
    dataset_id,
    make_ssl_data,
    num_classes_of,
)
from ssl_teach.methods import (
    FixMatch,
    MeanTeacher,
    Method,
    MixMatch,
    MixMatchWithoutMixUp,
    PiModel,
    PseudoLabel,
    SelfMatch,
    SimCLR,
    SimMatch,
    SimMatchConstantEMA,
    Supervised,
    SupervisedPoolStatistics,
)
from ssl_teach.models import ClassifierWithProjection, build_model
from ssl_teach.series_augment import STRONG_KINDS, for_series

SEEDS = (0, 1, 2)
#: Labeled images per class in every chapter's headline.
N_PER_CLASS = 10
#: Validation images per class, set aside in every split (the ceiling's too: it labels every other image).
VAL_PER_CLASS = 50

#: How the floor and the ceiling are trained, per profile and dataset: in the ``book`` profile the
#: candidate of :data:`~ssl_teach.book_runs.BUDGET_CANDIDATES` with the best mean validation
#: accuracy among those whose validation curves are flat (:func:`~ssl_teach.book_runs.budget_study`,
#: seeds 0 and 1; the appendix on the protocol shows it); a test checks the two agree.
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


#: The budget of every run on a series dataset (floor, ceiling and methods alike), per profile:
#: the series are tiny and their pools small (325 to 596 series in the unlabeled stream), so a FixMatch
#: run of 1,000 steps (192 unlabeled series a step) sees each of them 300 to 600 times.
SERIES_FIT: dict[str, dict] = {
    "book": {"steps": 1000, "eval_every": 100},
    "smoke": {"steps": 30, "eval_every": 15},
    "scale_up": {"steps": 1000, "eval_every": 100},
}


#: SelfMatch's share of the profile's steps spent pre-training (SimCLR), the rest fine-tuning
#: (FixMatch): a SelfMatch run of the protocol costs the steps of one FixMatch run, pre-training
#: counted (chapter 7 sweeps the share).
PRETRAIN_SHARE = 1 / 3
#: The learning rate of SelfMatch's pre-training (the loop's SGD, cosine): the best mean validation
#: accuracy of the frozen features' nearest class mean (10 labels per class, seeds 0 and 1, 900
#: steps on MNIST) among 0.03 (the profile's), 0.1, 0.3 and 1.0 at t = 0.5, and 0.1 and 0.3 at
#: t = 0.2 (chapter 7 prints the comparison); SimCLR's own CIFAR-10 command also uses 1.0 (with LARS).
PRETRAIN_LR = 1.0


def pretraining_steps(steps: int) -> int:
    """The pre-training steps :func:`recipe` gives a SelfMatch run whose fine-tuning lasts
    ``steps``: ``PRETRAIN_SHARE / (1 - PRETRAIN_SHARE)`` of them (half, at a share of 1/3), so
    that pre-training plus fine-tuning are the profile's steps. That holds exactly for every
    profile's step count (a multiple of 3, tested); a total that is not can get one step more
    (1,000: 667 fine-tuning, 334 pre-training), since the fine-tuning steps alone do not
    say which total they came from."""
    return max(1, round(steps * PRETRAIN_SHARE / (1 - PRETRAIN_SHARE)))


def protocol_fit(method: str, dataset: str, n_per_class: int | None, profile: str) -> dict:
    """The ``fit`` options the protocol gives a run: the floor's or the ceiling's budget for
    ``supervised`` (and ``supervised_strong``); for ``selfmatch`` the fine-tuning's share of the
    profile's steps (:data:`PRETRAIN_SHARE`: pre-training counted, it costs the steps of one
    FixMatch run); nothing beyond the profile's for every other method: each sees the same images,
    ``steps`` x (``batch_size`` labeled + ``mu`` x ``batch_size`` unlabeled). Every run on a series
    dataset gets :data:`SERIES_FIT`."""
    if dataset in SERIES:
        return dict(SERIES_FIT.get(profile, {}))
    if method == "selfmatch":
        steps = get_profile(profile).steps
        return {"steps": steps - round(steps * PRETRAIN_SHARE)}
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
    # the floor evaluated with BatchNorm statistics from the unlabeled pool (the credit splits)
    "supervised_bn_pool": SupervisedPoolStatistics,
    # the isolating ablations of chapters 4 and 5: MixMatch without its MixUp step; FixMatch whose
    # pseudo-labels and training both use the weak view (weak/weak)
    "mixmatch_without_mixup": MixMatchWithoutMixUp, "fixmatch_weak_weak": FixMatch,
    # SimMatch with the official code's constant EMA momentum, without the book's warm-up
    "simmatch_constant_ema": SimMatchConstantEMA,
    # SimCLR pre-training on the unlabeled images, and FixMatch started from its encoder (SelfMatch;
    # ssl_teach.pretraining stores the encoder and hands it over)
    "simclr": SimCLR, "selfmatch": SelfMatch,
}
#: the methods trained on labels only: the floor and the ceiling get :data:`PROTOCOL_FIT`'s budget
SUPERVISED = ("supervised", "supervised_strong", "supervised_bn_pool")

#: what a constructor argument of this name receives: the dataset's weak or strong view
_VIEWS = {"weak": 0, "augment": 0, "strong": 1}
#: methods whose arguments receive another view than :data:`_VIEWS` says
_VIEW_OVERRIDES = {"supervised_strong": {"weak": 1}, "fixmatch_weak_weak": {"strong": 0}}


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
      (the paper ramps over 16,384 of 1,048,576 steps; ours are a thousand times shorter);
    * SelfMatch: pre-training half as long as the fine-tuning of ``steps``
      (:func:`pretraining_steps`), a third of the profile's steps at equal compute, at the
      learning rate :data:`PRETRAIN_LR`.
    """
    ramp = int(0.4 * steps)
    return {
        "pseudo_label": {"alpha_f": 1.0, "t1": 0, "t2": ramp, "threshold": 0.95},
        "pi_model": {"w_max": 30.0, "rampup_steps": ramp},
        "mean_teacher": {"w_max": 30.0, "rampup_steps": ramp, "teacher_decay": 0.99},
        "mixmatch": {"rampup_steps": steps // 4},
        "mixmatch_without_mixup": {"rampup_steps": steps // 4},
        "selfmatch": {"pretrain_steps": pretraining_steps(steps), "pretrain_lr": PRETRAIN_LR},
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
        unlabeled_fraction: the share of the unlabeled pool the run may use (1: all of it; the
            label-budget chapter's pool study uses 0.1 and 0.3; :func:`protocol_data`).
        strong: for a series dataset only, the strong view to use instead of the protocol's
            (one of :data:`~ssl_teach.series_augment.STRONG_KINDS`; ``None``: the protocol's). A
            series run's configuration always names both its views (:func:`views`).
    """

    method: str
    dataset: str
    n_per_class: int | None = N_PER_CLASS
    seed: int = 0
    profile: str = "book"
    options: dict = field(default_factory=dict, hash=False)
    fit_options: dict = field(default_factory=dict, hash=False)
    unlabeled_fraction: float = 1.0
    strong: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if self.n_per_class is not None and (not isinstance(self.n_per_class, int) or self.n_per_class < 1):
            raise ValueError(f"n_per_class must be None (all labels) or an int >= 1, got {self.n_per_class!r}")
        object.__setattr__(self, "profile", get_profile(self.profile).name)  # a clear error, or the current name
        if self.dataset not in DATASETS and self.dataset not in SERIES:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS + SERIES_DATASETS)}, got {self.dataset!r}")
        if self.strong is not None and (self.dataset not in SERIES or self.strong not in STRONG_KINDS):
            raise ValueError(f"strong must be None, or for a series dataset ({', '.join(SERIES_DATASETS)}) one of "
                             f"{', '.join(STRONG_KINDS)}; got strong={self.strong!r} for {self.dataset!r}")
        fraction = self.unlabeled_fraction
        if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not 0 < fraction <= 1:
            raise ValueError(f"unlabeled_fraction must be a number in (0, 1], got {fraction!r}")
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
        if self.unlabeled_fraction != 1:
            extra["unlabeled"] = self.unlabeled_fraction
        if self.strong is not None:
            extra["strong"] = self.strong
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
        if self.unlabeled_fraction == 1:
            del config["unlabeled_fraction"]  # the whole pool: the same run as before the option existed
        del config["strong"]  # an image run's key stays what it was; a series run names its views
        if self.data in SERIES:
            config["views"] = [repr(view) for view in views(self)]
        return config

    @property
    def val_per_class(self) -> int:
        return val_per_class(self.n_per_class, self.data)

    @property
    def steps(self) -> int:
        """The run's optimizer steps."""
        return self.fit_options.get("steps", self._fit_defaults()["steps"])


def val_per_class(n_per_class: int | None, dataset: str | None = None) -> int:
    """The validation images per class set aside: :data:`VAL_PER_CLASS` at every label budget,
    the ceiling's included, so that its budget too is chosen on validation; a series dataset's
    own :attr:`~ssl_teach.data.SeriesInfo.val_per_class` (JapaneseVowels has 54 series in its
    smallest class)."""
    if dataset in SERIES:
        return SERIES[dataset].val_per_class
    return VAL_PER_CLASS


def floor_run(dataset: str, seed: int, profile: str = "book", n_per_class: int = N_PER_CLASS) -> Run:
    """The floor: supervised training on the labeled images only (budget: :data:`PROTOCOL_FIT`)."""
    return Run("supervised", dataset, n_per_class, seed, profile)


def ceiling_run(dataset: str, seed: int, profile: str = "book") -> Run:
    """The ceiling: supervised training on every label outside the validation split (budget:
    :data:`PROTOCOL_FIT`)."""
    return Run("supervised", dataset, None, seed, profile)


def protocol_data(dataset: Dataset, n_per_class: int | None, seed: int, profile: Profile | str | None = None,
                  device: str | None = None, unlabeled_fraction: float = 1.0) -> SSLData:
    """The protocol's split of ``dataset`` for ``seed``: ``n_per_class`` labeled images per class
    and :data:`VAL_PER_CLASS` validation images per class, the rest unlabeled (``unlabeled_fraction``
    of it: a random subset fixed by ``seed``, nested, so 10 % is inside 30 %); ``n_per_class=None``
    (the ceiling) labels every training image outside the validation split."""
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    return make_ssl_data(dataset, n_per_class, n_val_per_class=val_per_class(n_per_class, dataset.name), seed=seed,
                         max_test=profile.max_test, device=device, unlabeled_fraction=unlabeled_fraction)


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
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):  # building seeds the generators: restore them
        try:
            build(run, _Split(run.n_per_class, num_classes_of(run.data)))  # type: ignore[arg-type]
        except ValueError as error:
            raise ValueError(f"Run({run.method!r}, options={run.options!r}): {error}") from None
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])


def views(run: Run) -> tuple[Augmentation, Augmentation]:
    """The (weak, strong) augmentations of ``run``: :func:`~ssl_teach.augment.for_dataset` of an
    image dataset, :func:`~ssl_teach.series_augment.for_series` of a series dataset (with the
    run's ``strong`` view where it names one)."""
    if run.data in SERIES:
        return for_series(run.data, run.strong)
    return for_dataset(run.data)


def build(run: Run, data: SSLData, weak: Augmentation | None = None, strong: Augmentation | None = None) -> Method:
    """The method of ``run`` with a fresh model of its dataset and profile; SimMatch gets the
    projection head and its memory bank's labeled images from ``data``."""
    if weak is None or strong is None:
        weak, strong = views(run)
    set_seed(run.seed)
    cls = METHODS[run.method]
    parameters = inspect.signature(cls).parameters
    view_of = {**_VIEWS, **_VIEW_OVERRIDES.get(run.method, {})}
    arguments = {name: (weak, strong)[i] for name, i in view_of.items() if name in parameters}
    model = build_model(run.data, run.profile)
    if issubclass(cls, SimMatch):
        model = ClassifierWithProjection(model)
        arguments.update(labeled_index=data.labeled, labeled_labels=data.labels[data.labeled])
    return cls(model, **arguments, **hyperparameters(run.method, run.options, run.steps))

