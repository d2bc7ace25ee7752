"""book/check_pages.py counts glue lines and long visible bookkeeping cells of a page."""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import check_pages  # noqa: E402


def _notebook(tmp_path, cells):
    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    return path


def test_glue_lines_and_long_visible_cells_are_counted_and_fail_the_check(tmp_path, capsys):
    long = "\n".join(f"x{i} = {i}" for i in range(20))
    path = _notebook(tmp_path, [
        ('glue("a", 1, display=False)\nglue_all("fm", numbers)\nprint(1)', []),
        (long, []),                 # visible bookkeeping: counted
        (long, ["hide-input"]),     # hidden: not counted
        (long, ["teaching"]),       # a method being built: allowed
    ])
    assert check_pages.count(path, 15) == (2, [(1, 20)])
    assert check_pages.main([str(path)]) == 1 and "FAIL page.ipynb: 2 glue lines" in capsys.readouterr().out
    assert check_pages.main([str(path), "--report"]) == 0
    assert check_pages.main([str(path), "--max-lines", "25"]) == 0


def test_a_local_wrapper_of_glue_counts_as_glue(tmp_path):
    path = _notebook(tmp_path, [
        ('def g(name, value):\n    glue(name, float(value), display=False)\n', []),
        ('def gg(name):\n    g(name, 1)\n', []),
        ('g("a", 1)\ng("b", 2)\ngg("c")\nglue_all("d", {"x": 1,\n                 "y": 2})\nmy.g(3)', []),
    ])
    # the glue line inside g, the g line inside gg, g twice, gg once and glue_all once
    assert check_pages.count(path, 15) == (6, [])
