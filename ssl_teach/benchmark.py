"""Throughput benchmark: batched tensor augmentation versus the per-image DataLoader style,
and the measurement behind each profile's model.

    python -m ssl_teach.benchmark            (or: make benchmark)
    python -m ssl_teach.benchmark --models   (the model table of the appendix on the protocol; trains, ~12 min)

Prints images per second, measured in the same run on the same machine, for

1. augmentation alone: a batch of 448 28x28 images (64 labeled + 2 x 192 unlabeled, FixMatch
   with mu = 3), weak and strong views: ``ssl_teach.augment`` on the in-memory ``uint8`` tensor
   versus torchvision transforms applied to one PIL image at a time inside a ``DataLoader``
   (the style of the usual reference implementations);
2. a supervised training step of the book's small CNN on a batch of 448 weakly augmented
   images, fed either way;
3. a FixMatch training step (labeled + weak + strong unlabeled images in one forward pass) of
   each profile's model (``book``: LeNet, ``scale_up``: SmallCNN), fed either way.

``--models`` measures the candidates for the ``book`` profile's model instead: parameters,
milliseconds per FixMatch step, and the floor, FixMatch and ceiling accuracy each reaches on
MNIST (10 labels per class, seed 0, the protocol's validation split) when trained for the same
wall-clock budget; it writes ``ssl_teach/results/model_choice.json``, which the appendix on the protocol shows.

The reference pipeline is timed with ``num_workers`` 0 and 2 (the machine's cores), and each
ratio is taken against the *faster* of the two. ``--threads`` fixes PyTorch's thread count;
on a machine busy with other work use ``--threads 1``: two threads per process on loaded cores
spend their time waiting for each other, which slows the batched tensor operations (and not the
per-image PIL code) by an order of magnitude and measures the contention, not the pipelines.
Figures, not assertions: nothing here fails when a machine is slow.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ssl_teach.augment import for_dataset
from ssl_teach.config import set_seed
from ssl_teach.data import Dataset, load_dataset, to_float
from ssl_teach.models import LeNet, SmallCNN, build_model, count_parameters
from ssl_teach.train import make_optimizer

BATCH = 448  # 64 labeled + 2 x 3 x 64 unlabeled: a FixMatch step with mu = 3


@functools.lru_cache(maxsize=1)
def _mnist() -> Dataset:
    """MNIST, loaded once per process (timing each candidate must not reload it)."""
    return load_dataset("mnist")


class PerImageDataset(torch.utils.data.Dataset):
    """torchvision's MNIST style: each item is turned into a PIL image and transformed alone."""

    def __init__(self, images: Tensor, labels: Tensor, transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        picture = Image.fromarray(self.images[i, 0].numpy(), mode="L")
        return self.transform(picture), int(self.labels[i])


class TwoViews:
    """The reference FixMatch transform: one PIL image in, its weak and strong views out."""

    def __init__(self, weak: Callable, strong: Callable) -> None:
        self.weak, self.strong = weak, strong

    def __call__(self, picture: Image.Image) -> tuple[Tensor, Tensor]:
        return self.weak(picture), self.strong(picture)


def reference_transforms() -> tuple[Callable, Callable]:
    """Per-image equivalents of ``for_dataset("mnist")``: shift by up to 4 px; then RandAugment
    (2 ops) and a 14x14 cutout (RandomErasing with a fixed size and grey fill)."""
    import torchvision.transforms as T

    weak = T.Compose([T.RandomCrop(28, padding=4), T.ToTensor()])
    strong = T.Compose([
        T.RandomCrop(28, padding=4), T.RandAugment(num_ops=2), T.ToTensor(),
        T.RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.5),
    ])
    return weak, strong


def _rate(run: Callable[[], None], images_per_call: int, seconds: float) -> float:
    run()  # warm-up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 2:
        run()
        calls += 1
    return calls * images_per_call / (time.perf_counter() - start)


def _loader(images: Tensor, labels: Tensor, transform: Callable, batch: int, workers: int) -> Iterator:
    dataset = PerImageDataset(images, labels, transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True,
                                         num_workers=workers, persistent_workers=workers > 0)
    while True:
        yield from loader


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor) -> None:
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def run(seconds: float = 5.0, workers: tuple[int, ...] = (0, 2)) -> list[tuple[str, str, float]]:
    """Measure every line of the benchmark; returns (what, how, images per second) rows."""
    set_seed(0)
    dataset = _mnist()
    images, labels = dataset.train_images, dataset.train_labels
    weak, strong = for_dataset("mnist")
    ref_weak, ref_strong = reference_transforms()
    rows: list[tuple[str, str, float]] = []

    def batch_index() -> Tensor:
        return torch.randint(len(images), (BATCH,))

    # 1. augmentation alone
    rows.append(("weak augmentation", "ssl_teach, batched",
                 _rate(lambda: weak(to_float(images[batch_index()])), BATCH, seconds)))
    rows.append(("strong augmentation", "ssl_teach, batched",
                 _rate(lambda: strong(to_float(images[batch_index()])), BATCH, seconds)))
    for n in workers:
        for name, transform in (("weak augmentation", ref_weak), ("strong augmentation", ref_strong)):
            batches = _loader(images, labels, transform, BATCH, n)
            rows.append((name, f"DataLoader, per image, {n} workers",
                         _rate(lambda batches=batches: next(batches), BATCH, seconds)))

    # 2. a supervised training step on weak views
    model = build_model("mnist", "book")
    optimizer = make_optimizer(model, lr=0.03, momentum=0.9, weight_decay=5e-4)

    def ours_step() -> None:
        index = batch_index()
        _train_step(model, optimizer, weak(to_float(images[index])), labels[index])

    rows.append(("supervised training step", "ssl_teach, batched", _rate(ours_step, BATCH, seconds)))
    for n in workers:
        batches = _loader(images, labels, ref_weak, BATCH, n)

        def reference_step(batches: Iterator = batches) -> None:
            x, y = next(batches)
            _train_step(model, optimizer, x, y)

        rows.append(("supervised training step", f"DataLoader, per image, {n} workers",
                     _rate(reference_step, BATCH, seconds)))

    # 3. a FixMatch step (chapter 5), fed either way
    for profile in ("book", "scale_up"):
        rows += _fixmatch_rows(build_model("mnist", profile), f"FixMatch step, {profile} model", images, labels,
                               weak, strong, ref_weak, ref_strong, seconds, workers)
    return rows


def _fixmatch_rows(model: torch.nn.Module, what: str, images: Tensor, labels: Tensor, weak: Callable,
                   strong: Callable, ref_weak: Callable, ref_strong: Callable, seconds: float,
                   workers: tuple[int, ...]) -> list:
    from ssl_teach.methods.fixmatch import fixmatch_unlabeled_loss

    mu, labeled_batch = 3, 64
    unlabeled_batch = mu * labeled_batch
    per_step = labeled_batch + 2 * unlabeled_batch  # what the model sees: 448 images
    optimizer = make_optimizer(model, lr=0.03, momentum=0.9, weight_decay=5e-4)

    def step(x_l: Tensor, y_l: Tensor, u_weak: Tensor, u_strong: Tensor) -> None:
        logits = model(torch.cat([x_l, u_weak, u_strong]))
        logits_weak, logits_strong = logits[labeled_batch:].chunk(2)
        loss_u, _ = fixmatch_unlabeled_loss(logits_weak, logits_strong, 0.95)
        loss = F.cross_entropy(logits[:labeled_batch], y_l) + loss_u
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def ours() -> None:
        labeled_index = torch.randint(len(images), (labeled_batch,))
        u = to_float(images[torch.randint(len(images), (unlabeled_batch,))])
        step(weak(to_float(images[labeled_index])), labels[labeled_index], weak(u), strong(u))

    rows = [(what, "ssl_teach, batched", _rate(ours, per_step, seconds))]
    for n in workers:
        labeled_batches = _loader(images, labels, ref_weak, labeled_batch, n)
        unlabeled_batches = _loader(images, labels, TwoViews(ref_weak, ref_strong), unlabeled_batch, n)

        def reference(lb: Iterator = labeled_batches, ub: Iterator = unlabeled_batches) -> None:
            x_l, y_l = next(lb)
            (u_weak, u_strong), _ = next(ub)
            step(x_l, y_l, u_weak, u_strong)

        rows.append((what, f"DataLoader, per image, {n} workers", _rate(reference, per_step, seconds)))
    return rows


#: The candidates for the book profile's model, each in the memory layout that measured faster.
CANDIDATES: dict[str, Callable[[], torch.nn.Module]] = {
    "LeNet 8-16-64": lambda: LeNet(c1=8, c2=16, hidden=64),
    "LeNet 16-32-64 (cpu profile)": lambda: LeNet(),
    "SmallCNN 32-64-128 (gpu profile)": lambda: SmallCNN(),
}


def fixmatch_step_ms(make_model: Callable[[], torch.nn.Module], steps: int = 12) -> tuple[float, bool]:
    """Median milliseconds of one FixMatch training step (batch 64, mu 3, real augmentations) of a
    fresh model from ``make_model``, and whether channels-last layout was the faster one."""
    dataset = _mnist()
    weak, strong = for_dataset("mnist")
    from ssl_teach.methods.base import Batch
    from ssl_teach.methods.fixmatch import FixMatch

    timings = {}
    for channels_last in (False, True):
        model = make_model()
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        method = FixMatch(model, weak, strong, ema_decay=None)
        optimizer = make_optimizer(model, lr=0.03, momentum=0.9, weight_decay=5e-4)
        times = []
        for i in range(steps + 3):
            index = torch.randint(len(dataset.train_labels), (256,))
            x = to_float(dataset.train_images[index])
            start = time.perf_counter()
            batch = Batch(x[:64], dataset.train_labels[index[:64]], x[64:], index[64:],
                          dataset.train_labels[index[64:]])
            loss, _ = method.loss(batch, i)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if i >= 3:  # the first steps warm up the allocator
                times.append(time.perf_counter() - start)
        timings[channels_last] = 1000 * sorted(times)[len(times) // 2]
    best = min(timings, key=timings.get)
    return timings[best], best


def model_table(budget_seconds: float = 120.0, seed: int = 0) -> list[dict]:
    """Train every candidate as floor, FixMatch and ceiling on MNIST, each for ``budget_seconds``
    of measured step time (equal time, not equal steps), and return one row per candidate."""
    from ssl_teach.experiments import protocol_data, protocol_fit
    from ssl_teach.methods import FixMatch, Supervised
    from ssl_teach.train import fit

    dataset = _mnist()
    weak, strong = for_dataset("mnist")
    rows = []
    for name, make in CANDIDATES.items():
        ms, channels_last = fixmatch_step_ms(make)

        def fresh(make: Callable = make, channels_last: bool = channels_last) -> torch.nn.Module:
            set_seed(seed)
            model = make()
            return model.to(memory_format=torch.channels_last) if channels_last else model

        # a supervised step on 64 images costs about 64/448 of a FixMatch step on 448: up to 7 times
        # the steps in the same time, capped at the protocol's floor and ceiling budgets
        fixmatch_steps = max(50, int(budget_seconds * 1000 / ms))
        floor_fit, ceiling_fit = (protocol_fit("supervised", "mnist", n, "book") for n in (10, None))
        floor_steps = min(floor_fit["steps"], 7 * fixmatch_steps)
        ceiling_steps = min(ceiling_fit["steps"], int(7 * fixmatch_steps))
        row = {"model": name, "parameters": count_parameters(make()), "ms_per_fixmatch_step": round(ms, 1),
               "channels_last": channels_last, "threads": torch.get_num_threads(), "budget_seconds": budget_seconds}
        for what, method, n_per_class, options in (
                ("floor", Supervised(fresh(), weak), 10, {**floor_fit, "steps": floor_steps}),
                ("fixmatch", FixMatch(fresh(), weak, strong), 10, {"steps": fixmatch_steps}),
                ("ceiling", Supervised(fresh(), weak), None, {**ceiling_fit, "steps": ceiling_steps})):
            data = protocol_data(dataset, n_per_class, seed, "book")
            start = time.perf_counter()
            history = fit(method, data, "book", seed=seed, progress=False, **options)
            row[f"{what}_steps"] = options["steps"]
            row[f"{what}_seconds"] = round(time.perf_counter() - start, 1)
            row[f"{what}_test_acc"] = history.final_accuracy
            row[f"{what}_val_acc"] = history.eval.get("val_acc", [None])[-1]  # the ceiling has none
            print(f"{name}: {what} {options['steps']} steps, test {history.final_accuracy:.2%} "
                  f"in {row[f'{what}_seconds']:.0f} s", flush=True)
        rows.append(row)
    return rows


#: A Colab T4's float32 peak (NVIDIA's data sheet: 8.1 TFLOPS) and the share of it that small
#: convolutions typically reach: an assumption, so every figure derived from it is an estimate.
T4_PEAK_FLOPS = 8.1e12
T4_ASSUMED_EFFICIENCY = 0.3


def training_flops(model: torch.nn.Module, image_shape: tuple[int, int, int]) -> float:
    """Floating-point operations to train on one image: 3 x the forward pass's multiply-adds x 2
    (the backward pass costs about twice the forward), counting convolutions and linear layers."""
    macs = 0

    def count(module: torch.nn.Module, inputs: tuple, output: Tensor) -> None:
        nonlocal macs
        if isinstance(module, torch.nn.Conv2d):
            per_position = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            macs += output[0].numel() * per_position
        elif isinstance(module, torch.nn.Linear):
            macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *image_shape))
    finally:
        for hook in hooks:
            hook.remove()
        model.train()
    return 3 * 2 * macs


def estimated_t4_seconds(model: torch.nn.Module, image_shape: tuple[int, int, int], images_per_step: int,
                         steps: int) -> float:
    """An *estimate* of the training time on a Colab T4 from FLOPs, at :data:`T4_ASSUMED_EFFICIENCY`."""
    return training_flops(model, image_shape) * images_per_step * steps / (T4_PEAK_FLOPS * T4_ASSUMED_EFFICIENCY)


def report(rows: list[tuple[str, str, float]]) -> str:
    """A table of the rows plus, per task, the ratio of ssl_teach to the fastest reference."""
    lines = [f"{'task':<26} {'pipeline':<34} {'images/s':>10}", "-" * 72]
    for what, how, rate in rows:
        lines.append(f"{what:<26} {how:<34} {rate:>10,.0f}")
    lines.append("-" * 72)
    for what in dict.fromkeys(r[0] for r in rows):
        ours = next(rate for w, h, rate in rows if w == what and h.startswith("ssl_teach"))
        best_reference = max(rate for w, h, rate in rows if w == what and not h.startswith("ssl_teach"))
        lines.append(f"{what:<26} ssl_teach / best per-image reference: {ours / best_reference:5.1f}x")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="augmentation and training-step throughput")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: PyTorch's choice); on a machine busy with other "
                             "work, 1 avoids measuring thread contention instead of the pipelines")
    parser.add_argument("--models", action="store_true",
                        help="measure the book profile's model candidates instead (trains; writes "
                             "ssl_teach/results/model_choice.json)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.models:
        import json

        from ssl_teach.store import default_store

        rows = model_table()
        path = default_store() / "model_choice.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                    "torch": torch.__version__, "cpu_count": os.cpu_count(),
                                    "rows": rows}, indent=1) + "\n")
        print(f"wrote {path}")
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores, "
          f"batch {BATCH} of 28x28 images, CPU")
    print(report(run(args.seconds)))


if __name__ == "__main__":
    main()
