"""Profiles (how much work a notebook does), device choice and seeding.

One notebook serves three budgets. ``SSL_TEACH_PROFILE`` picks one:

* ``smoke``: CI runs every notebook through nbval in about a minute on 2 CPU cores;
  it proves the code runs end to end, not that a method works.
* ``book``: the book's protocol, the default on every device (CPU or GPU): the website's
  outputs, read from the shipped results store, and each chapter's runs retrained in minutes
  on 2 CPU cores (faster on a GPU).
* ``scale_up``: an explicit opt-in for a GPU: the full MNIST (``mnist_full``), ``SmallCNN``,
  more steps; its numbers are not the website's (``book/setup.md``).

The names ``cpu`` and ``gpu`` of earlier versions are accepted for ``book`` and ``scale_up``.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, replace

import numpy as np
import torch

PROFILE_ENV = "SSL_TEACH_PROFILE"


@dataclass(frozen=True)
class Profile:
    """The budget of one notebook run.

    Attributes:
        name: ``"smoke"``, ``"book"`` or ``"scale_up"``.
        steps: optimizer steps of one training run.
        eval_every: steps between two evaluations on the test set.
        batch_size: labeled images per step (the unlabeled batch is ``mu`` times larger).
        mu: unlabeled images per labeled image in a step (FixMatch's mu).
        ablation_steps: steps of each run in an ablation or a sweep (shorter than ``steps``).
        max_test: evaluate on at most this many test images (``None``: all of them).
        seeds: the seeds a chapter repeats its headline comparison over.
        lr: the initial learning rate of ``fit`` (SGD; decayed by the cosine schedule).
        datasets: the dataset a run of this profile trains on when a chapter names another
            (``scale_up`` trains ``"mnist_full"`` where the protocol uses the ``"mnist"`` sample).
    """

    name: str
    steps: int
    eval_every: int
    batch_size: int
    mu: int
    ablation_steps: int
    max_test: int | None
    seeds: tuple[int, ...]
    lr: float = 0.03
    datasets: tuple[tuple[str, str], ...] = ()

    def dataset(self, name: str) -> str:
        """The dataset a run of this profile loads for the chapter's ``name``."""
        return dict(self.datasets).get(name, name)

    def with_(self, **changes: object) -> Profile:
        """A copy with some fields changed, e.g. ``profile.with_(steps=200)``."""
        return replace(self, **changes)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke", steps=30, eval_every=15, batch_size=32, mu=2,
        ablation_steps=10, max_test=300, seeds=(0,),
    ),
    "book": Profile(
        name="book", steps=2700, eval_every=250, batch_size=64, mu=3,
        ablation_steps=400, max_test=None, seeds=(0, 1, 2),
    ),
    # an opt-in for a GPU, sized for a free Colab T4 from FLOPs (an estimate, never measured on
    # one): SmallCNN's FixMatch step with mu = 7 is about 0.17 GFLOP x 960 images, an estimated
    # 70 ms at 30 % of the T4's peak, so a 6,000-step run takes about 7 minutes
    # (ssl_teach.benchmark.estimated_t4_seconds)
    "scale_up": Profile(
        name="scale_up", steps=6000, eval_every=500, batch_size=64, mu=7,
        ablation_steps=1500, max_test=None, seeds=(0, 1, 2),
        datasets=(("mnist", "mnist_full"),),
    ),
}
#: Earlier names of the profiles, still accepted.
ALIASES = {"cpu": "book", "gpu": "scale_up"}
#: The profile when neither an argument nor ``$SSL_TEACH_PROFILE`` names one, on every device.
DEFAULT_PROFILE = "book"


def get_profile(name: str | None = None) -> Profile:
    """Return the profile called ``name``, or the one ``SSL_TEACH_PROFILE`` names; with neither,
    :data:`DEFAULT_PROFILE` (``book``) on every device, so a GPU shows the website's numbers."""
    if name is None:
        name = os.environ.get(PROFILE_ENV) or DEFAULT_PROFILE
    key = name.strip().lower() if isinstance(name, str) else name
    key = ALIASES.get(key, key)
    if key not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r} (from the argument or ${PROFILE_ENV}); "
            f"allowed: {', '.join(PROFILES)} (or {', '.join(ALIASES)}, their earlier names)"
        )
    return PROFILES[key]


def get_device(name: str | None = None) -> torch.device:
    """The device to train on: ``name`` if given, else CUDA when available, else the CPU."""
    if name is not None:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators (CPU and CUDA)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
