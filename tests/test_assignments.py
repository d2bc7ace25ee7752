"""The course assignments (assignments/, otter-grader): no drift from the masters, student
notebooks without solutions, public tests that reach Colab, points shown, and grading that is
honest: the solution gets full marks, the untouched student notebook zero, and each wrong
implementation in ``assignments/wrong_submissions.py`` loses exactly the points of its trap,
more than half of them through a public test the student sees.

Grading: the solutions of assignments 1 to 4 and every untouched notebook with ``otter run`` (no
Docker); every notebook, the wrong submissions included, with otter's own test runner in one
process per assignment (``assignments/grade.py --in-process``), which must agree with ``otter
run`` where both grade. Trainings of assignments 1 to 4 use the smoke profile's sizes
(``SSL_TEACH_PROFILE=smoke``); the capstone's grader always trains its full budget. How long
grading takes is measured by ``assignments/grading_times.py``, never asserted here.
"""

from __future__ import annotations

import ast
import functools
import json
import os
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
#: the environment gradings run in: the smoke profile's training sizes (the capstone ignores it)
GRADING_ENV = {**os.environ, "SSL_TEACH_PROFILE": "smoke"}
KNOWN_TRAPS = {"mask_sum", "gradient_through_pseudo_label", "teacher_compared_with_itself", "mixup_without_max",
               "guessing_moves_batchnorm", "aggregate_unfolded"}


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


def wrong_path(spec: dict) -> Path:
    return ASSIGNMENTS / "wrong_submissions" / f"{spec['assignment']}__{spec['trap']}.ipynb"


# --------------------------------------------------------------------------- static checks


def test_generated_files_match_the_masters():
    assert build.main(["--check"]) == 0, "run `make assignments` and commit the result"


def test_every_assignment_and_trap_is_built():
    assert STEMS == ["a1_fixmatch", "a2_consistency", "a3_mixmatch", "a4_simmatch", "a5_capstone"]
    names = [(s["assignment"], s["trap"]) for s in WRONG_SUBMISSIONS]
    assert len(names) == len(set(names)), "two wrong submissions with one name"
    for spec in WRONG_SUBMISSIONS:
        assert wrong_path(spec).exists(), wrong_path(spec)
        assert spec["lost"], f"{spec['trap']}: a wrong submission must lose points"
        assert set(spec["lost"]) <= set(points_possible(spec["assignment"])), spec["trap"]
    assert KNOWN_TRAPS <= {s["trap"] for s in WRONG_SUBMISSIONS}
    assert len(WRONG_SUBMISSIONS) >= 40
    assert {s["assignment"] for s in WRONG_SUBMISSIONS} == set(STEMS), "every assignment has wrong submissions"


@pytest.mark.parametrize("stem", STEMS)
def test_points_are_shown_per_question_and_in_total(stem):
    notebook = cells(ASSIGNMENTS / stem / "student" / f"{stem}.ipynb")
    text = "\n".join(c["source"] for c in notebook if c["cell_type"] == "markdown")
    questions = build.question_points(build.read_notebook(build.MASTERS / f"{stem}.ipynb"))
    possible = points_possible(stem)
    for q in questions:
        if not q["manual"]:
            assert q["points"] == possible[q["name"]], (q, possible)
        assert re.search(rf"\*\*Question {q['name'][1:]}\*\* \([^)]*{q['points']:g} points?,", text), q["name"]
    total = sum(q["points"] for q in questions)
    assert f"| **total** | **{total:g}** |" in text


@pytest.mark.parametrize("stem", STEMS)
def test_hand_in_cell_does_not_export_on_colab(stem):
    """otter's export cell raises on Colab; the notebooks say to download there and export elsewhere."""
    notebook = cells(ASSIGNMENTS / stem / "student" / f"{stem}.ipynb")
    (hand_in,) = [c["source"] for c in notebook if c["cell_type"] == "code" and "grader.export" in c["source"]]
    assert hand_in.startswith('if "google.colab" in sys.modules:') and "Download .ipynb" in hand_in
    namespace = {"sys": type(sys)("sys")}
    namespace["sys"].modules = {"google.colab": object()}
    exec(hand_in, namespace)  # on Colab: only a print, no grader needed


@pytest.mark.parametrize("stem", STEMS)
def test_assignment_uses_what_the_chapters_introduce(stem):
    """The data come from the protocol (protocol_data), as in every chapter, not make_ssl_data; a
    Method subclass is explained in the assignment itself where one is needed."""
    notebook = cells(ASSIGNMENTS / stem / "student" / f"{stem}.ipynb")
    code = "\n".join(c["source"] for c in notebook if c["cell_type"] == "code")
    markdown = "\n".join(c["source"] for c in notebook if c["cell_type"] == "markdown")
    assert "make_ssl_data" not in code
    if "load_dataset(" in code:
        assert "protocol_data(load_dataset(" in code
    if "(Method)" in code or "methods.base import" in code:
        assert "`ssl_teach.methods.base.Method`" in markdown, "explain Method where the assignment uses it"


def test_capstone_notebook_never_holds_the_test_images():
    notebook = cells(ASSIGNMENTS / "a5_capstone" / "student" / "a5_capstone.ipynb")
    code = "\n".join(c["source"] for c in notebook if c["cell_type"] == "code" and "PUBLIC_TESTS" not in c["source"])
    assert code.count("load_dataset(") == 1 and "split = protocol_data(load_dataset(\"mnist\"), 4, 0," in code
    assert "test_images=split.images[val]" in code  # capstone_data's only copy of the split replaces them
    assert not re.search(r"^\w+ = load_dataset\(", code, flags=re.MULTILINE)


def test_prompts_agree_with_the_reference():
    """a2's EMA copies the buffers as ssl_teach.ema.EMA.update does, and its ramp-up starts where
    chapter 3's and the reference's do (and says where chapter 2's differs)."""
    import inspect

    from ssl_teach.ema import EMA
    from ssl_teach.methods.mean_teacher import mean_teacher_weight

    assert "averaged.copy_(live)" in inspect.getsource(EMA.update)
    master = cells(build.MASTERS / "a2_consistency.ipynb")
    prompt = "\n".join(c["source"] for c in master if c["cell_type"] == "markdown")
    assert "**copies** the student's buffers" in prompt and "leaves the buffers" not in prompt
    assert abs(mean_teacher_weight(0, 1.0, 10) - 0.006737947) < 1e-8 and "$w(0) = w_{\\max} e^{-5}$" in prompt
    assert "chapter 2's Pi-model ramp" in prompt


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
    questions = sorted(points_possible(stem))
    script = f"""
import subprocess, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")
pip_calls = []
subprocess.run = lambda *args, **kwargs: pip_calls.append(args)
exec({setup_cell(stem)!r})
assert pip_calls and "otter-grader==7.0.0" in pip_calls[0][0]
for source in {solution!r}:
    exec(source)
for question in {questions!r}:
    result = grader.check(question)
    assert result.grade == 1, (question, result)
print("checked")
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0 and "checked" in run.stdout, run.stdout + run.stderr
    assert sorted(p.stem for p in (tmp_path / "tests").glob("*.py")) == questions


def test_capstone_bands_are_ordered_and_documented():
    thresholds, figures = build.bands()
    floor, strong, m = figures["floor"], figures["strong"], figures["margin"]
    assert list(thresholds) == sorted(thresholds) and 0.5 < thresholds[0] and thresholds[-1] < 1.0
    assert thresholds[-1] > strong, "full marks only above labels-only training with strong augmentation"
    assert m >= figures["spread"], "the margins must be wider than the run-to-run spread"
    # the same submission graded on another machine moves by machine_spread: the solution keeps full marks
    assert figures["reference"] >= thresholds[-1] + figures["machine_spread"], "the solution must keep full marks"
    # and by more than a run varies: another seed of the solution keeps them too
    assert figures["reference"] > thresholds[-1] + m, "the solution must clear full marks by more than the margin"
    assert figures["labels_only"] < thresholds[1] and figures["strong"] < thresholds[-1]
    master = json.dumps(cells(build.CAPSTONE))
    assert "BANDS = (" + ", ".join(f"{t:.4f}" for t in thresholds) + ")" in master
    assert all(f"{100 * t:.2f} %" in master for t in thresholds)
    assert f"{100 * floor:.2f} %" in master and f"{100 * strong:.2f} %" in master


def test_capstone_bands_come_from_the_capstone_task():
    """The figures are the store's seed-0 records of the capstone's own task where it holds them,
    and assignments/capstone_bands.py's measurements (the grader's own training) otherwise."""
    figures = json.loads(build.BANDS_FILE.read_text())
    assert figures == build.derive_bands(), "run `python assignments/build.py --bands` and commit the result"
    stored = build.store_seed0()
    for name, accuracy in stored.items():
        assert figures[name] == accuracy, f"{name}: {figures[name]} is not the store's seed-0 record {accuracy}"


def test_capstone_store_records_are_the_capstone_task(tmp_path):
    store = tmp_path / "ssl_teach" / "results" / "book" / "mnist"
    store.mkdir(parents=True)
    rows = [("supervised", 0, 1000, 0.70), ("supervised", 1, 1000, 0.72), ("fixmatch[steps=1000]", 0, 1000, 0.76),
            ("fixmatch", 0, 2700, 0.80), ("supervised_strong", 0, 1000, 0.75),
            ("fixmatch[threshold=0.8]", 0, 1000, 0.99)]
    for i, (method, seed, steps, acc) in enumerate(rows):
        record = {"method": method, "dataset": "mnist", "profile": "book", "n_per_class": 4, "seed": seed,
                  "test_acc": acc, "steps": steps, "key": f"k{i}", "config": {}, "history": {}}
        (store / f"run{i}.json").write_text(json.dumps(record))
    for i, (dataset, n_per_class) in enumerate((("fashion_mnist", 4), ("mnist", 10))):  # other tasks
        record = {"method": "supervised", "dataset": dataset, "profile": "book", "n_per_class": n_per_class,
                  "seed": 0, "test_acc": 0.5, "steps": 1000, "key": f"other{i}", "config": {}, "history": {}}
        (store / f"other{i}.json").write_text(json.dumps(record))
    assert build.store_seed0(tmp_path) == {"floor": 0.70, "fixmatch": 0.76, "strong": 0.75}


# --------------------------------------------------------------------------- grading


def expected_scores(stem: str, lost: dict | str | None) -> dict[str, float]:
    maxima = points_possible(stem)
    if lost == "zero":
        return {q: 0.0 for q in maxima}
    return {q: maxima[q] - (lost or {}).get(q, 0) for q in maxima}


OTTER_RUN = [pytest.param(stem, ASSIGNMENTS / stem / "autograder" / f"{stem}.ipynb", None, id=f"{stem}-solution")
             for stem in STEMS if stem != "a5_capstone"]  # the capstone's solution trains 1,000 steps: once, below
OTTER_RUN += [pytest.param(stem, ASSIGNMENTS / stem / "student" / f"{stem}.ipynb", "zero", id=f"{stem}-untouched")
              for stem in STEMS]


@functools.cache
def otter_run(stem: str, submission: Path) -> tuple[dict, dict]:
    scores, maxima, _seconds = grade_details(submission, autograder(stem), timeout=None, env=GRADING_ENV)
    return scores, maxima


@pytest.mark.parametrize(("stem", "submission", "lost"), OTTER_RUN)
def test_otter_run(stem, submission, lost):
    scores, maxima = otter_run(stem, submission)
    assert maxima == points_possible(stem)
    expected = expected_scores(stem, lost)
    assert scores == expected, f"{submission.name}: got {scores}, expected {expected}"


@functools.cache
def in_process(stem: str) -> dict[str, dict]:
    """Every notebook of one assignment graded in one process (assignments/grade.py --in-process)."""
    notebooks = [ASSIGNMENTS / stem / "autograder" / f"{stem}.ipynb", ASSIGNMENTS / stem / "student" / f"{stem}.ipynb"]
    notebooks += [wrong_path(spec) for spec in WRONG_SUBMISSIONS if spec["assignment"] == stem]
    command = [sys.executable, str(ASSIGNMENTS / "grade.py"), "--in-process", "--json", str(autograder(stem))]
    run = subprocess.run(command + [str(n) for n in notebooks], capture_output=True, text=True, env=GRADING_ENV,
                         cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return {str(Path(row["submission"]).resolve()): row for row in rows}


def graded(stem: str, notebook: Path) -> dict:
    return in_process(stem)[str(notebook.resolve())]


def in_process_cases() -> list:
    cases = [pytest.param(stem, ASSIGNMENTS / stem / "autograder" / f"{stem}.ipynb", None, {}, id=f"{stem}-solution")
             for stem in STEMS]
    cases += [pytest.param(stem, ASSIGNMENTS / stem / "student" / f"{stem}.ipynb", "zero", {}, id=f"{stem}-untouched")
              for stem in STEMS]
    cases += [pytest.param(spec["assignment"], wrong_path(spec), spec["lost"], spec.get("machine_dependent", {}),
                           id=f"{spec['assignment']}-{spec['trap']}") for spec in WRONG_SUBMISSIONS]
    return cases


@pytest.mark.parametrize(("stem", "notebook", "lost", "machine_dependent"), in_process_cases())
def test_grading(stem, notebook, lost, machine_dependent):
    row = graded(stem, notebook)
    assert row["maxima"] == points_possible(stem)
    expected = expected_scores(stem, lost)
    # a question named in machine_dependent may keep its points on one machine and lose them on
    # another (the spec says why); every other question must score exactly
    scores = {q: expected[q] if q in machine_dependent and v in (expected[q], row["maxima"][q]) else v
              for q, v in row["scores"].items()}
    assert scores == expected, f"{notebook.name}: {row['scores']}, expected {expected}; failed: {row['failed']}"


@pytest.mark.parametrize("spec", WRONG_SUBMISSIONS, ids=lambda s: f"{s['assignment']}-{s['trap']}")
def test_the_student_is_told(spec):
    """``public`` in wrong_submissions.py names the questions whose PUBLIC tests fail (what
    ``grader.check`` shows the student); the grading must agree."""
    row = graded(spec["assignment"], wrong_path(spec))
    public = sorted({f.split()[0] for f in row["failed"] if f.endswith("(public)")})
    assert public == sorted(spec["public"]), f"{spec['trap']}: public tests fail in {public}, not {spec['public']}"


def test_most_wrong_submissions_fail_a_public_test():
    told = [spec["trap"] for spec in WRONG_SUBMISSIONS if spec["public"]]
    assert len(told) >= len(WRONG_SUBMISSIONS) / 2, f"only {len(told)} of {len(WRONG_SUBMISSIONS)} fail a public test"


@pytest.mark.parametrize("stem", [s for s in STEMS if s != "a5_capstone"])
def test_in_process_grading_agrees_with_otter_run(stem):
    solution = ASSIGNMENTS / stem / "autograder" / f"{stem}.ipynb"
    untouched = ASSIGNMENTS / stem / "student" / f"{stem}.ipynb"
    assert graded(stem, solution)["scores"] == otter_run(stem, solution)[0]
    assert graded(stem, untouched)["scores"] == otter_run(stem, untouched)[0]
