"""Models: a CPU-sized LeNet-style CNN and a larger CNN for 28x28 images, WideResNet-28-2 for CIFAR-10,
and a small 1-D CNN for time series (:class:`SeriesCNN`, chapter 9).

Each returns class logits, and with ``return_features=True`` also its feature vector (the
embedding later chapters project and compare). A profile sets the model as well as the budget
(:func:`build_model`): a network that costs a second per FixMatch step on 2 CPU cores cannot
converge in a CPU chapter, so the ``book`` and ``smoke`` profiles use :class:`LeNet`, chosen by
measurement (the appendix on the protocol, ``python -m ssl_teach.benchmark --models``), and
``scale_up`` the :class:`SmallCNN` and WRN-28-2. Explained in chapter 0 and its appendix.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ssl_teach.checks import check_int
from ssl_teach.config import Profile, get_profile

# BatchNorm running statistics: running = (1 - m) running + m batch. The FixMatch/MixMatch
# references use m = 0.001 for their 1 M-step runs; our runs last 10^3 - 10^4 steps, after which
# m = 0.001 would still remember the random initialisation, so we keep PyTorch's default.
BN_MOMENTUM = 0.1


def _check_input(x: Tensor, channels: int, size: int | None, model: str) -> None:
    if x.dtype == torch.uint8:
        raise TypeError(
            f"{model} got uint8 images (0-255), but expects float images in [0, 1]: convert them with "
            "ssl_teach.data.to_float(images), or call ssl_teach.models.predict_logits(model, images), "
            "which accepts uint8"
        )
    if x.dim() != 4 or x.shape[1] != channels or (size is not None and x.shape[-2:] != (size, size)):
        expected = f"[B, {channels}, {size}, {size}]" if size else f"[B, {channels}, H, W]"
        raise ValueError(f"{model} expects input of shape {expected}, got {tuple(x.shape)}")


class SmallCNN(nn.Module):
    """Three conv blocks (``width``, 2 ``width``, 4 ``width`` channels; default 32/64/128), each
    two 3x3 convolutions with BatchNorm and leaky ReLU, then global average pooling and a linear
    classifier. About 0.3 M parameters for 28x28 grayscale input."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        channels = in_channels
        for i, out in enumerate((width, 2 * width, 4 * width)):
            for _ in range(2):
                layers += [
                    nn.Conv2d(channels, out, 3, padding=1, bias=False),
                    nn.BatchNorm2d(out, momentum=BN_MOMENTUM),
                    nn.LeakyReLU(0.1),
                ]
                channels = out
            if i < 2:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.feature_dim = channels
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        _check_input(x, self.in_channels, None, "SmallCNN")
        features = self.features(x).mean(dim=(2, 3))
        logits = self.classifier(features)
        return (logits, features) if return_features else logits


class LeNet(nn.Module):
    """A LeNet-style CNN sized for CPUs (after LeCun et al., 1998): two 5x5 convolutions
    (``c1``, ``c2`` channels; default 16/32), each with BatchNorm, ReLU and 2x2 max-pooling, then a
    ``hidden``-unit fully connected layer with BatchNorm (the feature vector) and a linear
    classifier. About 0.1 M parameters; on 2 CPU cores a FixMatch step (batch 64, mu 3) took
    67 ms against 358 ms for :class:`SmallCNN` (``ssl_teach/results/model_choice.json``, the appendix on the protocol).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, c1: int = 16, c2: int = 32,
                 hidden: int = 64, size: int = 28) -> None:
        super().__init__()
        for name, value in (("c1", c1), ("c2", c2), ("hidden", hidden), ("size", size)):
            check_int(name, value, least=1)
        if size % 4:
            raise ValueError(f"size must be a multiple of 4 (two 2x2 poolings), got {size}")
        self.in_channels, self.size = in_channels, size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2, bias=False),
            nn.BatchNorm2d(c1, momentum=BN_MOMENTUM), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2, bias=False),
            nn.BatchNorm2d(c2, momentum=BN_MOMENTUM), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * (size // 4) ** 2, hidden, bias=False),
            nn.BatchNorm1d(hidden, momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
        )
        self.feature_dim = hidden
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        _check_input(x, self.in_channels, self.size, "LeNet")
        features = self.features(x)
        logits = self.classifier(features)
        return (logits, features) if return_features else logits


class _WideBasic(nn.Module):
    """Pre-activation residual block of WideResNet (Zagoruyko and Komodakis, 2016)."""

    def __init__(self, inp: int, out: int, stride: int, activate_before_residual: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inp, momentum=BN_MOMENTUM)
        self.conv1 = nn.Conv2d(inp, out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(out, out, 3, stride=1, padding=1, bias=False)
        self.shortcut = None if inp == out else nn.Conv2d(inp, out, 1, stride=stride, bias=False)
        self.activate_before_residual = activate_before_residual

    def forward(self, x: Tensor) -> Tensor:
        activated = F.leaky_relu(self.bn1(x), 0.1)
        if self.shortcut is not None or self.activate_before_residual:
            x = activated
        out = self.conv1(activated)
        out = self.conv2(F.leaky_relu(self.bn2(out), 0.1))
        return out + (x if self.shortcut is None else self.shortcut(x))


class WideResNet(nn.Module):
    """WideResNet-``depth``-``widen`` for 32x32 colour images, the backbone of the MixMatch and
    FixMatch CIFAR-10 experiments (WRN-28-2: 1.5 M parameters)."""

    def __init__(self, num_classes: int = 10, depth: int = 28, widen: int = 2) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"depth must be 6n + 4 (e.g. 28), got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        blocks = []
        for stage in range(3):
            for i in range(n):
                blocks.append(_WideBasic(
                    widths[stage] if i == 0 else widths[stage + 1], widths[stage + 1],
                    stride=(1 if stage == 0 else 2) if i == 0 else 1,
                    activate_before_residual=(stage == 0 and i == 0),
                ))
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(widths[3], momentum=BN_MOMENTUM)
        self.feature_dim = widths[3]
        self.classifier = nn.Linear(widths[3], num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="leaky_relu")

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        _check_input(x, 3, None, "WideResNet")
        out = F.leaky_relu(self.bn(self.blocks(self.conv(x))), 0.1)
        features = out.mean(dim=(2, 3))
        logits = self.classifier(features)
        return (logits, features) if return_features else logits


class SeriesCNN(nn.Module):
    """A small 1-D CNN for time series ``[B, C, T]``: three convolution blocks (``widths``, default
    16/32/32 channels; kernels 7, 5 and 3, "same" padding), each with BatchNorm and ReLU, then
    global average pooling over time (the feature vector) and a linear classifier. It is the
    fully convolutional network of Wang, Yan and Oates (2017), the usual UCR baseline, at an
    eighth of its width (6 k parameters for one channel): on 2 shared CPU cores a FixMatch step
    of 448 series took a quarter of the time of 32/64/64 channels. TS-TCC's encoder (Eldele et
    al., 2021) is built the same way. Pooling over time makes the features independent of where
    in the window a pattern occurs, and any length T >= 1 works.
    """

    def __init__(self, num_classes: int = 2, in_channels: int = 1, widths: tuple[int, ...] = (16, 32, 32),
                 kernels: tuple[int, ...] = (7, 5, 3)) -> None:
        super().__init__()
        check_int("num_classes", num_classes, least=2)
        check_int("in_channels", in_channels, least=1)
        if len(widths) != len(kernels) or not widths:
            raise ValueError(f"widths and kernels must be equally long and not empty, got {widths} and {kernels}")
        for i, (width, kernel) in enumerate(zip(widths, kernels)):
            check_int(f"widths[{i}]", width, least=1)
            check_int(f"kernels[{i}]", kernel, least=1)
            if kernel % 2 == 0:
                raise ValueError(f"kernels[{i}] must be odd (for 'same' padding), got {kernel}")
        self.in_channels = in_channels
        layers: list[nn.Module] = []
        channels = in_channels
        for width, kernel in zip(widths, kernels):
            layers += [nn.Conv1d(channels, width, kernel, padding=kernel // 2, bias=False),
                       nn.BatchNorm1d(width, momentum=BN_MOMENTUM), nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.feature_dim = channels
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        if not x.dtype.is_floating_point:
            raise TypeError(f"SeriesCNN expects float series, got dtype {x.dtype}")
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"SeriesCNN expects input of shape [B, {self.in_channels}, T], got {tuple(x.shape)}")
        features = self.features(x).mean(dim=2)
        logits = self.classifier(features)
        return (logits, features) if return_features else logits


class ClassifierWithProjection(nn.Module):
    """A classifier plus a projection head on its pooled features (SimMatch, chapter 6).

    ``backbone`` is a model of this module (anything with ``feature_dim``, a ``classifier``
    and ``forward(x, return_features=True)``). The head is the SimMatch/MoCo projection MLP
    (linear, ReLU, linear to ``dim``) on the same pooled features the classifier reads, and its
    output is L2-normalised, so dot products between embeddings are cosine similarities.
    ``model(x)`` returns the logits like any other model here (evaluation code needs nothing
    new); ``model(x, return_embedding=True)`` returns ``(logits, embedding)``.
    """

    def __init__(self, backbone: nn.Module, dim: int = 128) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {dim!r}")
        if not hasattr(backbone, "feature_dim") or not isinstance(getattr(backbone, "classifier", None), nn.Linear):
            raise ValueError(f"backbone must be a LeNet, SmallCNN, WideResNet or SeriesCNN (feature_dim and a "
                             f"linear classifier), got {type(backbone).__name__}")
        self.backbone = backbone
        width = backbone.feature_dim
        self.head = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, dim))
        self.embedding_dim = dim
        self.num_classes = backbone.classifier.out_features

    def forward(self, x: Tensor, return_embedding: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        logits, features = self.backbone(x, return_features=True)
        if not return_embedding:
            return logits
        return logits, F.normalize(self.head(features), dim=1)


def build_model(dataset: str, profile: Profile | str | None = None, num_classes: int = 10) -> nn.Module:
    """The book's model for ``dataset`` in ``profile`` (default: :func:`ssl_teach.config.get_profile`).

    (Fashion-)MNIST: :class:`LeNet` in the ``smoke`` and ``book`` profiles (in channels-last
    memory layout, which made its training step 1.3x faster on 2 CPU cores), :class:`SmallCNN`
    in ``scale_up``. CIFAR-10: WRN-28-2 in every profile, as in the papers. A series dataset of
    :data:`ssl_teach.data.SERIES`: :class:`SeriesCNN` with its classes and channels (``num_classes``
    is ignored there), in every profile.
    """
    from ssl_teach.data import SERIES

    if dataset in SERIES:  # every profile: the series are tiny, the model is cheap everywhere
        info = SERIES[dataset]
        return SeriesCNN(num_classes=len(info.classes), in_channels=info.channels)
    dataset = "mnist" if dataset == "mnist_full" else dataset
    if dataset not in ("mnist", "fashion_mnist", "cifar10"):
        raise ValueError(f"unknown dataset {dataset!r}; allowed: mnist, mnist_full, fashion_mnist, cifar10, "
                         f"{', '.join(SERIES)}")
    name = profile.name if isinstance(profile, Profile) else get_profile(profile).name
    if dataset == "cifar10":
        return WideResNet(num_classes=num_classes)
    if name == "scale_up":
        return SmallCNN(num_classes=num_classes, in_channels=1)
    return LeNet(num_classes=num_classes, in_channels=1).to(memory_format=torch.channels_last)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def predict_logits(model: nn.Module, images: Tensor, batch_size: int = 1024) -> Tensor:
    """Logits of ``model`` in eval mode, in batches; restores the mode afterwards.

    ``images`` are ``uint8`` (0-255, converted batch by batch) or float in [0, 1].
    """
    was_training = model.training
    model.eval()
    try:
        outputs = []
        for i in range(0, len(images), batch_size):
            batch = images[i : i + batch_size]
            if batch.dtype == torch.uint8:
                batch = batch.float() / 255
            outputs.append(model(batch))
        return torch.cat(outputs)
    finally:
        model.train(was_training)
