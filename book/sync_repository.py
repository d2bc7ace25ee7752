"""Copy the repository address of ``_config.yml`` into every chapter's install cell.

    python book/sync_repository.py

``repository.url`` in ``_config.yml`` is the only place the address is written by hand. Each
chapter's first code cell installs ``ssl_teach`` on Colab from that repository, pinned to the
book's version tag (``v`` + ``ssl_teach.__version__``); this script rewrites those cells, and
``tests/test_book.py`` checks that they agree.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ssl_teach  # noqa: E402

#: hidden on the website: the output of pip, and (behind a toggle) the cell itself
INSTALL_CELL_TAGS = ("hide-input", "remove-output")
MARKER = "# On Colab (or anywhere ssl_teach is missing) install the book's package"


def repository_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


#: the package extras a chapter installs beyond ``offline`` (chapter 9 reads aeon's archive files)
EXTRAS = {"09_time_series.ipynb": ("series", " with the series extra (aeon's archive files)")}


def install_cell_source(chapter: str | None = None) -> str:
    """The canonical first code cell of a chapter (``chapter``: the notebook's file name, for its
    extras in :data:`EXTRAS`)."""
    extra, why = EXTRAS.get(chapter or "", ("", ""))
    extras = "offline" + (f",{extra}" if extra else "")
    return (
        f"{MARKER}{why}; a local checkout has it.\n"
        "import importlib.util\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        'if importlib.util.find_spec("ssl_teach") is None:\n'
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "ssl_teach[{extras}] @ git+{repository_url()}@v{ssl_teach.__version__}"], check=True)'
    )


def chapter_notebooks() -> list[Path]:
    """Every chapter notebook, published (in ``_toc.yml``) or still a draft."""
    return sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def published_chapters() -> list[Path]:
    """The chapter notebooks listed in ``_toc.yml``: the ones the website shows."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [path for path in chapter_notebooks() if f"chapters/{path.stem}" in files]


def install_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The first code cell of ``nb`` (which must be the install cell)."""
    return next(cell for cell in nb.cells if cell.cell_type == "code")


def main() -> int:
    for path in chapter_notebooks():
        nb = nbformat.read(path, as_version=4)
        cell = install_cell(nb)
        if not cell.source.startswith(MARKER):
            print(f"{path}: the first code cell is not the install cell; fix it by hand")
            return 1
        tags = cell.metadata.get("tags", [])
        if cell.source != install_cell_source(path.name) or not set(INSTALL_CELL_TAGS) <= set(tags):
            cell.source = install_cell_source(path.name)
            cell.metadata["tags"] = sorted(set(tags) | set(INSTALL_CELL_TAGS))
            nbformat.write(nb, path)
            print(f"{path}: install cell updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
