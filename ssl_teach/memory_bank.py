"""SimMatch's labeled memory bank (Zheng et al., 2022): one embedding per labeled image, and its label.

The bank is what the instance similarities of ``ssl_teach.methods.simmatch`` compare with.
As in the official code (https://github.com/KyleZheng1997/simmatch, ``SimMatch._update_bank``),
it holds one slot per labeled image (size = the labeled set), starts as random unit vectors,
and after each step the teacher's embeddings of the batch's labeled images overwrite their own
slots, with no gradient.

Explained in chapter 6 (chapters/06_simmatch.ipynb).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def check_bank_labels(bank_labels: object, num_classes: int, size: int | None = None) -> Tensor:
    """A ValueError unless ``bank_labels`` is an integer ``[K]`` tensor with values in
    ``[0, num_classes)`` (and ``K == size`` when given)."""
    if not isinstance(bank_labels, Tensor) or bank_labels.dim() != 1 or bank_labels.dtype.is_floating_point:
        shape = tuple(bank_labels.shape) if isinstance(bank_labels, Tensor) else type(bank_labels).__name__
        raise ValueError(f"bank_labels must be an integer tensor of shape [K] (one label per bank item), got {shape}")
    if size is not None and len(bank_labels) != size:
        raise ValueError(f"bank_labels has {len(bank_labels)} labels, but the bank has {size} items")
    if len(bank_labels) and (int(bank_labels.min()) < 0 or int(bank_labels.max()) >= num_classes):
        raise ValueError(f"bank_labels must lie in [0, {num_classes - 1}] ({num_classes} classes), got values "
                         f"from {int(bank_labels.min())} to {int(bank_labels.max())}")
    return bank_labels


class LabeledMemoryBank:
    """One L2-normalised embedding per labeled image, with its label (SimMatch's labeled memory buffer).

    Slot ``j`` belongs to the ``j``-th image of the labeled set. ``write(slots, embeddings,
    labels)`` overwrites those slots (detached: the bank never carries gradient) and marks
    them as filled; until a slot is written it holds a random unit vector, as in the official
    code.
    """

    def __init__(self, labels: Tensor, dim: int, num_classes: int, seed: int = 0) -> None:
        check_bank_labels(labels, num_classes)
        if len(labels) == 0:
            raise ValueError("the memory bank needs at least one labeled image, got 0 labels")
        generator = torch.Generator().manual_seed(seed)
        self.embeddings = F.normalize(torch.randn(len(labels), dim, generator=generator), dim=1)
        self.labels = labels.detach().clone().long()
        self.filled = torch.zeros(len(labels), dtype=torch.bool)
        self.num_classes = num_classes

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def full(self) -> bool:
        """Whether every slot has been written at least once."""
        return bool(self.filled.all())

    @torch.no_grad()
    def write(self, slots: Tensor, embeddings: Tensor, labels: Tensor) -> None:
        if slots.dim() != 1 or len(slots) != len(embeddings) or len(slots) != len(labels):
            raise ValueError(f"slots, embeddings and labels must have one row per image, got "
                             f"{tuple(slots.shape)}, {tuple(embeddings.shape)} and {tuple(labels.shape)}")
        if len(slots) and (int(slots.min()) < 0 or int(slots.max()) >= len(self)):
            raise ValueError(f"slots must lie in [0, {len(self) - 1}] (the bank has {len(self)} items), got "
                             f"values from {int(slots.min())} to {int(slots.max())}")
        check_bank_labels(labels, self.num_classes)
        slots = slots.to(self.embeddings.device)
        self.embeddings[slots] = embeddings.detach().to(self.embeddings)
        self.labels[slots] = labels.to(self.labels.device)
        self.filled[slots] = True

    def to(self, device: torch.device) -> LabeledMemoryBank:
        self.embeddings, self.labels, self.filled = (t.to(device) for t in (self.embeddings, self.labels, self.filled))
        return self

    def state_dict(self) -> dict:
        return {"embeddings": self.embeddings.clone(), "labels": self.labels.clone(), "filled": self.filled.clone()}

    def load_state_dict(self, state: dict) -> None:
        if state["embeddings"].shape != self.embeddings.shape:
            raise ValueError(f"the saved memory bank has shape {tuple(state['embeddings'].shape)}, this one "
                             f"{tuple(self.embeddings.shape)} (one row per labeled image): different labeled set?")
        device = self.embeddings.device
        self.embeddings = state["embeddings"].clone().to(device)
        self.labels = state["labels"].clone().to(device)
        self.filled = state["filled"].clone().to(device)
