"""The results epoch: the store's keys change only when training behaviour does.

A record's key hashes its configuration and :data:`ssl_teach.store.RESULTS_EPOCH`, not the
package version. This test trains every method of the protocol for 5 steps at a fixed seed on
the book's MNIST sample and compares the losses and accuracies with the fingerprint recorded
for the current epoch in ``tests/results_epoch.json``. When they differ, the training code
computes something else than the stored records did: bump ``RESULTS_EPOCH`` (the store's
records are then retrained by ``make experiments``) and rewrite the fingerprint with

    python tests/test_results_epoch.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ssl_teach.experiments import METHODS, Run, result
from ssl_teach.store import RESULTS_EPOCH, Store

FINGERPRINT = Path(__file__).with_name("results_epoch.json")
SHORT = {"steps": 5, "eval_every": 5, "batch_size": 8}
#: thresholds of 0 so that the unlabeled terms are not all zero after 5 steps from scratch
OPTIONS = {"fixmatch": {"threshold": 0.0}, "fixmatch_weak_weak": {"threshold": 0.0}, "pseudo_label": {"threshold": 0.0},
           "simmatch": {"threshold": 0.0, "start_step": 0},
           # SelfMatch from a 5-step SimCLR run (its pre-training run is trained first, in the same store)
           "selfmatch": {"threshold": 0.0, "pretrain_steps": 5}}


def fingerprint(root: Path) -> dict:
    """Every train-log value and the final accuracies of a 5-step run of each method (seed 0)."""
    runs = {}
    for method in METHODS:
        run = Run(method, "mnist", 2, seed=0, profile="smoke", options=OPTIONS.get(method, {}), fit_options=SHORT)
        record = result(run, store=Store(root), progress=False)
        train = record["history"]["train"]
        runs[method] = {"train": {k: v for k, v in sorted(train.items()) if k != "step"},
                        "test_acc": record["test_acc"], "val_acc": record["val_acc"]}
    return {"epoch": RESULTS_EPOCH, "runs": runs}


def _differences(stored: dict, now: dict, rel: float = 1e-4) -> list[str]:
    out = []
    for method, values in now["runs"].items():
        old = stored["runs"].get(method)
        if old is None:
            out.append(f"{method}: no fingerprint")
            continue
        for name, series in values["train"].items():
            if old["train"].get(name) is None or series != pytest.approx(old["train"][name], rel=rel, abs=1e-6):
                out.append(f"{method} {name}: {old['train'].get(name)} -> {series}")
        for name in ("test_acc", "val_acc"):
            if values[name] != pytest.approx(old[name], abs=0.004):  # about one image of the smoke sets
                out.append(f"{method} {name}: {old[name]} -> {values[name]}")
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_fixed_seed_short_run_is_unchanged_within_the_results_epoch(tmp_path, monkeypatch):
    monkeypatch.delenv("SSL_TEACH_RETRAIN", raising=False)
    stored = json.loads(FINGERPRINT.read_text())
    assert stored["epoch"] == RESULTS_EPOCH, (
        f"RESULTS_EPOCH is {RESULTS_EPOCH} but {FINGERPRINT.name} was recorded at epoch {stored['epoch']}: "
        "rewrite it with `python tests/test_results_epoch.py --write`")
    changed = _differences(stored, fingerprint(tmp_path))
    assert not changed, (
        "training behaviour changed without a new results epoch, so the store would serve records the code "
        "no longer computes. Bump RESULTS_EPOCH in ssl_teach/store.py, rewrite the fingerprint "
        "(python tests/test_results_epoch.py --write) and retrain the store (make experiments):\n  "
        + "\n  ".join(changed[:12]))


def test_the_fingerprint_notices_a_changed_loss(tmp_path, monkeypatch):
    """The comparison above is not vacuous: a loss scaled by 1.001 is a change."""
    stored = json.loads(FINGERPRINT.read_text())
    bent = json.loads(json.dumps(stored))
    bent["runs"]["fixmatch"]["train"]["loss"] = [1.001 * v for v in bent["runs"]["fixmatch"]["train"]["loss"]]
    assert _differences(stored, stored) == []
    assert any(d.startswith("fixmatch loss") for d in _differences(stored, bent))


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_results_epoch.py --write")
    import tempfile

    with tempfile.TemporaryDirectory() as root:
        FINGERPRINT.write_text(json.dumps(fingerprint(Path(root)), indent=1, sort_keys=True) + "\n")
    print(f"wrote {FINGERPRINT} for epoch {RESULTS_EPOCH}")
