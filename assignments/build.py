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

It also writes the capstone's accuracy bands into its master: from the results store
(``ssl_teach/results/book/fashion_mnist``, 10 labels per class, averaged over seeds: the floor's
``supervised`` records and FixMatch trained within the capstone's own budget,
:data:`CAPSTONE_FIXMATCH`, so the bands compare like with like) when it holds both, else from
``assignments/a5_capstone_bands.json``.

Outputs are made byte-for-byte reproducible (cell ids numbered, zip entries dated 1980), so
``--check`` can compare them with the committed files; ``make test`` runs it.
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
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
#: the fractions of the floor-to-FixMatch gap that earn the capstone's points 1, 2, 3 and 4
BAND_FRACTIONS = (0.0, 0.25, 0.5, 0.75)

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


#: The store's label of FixMatch trained within the capstone's budget (1,000 steps of 64 labeled and
#: 3 x 64 unlabeled images: ``Run("fixmatch", "fashion_mnist", 10, s, fit_options={"steps": 1000})``).
CAPSTONE_FIXMATCH = "fixmatch[steps=1000]"


def bands() -> tuple[float, float, str]:
    """(floor, fixmatch, where they come from) for the capstone."""
    sys.path.insert(0, str(ROOT))
    from ssl_teach.store import Store

    records = [r for r in Store(ROOT / "ssl_teach" / "results").records()
               if r.get("dataset") == "fashion_mnist" and r.get("profile") == "book" and r.get("n_per_class") == 10]
    floor = [r["test_acc"] for r in records if r["method"] == "supervised"]
    fixmatch = [r["test_acc"] for r in records if r["method"] == CAPSTONE_FIXMATCH]
    if floor and fixmatch:
        steps = "/".join(str(n) for n in sorted({r["steps"] for r in records if r["method"] == CAPSTONE_FIXMATCH}))
        where = (f"the results store (`ssl_teach/results/book/fashion_mnist`: supervised, {len(floor)} seed(s), "
                 f"and fixmatch, {len(fixmatch)} seed(s) of {steps} steps, 10 labels per class)")
        return sum(floor) / len(floor), sum(fixmatch) / len(fixmatch), where
    saved = json.loads(BANDS_FILE.read_text())
    return saved["floor"], saved["fixmatch"], f"`assignments/{BANDS_FILE.name}` ({saved['source']})"


def sync_bands(master: dict) -> dict:
    floor, fixmatch, where = bands()
    names = ("the floor", "a quarter of the way from the floor to FixMatch", "half way",
             "three quarters of the way (full marks)")
    rows = "\n".join(f"| {i + 1} | {100 * (floor + f * (fixmatch - floor)):.2f} % | {name} |"
                     for i, (f, name) in enumerate(zip(BAND_FRACTIONS, names)))
    table = ("<!-- BEGIN BANDS -->\n| points | held-out accuracy at least | |\n|---|---|---|\n" + rows +
             f"\n\nBands from {where}: floor {100 * floor:.2f} %, FixMatch {100 * fixmatch:.2f} %.\n<!-- END BANDS -->")
    for cell in master["cells"]:
        text = source(cell)
        text = re.sub(r"<!-- BEGIN BANDS -->.*<!-- END BANDS -->", lambda _: table, text, flags=re.DOTALL)
        text = re.sub(r"FLOOR, FIXMATCH = \S+, \S+  #", f"FLOOR, FIXMATCH = {floor:.4f}, {fixmatch:.4f}  #", text)
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
    hits = [c for c in solution["cells"] if c["cell_type"] == "code"
            and re.search(rf"^def {spec['function']}\(", source(c), flags=re.MULTILINE)]
    if len(hits) != 1:
        raise ValueError(f"{spec['trap']}: expected one cell defining {spec['function']}, found {len(hits)}")
    hits[0]["source"] = f"# WRONG ON PURPOSE ({spec['trap']}): {spec['why']}\n" + spec["source"]
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
    args = parser.parse_args(argv)
    capstone = read_notebook(CAPSTONE)
    synced = dump_notebook(sync_bands(read_notebook(CAPSTONE)), CAPSTONE.stem)
    if args.check:
        problems = []
        if CAPSTONE.read_text() != synced:
            problems.append(f"{CAPSTONE.relative_to(ROOT)}: its bands differ from {bands()[2]}")
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
