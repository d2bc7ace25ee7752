"""The course assignments (assignments/, otter-grader): no drift from the masters, student
notebooks without solutions, public tests that reach Colab, and grading that is honest: the
solution gets full marks, the untouched student notebook zero, and each known wrong
implementation loses exactly the points of its trap (graded with ``otter run``, no Docker)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "assignments"
sys.path.insert(0, str(ASSIGNMENTS))

import build  # noqa: E402
from grade import grade_details  # noqa: E402
from wrong_submissions import WRONG_SUBMISSIONS  # noqa: E402

STEMS = sorted(m.stem for m in build.MASTERS.glob("*.ipynb"))


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def autograder(stem: str) -> Path:
    return ASSIGNMENTS / stem / "autograder" / "autograder.zip"


def points_possible(stem: str) -> dict[str, float]:
    """Per question, the sum of its test cases' points, read from the autograder's test files."""
    with zipfile.ZipFile(autograder(stem)) as z:
        names = [n for n in z.namelist() if re.fullmatch(r"tests/\w+\.py", n)]
        return {Path(n).stem: sum(float(p) for p in re.findall(r"@test_case\(points=([\d.]+)", z.read(n).decode()))
                for n in names}


def setup_cell(stem: str) -> str:
    (cell,) = [c for c in cells(ASSIGNMENTS / stem / "student" / f"{stem}.ipynb")
               if c["cell_type"] == "code" and "PUBLIC_TESTS" in c["source"]]
    return cell["source"]


def inline_tests(setup: str) -> dict[str, str]:
    for node in ast.walk(ast.parse(setup)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PUBLIC_TESTS":
            return ast.literal_eval(node.value)
    raise AssertionError("the setup cell defines no PUBLIC_TESTS")


# --------------------------------------------------------------------------- static checks


def test_generated_files_match_the_masters():
    assert build.main(["--check"]) == 0, "run `make assignments` and commit the result"


def test_every_assignment_and_trap_is_built():
    assert STEMS == ["a1_fixmatch", "a2_consistency", "a3_mixmatch", "a4_simmatch", "a5_capstone"]
    for spec in WRONG_SUBMISSIONS:
        assert (ASSIGNMENTS / "wrong_submissions" / f"{spec['assignment']}__{spec['trap']}.ipynb").exists()
    assert {s["trap"] for s in WRONG_SUBMISSIONS} == {
        "mask_sum", "gradient_through_pseudo_label", "teacher_compared_with_itself", "mixup_without_max",
        "guessing_moves_batchnorm", "aggregate_unfolded"}


@pytest.mark.parametrize("stem", STEMS)
def test_student_notebook_has_no_solution_and_no_hidden_test(stem):
    notebook = cells(ASSIGNMENTS / stem / "student" / f"{stem}.ipynb")
    assert "BEGIN SOLUTION" not in json.dumps(notebook) and "hidden: true" not in json.dumps(notebook)
    student = "\n".join(c["source"] for c in notebook if c["cell_type"] == "code")  # prompts may quote formulas
    solution_lines, other_lines = [], set()
    for cell in cells(build.MASTERS / f"{stem}.ipynb"):
        inside = False
        for line in cell["source"].splitlines():
            if re.match(r"\s*# (BEGIN|END) SOLUTION", line):
                inside = line.strip().startswith("# BEGIN")
            elif inside and len(line.strip()) > 12:
                solution_lines.append(line.strip())
            else:
                other_lines.add(line.strip())
    assert solution_lines, "the master should have solutions"
    leaked = [line for line in solution_lines if line in student and line not in other_lines]
    assert not leaked, f"solution lines in the student notebook: {leaked}"
    for test_file in (ASSIGNMENTS / stem / "student" / "tests").glob("*.py"):
        assert "hidden=True" not in test_file.read_text()


@pytest.mark.parametrize("stem", STEMS)
def test_setup_cell_carries_the_public_tests_and_the_release(stem):
    setup = setup_cell(stem)
    files = {p.name: p.read_text() for p in (ASSIGNMENTS / stem / "student" / "tests").glob("*.py")}
    assert inline_tests(setup) == files
    assert build.requirement() in setup and "otter-grader==7.0.0" in setup


def test_grader_check_works_from_the_notebook_alone(tmp_path):
    """What Colab does: only the notebook is there; its setup cell (with google.colab present and
    pip stubbed) writes tests/, then grader.check passes the solution's answers."""
    stem = "a4_simmatch"
    (tmp_path / f"{stem}.ipynb").write_text((ASSIGNMENTS / stem / "student" / f"{stem}.ipynb").read_text())
    solution = [c["source"] for c in cells(ASSIGNMENTS / stem / "autograder" / f"{stem}.ipynb")
                if c["cell_type"] == "code" and "grader." not in c["source"] and "PUBLIC_TESTS" not in c["source"]]
    script = f"""
import subprocess, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
pip_calls = []
subprocess.run = lambda *args, **kwargs: pip_calls.append(args)
exec({setup_cell(stem)!r})
assert pip_calls and "otter-grader==7.0.0" in pip_calls[0][0]
for source in {solution!r}:
    exec(source)
for question in ("q1", "q2", "q3", "q4"):
    result = grader.check(question)
    assert result.grade == 1, (question, result)
print("checked")
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "checked" in run.stdout, run.stdout + run.stderr
    assert sorted(p.name for p in (tmp_path / "tests").glob("*.py")) == ["q1.py", "q2.py", "q3.py", "q4.py"]


def test_capstone_bands_are_ordered_and_documented():
    floor, fixmatch, where = build.bands()
    assert 0.5 < floor < fixmatch < 1.0
    master = json.dumps(cells(build.CAPSTONE))
    assert f"FLOOR, FIXMATCH = {floor:.4f}, {fixmatch:.4f}" in master
    assert f"{100 * floor:.2f} %" in master and where.split(" (")[0] in master


# --------------------------------------------------------------------------- grading with otter run


def submissions() -> list:
    cases = []
    for stem in STEMS:
        cases.append(pytest.param(stem, ASSIGNMENTS / stem / "autograder" / f"{stem}.ipynb", None,
                                  id=f"{stem}-solution"))
        cases.append(pytest.param(stem, ASSIGNMENTS / stem / "student" / f"{stem}.ipynb", "zero",
                                  id=f"{stem}-untouched"))
    for spec in WRONG_SUBMISSIONS:
        path = ASSIGNMENTS / "wrong_submissions" / f"{spec['assignment']}__{spec['trap']}.ipynb"
        cases.append(pytest.param(spec["assignment"], path, spec["lost"], id=f"{spec['assignment']}-{spec['trap']}"))
    return cases


@pytest.mark.parametrize(("stem", "submission", "lost"), submissions())
def test_grading(stem, submission, lost):
    # how long grading takes is not asserted (it depends on the machine's load): book/assignments.md
    scores, maxima, _seconds = grade_details(submission, autograder(stem))
    assert maxima == points_possible(stem)
    if lost == "zero":
        expected = {q: 0.0 for q in maxima}
    else:
        expected = {q: maxima[q] - (lost or {}).get(q, 0) for q in maxima}
    assert scores == expected, f"{submission.name}: got {scores}, expected {expected}"


def test_capstone_bands_come_from_the_store_when_it_has_both(tmp_path, monkeypatch):
    store = tmp_path / "ssl_teach" / "results" / "book" / "fashion_mnist"
    store.mkdir(parents=True)
    rows = [("supervised", 0, 0.70), ("supervised", 1, 0.72), ("fixmatch[steps=1000]", 0, 0.76),
            ("fixmatch[threshold=0.8]", 0, 0.99), ("supervised", 2, None),
            ("fixmatch", 0, 0.80)]  # the book's 2,700-step run is not the capstone's budget
    for i, (method, seed, acc) in enumerate(rows):
        n_per_class = None if acc is None else 10  # the ceiling does not count
        record = {"method": method, "dataset": "fashion_mnist", "profile": "book", "n_per_class": n_per_class,
                  "seed": seed, "test_acc": acc or 0.9, "steps": 1000, "key": f"k{i}", "config": {}, "history": {}}
        (store / f"run{i}.json").write_text(json.dumps(record))
    monkeypatch.setattr(build, "ROOT", tmp_path)
    floor, fixmatch, where = build.bands()
    assert (round(floor, 6), round(fixmatch, 6)) == (0.71, 0.76) and "results store" in where
    (store / "run2.json").unlink()  # no fixmatch record: the committed, provisional file
    assert build.bands()[2].startswith("`assignments/a5_capstone_bands.json`")
