"""A Colab reader's first session, rehearsed on this machine (``make test`` runs it).

A reader opens a chapter on Colab: a fresh Python, an empty home folder, no checkout, the
package installed from the repository's tag by the chapter's first cell. This script builds that:

1. a git repository of the checkout's files as they are (tracked and untracked, not ignored),
   tagged ``rehearsal``, outside the checkout;
2. a clean virtual environment outside the checkout, ``HOME`` an empty folder, no
   ``SSL_TEACH_*`` variable (pip keeps its cache, so torch is not fetched again), and in it
   ``ssl_teach[offline] @ git+file://...@rehearsal`` as the install cell does, plus what Colab
   has preinstalled to run a notebook (nbclient, ipykernel, ipywidgets; not myst-nb, which the
   website build alone uses);
3. the chapter (default chapter 3, which reads every run it shows) executed end to end in a
   folder outside the checkout: its printed outputs must equal its committed ones (the
   headline numbers among them) and the reader's results store must stay empty: nothing trained;
4. with ``SSL_TEACH_RETRAIN=1``, one short shipped run (the floor of seed 0) retrained: its
   record lands in the reader's store and the shipped records are unchanged, byte for byte.

Prints what it did and how long each step took; exits 1 on a failed check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "chapters/03_mean_teacher.ipynb"
#: printed lines that depend on the machine, not on the results (the environment line)
VOLATILE = re.compile(r"torch threads")

RUNNER = r'''
import json, sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
'''

RETRAIN = r'''
import json, ssl_teach
from ssl_teach import experiments
from ssl_teach.store import Store, default_store, shipped_root
store = Store()
record = experiments.result(experiments.floor_run("mnist", 0), progress=False)
print(json.dumps({"package": ssl_teach.__file__, "own": str(store.root), "shipped": str(store.shipped),
                  "key": record["key"], "from_store": record["from_store"], "seconds": record["seconds"],
                  "test_acc": record["test_acc"]}))
'''


def sh(command: list[str], env: dict | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"colab_rehearsal: {' '.join(command[:6])} ... failed ({done.returncode}):\n"
                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def snapshot(work: Path) -> Path:
    """A git repository of the checkout's files as they are, tagged ``rehearsal``."""
    files = sh(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).split("\0")
    repo = work / "repo"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-c", "user.name=rehearsal", "-c", "user.email=rehearsal@localhost", "-c", "init.defaultBranch=main"]
    sh(git + ["init", "-q"], cwd=repo)
    sh(git + ["add", "-A"], cwd=repo)
    sh(git + ["commit", "-q", "-m", "rehearsal"], cwd=repo)
    sh(git + ["tag", "rehearsal"], cwd=repo)
    return repo


def reader_env(work: Path, venv: Path) -> dict:
    """The machine's environment as a fresh Colab session sees it: an empty home, no SSL_TEACH_*."""
    pip_cache = os.environ.get("PIP_CACHE_DIR") or str(Path("~/.cache/pip").expanduser())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSL_TEACH_", "VIRTUAL_ENV", "PYTHONPATH", "JUPYTER", "CONDA"))}
    home = work / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), PIP_CACHE_DIR=pip_cache, PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               MPLBACKEND="Agg")
    return env


def printed(notebook: dict) -> list[list[str]]:
    """The printed lines of every code cell (standard output and plain-text results), machine lines
    left out; warnings on standard error are not results."""
    out = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        printed_text = ""  # a kernel splits standard output into chunks at arbitrary points: join them first
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream" and output["name"] == "stdout":
                printed_text += "".join(output.get("text", ""))
            elif output["output_type"] == "execute_result" and "text/plain" in output.get("data", {}):
                printed_text += "\n" + "".join(output["data"]["text/plain"]) + "\n"
        out.append([line for line in printed_text.splitlines() if line and not VOLATILE.search(line)])
    return out


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chapter", default=CHAPTER)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (it holds a venv of GBs)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="colab_rehearsal_"))
    failures = []
    try:
        repo = snapshot(work)
        venv = work / "venv"
        sh([sys.executable, "-m", "venv", str(venv)])
        env = reader_env(work, venv)
        python = str(venv / "bin" / "python")
        # pip before 24 needs file://localhost/ for a local git URL (README, "Releasing")
        sh([python, "-m", "pip", "install", "-q", f"ssl_teach[offline] @ git+file://localhost{repo}@rehearsal",
            "nbclient", "ipykernel", "ipywidgets"], env=env, cwd=work)
        installed = time.perf_counter() - start
        print(f"colab_rehearsal: installed ssl_teach from git+file://localhost{repo}@rehearsal into a clean venv "
              f"(HOME={env['HOME']}) in {installed:.0f} s")

        # 3. the chapter, end to end, outside the checkout
        chapter = ROOT / args.chapter
        run_dir = work / "colab"
        run_dir.mkdir()
        shutil.copy(chapter, run_dir / chapter.name)
        executed = run_dir / ("executed_" + chapter.name)
        t = time.perf_counter()
        sh([python, "-c", RUNNER, str(run_dir / chapter.name), str(run_dir), str(executed)], env=env, cwd=run_dir)
        print(f"colab_rehearsal: executed {args.chapter} in {time.perf_counter() - t:.0f} s")
        own = Path(env["HOME"]) / ".cache" / "ssl_teach" / "results"
        trained = sorted(str(p.relative_to(own)) for p in own.rglob("*.json")) if own.is_dir() else []
        if trained:
            failures.append(f"the chapter trained {len(trained)} run(s) instead of reading the shipped store: "
                            f"{trained}")
        committed, now = printed(json.loads(chapter.read_text())), printed(json.loads(executed.read_text()))
        differing = [(i, a, b) for i, (a, b) in enumerate(zip(committed, now)) if a != b]
        for i, a, b in differing[:5]:
            wrong = [(x, y) for x, y in zip(a + [""] * len(b), b + [""] * len(a)) if x != y][:3]
            failures.append(f"code cell {i} printed other lines than its committed output: {wrong}")
        numbers = sum(len(re.findall(r"\d+\.\d+ ?%", line)) for lines in now for line in lines)
        if not differing:
            print(f"colab_rehearsal: every printed line equals the committed output ({numbers} percentages); "
                  f"the reader's store holds {len(trained)} records: nothing was trained")

        # 4. a retrained run goes to the reader's store; the shipped records stay as they are
        package = Path(sh([python, "-c", "import ssl_teach, pathlib; print(pathlib.Path(ssl_teach.__file__).parent)"],
                          env=env, cwd=work).strip())
        before = tree_digest(package / "results")
        t = time.perf_counter()
        out = json.loads(sh([python, "-c", RETRAIN], env={**env, "SSL_TEACH_RETRAIN": "1"}, cwd=work).splitlines()[-1])
        mine = sorted(own.rglob("*.json")) if own.is_dir() else []
        if str(ROOT) in out["package"]:
            failures.append(f"the rehearsal imported the checkout's package ({out['package']}), not the installed one")
        if out["from_store"] or [p.name.split("_")[-1] for p in mine] != [out["key"] + ".json"]:
            failures.append(f"SSL_TEACH_RETRAIN=1 did not write one record into the reader's store ({own}): {mine}")
        if tree_digest(package / "results") != before or not before:
            failures.append("the shipped records changed (or none were shipped)")
        else:
            print(f"colab_rehearsal: SSL_TEACH_RETRAIN=1 retrained the floor of seed 0 in "
                  f"{time.perf_counter() - t:.0f} s ({100 * out['test_acc']:.1f} % test) into {own}; the {len(before)} "
                  "shipped files are unchanged")
    finally:
        if args.keep:
            print(f"colab_rehearsal: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"colab_rehearsal: FAILED: {failure}", file=sys.stderr)
    print(f"colab_rehearsal: {'failed' if failures else 'passed'} in {time.perf_counter() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
