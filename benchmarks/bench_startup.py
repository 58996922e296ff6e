"""Benchmark: `grader run` on a one-cell notebook against bare nbclient, as whole processes.

Both sides are separate processes started the same way, alternated A B A B ..., so that the
machine's drift hits both alike; the medians, the ratio of medians and the difference of
medians are printed per backend. The grader's side includes everything a user waits for:
Python start-up, importing the grader, reading and validating the rubric, the sandbox, the
kernel, the harvest of the rubric's answers and models, and writing the run record. The bare
side is nbclient executing the same notebook with the stock kernel, nothing else.

Target (issue 10): at most 0.2 s over bare nbclient.

Usage:  .venv/bin/python benchmarks/bench_startup.py [--runs 7] [--assignment hw2]
        [--backends process,bwrap] [--data DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent
BARE = """
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="python3").execute()
"""


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--assignment", default="hw2")
    parser.add_argument("--backends", default="process,bwrap")
    parser.add_argument("--data", type=Path, default=None, help="data directory (default: built once here)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    notebook = work / "one.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), str(notebook))
    data = args.data
    if data is None:
        data = work / "data"
        subprocess.run(
            [str(VENV / "grader"), "data", args.assignment, "--out", str(data)],
            check=True,
            capture_output=True,
        )
    bare = [sys.executable, "-c", BARE, str(notebook)]
    print(f"one-cell notebook, {args.runs} alternating runs per side, assignment {args.assignment}")
    for backend in args.backends.split(","):
        grader = [
            str(VENV / "grader"),
            "run",
            str(notebook),
            "--assignment",
            args.assignment,
            "--data",
            str(data),
            "--out",
            str(work / "out"),
            "--backend",
            backend,
        ]
        timed(grader)  # warm-up: page cache, __pycache__, the first sandbox
        timed(bare)
        ours, theirs = [], []
        for _ in range(args.runs):
            ours.append(timed(grader))
            theirs.append(timed(bare))
        a, b = statistics.median(ours), statistics.median(theirs)
        print(
            f"  {backend:8s} grader run {a:.3f} s (min {min(ours):.3f}, max {max(ours):.3f}) | "
            f"bare nbclient {b:.3f} s (min {min(theirs):.3f}, max {max(theirs):.3f}) | "
            f"ratio {a / b:.3f}, difference {a - b:+.3f} s (target <= +0.200 s)"
        )


if __name__ == "__main__":
    main()
