"""Grade submissions without Docker: ``otter run`` one by one, into a grades table.

    python assignments/grade.py assignments/a1_fixmatch/autograder/autograder.zip submissions/*.ipynb \\
        --csv grades.csv

Each submission (a student's ``.ipynb``, or the ``.zip`` that ``grader.export()`` makes) is
executed from top to bottom in this Python environment, then every test of the autograder,
hidden ones included, is run against it. The table has one row per submission: the points of
each question, the total and the seconds grading took. A submission runs with the same rights
as you: grade untrusted work in a container (``otter grade``, see the instructor page).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def otter() -> str:
    candidate = Path(sys.executable).parent / "otter"
    return str(candidate) if candidate.exists() else "otter"


def grade(submission: str | Path, autograder: str | Path, timeout: float = 600) -> dict[str, float]:
    """``{question: points}`` of one submission, plus ``"total"``, ``"max_total"`` and ``"seconds"``."""
    scores, maxima, seconds = grade_details(submission, autograder, timeout)
    return {**scores, "total": sum(scores.values()), "max_total": sum(maxima.values()), "seconds": round(seconds, 1)}


def grade_details(submission: str | Path, autograder: str | Path,
                  timeout: float = 600) -> tuple[dict[str, float], dict[str, float], float]:
    """``({question: points}, {question: points possible}, seconds)`` of one submission."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run = subprocess.run([otter(), "run", "--no-logo", "-a", str(autograder), "-o", out, str(submission)],
                             capture_output=True, text=True, timeout=timeout)
        seconds = time.perf_counter() - start
        results = Path(out) / "results.json"
        if not results.exists():
            raise RuntimeError(f"otter run wrote no results for {submission}:\n"
                               f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        tests = json.loads(results.read_text())["tests"]
    scores = {t["name"]: float(t["score"]) for t in tests if "score" in t}
    maxima = {t["name"]: float(t["max_score"]) for t in tests if "score" in t}
    return scores, maxima, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("autograder", help="the assignment's autograder.zip")
    parser.add_argument("submissions", nargs="+", help="notebooks or exported zips, one per student")
    parser.add_argument("--csv", help="write the grades table to this CSV file")
    args = parser.parse_args(argv)
    rows = []
    for submission in args.submissions:
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
