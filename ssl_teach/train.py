"""The one training loop: ``fit(method, data, profile) -> History``.

Every chapter trains with this function, whatever the method. Each step it draws a labeled
batch and (for semi-supervised methods) an unlabeled batch ``mu`` times larger, asks the
method for its loss, and takes an SGD step. It follows the FixMatch reference setup: SGD
with Nesterov momentum 0.9, learning rate 0.03 with the cosine decay cos(7 pi k / 16 K),
weight decay 5e-4 on convolution and linear weights only (not on BatchNorm parameters or
biases). It evaluates periodically (with the method's EMA model where it has one, BatchNorm
statistics recomputed for the evaluated weights: ``ssl_teach.evaluation``), shows a
``tqdm.auto`` progress bar, and can checkpoint and resume exactly. Explained in chapter 0.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ssl_teach.checkpoint import load_checkpoint, save_checkpoint
from ssl_teach.checks import check_int
from ssl_teach.config import Profile, get_profile, set_seed
from ssl_teach.data import InfiniteSampler, SSLData, to_float
from ssl_teach.evaluation import evaluate_method
from ssl_teach.methods.base import Batch, Method
from ssl_teach.ramps import cosine_lr_factor


@dataclass
class History:
    """What happened during ``fit``.

    Attributes:
        method: the method's name.
        train: per logging interval, the mean of each logged number (``loss`` and the method's
            own terms), with ``step`` and ``lr``.
        eval: per evaluation, ``step``, ``test_acc``, ``val_acc`` (when there is a validation
            set) and ``time`` (seconds of training so far).
    """

    method: str
    train: dict[str, list[float]] = field(default_factory=dict)
    eval: dict[str, list[float]] = field(default_factory=dict)

    @property
    def final_accuracy(self) -> float:
        """Test accuracy at the last evaluation."""
        return self.eval["test_acc"][-1]

    @property
    def seconds(self) -> float:
        """Training time in seconds (evaluations included)."""
        return self.eval["time"][-1]

    def to_dict(self) -> dict:
        return {"method": self.method, "train": self.train, "eval": self.eval}

    @classmethod
    def from_dict(cls, state: dict) -> History:
        return cls(state["method"], {k: list(v) for k, v in state["train"].items()},
                   {k: list(v) for k, v in state["eval"].items()})

    def _append(self, table: dict[str, list[float]], row: dict[str, float]) -> None:
        for key, value in row.items():
            table.setdefault(key, []).append(float(value))

    def __repr__(self) -> str:
        if not self.eval:
            return f"History({self.method!r}, not evaluated yet)"
        return (f"History({self.method!r}: {int(self.eval['step'][-1])} steps, "
                f"test accuracy {self.final_accuracy:.4f}, {self.seconds:.0f} s)")



def make_optimizer(model: torch.nn.Module, lr: float, momentum: float, weight_decay: float,
                   nesterov: bool = True) -> torch.optim.SGD:
    """SGD with weight decay on conv/linear weights only (tensors with 2 or more dims)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() <= 1]
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, momentum=momentum, nesterov=nesterov,
    )


def fit(
    method: Method,
    data: SSLData,
    profile: Profile | str | None = None,
    *,
    steps: int | None = None,
    batch_size: int | None = None,
    mu: int | None = None,
    eval_every: int | None = None,
    lr: float | None = None,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    desc: str | None = None,
    extra_eval: Mapping[str, Callable[[], torch.nn.Module]] | None = None,
) -> History:
    """Train ``method`` on ``data`` and return its :class:`History`.

    ``steps``, ``batch_size``, ``mu``, ``eval_every`` and ``lr`` default to the profile's (``profile``
    defaults to :func:`ssl_teach.config.get_profile`). With ``checkpoint``, a checkpoint is
    written atomically every ``checkpoint_every`` steps (default: every evaluation) and at the
    end; with ``resume=True`` an existing checkpoint is loaded and training continues exactly
    where it stopped (same batches, same augmentations, same weights as an uninterrupted run).
    ``extra_eval`` maps names to functions returning more models to evaluate at each evaluation
    (e.g. ``{"student": lambda: method.model}`` next to Mean Teacher's teacher); their test
    accuracies are recorded in ``history.eval`` as ``<name>_acc``.
    """
    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    steps = check_int("steps", steps if steps is not None else profile.steps, least=1)
    batch_size = check_int(
        "batch_size", batch_size if batch_size is not None else profile.batch_size, least=1)
    mu = check_int("mu", mu if mu is not None else profile.mu, least=1)
    eval_every = check_int(
        "eval_every", eval_every if eval_every is not None else min(profile.eval_every, steps), least=1)
    lr = profile.lr if lr is None else lr
    checkpoint_every = check_int(
        "checkpoint_every", checkpoint_every if checkpoint_every is not None else eval_every, least=1)
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    for name in extra_eval or {}:
        if name in ("test", "val") or isinstance(extra_eval[name], torch.nn.Module) \
                or not callable(extra_eval[name]):
            raise ValueError(f"extra_eval[{name!r}] must be a function returning a model, under a "
                             f"name other than 'test' and 'val'; got {extra_eval[name]!r}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path> to resume from")
    if len(data.labeled) == 0:
        raise ValueError("data.labeled is empty: every method needs some labeled images")
    if method.uses_unlabeled and len(data.unlabeled) == 0:
        raise ValueError(
            f"data.unlabeled is empty, but {method.name} learns from unlabeled images; "
            "split with n_per_class smaller than the images per class"
        )

    device = data.device
    method.to(device)
    model = method.model
    model.train()
    optimizer = make_optimizer(model, lr, momentum, weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: cosine_lr_factor(k, steps))
    labeled_sampler = InfiniteSampler(data.labeled, batch_size, seed=seed)
    unlabeled_sampler = (InfiniteSampler(data.unlabeled, mu * batch_size, seed=seed + 1)
                         if method.uses_unlabeled else None)
    history = History(method.name)
    set_seed(seed)
    config = {"method": method.name, "steps": steps, "batch_size": batch_size, "mu": mu,
              "lr": lr, "seed": seed, "num_labeled": len(data.labeled)}
    start, elapsed_before = 0, 0.0

    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if resume and checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint, map_location=device)
        if state["config"] != config:
            raise ValueError(
                f"checkpoint {checkpoint} was written by a different run: it has "
                f"{state['config']}, this run has {config}"
            )
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        labeled_sampler.load_state_dict(state["labeled_sampler"])
        if unlabeled_sampler is not None:
            unlabeled_sampler.load_state_dict(state["unlabeled_sampler"])
        torch.set_rng_state(state["rng"])
        if torch.cuda.is_available() and state.get("cuda_rng"):
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        history = History.from_dict(state["history"])
        start, elapsed_before = int(state["step"]), float(state["elapsed"])

    def save(step: int) -> None:
        save_checkpoint({
            "config": config, "step": step, "elapsed": elapsed_before + time.perf_counter() - t0,
            "method": method.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "labeled_sampler": labeled_sampler.state_dict(),
            "unlabeled_sampler": unlabeled_sampler.state_dict() if unlabeled_sampler else None,
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "history": history.to_dict(),
        }, checkpoint)

    log_every = max(1, eval_every // 5)
    sums: dict[str, float] = {}
    count = 0
    empty = data.images[:0]
    t0 = time.perf_counter()
    bar = tqdm(total=steps, initial=start, desc=desc or method.name, disable=not progress,
               leave=False, dynamic_ncols=True)
    try:
        for step in range(start, steps):
            labeled_index = next(labeled_sampler).to(device)
            if unlabeled_sampler is not None:
                unlabeled_index = next(unlabeled_sampler).to(device)
                x_unlabeled = to_float(data.images[unlabeled_index])
            else:
                unlabeled_index, x_unlabeled = labeled_index[:0], to_float(empty)
            batch = Batch(
                x_labeled=to_float(data.images[labeled_index]),
                y_labeled=data.labels[labeled_index],
                x_unlabeled=x_unlabeled,
                unlabeled_index=unlabeled_index,
                unlabeled_true_labels=data.labels[unlabeled_index],
                labeled_index=labeled_index,
            )
            loss, logs = method.loss(batch, step)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss of {method.name} is {loss.item()} at step {step} (terms: {logs}); "
                    f"try a smaller lr than {lr} or check the inputs"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            method.after_step(step)

            for key, value in {"loss": loss.item(), **logs}.items():
                sums[key] = sums.get(key, 0.0) + float(value)
            count += 1
            done = step + 1
            if done % log_every == 0 or done == steps:
                history._append(history.train, {
                    "step": done, "lr": optimizer.param_groups[0]["lr"],
                    **{k: v / count for k, v in sums.items()},
                })
                sums, count = {}, 0
            if done % eval_every == 0 or done == steps:
                row = {"step": done, **evaluate_method(method, data, extra_eval)}
                row["time"] = elapsed_before + time.perf_counter() - t0
                history._append(history.eval, row)
                bar.set_postfix(loss=f"{history.train['loss'][-1]:.3f}", acc=f"{row['test_acc']:.3f}")
            if checkpoint is not None and (done % checkpoint_every == 0 or done == steps):
                save(done)
            bar.update(1)
    finally:
        bar.close()
        model.train()
    return history
