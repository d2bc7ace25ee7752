"""Shared fixtures: small synthetic datasets, so most tests need no data files at all."""

from __future__ import annotations

import os

import pytest
import torch

from ssl_teach.data import Dataset

IN_CI = bool(os.environ.get("CI"))


def synthetic_dataset(n_per_class: int = 20, num_classes: int = 10, channels: int = 1,
                      size: int = 28, seed: int = 0) -> Dataset:
    """Images whose class is a bright square at a class-specific place, plus noise."""
    generator = torch.Generator().manual_seed(seed)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(num_classes).repeat_interleave(n)
        images = torch.randint(0, 60, (len(labels), channels, size, size), generator=generator)
        for i, label in enumerate(labels.tolist()):
            row, col = divmod(label, 4)
            images[i, :, 2 + 6 * row : 8 + 6 * row, 2 + 6 * col : 8 + 6 * col] = 250
        return images.to(torch.uint8), labels

    train_images, train_labels = make(n_per_class)
    test_images, test_labels = make(max(2, n_per_class // 4))
    return Dataset("mnist", train_images, train_labels, test_images, test_labels,
                   tuple(str(i) for i in range(num_classes)), "synthetic test data")


@pytest.fixture
def tiny_dataset() -> Dataset:
    return synthetic_dataset()
