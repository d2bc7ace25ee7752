"""The book's integrity: every published chapter is installable on Colab, executed and cited.

A chapter is published when ``_toc.yml`` lists it. Draft notebooks in ``chapters/`` are not on
the website, but nbval still runs them in the smoke profile (``make test``).
"""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from ssl_teach.config import get_profile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book"))

from sync_repository import (  # noqa: E402
    INSTALL_CELL_TAGS,
    install_cell,
    install_cell_source,
    published_chapters,
)

CHAPTERS = published_chapters()
MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def test_there_are_chapters():
    assert CHAPTERS and CHAPTERS[0].name == "00_setting.ipynb"


def test_every_toc_entry_exists():
    for file in toc_files():
        assert any((ROOT / f"{file}{suffix}").exists() for suffix in (".md", ".ipynb")), file


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_installs_the_package_on_colab_with_hidden_output(path):
    cell = install_cell(nbformat.read(path, as_version=4))
    assert cell.source == install_cell_source(path.name), "run: python book/sync_repository.py"
    assert set(INSTALL_CELL_TAGS) <= set(cell.metadata.get("tags", []))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_outputs_come_from_one_clean_complete_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "some cells were never executed"
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), "outputs are not from one top-to-bottom run"
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors[:1]
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_reports_its_data_source_and_has_exercises_and_references(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(cell.source for cell in nb.cells)
    glued = {output.get("metadata", {}).get("scrapbook", {}).get("name") for cell in nb.cells
             for output in cell.get("outputs", [])}
    assert "data_source" in glued  # the executed page glued the source of its data (glue or glue_all)
    assert "{exercise}" in source and ("{solution}" in source or "{solution-start}" in source)
    assert "{footbibliography}" in source and "Pitfalls" in source


def test_every_citation_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text()))
    pages = CHAPTERS + sorted((ROOT / "book").glob("*.md"))
    for page in pages:
        text = page.read_text()
        for group in re.findall(r"\{(?:foot)?cite(?::\w+)?\}`([^`]+)`", text):
            for key in group.split(","):
                assert key.strip() in keys, f"{page.name} cites unknown key {key.strip()!r}"


def test_status_page_covers_every_chapter():
    status = json.loads((ROOT / "book" / "status.json").read_text())
    for path in CHAPTERS:
        row = status[f"chapters/{path.name}"]
        # the book's protocol ("cpu" is its earlier name, in the rows of chapters not re-executed since)
        assert get_profile(row["profile"]).name == "book", f"{path.name} outputs come from the {row['profile']} profile"
        assert row["data_source"] != "not reported"
