"""The results store: one JSON file per training run, keyed by its full configuration.

A chapter that needs a run first looks for it here and trains only what is missing, so the
floors and ceilings of chapter 0 are computed once and reused by every chapter, and a reader
can reuse the book's runs instead of retraining (the UvA deep learning notebooks do the same
with their stored results). A record holds the run's configuration and key, the results
epoch and package version it was trained with, the images it was trained on, when, on what
machine and how long it ran, its final accuracies and its whole :class:`~ssl_teach.train.History`:

    {"key": "3f0c...", "method": "fixmatch", "dataset": "mnist", "n_per_class": 10, "seed": 0,
     "profile": "book", "steps": 2700, "seconds": 171.2, "test_acc": 0.981, "val_acc": 0.978,
     "config": {..., "data": "mnist:4000+1000:dc64dc5e3307e08d"}, "epoch": 1, "version": "0.1.0",
     "data_source": "...", "when": "2026-12-01T08:02:11Z", "machine": {...}, "history": {...}}

``n_per_class`` is ``null`` for the all-labels ceiling. The key is a hash of the configuration,
which names the images (:func:`ssl_teach.data.data_id`), and of :data:`RESULTS_EPOCH`, which
changes only when training behaviour changes (``tests/test_results_epoch.py`` fails when a
fixed-seed short run changes without a new epoch); a release of the package keeps the store.

Two folders are read. The book's records ship inside the package (:func:`shipped_root`,
``ssl_teach/results/`` of the repository), so an installed package, on Colab too, reads them;
new records go to the reader's own store (:func:`default_store`), never over a shipped one.
In a checkout the two are the same folder: the authors' runs are the book's. Files are
written atomically; a damaged one is reported with its path. Explained in chapter 0.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from pathlib import Path

import torch

import ssl_teach
from ssl_teach.checkpoint import atomic_write

RESULTS_ENV = "SSL_TEACH_RESULTS"
#: Changes only when a change of the training code changes what a run computes (its losses,
#: its accuracies): the records of an earlier epoch are then no longer read. A test pins it to
#: a fixed-seed short run of every method (``tests/test_results_epoch.py``).
RESULTS_EPOCH = 1
#: The fields every record has (a file without them is damaged).
RECORD_FIELDS = ("key", "method", "dataset", "n_per_class", "seed", "profile", "test_acc", "config", "history")


class DamagedRecordError(ValueError):
    """A record file that cannot be read: its path, what is wrong and what to do."""


def shipped_root() -> Path:
    """The book's committed records, installed with the package (``ssl_teach/results/``)."""
    return Path(ssl_teach.__file__).resolve().parent / "results"


def in_checkout() -> bool:
    """Whether the package runs from the book's repository (an author's checkout)."""
    checkout = Path(ssl_teach.__file__).resolve().parent.parent
    return (checkout / "pyproject.toml").exists() and (checkout / "chapters").is_dir()


def default_store() -> Path:
    """Where new records are written: ``$SSL_TEACH_RESULTS``, else the shipped folder in a
    checkout (the authors commit their runs), else the reader's ``~/.cache/ssl_teach/results``."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser()
    if in_checkout():
        return shipped_root()
    return Path("~/.cache/ssl_teach/results").expanduser()


def run_key(config: dict) -> str:
    """A short hash of ``config`` (canonical JSON) and :data:`RESULTS_EPOCH`: the record's key."""
    text = json.dumps({"config": config, "epoch": RESULTS_EPOCH}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What a run ran on: processor, cores, torch threads, device, Python and torch versions (the
    same run on another processor can end a few test images apart: floating-point order)."""
    cuda = torch.cuda.is_available()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_model": _cpu_model(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "python": platform.python_version(), "torch": torch.__version__}


def read_record(path: Path) -> dict:
    """The record in ``path``; a :class:`DamagedRecordError` naming the file when it is not one."""
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DamagedRecordError(
            f"the results store's record {path} is damaged ({type(error).__name__}: {error}); it was "
            "probably cut short outside ssl_teach's atomic writes. Delete it: the next run that needs "
            "it (or `make experiments`) trains it again") from error
    missing = [f for f in RECORD_FIELDS if not isinstance(record, dict) or f not in record]
    if missing:
        raise DamagedRecordError(f"the results store's record {path} lacks {', '.join(missing)}: it is not a "
                                 "run record. Delete it or move it out of the store")
    return record


class Store:
    """A folder of run records (default :func:`default_store`), read together with the book's
    shipped records (``shipped``; by default :func:`shipped_root` when ``root`` is not given)."""

    def __init__(self, root: str | Path | None = None, shipped: str | Path | None = None) -> None:
        if root is None:
            root, shipped = default_store(), shipped_root() if shipped is None else shipped
        self.root = Path(root).expanduser()
        shipped = Path(shipped).expanduser() if shipped is not None else None
        same = shipped is not None and shipped.resolve() == self.root.resolve()
        self.shipped = None if same else shipped

    def path(self, config: dict, root: Path | None = None) -> Path:
        """Where the record of ``config`` is written (under ``root``, default the store's own)."""
        npc = config["n_per_class"]
        name = f"{config['method']}_{'all' if npc is None else npc}_seed{config['seed']}_{run_key(config)}.json"
        return (root or self.root) / config["profile"] / config["dataset"] / name

    def load(self, config: dict, label: str | None = None) -> dict | None:
        """The record of the run ``config`` describes (the reader's own first, then the shipped
        one), or ``None`` when there is none. With ``label`` (the record's ``method``, e.g.
        ``"fixmatch[threshold=0.9]"``), a record filed under another label, because the method's
        defaults changed since, is relabelled (on disk only in the store's own folder)."""
        for root in (self.root, self.shipped):
            path = self.path(config, root) if root is not None else None
            if path is None or not path.exists():
                continue
            record = read_record(path)
            if label is not None and record["method"] != label:
                record["method"] = label
                if root == self.root:
                    self._write(path, record)
            return record
        return None

    def save(self, config: dict, history: dict, seconds: float, label: str | None = None,
             data_source: str | None = None) -> dict:
        """Write the record of a finished run atomically into the store's own folder and return
        it. ``label`` names the run in the record's ``method`` (default ``config["method"]``); it
        is not part of the key. ``data_source`` says which copy of the images was read."""
        evals = history["eval"]
        record = {
            "key": run_key(config), "method": label or config["method"], "dataset": config["dataset"],
            "n_per_class": config["n_per_class"], "seed": config["seed"], "profile": config["profile"],
            "steps": int(evals["step"][-1]), "seconds": round(float(seconds), 2),
            "test_acc": evals["test_acc"][-1], "val_acc": (evals.get("val_acc") or [None])[-1],
            "config": config, "epoch": RESULTS_EPOCH, "version": ssl_teach.__version__,
            "data_source": data_source,
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine(), "history": history,
        }
        self._write(self.path(config), record)
        return record

    @staticmethod
    def _write(path: Path, record: dict) -> None:
        text = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"  # fails before any file exists
        atomic_write(path, lambda f: f.write(text.encode()))

    def records(self) -> list[dict]:
        """Every record of the store's own folder, then the shipped ones it does not have (for
        listings such as the status page)."""
        seen, out = set(), []
        for root in (self.root, self.shipped):
            if root is None or not root.is_dir():
                continue
            # records sit at <profile>/<dataset>/<run>.json; other files (the model table) are not runs
            for path in sorted(root.glob("*/*/*.json")):
                if path.name.startswith(".") or path.relative_to(root) in seen:
                    continue
                seen.add(path.relative_to(root))
                out.append(read_record(path))
        return out
