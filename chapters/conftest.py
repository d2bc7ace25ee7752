"""nbval (``pytest --nbval-lax chapters/``): stop at once, with one message, when a dataset
that the collected notebooks load is missing, instead of failing every cell after the first
data cell. ``make test`` runs ``make data`` first, which also installs what it can."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book"))

import ensure_data  # noqa: E402


def pytest_collection_finish(session: pytest.Session) -> None:
    notebooks = {Path(str(item.path)) for item in session.items if str(item.path).endswith(".ipynb")}
    if not notebooks:
        return
    missing = ensure_data.find_missing(ensure_data.chapter_datasets(notebooks), install=False)
    if missing:
        pytest.exit(ensure_data.message(missing) + "\n\nNo notebook was run.", returncode=1)
