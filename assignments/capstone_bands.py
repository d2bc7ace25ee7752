"""Measure the capstone's reference runs exactly as its grader trains and tests them.

    python assignments/capstone_bands.py floor strong fixmatch        # one run each, in order
    python assignments/capstone_bands.py fixmatch --seed 1            # the run-to-run spread
    python assignments/capstone_bands.py --show                       # what has been measured

The capstone (``assignments/masters/a5_capstone.ipynb``) grades a *method*, not a trained
model: its hidden test builds the student's ``make_method()`` after ``torch.manual_seed(0)``,
trains it with :func:`grade_training` (seed 0's split of the book's MNIST sample, 4 labels per
class, 50 validation images per class, 1,000 steps of 64 labeled and 3 x 64 unlabeled images) and
measures it on the sample's 1,000 held-out test images. This script does the same for the reference
methods below and appends each result to ``assignments/a5_capstone_measurements.json``
(accuracy, seconds, threads, machine load); ``assignments/build.py`` derives the bands from it.
``--seed s`` changes the initialisation (``torch.manual_seed(s)``) and the batch order
(``fit(seed=s)``) on the same split: the spread of one run around its mean.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MEASUREMENTS = HERE / "a5_capstone_measurements.json"
#: the capstone's budget, as its master states it
BUDGET = {"steps": 1000, "batch_size": 64, "mu": 3}


def capstone_data():  # noqa: ANN201 - an SSLData (imported lazily)
    """Seed 0's split with its held-out test images, as the grader loads it (the master's
    ``capstone_data`` without the student's view, which replaces the test images by the validation ones)."""
    from ssl_teach.data import load_dataset
    from ssl_teach.protocol import protocol_data

    return protocol_data(load_dataset("mnist"), 4, 0, "book")


def grade_training(make_method, data, seed: int = 0):  # noqa: ANN001, ANN201 - a Method factory, SSLData
    """Train ``make_method()`` within the budget as the grader does; return (method, history)."""
    import torch

    from ssl_teach.train import fit

    torch.manual_seed(seed)
    method = make_method()
    history = fit(method, data, "book", steps=BUDGET["steps"], batch_size=BUDGET["batch_size"],
                  mu=BUDGET["mu"], eval_every=BUDGET["steps"], seed=seed, progress=False)
    return method, history


def methods() -> dict:
    """The reference methods, by name: what each ``make_method`` builds."""
    import torch
    import torch.nn.functional as F

    from ssl_teach.augment import for_dataset
    from ssl_teach.methods import FixMatch, Supervised
    from ssl_teach.methods.fixmatch import fixmatch_unlabeled_loss
    from ssl_teach.models import build_model

    weak, strong = for_dataset("mnist")

    class FixMatchStrongLabeled(FixMatch):
        """FixMatch whose labeled images are also seen under the strong view, in the same one
        concatenated forward pass (the labeled term of the strong-augmentation baseline added)."""

        def loss(self, batch, step):  # noqa: ANN001, ANN202 - the Method interface
            n, m = len(batch.x_labeled), len(batch.x_unlabeled)
            logits = self.model(torch.cat([self.weak(batch.x_labeled), self.strong(batch.x_labeled),
                                           self.weak(batch.x_unlabeled), self.strong(batch.x_unlabeled)]))
            loss_u, mask = fixmatch_unlabeled_loss(logits[2 * n:2 * n + m], logits[2 * n + m:], self.threshold)
            loss_l = F.cross_entropy(logits[:n], batch.y_labeled) + F.cross_entropy(logits[n:2 * n], batch.y_labeled)
            return loss_l + self.lambda_u * loss_u, {"mask_rate": mask.float().mean().item()}

    def model():
        return build_model("mnist", "book")

    return {
        "floor": lambda: Supervised(model(), weak),
        "strong": lambda: Supervised(model(), strong),
        "fixmatch": lambda: FixMatch(model(), weak, strong),
        "fixmatch_strong_labeled": lambda: FixMatchStrongLabeled(model(), weak, strong),
        "fixmatch_strong_labeled_t08": lambda: FixMatchStrongLabeled(model(), weak, strong, threshold=0.8),
    }


def measure(name: str, seed: int) -> dict:
    import torch

    from ssl_teach.evaluation import evaluation_model
    from ssl_teach.metrics import evaluate

    full = capstone_data()
    load = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    method, history = grade_training(methods()[name], full, seed)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    model = evaluation_model(method, full)
    with torch.no_grad():
        test_acc = evaluate(model, full.test_images, full.test_labels)
    return {"method": name, "seed": seed, "test_acc": round(test_acc, 6),
            "val_acc": round(history.eval["val_acc"][-1], 6), "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1), "threads": torch.get_num_threads(),
            "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()], "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__}


def read() -> list[dict]:
    return json.loads(MEASUREMENTS.read_text())["runs"] if MEASUREMENTS.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="reference methods to train: " + ", ".join(
        ("floor", "strong", "fixmatch", "fixmatch_strong_labeled", "fixmatch_strong_labeled_t08")))
    parser.add_argument("--seed", type=int, default=0, help="initialisation and batch order (the split stays seed 0's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    import torch

    torch.set_num_threads(args.threads)
    for name in args.names:
        row = measure(name, args.seed)
        runs = [r for r in read() if (r["method"], r["seed"], r["threads"]) != (name, args.seed, row["threads"])]
        MEASUREMENTS.write_text(json.dumps({"runs": runs + [row]}, indent=1) + "\n")
        print(json.dumps(row), flush=True)
    if args.show or not args.names:
        for r in read():
            print(f"{r['method']:>24} seed {r['seed']}: {100 * r['test_acc']:.2f} % "
                  f"({r['seconds']:.0f} s, {r['threads']} thread(s), load {r['load_before'][0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
