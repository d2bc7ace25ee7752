"""1-D time series (chapter 9): the archive loader, the series augmentations, SeriesCNN, and the
book's methods running unchanged on ``[B, C, T]`` batches."""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from ssl_teach import data as D
from ssl_teach.data import Dataset, load_dataset, read_ts, to_float
from ssl_teach.methods.base import Batch
from ssl_teach.models import ClassifierWithProjection, SeriesCNN, build_model
from ssl_teach.protocol import METHODS, Run, build, protocol_data, views
from ssl_teach.series_augment import (
    SeriesStrongAugment,
    SeriesWeakAugment,
    for_series,
    jitter,
    permutation,
    scaling,
    time_warp,
    window_slice,
)
from ssl_teach.store import Store, run_key
from ssl_teach.train import fit

HAS_AEON = importlib.util.find_spec("aeon") is not None
needs_aeon = pytest.mark.skipif(not HAS_AEON, reason="aeon (requirements.txt) ships the archive files")

TS_FILE = """# a comment
@problemName Tiny
@univariate false
@classLabel true a b
@data
1,2,3:4,5,6:a
7,8,9:1,1,1:b
"""


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- reading the archive


def test_read_ts_reads_channels_labels_and_classes(tmp_path):
    path = tmp_path / "Tiny_TRAIN.ts"
    path.write_text(TS_FILE)
    series, labels, classes = read_ts(path)
    assert classes == ("a", "b") and labels == ["a", "b"]
    assert series[0].tolist() == [[1, 2, 3], [4, 5, 6]] and series[1].shape == (2, 3)


@pytest.mark.parametrize("bad, message", [
    ("1,?,3:a", "missing"), ("1,2,3:c", "outside its @classLabel"), ("1,2:3,4,5:a", "different lengths"),
])
def test_read_ts_refuses_bad_lines(tmp_path, bad, message):
    path = tmp_path / "Bad_TRAIN.ts"
    path.write_text("@classLabel true a b\n@data\n" + bad + "\n")
    with pytest.raises(ValueError, match=message):
        read_ts(path)


def test_resample_keeps_the_ends_and_is_linear():
    out = D.resample(torch.tensor([[0.0, 1.0, 2.0]]).numpy(), 5)
    assert out.tolist() == [[0.0, 0.5, 1.0, 1.5, 2.0]]


@needs_aeon
def test_italy_power_demand_is_pooled_and_split_by_the_protocol():
    dataset = load_dataset("italy_power_demand")
    assert dataset.train_images.shape == (696, 1, 24) and dataset.test_images.shape == (400, 1, 24)
    assert dataset.train_images.dtype == torch.float32
    assert torch.bincount(dataset.test_labels).tolist() == [200, 200]  # 200 test series per class
    assert "67 train + 1,029 test series" in dataset.source and "aeon" in dataset.source
    assert dataset.digest() == D.PINNED_DIGESTS["italy_power_demand"]
    assert abs(dataset.train_images.mean().item()) < 1e-3 and abs(dataset.train_images.std().item() - 1) < 1e-3
    assert D.data_id("italy_power_demand") == "italy_power_demand:696+400:" + dataset.digest()
    assert load_dataset("ItalyPowerDemand").digest() == dataset.digest()  # the archive's name works too


@needs_aeon
def test_japanese_vowels_has_twelve_channels_nine_classes_and_resampled_lengths():
    dataset = load_dataset("japanese_vowels")
    assert dataset.train_images.shape == (415, 12, 29) and dataset.num_classes == 9
    assert torch.bincount(dataset.test_labels).tolist() == [25] * 9
    assert dataset.digest() == D.PINNED_DIGESTS["japanese_vowels"]
    split = protocol_data(dataset, 10, seed=0, profile="smoke")
    assert len(split.val) == 9 * 10 and len(split.labeled) == 90  # 10 validation series per class


@needs_aeon
def test_the_protocol_split_of_a_series_dataset():
    dataset = load_dataset("italy_power_demand")
    data = protocol_data(dataset, 5, seed=1, profile="book")
    assert torch.bincount(data.labels[data.labeled]).tolist() == [5, 5]
    assert torch.bincount(data.labels[data.val]).tolist() == [50, 50]
    assert set(data.labeled.tolist()) <= set(data.unlabeled.tolist())  # the stream includes the labeled series
    assert not set(data.val.tolist()) & set(data.unlabeled.tolist())
    assert len(data.unlabeled) == 696 - 100


@needs_aeon
def test_other_series_than_the_pinned_ones_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "ItalyPowerDemand"
    shutil.copytree(D.series_dir() / "ItalyPowerDemand", folder)
    train = folder / "ItalyPowerDemand_TRAIN.ts"
    text = train.read_text()
    train.write_text(text.replace("@data\n", "@data\n" + text.split("@data\n")[1].splitlines()[0] + "\n", 1))
    monkeypatch.setenv(D.SERIES_DIR_ENV, str(tmp_path))
    with pytest.raises(ValueError, match="not the protocol's"):
        load_dataset("italy_power_demand", root=tmp_path / "empty", download=False)


@needs_aeon
def test_the_archive_download_path_reads_a_zip_like_the_archives(tmp_path, monkeypatch):
    archive = tmp_path / "served" / "ItalyPowerDemand.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for part in ("TRAIN", "TEST"):
            z.write(D.series_dir() / "ItalyPowerDemand" / f"ItalyPowerDemand_{part}.ts", f"ItalyPowerDemand_{part}.ts")
    (tmp_path / "nothing").mkdir()
    monkeypatch.setenv(D.SERIES_DIR_ENV, str(tmp_path / "nothing"))  # no shipped copy
    monkeypatch.delenv(D.NO_DOWNLOAD_ENV, raising=False)
    monkeypatch.setattr(D, "UCR_URL", (tmp_path / "served").as_uri() + "/{name}.zip")
    dataset = load_dataset("italy_power_demand", root=tmp_path / "root")
    assert "downloaded from file:" in dataset.source
    assert dataset.digest() == D.PINNED_DIGESTS["italy_power_demand"]
    assert (tmp_path / "root" / "ucr" / "ItalyPowerDemand" / "ItalyPowerDemand_TEST.ts").is_file()


def test_missing_series_say_what_was_tried_and_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv(D.SERIES_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        load_dataset("japanese_vowels", root=tmp_path / "root", download=False)
    text = str(error.value)
    assert "skipped (download=False)" in text and "pip install 'aeon" in text and "JapaneseVowels_TRAIN.ts" in text


def test_to_float_passes_series_through_and_still_scales_images():
    series = torch.randn(2, 1, 5)
    assert to_float(series) is series
    assert to_float(torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)).eq(1).all()


# --------------------------------------------------------------------------- augmentations


def test_jitter_adds_noise_of_the_stated_standard_deviation():
    x = torch.zeros(200, 2, 50)
    noise = jitter(x, sigma=0.05, generator=_g()) - x
    assert noise.std().item() == pytest.approx(0.05, rel=0.03) and abs(noise.mean().item()) < 0.002
    assert torch.equal(jitter(x, sigma=0.0), x)


def test_scaling_draws_one_factor_per_series_and_channel():
    x = torch.rand(300, 3, 20) + 1
    ratio = scaling(x, sigma=0.1, generator=_g()) / x
    factor = ratio[..., 0]
    assert torch.allclose(ratio, factor[..., None].expand_as(ratio), atol=1e-5)  # constant along time
    assert factor.std().item() == pytest.approx(0.1, rel=0.1) and factor.mean().item() == pytest.approx(1, abs=0.02)
    assert (factor[:, 0] != factor[:, 1]).all() and len(factor[:, 0].unique()) > 290  # per channel, per series


def test_permutation_keeps_the_values_moves_contiguous_segments_and_all_channels_alike():
    t = 24
    base = torch.arange(t, dtype=torch.float32).expand(500, t)
    x = torch.stack([base, 2 * base + 1], dim=1)  # channel 1 is a function of channel 0
    out = permutation(x, max_segments=5, generator=_g())
    assert torch.equal(out.sort(dim=2).values, x)  # the same multiset in every series and channel
    assert torch.equal(out[:, 1], 2 * out[:, 0] + 1)  # one permutation for every channel of a series
    jumps = (out[:, 0].diff(dim=1) != 1).sum(dim=1)
    assert jumps.max().item() <= 4  # at most 5 increasing runs: 5 segments
    assert (jumps > 0).float().mean() > 0.75  # most series change order (2 to 5 segments: 18 % stay)
    assert len({tuple(row) for row in out[:, 0].long().tolist()}) > 250  # each series its own cuts


def test_time_warp_keeps_ends_and_order_and_changes_timing():
    x = torch.linspace(0, 1, 30).expand(100, 1, 30).contiguous()
    out = time_warp(x, sigma=0.3, knots=4, generator=_g())
    assert torch.allclose(out[..., 0], x[..., 0]) and torch.allclose(out[..., -1], x[..., -1], atol=1e-6)
    assert (out.diff(dim=2) >= -1e-6).all()  # a monotone series stays monotone: events keep their order
    assert (out - x).abs().amax(dim=2).min() > 1e-3  # every series is warped
    assert torch.allclose(time_warp(x, sigma=0.0), x, atol=1e-6)


def test_window_slice_stretches_a_window_of_the_stated_ratio():
    x = torch.arange(21, dtype=torch.float32).expand(50, 1, 21).contiguous()
    out = window_slice(x, ratio=0.5, generator=_g())
    slope = out.diff(dim=2)
    assert torch.allclose(slope, torch.full_like(slope, 0.5), atol=1e-5)  # 10 steps spread over 20
    assert (out[..., 0] >= 0).all() and (out[..., -1] <= 20 + 1e-5).all() and len(out[:, 0, 0].unique()) > 40
    assert torch.allclose(window_slice(x, ratio=1.0), x)


def test_augmentations_are_reproducible_with_a_generator_and_keep_shapes():
    x = torch.randn(8, 3, 16)
    weak, strong = SeriesWeakAugment(), SeriesStrongAugment(SeriesWeakAugment(), kind="permutation")
    for augment in (weak, strong, SeriesStrongAugment(weak, "time_warp"), SeriesStrongAugment(weak, "window_slice")):
        assert augment(x).shape == x.shape
        assert torch.equal(augment(x, _g(3)), augment(x, _g(3)))
        assert not torch.equal(augment(x, _g(3)), augment(x, _g(4)))


@pytest.mark.parametrize("call, message", [
    (lambda: jitter(torch.rand(2, 1, 28, 28)), r"\[B, C, T\]"),
    (lambda: jitter(torch.zeros(2, 1, 5, dtype=torch.uint8)), "float batch"),
    (lambda: jitter(torch.rand(2, 1, 5), sigma=-1), "sigma must be a finite number >= 0, got -1"),
    (lambda: permutation(torch.rand(2, 1, 5), max_segments=6), r"max_segments must be an int in \[1, 5\], got 6"),
    (lambda: time_warp(torch.rand(2, 1, 5), knots=-1), "knots must be an int >= 0"),
    (lambda: window_slice(torch.rand(2, 1, 5), ratio=0), r"ratio must be a number in \(0, 1\], got 0"),
    (lambda: SeriesStrongAugment(SeriesWeakAugment(), kind="cutout"), "kind must be one of permutation"),
    (lambda: for_series("mnist"), "unknown series dataset 'mnist'"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- the model


def test_series_cnn_gives_logits_and_features_for_any_length():
    model = SeriesCNN(num_classes=3, in_channels=2)
    logits, features = model(torch.randn(4, 2, 24), return_features=True)
    assert logits.shape == (4, 3) and features.shape == (4, model.feature_dim)
    assert model(torch.randn(4, 2, 7)).shape == (4, 3)
    head = ClassifierWithProjection(model, dim=8)
    logits, embedding = head(torch.randn(4, 2, 24), return_embedding=True)
    assert embedding.shape == (4, 8) and torch.allclose(embedding.norm(dim=1), torch.ones(4))


def test_series_cnn_refuses_images_and_wrong_channels():
    model = SeriesCNN(num_classes=2, in_channels=1)
    with pytest.raises(ValueError, match=r"\[B, 1, T\], got \(2, 1, 28, 28\)"):
        model(torch.rand(2, 1, 28, 28))
    with pytest.raises(TypeError, match="float"):
        model(torch.zeros(2, 1, 24, dtype=torch.uint8))
    with pytest.raises(ValueError, match="kernels"):
        SeriesCNN(kernels=(7, 4, 3))


def test_build_model_fits_each_series_dataset():
    for name, classes, channels in (("italy_power_demand", 2, 1), ("japanese_vowels", 9, 12)):
        model = build_model(name, "book")
        assert isinstance(model, SeriesCNN) and model.classifier.out_features == classes
        assert model.in_channels == channels


# --------------------------------------------------------------------------- the methods, unchanged


def synthetic_series(n_per_class: int = 30, length: int = 24) -> Dataset:
    """Two classes: a bump early or late in the window, plus noise; named like the real dataset."""
    g = _g(1)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(2).repeat_interleave(n)
        t = torch.arange(length, dtype=torch.float32)
        centre = torch.where(labels == 0, 6.0, 18.0)[:, None]
        x = torch.exp(-((t - centre) ** 2) / 8) + 0.1 * torch.randn(len(labels), length, generator=g)
        return x[:, None].contiguous(), labels

    train, train_labels = make(n_per_class)
    test, test_labels = make(10)
    return Dataset("italy_power_demand", train, train_labels, test, test_labels, D.SERIES["italy_power_demand"].classes,
                   "synthetic test series")


def test_series_runs_name_their_views_and_image_runs_are_refused_a_strong_view():
    run = Run("fixmatch", "italy_power_demand", 5, 0, "book")
    other = Run("fixmatch", "italy_power_demand", 5, 0, "book", strong="permutation")
    assert "time_warp" in run.config()["views"][1] and "permutation" in other.config()["views"][1]
    assert run_key(run.config()) != run_key(other.config()) and other.label == "fixmatch[strong=permutation]"
    assert run.config()["fit_options"]["steps"] == 1000 and run.val_per_class == 50
    assert "strong" not in Run("fixmatch", "mnist").config() and "views" not in Run("fixmatch", "mnist").config()
    with pytest.raises(ValueError, match="strong must be None"):
        Run("fixmatch", "mnist", strong="time_warp")
    weak, strong = views(other)
    assert isinstance(weak, SeriesWeakAugment) and strong.kind == "permutation"


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_on_series_batches_without_change(method):
    torch.set_num_threads(1)
    data = D.make_ssl_data(synthetic_series(), 3, n_val_per_class=2, seed=0)
    run = Run(method, "italy_power_demand", 3, 0, "smoke")
    built = build(run, data)
    before = [p.detach().clone() for p in built.model.parameters()]
    history = fit(built, data, "smoke", steps=3, batch_size=4, mu=2, eval_every=3, progress=False)
    assert 0 <= history.final_accuracy <= 1 and all(torch.isfinite(torch.tensor(history.train["loss"])))
    assert any(not torch.equal(a, b) for a, b in zip(before, built.model.parameters()))


def test_fixmatch_loss_reads_series_and_its_unlabeled_term_is_live():
    torch.manual_seed(0)
    data = D.make_ssl_data(synthetic_series(), 3, seed=0)
    method = build(Run("fixmatch", "italy_power_demand", 3, 0, "smoke", options={"threshold": 0.0}), data)
    x = data.images[:12]
    batch = Batch(x[:4], data.labels[:4], x[4:], torch.arange(4, 12), data.labels[4:12], torch.arange(4))
    loss, logs = method.loss(batch, 0)
    assert logs["mask_rate"] == 1.0 and logs["loss_unlabeled"] > 0
    loss.backward()
    assert all(p.grad is not None for p in method.model.parameters())


@needs_aeon
def test_a_series_run_goes_through_the_store(tmp_path):
    from ssl_teach.experiments import result

    torch.set_num_threads(1)
    run = Run("fixmatch", "japanese_vowels", 2, 0, "smoke", fit_options={"steps": 4, "eval_every": 4})
    record = result(run, store=Store(tmp_path), progress=False)
    assert record["config"]["data"] == D.data_id("japanese_vowels") and record["config"]["val_per_class"] == 10
    assert Path(Store(tmp_path).path(run.config())).is_file() and 0 <= record["test_acc"] <= 1


def test_the_chapters_runs_put_the_headline_first_and_repeat_none():
    from ssl_teach.series_runs import BUDGETS, HEADLINE_BUDGET, series_runs

    runs = series_runs("book", other="mixmatch")
    assert len(runs) == len(set(runs))
    first = runs[:9]  # the floor, FixMatch and the ceiling of ItalyPowerDemand, seeds 0-2
    assert [r.method for r in first] == ["supervised"] * 3 + ["fixmatch"] * 3 + ["supervised"] * 3
    assert [r.n_per_class for r in first] == [HEADLINE_BUDGET] * 6 + [None] * 3
    strong = {r.strong for r in runs if r.strong is not None}
    assert strong == {"permutation", "window_slice"}  # the ablation: every view but the protocol's
    assert {r.n_per_class for r in runs if r.method == "mean_teacher"} == set(BUDGETS)
    assert {r.dataset for r in runs} == {"italy_power_demand", "japanese_vowels"}
