"""Benchmark: the sandbox's cost, measured side by side in one run.

* A trivial notebook (one cell) run plainly (nbclient with the stock kernel, as an instructor
  would without the grader), through ``run_notebook`` with the process backend, and with the
  sandbox (bwrap by default), interleaved, several times; prints the medians and the absolute
  overhead of the sandbox over plain execution (target <= 0.5 s).
* The hw2 reference notebook run plainly and in the sandbox, one after the other in the same
  process; prints both wall times and the ratio (target <= 1.05), and whether the harvested
  answers are the same.

Usage:  .venv/bin/python benchmarks/bench_sandbox.py [--backend bwrap] [--repeat 5]
        [--reference-repeat 1] [--data DIR] [--notebook PATH] [--skip-reference]

Timings vary with the machine's load; both sides of each comparison run back to back, so the
ratio is what to read. ``plain_execute`` is also used by the tests to get plain answers.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from grader.engine import (  # noqa: E402
    DEFAULT_ENV,
    harvest_read,  # noqa: E402
    run_notebook,
)
from grader.engine import harvest_plan as harvest  # noqa: E402
from grader.limits import Limits  # noqa: E402


def plain_execute(
    notebook: Path,
    data_dir: Path,
    answers: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> tuple[float, dict[str, Any]]:
    """Run ``notebook`` with stock nbclient and the stock kernel (no sandbox, no limits), then
    read ``answers`` with the same in-kernel harvest code. Returns (wall seconds, answers)."""
    nb = nbformat.read(str(notebook), as_version=4)
    work = Path(tempfile.mkdtemp(prefix="bench-plain-"))
    try:
        out_name = "answers.json"
        config = {"kind": "answers", "names": answers, "max_items": 10**7, "max_bytes": 10**8}
        config["out"] = str(work / out_name)
        nb.cells.append(new_code_cell(harvest.kernel_code(config)))
        kernel_env = {**os.environ, **DEFAULT_ENV, "ASSIGNMENT_DATA": str(data_dir / "public"), **(env or {})}
        client = NotebookClient(
            nb,
            kernel_name="python3",
            timeout=int(timeout),
            allow_errors=True,
            resources={"metadata": {"path": str(work)}},
            shutdown_kernel="immediate",  # as the grader does: no graceful-shutdown wait in the timing
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
        started = time.perf_counter()
        client.execute(env=kernel_env)
        elapsed = time.perf_counter() - started
        document = harvest_read.read_stage_output(work, out_name, 200 * 1024 * 1024)
        return elapsed, harvest_read.validate_answers(document, answers)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def sandbox_execute(
    notebook: Path, assignment: Any, data_dir: Path, backend: str, out: Path, run_id: str
) -> tuple[float, dict[str, Any]]:
    limits = Limits(cell_timeout=1800, notebook_timeout=7200)
    started = time.perf_counter()
    record = run_notebook(notebook, assignment, data_dir, out, run_id=run_id, backend=backend, limits=limits)
    elapsed = time.perf_counter() - started
    if record["status"] != "completed":
        raise SystemExit(f"{backend} run of {notebook.name} failed: {record['status']}: {record['message']}")
    return elapsed, record


def same_answers(a: dict[str, Any], b: dict[str, Any], rel: float = 1e-9) -> list[str]:
    """Names whose harvested answers differ (status, or value beyond a relative tolerance)."""

    def close(x: Any, y: Any) -> bool:
        if isinstance(x, float) or isinstance(y, float):
            return (
                isinstance(x, (int, float))
                and isinstance(y, (int, float))
                and math.isclose(x, y, rel_tol=rel, abs_tol=rel)
            )
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(close(p, q) for p, q in zip(x, y, strict=True))
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
        return x == y

    return [
        name
        for name in sorted(set(a) | set(b))
        if a.get(name, {}).get("status") != b.get(name, {}).get("status")
        or not close(a.get(name, {}).get("value"), b.get(name, {}).get("value"))
    ]


def trivial_assignment() -> SimpleNamespace:
    """An assignment with nothing to harvest (so only execution is measured)."""
    return SimpleNamespace(name="trivial", parts=[], answers={}, models={}, inputs={}, free_text=[])


def bench_trivial(backend: str, repeat: int, data_dir: Path, work: Path) -> None:
    notebook = work / "trivial.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1 + 1")]), str(notebook))
    assignment = trivial_assignment()
    times: dict[str, list[float]] = {"plain": [], "process": [], backend: []}
    for i in range(repeat):  # interleaved, so load changes hit every variant alike
        times["plain"].append(plain_execute(notebook, data_dir, [])[0])
        times["process"].append(
            sandbox_execute(notebook, assignment, data_dir, "process", work / "out", f"p{i}")[0]
        )
        times[backend].append(
            sandbox_execute(notebook, assignment, data_dir, backend, work / "out", f"s{i}")[0]
        )
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"trivial notebook, {repeat} interleaved runs each (median wall seconds):")
    for name, value in med.items():
        spread = f"min {min(times[name]):.3f} max {max(times[name]):.3f}"
        print(f"  {name:8s} {value:7.3f} s   ({spread})")
    overhead = med[backend] - med["plain"]
    verdict = "OK" if overhead <= 0.5 else "OVER TARGET"
    print(f"  sandbox overhead over plain: {overhead:+.3f} s (target <= 0.5 s): {verdict}")
    print(f"  {backend} over process backend: {med[backend] - med['process']:+.3f} s")


def bench_reference(notebook: Path, backend: str, data_dir: Path, work: Path, repeat: int = 1) -> None:
    """Plain and sandboxed runs of the reference, alternating (ABBA...) so drift hits both."""
    from grader.assignment import load_assignment

    assignment = load_assignment("hw2")
    names = list(assignment.answers)
    shown = notebook.relative_to(REPO) if notebook.is_relative_to(REPO) else notebook
    print(f"reference notebook {shown}, {repeat} run(s) each, alternating:")
    plain_times: list[float] = []
    sandbox_times: list[float] = []
    differ: set[str] = set()
    for i in range(repeat):
        order = ("plain", "sandbox") if i % 2 == 0 else ("sandbox", "plain")
        for kind in order:
            if kind == "plain":
                seconds, plain_answers = plain_execute(notebook, data_dir, names)
                plain_times.append(seconds)
                print(f"  plain    {seconds:8.1f} s")
            else:
                seconds, record = sandbox_execute(
                    notebook, assignment, data_dir, backend, work / "out", f"ref{i}"
                )
                sandbox_times.append(seconds)
                sandbox_answers = record["harvest"]["answers"]
                print(
                    f"  {backend:8s} {seconds:8.1f} s   (harvest {record['harvest']['wall_s']:.2f} s, "
                    f"peak {record['telemetry']['peak_rss_mb']:.0f} MiB)"
                )
        differ.update(same_answers(plain_answers, sandbox_answers))
    ratio = statistics.median(sandbox_times) / statistics.median(plain_times)
    print(
        f"  ratio sandbox/plain (medians): {ratio:.3f} (target <= 1.05): {'OK' if ratio <= 1.05 else 'OVER TARGET'}"
    )
    print(
        f"  answers identical: {not differ}" + (f" (differ: {', '.join(sorted(differ))})" if differ else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="bwrap")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--notebook", type=Path, default=REPO / "reference" / "hw2" / "hw2_reference.ipynb")
    parser.add_argument("--reference-repeat", type=int, default=1, help="runs of the reference, each way")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    if args.data is None:
        from grader.assignment import load_assignment
        from grader.datasets import ensure_data

        args.data = ensure_data(load_assignment("hw2"))
    work = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        bench_trivial(args.backend, args.repeat, args.data, work)
        if not args.skip_reference:
            bench_reference(args.notebook.resolve(), args.backend, args.data, work, args.reference_repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
