"""Grade submissions without Docker: ``otter run`` one by one, into a grades table.

    python assignments/grade.py assignments/a1_fixmatch/autograder/autograder.zip submissions/*.ipynb \\
        --csv grades.csv

Each submission (a student's ``.ipynb``, or the ``.zip`` that ``grader.export()`` makes) is
executed from top to bottom in this Python environment, then every test of the autograder,
hidden ones included, is run against it. The table has one row per submission: the points of
each question, the total and the seconds grading took. A submission runs with the same rights
as you: grade untrusted work in a container (``otter grade``, see the instructor page).

``--in-process`` grades notebooks in this one Python process instead of one ``otter run`` each:
their code cells run in a fresh namespace each (cells tagged ``otter_ignore`` and ``grader.``
lines skipped, as otter's grading does; an error in a cell does not stop the next ones), then
otter's own test-file runner (``otter.test_files``, what ``grader.check`` and ``otter run`` use)
runs every test. The test suite grades the wrong submissions this way: torch, the data and otter
are imported once per assignment instead of once per notebook.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path


def otter() -> str:
    candidate = Path(sys.executable).parent / "otter"
    return str(candidate) if candidate.exists() else "otter"


def grade(submission: str | Path, autograder: str | Path, timeout: float | None = None) -> dict[str, float]:
    """``{question: points}`` of one submission, plus ``"total"``, ``"max_total"`` and ``"seconds"``."""
    scores, maxima, seconds = grade_details(submission, autograder, timeout)
    return {**scores, "total": sum(scores.values()), "max_total": sum(maxima.values()), "seconds": round(seconds, 1)}


def grade_details(submission: str | Path, autograder: str | Path, timeout: float | None = None,
                  env: dict | None = None) -> tuple[dict[str, float], dict[str, float], float]:
    """``({question: points}, {question: points possible}, seconds)`` of one submission (``env``:
    the environment of ``otter run``, e.g. ``SSL_TEACH_PROFILE``; no time limit by default)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = subprocess.run([otter(), "run", "--no-logo", "-a", str(autograder), "-o", out, str(submission)],
                             capture_output=True, text=True, timeout=timeout, env=env)
        seconds = time.perf_counter() - start
        results = Path(out) / "results.json"
        if not results.exists():
            raise RuntimeError(f"otter run wrote no results for {submission}:\n"
                               f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        tests = json.loads(results.read_text())["tests"]
    scores = {t["name"]: float(t["score"]) for t in tests if "score" in t}
    maxima = {t["name"]: float(t["max_score"]) for t in tests if "score" in t}
    return scores, maxima, seconds


def notebook_cells(submission: str | Path) -> list[str]:
    """The code a grading runs: the code cells of the notebook (or of the one notebook in an
    exported zip), without cells tagged ``otter_ignore`` and without ``grader.`` lines."""
    path = Path(submission)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            (name,) = [n for n in z.namelist() if n.endswith(".ipynb")]
            notebook = json.loads(z.read(name))
    else:
        notebook = json.loads(path.read_text())
    sources = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or "otter_ignore" in cell.get("metadata", {}).get("tags", []):
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        sources.append("\n".join(line[:len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith("grader.")
                                  else line for line in text.splitlines()))
    return sources


def grade_in_process(submission: str | Path, autograder: str | Path,
                     quiet: bool = True) -> tuple[dict[str, float], dict[str, float], float, list[str], list[str]]:
    """``({question: points}, {question: points possible}, seconds, errors, failed)`` of one
    submission, graded in this process (see the module's docstring); ``errors`` names the cells that
    raised, ``failed`` the tests that failed, as ``"q2 test_worked_example (public)"``."""
    import contextlib
    import io
    import traceback

    from otter.test_files import ExceptionTestFile

    start = time.perf_counter()
    env: dict = {"__name__": "__main__"}
    errors = []
    sink = io.StringIO()
    for i, text in enumerate(notebook_cells(submission)):
        try:
            with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
                exec(compile(text, f"<{Path(submission).name} cell {i}>", "exec"), env)  # noqa: S102
        except Exception:  # noqa: BLE001 - a student's cell may fail; the tests then say what is missing
            errors.append(f"cell {i}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
    scores, maxima, failed = {}, {}, []
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(autograder) as z:
        names = sorted(n for n in z.namelist() if n.startswith("tests/") and n.endswith(".py"))
        for name in names:
            path = Path(tmp) / Path(name).name
            path.write_bytes(z.read(name))
            test_file = ExceptionTestFile.from_file(str(path))
            with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
                test_file.run(env)
            scores[path.stem], maxima[path.stem] = float(test_file.score), float(test_file.possible)
            failed += [f"{path.stem} {r.test_case.name} ({'hidden' if r.test_case.hidden else 'public'})"
                       for r in test_file.test_case_results if not r.passed]
    return scores, maxima, time.perf_counter() - start, errors, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("autograder", help="the assignment's autograder.zip")
    parser.add_argument("submissions", nargs="+", help="notebooks or exported zips, one per student")
    parser.add_argument("--csv", help="write the grades table to this CSV file")
    parser.add_argument("--in-process", action="store_true",
                        help="grade in this process with otter's test runner instead of one `otter run` each")
    parser.add_argument("--json", action="store_true", help="print one JSON object per submission")
    args = parser.parse_args(argv)
    rows = []
    for submission in args.submissions:
        if args.in_process:
            scores, maxima, seconds, errors, failed = grade_in_process(submission, args.autograder)
            row = {"submission": Path(submission).name, **scores, "total": sum(scores.values()),
                   "max_total": sum(maxima.values()), "seconds": round(seconds, 1)}
            if args.json:
                print(json.dumps({"submission": str(submission), "scores": scores, "maxima": maxima,
                                  "seconds": seconds, "errors": errors, "failed": failed}), flush=True)
                rows.append(row)
                continue
        else:
            row = {"submission": Path(submission).name, **grade(submission, args.autograder)}
        rows.append(row)
        print(", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    if args.csv:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {args.csv} ({len(rows)} submissions)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
