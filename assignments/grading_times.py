"""How long grading takes: every solution (or the notebooks named) graded with ``otter run``, timed.

    python assignments/grading_times.py                       # the five solutions, the book profile
    python assignments/grading_times.py --profile smoke       # the sizes the test suite grades with
    python assignments/grading_times.py --wrong               # the wrong submissions too

Prints one line per submission: its points, the seconds of wall-clock time, the CPU seconds of
``otter run`` and everything it started, and the machine's load (``os.getloadavg``, 1 minute)
before and after, with the number of CPU cores and torch's thread count; a loaded machine
stretches the wall-clock time, not the CPU time. Nothing here is asserted: the instructor page
(``book/assignments.md``) reports these figures, and ``tests/test_assignments.py`` only checks
the points.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from grade import grade_details  # noqa: E402
from wrong_submissions import WRONG_SUBMISSIONS  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks to grade (default: the five solutions)")
    parser.add_argument("--profile", default="book", help="SSL_TEACH_PROFILE for the gradings (default: book)")
    parser.add_argument("--wrong", action="store_true", help="also grade every wrong submission")
    args = parser.parse_args(argv)
    stems = sorted(p.stem for p in (HERE / "masters").glob("*.ipynb"))
    notebooks = [Path(n) for n in args.notebooks] or [HERE / s / "autograder" / f"{s}.ipynb" for s in stems]
    if args.wrong:
        notebooks += [HERE / "wrong_submissions" / f"{w['assignment']}__{w['trap']}.ipynb" for w in WRONG_SUBMISSIONS]
    env = {**os.environ, "SSL_TEACH_PROFILE": args.profile}
    import torch

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} with "
          f"{torch.get_num_threads()} threads (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
          f"profile {args.profile}", flush=True)
    for notebook in notebooks:
        stem = notebook.name.split("__")[0].removesuffix(".ipynb")
        load_before, cpu_before = os.getloadavg()[0], children_cpu()
        start = time.perf_counter()
        scores, maxima, _ = grade_details(notebook, HERE / stem / "autograder" / "autograder.zip", env=env)
        wall = time.perf_counter() - start
        cpu = children_cpu() - cpu_before
        print(f"{notebook.name}: {sum(scores.values()):g}/{sum(maxima.values()):g} points, {wall:.0f} s wall, "
              f"{cpu:.0f} s CPU, load {load_before:.1f} -> {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
