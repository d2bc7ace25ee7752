"""Build the course assignments from their master notebooks, or check that nothing drifted.

    python assignments/build.py            # regenerate everything below assignments/
    python assignments/build.py --check    # regenerate into a temporary folder and compare

For every master ``assignments/masters/<name>.ipynb`` (otter-grader's format: ``# BEGIN
QUESTION`` / ``# BEGIN SOLUTION`` / ``# BEGIN TESTS`` raw cells) this runs ``otter assign`` and
writes

* ``assignments/<name>/student/<name>.ipynb`` and ``student/tests/``: what students get (the
  website shows the notebook); its setup cell carries the public tests, so that ``grader.check``
  works on Colab, where only the notebook is opened, and pins the ``ssl_teach`` release
  (``repository.url`` of ``_config.yml`` and ``ssl_teach.__version__``);
* ``assignments/<name>/autograder/autograder.zip`` (every test, hidden ones included; for
  ``otter run`` and ``otter grade``) and ``autograder/<name>.ipynb`` (the solution);
* ``assignments/wrong_submissions/<trap>.ipynb``: the solution with one known wrong
  implementation (``assignments/wrong_submissions.py``).

It also writes the capstone's accuracy bands into its master, from
``assignments/a5_capstone_bands.json``: figures of the capstone's own task (seed 0's split, its
budget), the store's seed-0 records where it holds them and ``assignments/capstone_bands.py``'s
measurements otherwise (:func:`bands`), and the points of every question into its prompt and the
introduction's table (:func:`show_points`).

Outputs are made byte-for-byte reproducible (cell ids numbered, zip entries dated 1980), so
``--check`` can compare them with the committed files; ``make test`` runs it.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MASTERS = HERE / "masters"
BANDS_FILE = HERE / "a5_capstone_bands.json"
CAPSTONE = MASTERS / "a5_capstone.ipynb"

sys.path.insert(0, str(HERE))
from wrong_submissions import WRONG_SUBMISSIONS  # noqa: E402

# --------------------------------------------------------------------------- notebooks


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def dump_notebook(nb: dict, stem: str) -> str:
    """The notebook as canonical JSON: numbered cell ids, no execution counts or outputs."""
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"{stem}-{i:03d}"[-64:]
        cell["source"] = source(cell)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def release() -> tuple[str, str]:
    """(repository url, version): ``repository.url`` of ``_config.yml`` and ``ssl_teach.__version__``."""
    config = (ROOT / "_config.yml").read_text()
    url = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", config, flags=re.MULTILINE).group(1)
    version = re.search(r'__version__\s*=\s*"([^"]+)"', (ROOT / "ssl_teach" / "__init__.py").read_text()).group(1)
    return url, version


def requirement() -> str:
    url, version = release()
    return f"ssl_teach[offline] @ git+{url}@v{version}"


def student_setup(text: str, tests: dict[str, str]) -> str:
    """The setup cell with the pinned ``ssl_teach`` release and the public tests written in."""
    text = re.sub(r'SSL_TEACH_REQUIREMENT = "[^"]*"  # .*',
                  f'SSL_TEACH_REQUIREMENT = "{requirement()}"', text)
    lines = ["    PUBLIC_TESTS = {  # the files of tests/, written in by assignments/build.py"]
    lines += [f"        {name!r}: {body!r}," for name, body in sorted(tests.items())]
    lines.append("    }")
    text, n = re.subn(r"^    PUBLIC_TESTS = \{\}  # .*$", lambda _: "\n".join(lines), text, flags=re.MULTILINE)
    if n != 1:
        raise ValueError("the setup cell has no 'PUBLIC_TESTS = {}  # ...' line to fill in")
    return text


# --------------------------------------------------------------------------- capstone bands

#: the capstone's task: the book's MNIST sample, 4 labels per class, seed 0's split, 1,000 steps
CAPSTONE_TASK = {"dataset": "mnist", "profile": "book", "n_per_class": 4, "seed": 0, "steps": 1000}
#: the store's records of the capstone's own task (:data:`CAPSTONE_TASK`: 1,000 steps of 64 labeled and
#: 3 x 64 unlabeled images), as ``Run(method, "mnist", 4, 0, ...)`` trains them
CAPSTONE_RECORDS = {"floor": "supervised", "strong": "supervised_strong", "fixmatch": "fixmatch[steps=1000]"}


def store_seed0(root: Path | None = None) -> dict[str, float]:
    """The seed-0 test accuracies of :data:`CAPSTONE_RECORDS` in the results store (those it holds)."""
    sys.path.insert(0, str(ROOT))
    from ssl_teach.store import Store

    found = {}
    for r in Store((root or ROOT) / "ssl_teach" / "results").records():
        if any(r.get(key) != value for key, value in CAPSTONE_TASK.items()):
            continue
        for name, label in CAPSTONE_RECORDS.items():
            if r["method"] == label:
                found[name] = r["test_acc"]
    return found


MEASUREMENTS_FILE = HERE / "a5_capstone_measurements.json"
#: the method of the capstone's solution, as ``assignments/capstone_bands.py`` names it: the book's FixMatch,
#: chosen over ``fixmatch_strong_labeled`` on the validation images (96.2 % against 95.4 %), never the test set
REFERENCE = "fixmatch"
#: the method whose runs with seeds 0, 1, 2 on seed 0's split measure the spread
SPREAD_METHOD = "strong"


def derive_bands(root: Path | None = None) -> dict:
    """The figures behind the capstone's bands, all of its own task (seed 0's split, the budget):

    * ``floor``, ``strong``, ``fixmatch``: the store's seed-0 records (:func:`store_seed0`), else the
      grader-procedure measurements of ``assignments/capstone_bands.py`` with seed 0;
    * ``reference`` (and ``reference_val``): the solution's method, measured the grader's way;
    * ``labels_only``: the floor as the grader trains it;
    * ``seed_spread``: the largest distance from their mean of :data:`SPREAD_METHOD`'s runs with
      seeds 0, 1, 2 (initialisation and batch order; the split stays seed 0's): how much one
      run moves when anything in it changes;
    * ``machine_spread``: the largest difference between a store record (two threads) and the same
      run measured by the grader's procedure (one thread): how much the same submission's grade
      moves between machines;
    * ``spread`` = the larger of the two, and ``margin``, the band margin: a hundredth of a point wider
      than ``spread``.
    """
    runs = json.loads(MEASUREMENTS_FILE.read_text())["runs"]

    def measured(name: str, seed: int = 0) -> dict:
        (row,) = [r for r in runs if r["method"] == name and r["seed"] == seed]
        return row

    stored = store_seed0(root)
    figures = {name: stored[name] if name in stored else measured(name)["test_acc"] for name in CAPSTONE_RECORDS}
    spread_runs = [r["test_acc"] for r in runs if r["method"] == SPREAD_METHOD]
    mean = sum(spread_runs) / len(spread_runs)
    seed_spread = max(abs(a - mean) for a in spread_runs)
    machine = [abs(stored[name] - measured(name)["test_acc"]) for name in stored
               if any(r["method"] == name and r["seed"] == 0 for r in runs)]
    machine_spread = max(machine, default=0.0)
    spread = max(seed_spread, machine_spread)
    figures.update({
        "reference": measured(REFERENCE)["test_acc"], "reference_val": measured(REFERENCE)["val_acc"],
        "labels_only": measured("floor")["test_acc"],
        "seed_spread": round(seed_spread, 6), "machine_spread": round(machine_spread, 6), "spread": round(spread, 6),
        "margin": (math.floor(spread * 10000 + 1e-9) + 1) / 10000, "spread_runs": len(spread_runs),
        "source": ("floor, strong, fixmatch: ssl_teach/results/book/mnist, 4 labels per class, seed 0, 1,000 steps "
                   "(supervised, supervised_strong, fixmatch[steps=1000]) where the store holds them; the rest: "
                   "assignments/a5_capstone_measurements.json (python assignments/capstone_bands.py)"),
    })
    return figures


def bands() -> tuple[tuple[float, float, float, float], dict]:
    """The capstone's four thresholds and the figures they come from (``a5_capstone_bands.json``,
    written by ``python assignments/build.py --bands`` from :func:`derive_bands`), with ``m`` the
    margin (the measured run-to-run spread, rounded up): band 1 at floor - m (a pipeline that
    works), band 2 at floor + m (beats labels-only training by more than a run varies), band 3 at
    strong - m (as good as labels-only training with strong augmentation), band 4, full marks, at
    strong + m: above that baseline by more than a run varies.
    """
    figures = json.loads(BANDS_FILE.read_text())
    floor, strong, m = figures["floor"], figures["strong"], figures["margin"]
    return (floor - m, floor + m, strong - m, strong + m), figures


def fixmatch_against_strong(f: dict) -> str:
    """What the measurements say of the book's FixMatch against the strong-augmentation baseline."""
    gap = f["fixmatch"] - f["strong"]
    if gap > 2 * f["margin"]:
        return (f"At this budget the book's FixMatch beats the strong-augmentation baseline by {100 * gap:.2f} "
                "points, more than twice the margin: here the unlabeled images, not the augmentation, earn full marks.")
    if gap > f["margin"]:
        return (f"At this budget the book's FixMatch beats the strong-augmentation baseline by {100 * gap:.2f} "
                "points, more than the margin: the unlabeled images earn full marks.")
    return ("At this budget the book's FixMatch is within the margin of the strong-augmentation baseline: full "
            "marks need more than either.")


def sync_bands(master: dict) -> dict:
    thresholds, f = bands()
    names = ("the floor minus the margin: a pipeline that works",
             "the floor plus the margin: beats labels-only training",
             "labels only with strong augmentation (no unlabeled image) minus the margin",
             "that baseline plus the margin: full marks")
    rows = "\n".join(f"| {i + 1} | {100 * t:.2f} % | {name} |" for i, (t, name) in enumerate(zip(thresholds, names)))
    methods = (f"the book's FixMatch, the reference solution, {100 * f['fixmatch']:.2f} %" if REFERENCE == "fixmatch"
               else f"the book's FixMatch {100 * f['fixmatch']:.2f} %, "
                    f"the reference solution {100 * f['reference']:.2f} %")
    table = ("<!-- BEGIN BANDS -->\n| band | held-out accuracy at least | |\n|---|---|---|\n" + rows +
             f"\n\nMeasured on this task (seed 0's split, the budget above): the floor (labels only) "
             f"{100 * f['floor']:.2f} %, labels only with strong augmentation {100 * f['strong']:.2f} %, {methods}; "
             f"the margin, {100 * f['margin']:.2f} points, is the run-to-run spread: the largest distance of one run "
             "from "
             f"the mean of {f['spread_runs']} runs of one method that differ only in their seeds "
             f"({100 * f['seed_spread']:.2f} points), wider than what the same run moves between machines "
             f"({100 * f['machine_spread']:.2f} points). {fixmatch_against_strong(f)}\n<!-- END BANDS -->")
    for cell in master["cells"]:
        text = source(cell)
        text = re.sub(r"<!-- BEGIN BANDS -->.*<!-- END BANDS -->", lambda _: table, text, flags=re.DOTALL)
        text = re.sub(r"BANDS = \([^)]*\)  #", "BANDS = (" + ", ".join(f"{t:.4f}" for t in thresholds) + ")  #", text)
        # the solution's answer to the measurement question: the validation accuracy of its measured run
        text = re.sub(r"my_val_acc = \S+  # SOLUTION", f"my_val_acc = {f['reference_val']}  # SOLUTION", text)
        cell["source"] = text
    return master


# --------------------------------------------------------------------------- points shown to students


def question_points(master: dict) -> list[dict]:
    """Per question, in order: ``{"name", "points", "public", "manual"}`` from its tests' configs
    (a manual question's ``points:`` from its own config)."""
    questions, current = [], None
    for cell in master["cells"]:
        text = source(cell)
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            config = dict(re.findall(r"^(\w+):\s*(.+)$", text, flags=re.MULTILINE))
            current = {"name": config["name"], "points": float(config.get("points", 0)), "public": 0.0,
                       "manual": config.get("manual", "false").strip() == "true"}
            questions.append(current)
        elif cell["cell_type"] == "raw" and text.startswith("# END QUESTION"):
            current = None
        elif current is not None and cell["cell_type"] == "code" and "# BEGIN TEST CONFIG" in text:
            points = float(re.search(r"^points:\s*([\d.]+)", text, flags=re.MULTILINE).group(1))
            hidden = re.search(r"^hidden:\s*true", text, flags=re.MULTILINE) is not None
            current["points"] += points
            current["public"] += 0 if hidden else points
    return questions


def _points(x: float) -> str:
    return f"{x:g} point" + ("" if x == 1 else "s")


def show_points(master: dict) -> dict:
    """Write each question's points into its prompt (``**Question 3.**`` becomes ``**Question 3**
    (4 points, 2 of them checked by the public tests).``) and the table of points and the total into
    the ``<!-- POINTS -->`` line of the introduction."""
    questions = question_points(master)
    by_number = {int(q["name"][1:]): q for q in questions}
    rows = []
    for q in questions:
        how = "graded by your instructor" if q["manual"] else f"{q['public']:g} of them in the public tests"
        rows.append(f"| {q['name'][1:]} | {q['points']:g} | {how} |")
    total = sum(q["points"] for q in questions)
    public = sum(q["public"] for q in questions)
    table = ("| question | points | |\n|---|---|---|\n" + "\n".join(rows) +
             f"\n| **total** | **{total:g}** | {public:g} in the public tests that `grader.check` runs |")

    def label(match: re.Match) -> str:
        q = by_number[int(match.group(1))]
        extra = f"{match.group(2)[2:-1]}; " if match.group(2) else ""
        how = "graded by your instructor" if q["manual"] else (
            "all hidden" if q["public"] == 0 else f"{q['public']:g} of them checked by the public tests")
        return f"**Question {match.group(1)}** ({extra}{_points(q['points'])}, {how})."

    for cell in master["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        text = source(cell)
        text = text.replace("<!-- POINTS -->", table)
        text = re.sub(r"^\*\*Question (\d+)(?:\.\*\*|\*\*( \([^)]*\))\.)", label, text)
        cell["source"] = text
    return master


# --------------------------------------------------------------------------- build


def deterministic_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name in ("run_autograder", "setup.sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, members[name])
    return buffer.getvalue()


def otter() -> str:
    candidate = Path(sys.executable).parent / "otter"
    return str(candidate) if candidate.exists() else "otter"


def build_assignment(master_path: Path, out: Path, work: Path) -> None:
    stem = master_path.stem
    master = read_notebook(master_path)
    if master_path == CAPSTONE:
        master = sync_bands(master)
    master = show_points(master)
    for cell in master["cells"]:  # the grading image (otter grade, Docker) installs this ssl_teach release
        if cell["cell_type"] == "raw" and source(cell).startswith("# ASSIGNMENT CONFIG"):
            cell["source"] = source(cell).rstrip("\n") + f'\nrequirements:\n  - "{requirement()}"\n'
    staged = work / "masters" / master_path.name
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_text(dump_notebook(master, stem))
    result = work / stem
    subprocess.run([otter(), "assign", "--no-run-tests", "--no-pdfs", str(staged), str(result)],
                   check=True, capture_output=True, text=True)

    tests = {p.name: p.read_text() for p in sorted((result / "student" / "tests").glob("*.py"))}
    student = read_notebook(result / "student" / f"{stem}.ipynb")
    for cell in student["cells"]:
        if cell["cell_type"] == "code" and "PUBLIC_TESTS = {}" in source(cell):
            cell["source"] = student_setup(source(cell), tests)
    target = out / stem
    (target / "student" / "tests").mkdir(parents=True, exist_ok=True)
    (target / "student" / f"{stem}.ipynb").write_text(dump_notebook(student, stem))
    for name, text in tests.items():
        (target / "student" / "tests" / name).write_text(text)

    (target / "autograder").mkdir(parents=True, exist_ok=True)
    solution = read_notebook(result / "autograder" / f"{stem}.ipynb")
    (target / "autograder" / f"{stem}.ipynb").write_text(dump_notebook(solution, stem))
    (zip_path,) = (result / "autograder").glob("*.zip")
    with zipfile.ZipFile(zip_path) as z:
        members = {name: z.read(name) for name in z.namelist() if not name.endswith("/")}
    (target / "autograder" / "autograder.zip").write_bytes(deterministic_zip(members))
    return None


def wrong_submission(solution: dict, spec: dict) -> dict:
    """The solution notebook with one trap: the cell that defines ``spec["function"]`` replaced by
    ``spec["source"]``, and/or each ``(old, new)`` of ``spec["edits"]`` applied to the one code cell
    that contains ``old``."""
    marker = f"# WRONG ON PURPOSE ({spec['trap']}): {spec['why']}\n"
    if "function" in spec:
        hits = [c for c in solution["cells"] if c["cell_type"] == "code"
                and re.search(rf"^(def|class) {spec['function']}\b", source(c), flags=re.MULTILINE)]
        if len(hits) != 1:
            raise ValueError(f"{spec['trap']}: expected one cell defining {spec['function']}, found {len(hits)}")
        hits[0]["source"] = marker + spec["source"]
        marker = ""
    for old, new in spec.get("edits", ()):
        hits = [c for c in solution["cells"] if c["cell_type"] == "code" and old in source(c)]
        if len(hits) != 1:
            raise ValueError(f"{spec['trap']}: expected one code cell containing {old!r}, found {len(hits)}")
        hits[0]["source"] = marker + source(hits[0]).replace(old, new)
        marker = ""
    if marker:
        raise ValueError(f"{spec['trap']}: a wrong submission needs a 'function' or 'edits'")
    return solution


def build(out: Path, masters: Path = MASTERS) -> list[Path]:
    """Write every generated file under ``out`` (which mirrors ``assignments/``); return the masters,
    capstone bands synced (the capstone master itself is rewritten by :func:`main`)."""
    with tempfile.TemporaryDirectory() as tmp:
        for master_path in sorted(masters.glob("*.ipynb")):
            build_assignment(master_path, out, Path(tmp))
    wrong_dir = out / "wrong_submissions"
    wrong_dir.mkdir(parents=True, exist_ok=True)
    for spec in WRONG_SUBMISSIONS:
        stem = spec["assignment"]
        solution = read_notebook(out / stem / "autograder" / f"{stem}.ipynb")
        nb = wrong_submission(solution, spec)
        (wrong_dir / f"{stem}__{spec['trap']}.ipynb").write_text(dump_notebook(nb, stem))
    return sorted(masters.glob("*.ipynb"))


#: what build() writes, relative to assignments/ (the check compares exactly these)
def generated_files(root: Path) -> set[str]:
    files = {str(p.relative_to(root)) for stem in (m.stem for m in MASTERS.glob("*.ipynb"))
             for p in (root / stem).rglob("*") if p.is_file()}
    files |= {str(p.relative_to(root)) for p in (root / "wrong_submissions").glob("*.ipynb")}
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and fail when the committed files differ")
    parser.add_argument("--bands", action="store_true",
                        help=f"write {BANDS_FILE.name} from the store and the capstone's measurements, then build")
    args = parser.parse_args(argv)
    if args.bands:
        BANDS_FILE.write_text(json.dumps(derive_bands(), indent=1, sort_keys=True) + "\n")
    capstone = read_notebook(CAPSTONE)
    synced = dump_notebook(sync_bands(read_notebook(CAPSTONE)), CAPSTONE.stem)
    if args.check:
        problems = []
        if CAPSTONE.read_text() != synced:
            problems.append(f"{CAPSTONE.relative_to(ROOT)}: its bands differ from {BANDS_FILE.name}")
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp)
            build(fresh)
            expected, committed = generated_files(fresh), generated_files(HERE)
            for name in sorted(expected - committed):
                problems.append(f"assignments/{name}: missing (not generated and committed)")
            for name in sorted(committed - expected):
                problems.append(f"assignments/{name}: no master or wrong submission makes it any more")
            for name in sorted(expected & committed):
                if not filecmp.cmp(fresh / name, HERE / name, shallow=False):
                    problems.append(f"assignments/{name}: differs from what its master makes")
        if problems:
            print("The generated assignments drifted from their masters:\n  " + "\n  ".join(problems) +
                  "\nRun `make assignments` (python assignments/build.py) and commit the result.", file=sys.stderr)
            return 1
        print(f"assignments: {len(expected)} generated files match their masters")
        return 0
    if CAPSTONE.read_text() != synced:
        CAPSTONE.write_text(synced)
    del capstone
    for stem in (m.stem for m in MASTERS.glob("*.ipynb")):
        shutil.rmtree(HERE / stem, ignore_errors=True)
    shutil.rmtree(HERE / "wrong_submissions", ignore_errors=True)
    build(HERE)
    print(f"assignments: wrote {len(generated_files(HERE))} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
