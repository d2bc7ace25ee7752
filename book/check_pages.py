"""Count what crowds a chapter's teaching: lines of ``glue`` and long visible bookkeeping cells.

    python book/check_pages.py [--max-glue 30] [--max-lines 15] [--report] [NOTEBOOK ...]

A page teaches in short visible cells; its bookkeeping (store reads, glue, data source, cost)
stays out of sight. For every chapter (default: every notebook in ``chapters/``) this prints
the lines that call ``glue`` (or a function of the page that calls it, such as a local ``g``)
and every visible code cell longer than ``--max-lines`` lines
that is not tagged ``teaching`` (a cell that builds a method may be longer; a cell whose input
is hidden, tag ``hide-input`` or ``remove-input``, does not count). Exits 1 when a chapter has
more glue lines than ``--max-glue`` or a long visible bookkeeping cell, unless ``--report``.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
HIDDEN = {"hide-input", "remove-input", "remove-cell"}


def _wrappers(sources: list[str]) -> set[str]:
    """The names of the page's own functions that call ``glue``, ``glue_all`` or another such function."""
    defs: dict[str, set[str]] = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # a cell with IPython magics: no function of ours to find in it
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                defs[node.name] = {n.func.id for n in ast.walk(node)
                                   if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names = {"glue", "glue_all"}
    while True:
        more = {name for name, calls in defs.items() if calls & names} - names
        if not more:
            return names
        names |= more


def count(path: Path, max_lines: int) -> tuple[int, list[tuple[int, int]]]:
    """(lines calling glue, directly or through a function of the page, [(cell index, lines) of
    each long visible bookkeeping cell])."""
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    calls = re.compile(r"(?<![\w.])(" + "|".join(sorted(_wrappers([c.source for c in code]))) + r")\(")
    glue_lines, long_cells = 0, []
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        lines = [line for line in cell.source.splitlines() if line.strip()]
        glue_lines += sum(bool(calls.search(line)) and not line.lstrip().startswith("def ") for line in lines)
        tags = set(cell.metadata.get("tags", []))
        if not tags & HIDDEN and "teaching" not in tags and len(lines) > max_lines:
            long_cells.append((i, len(lines)))
    return glue_lines, long_cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--max-glue", type=int, default=30)
    parser.add_argument("--max-lines", type=int, default=15)
    parser.add_argument("--report", action="store_true", help="print the counts, never fail")
    args = parser.parse_args(argv)
    failed = False
    for path in args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb")):
        glue_lines, long_cells = count(path, args.max_lines)
        bad = glue_lines > args.max_glue or bool(long_cells)
        failed |= bad
        cells = ", ".join(f"cell {i} ({n} lines)" for i, n in long_cells) or "none"
        print(f"{'FAIL' if bad else 'ok  '} {path.name}: {glue_lines} glue lines (at most {args.max_glue}); "
              f"visible bookkeeping cells over {args.max_lines} lines: {cells}")
    return 0 if args.report or not failed else 1


if __name__ == "__main__":
    sys.exit(main())
