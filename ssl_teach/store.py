"""The results store: one JSON file per training run, keyed by its full configuration.

A chapter that needs a run first looks for it here and trains only what is missing, so the
floors and ceilings of chapter 0 are computed once and reused by every chapter, and a reader
can reuse the book's runs instead of retraining (the UvA deep learning notebooks do the same
with their stored results). A record holds the run's configuration and key, the package
version, when, on what machine and how long it ran, its final accuracies and its whole
:class:`~ssl_teach.train.History`:

    {"key": "3f0c...", "method": "fixmatch", "dataset": "mnist", "n_per_class": 10, "seed": 0,
     "profile": "cpu", "steps": 2000, "seconds": 171.2, "test_acc": 0.981, "val_acc": 0.978,
     "config": {...}, "version": "0.1.0", "when": "2026-12-01T08:02:11Z",
     "machine": {...}, "history": {...}}

``n_per_class`` is ``null`` for the all-labels ceiling. The store is the folder ``results/`` of
the repository when the package runs from a checkout, else ``~/.cache/ssl_teach/results``;
``$SSL_TEACH_RESULTS`` overrides both. Files are written atomically. Explained in chapter 0.
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


def default_store() -> Path:
    """``$SSL_TEACH_RESULTS``, else the checkout's ``results/``, else ``~/.cache/ssl_teach/results``."""
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser()
    checkout = Path(ssl_teach.__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").exists() and (checkout / "chapters").is_dir():
        return checkout / "results"
    return Path("~/.cache/ssl_teach/results").expanduser()


def run_key(config: dict) -> str:
    """A short hash of ``config`` (canonical JSON) and the package version: the record's key."""
    text = json.dumps({"config": config, "version": ssl_teach.__version__}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def machine() -> dict:
    """What a run ran on: processor, cores, torch threads, device, Python and torch versions."""
    cuda = torch.cuda.is_available()
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if cuda else "cpu",
            "python": platform.python_version(), "torch": torch.__version__}


class Store:
    """A folder of run records (default :func:`default_store`)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_store()

    def path(self, config: dict) -> Path:
        npc = config["n_per_class"]
        name = f"{config['method']}_{'all' if npc is None else npc}_seed{config['seed']}_{run_key(config)}.json"
        return self.root / config["profile"] / config["dataset"] / name

    def load(self, config: dict, label: str | None = None) -> dict | None:
        """The record of the run ``config`` describes, or ``None`` when there is none. With
        ``label`` (the record's ``method``, e.g. ``"fixmatch[threshold=0.9]"``), a record filed
        under another label, because the method's defaults changed since, is relabelled on disk."""
        path = self.path(config)
        if not path.exists():
            return None
        record = json.loads(path.read_text())
        if label is not None and record["method"] != label:
            record["method"] = label
            self._write(path, record)
        return record

    def save(self, config: dict, history: dict, seconds: float, label: str | None = None) -> dict:
        """Write the record of a finished run atomically and return it. ``label`` names the run
        in the record's ``method`` (default ``config["method"]``); it is not part of the key."""
        evals = history["eval"]
        record = {
            "key": run_key(config), "method": label or config["method"], "dataset": config["dataset"],
            "n_per_class": config["n_per_class"], "seed": config["seed"], "profile": config["profile"],
            "steps": int(evals["step"][-1]), "seconds": round(float(seconds), 2),
            "test_acc": evals["test_acc"][-1], "val_acc": (evals.get("val_acc") or [None])[-1],
            "config": config, "version": ssl_teach.__version__,
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
        """Every record in the store (for listings such as the status page)."""
        if not self.root.is_dir():
            return []
        # records sit at <profile>/<dataset>/<run>.json; other files of the folder (the model table) are not runs
        return [json.loads(p.read_text()) for p in sorted(self.root.glob("*/*/*.json")) if not p.name.startswith(".")]
