"""Pre-trained encoders in the results store: SelfMatch's first stage as a run of its own.

A SelfMatch run (:class:`~ssl_teach.methods.selfmatch.SelfMatch`) names its pre-training run
through its ``pretrain_*`` hyper-parameters, which are part of its configuration and so of its
store key. :func:`pretraining_run` turns them into that run: ``Run("simclr", dataset,
PRETRAIN_N_PER_CLASS, seed, profile, options=<the SimCLR settings>, fit_options={"steps":
pretrain_steps, "lr": pretrain_lr})``, keyed by the store like every other run (its record holds the pre-training
curves: the contrastive loss and the nearest-class-mean accuracy of the frozen features). Its
encoder is stored beside its record, ``<record name>.encoder.pth`` (:func:`encoder_path`,
read with ``weights_only=True``), so a reader can skip pre-training.

* **The labeled set does not enter pre-training**: the loss reads only the unlabeled pool, and
  for a seed the pool (every training image outside the validation split, labeled ones
  included) is the same at every label budget, so one pre-training run per seed serves
  SelfMatch at 1, 4 and 10 labels per class. It is filed under :data:`PRETRAIN_N_PER_CLASS`
  labels per class, which only its evaluation readout uses (``tests/test_selfmatch.py``
  checks that the encoder is the same for another labeled set).
* **The compute is counted**: the SelfMatch record carries ``pretraining`` (the pre-training
  run's key, steps, seconds and probe accuracy), so a chapter can compare SelfMatch with
  FixMatch at equal total steps and seconds.

:func:`prepare` and :func:`keep` are the two hooks :func:`ssl_teach.experiments.result` calls
around ``fit``. Importing this module also adds ``simclr`` and ``selfmatch`` to the protocol's
methods (:data:`ssl_teach.protocol.METHODS`); ``ssl_teach.experiments`` imports it. Explained
in chapter 7.
"""

from __future__ import annotations

from pathlib import Path

from ssl_teach.checkpoint import load_checkpoint, save_checkpoint
from ssl_teach.data import Dataset
from ssl_teach.methods.base import Method
from ssl_teach.methods.selfmatch import SelfMatch
from ssl_teach.methods.simclr import SimCLR
from ssl_teach.protocol import METHODS, N_PER_CLASS, Run, hyperparameters
from ssl_teach.store import Store

#: the labeled set a pre-training run is filed under (only its evaluation readout uses it)
PRETRAIN_N_PER_CLASS = N_PER_CLASS
#: SelfMatch's hyper-parameter -> the SimCLR option it sets
_SIMCLR_OPTIONS = {"pretrain_temperature": "temperature", "pretrain_projection_dim": "projection_dim",
                   "pretrain_min_scale": "min_scale", "pretrain_hflip": "hflip"}


def pretraining_run(run: Run) -> Run:
    """The SimCLR run whose encoder the SelfMatch ``run`` starts from: same dataset, seed,
    profile and unlabeled pool; SimCLR settings, length and learning rate from ``run``'s
    ``pretrain_*``."""
    if not issubclass(METHODS.get(run.method, object), SelfMatch):
        raise ValueError(f"only a SelfMatch run has a pre-training run, got {run.method!r}")
    settings = hyperparameters(run.method, run.options, run.steps)
    return Run("simclr", run.dataset, PRETRAIN_N_PER_CLASS, run.seed, run.profile,
               options={option: settings[name] for name, option in _SIMCLR_OPTIONS.items()},
               fit_options={"steps": settings["pretrain_steps"],
                            **({"lr": settings["pretrain_lr"]} if settings["pretrain_lr"] is not None else {})},
               unlabeled_fraction=run.unlabeled_fraction)


def encoder_path(store: Store, config: dict, root: Path | None = None) -> Path:
    """Where the encoder of the pre-training run ``config`` is stored: beside its record."""
    record = store.path(config, root)
    return record.with_name(record.stem + ".encoder.pth")


def save_encoder(store: Store, config: dict, method: SimCLR, record: dict) -> Path:
    """Write ``method``'s pre-trained encoder (and head) beside the record of its run, atomically."""
    return save_checkpoint({"key": record["key"], "config": config, "steps": record["steps"],
                            "seconds": record["seconds"], "encoder": method.encoder_state(),
                            "head": method.model.head.state_dict()}, encoder_path(store, config))


def load_encoder(store: Store, config: dict) -> dict | None:
    """The stored encoder of the pre-training run ``config`` (the reader's own store first, then
    the shipped one), or ``None``."""
    for root in (store.root, store.shipped):
        if root is not None and encoder_path(store, config, root).exists():
            return load_checkpoint(encoder_path(store, config, root))
    return None


def pretrained_encoder(run: Run, store: Store | None = None, dataset: Dataset | None = None,
                       progress: bool = True) -> tuple[dict, dict]:
    """``(encoder, record)`` of the SelfMatch ``run``'s pre-training run, from the store; the run
    is trained first (and its encoder stored) when missing."""
    from ssl_teach.experiments import result  # the store's runner (it imports this module)

    store = store or Store()
    pre = pretraining_run(run)
    record = result(pre, store, progress=progress, dataset=dataset)
    saved = load_encoder(store, pre.config(dataset))
    if saved is None:  # a record without its encoder (stored before encoders were): train it again
        record = result(pre, store, force=True, progress=progress, dataset=dataset)
        saved = load_encoder(store, pre.config(dataset))
    return saved["encoder"], record


def prepare(run: Run, method: Method, store: Store, dataset: Dataset | None = None, progress: bool = True) -> None:
    """Before ``fit``: a SelfMatch method starts from its pre-training run's encoder."""
    if not isinstance(method, SelfMatch):
        return
    encoder, record = pretrained_encoder(run, store, dataset, progress)
    method.start_from(encoder, {"key": record["key"], "method": record["method"], "steps": record["steps"],
                                "seconds": record["seconds"], "test_acc": record["test_acc"]})


def keep(method: Method, store: Store, config: dict, record: dict) -> None:
    """After ``fit`` and ``store.save``: a SimCLR run's encoder is stored beside its record; a
    SelfMatch record names its pre-training run (``record["pretraining"]``)."""
    if isinstance(method, SimCLR):
        save_encoder(store, config, method, record)
    elif isinstance(method, SelfMatch) and method.encoder_source is not None:
        record["pretraining"] = dict(method.encoder_source)
        store._write(store.path(config), record)

