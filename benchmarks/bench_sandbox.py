"""Benchmark: the sandbox's cost, measured side by side in one run.

* A trivial notebook (one cell) run plainly (nbclient with the stock kernel, as an instructor
  would without the grader), through ``run_notebook`` with the process backend, with the
  sandbox (bwrap by default) on the grader's own interpreter, and with the sandbox on hw2's
  kernel environment, interleaved, several times; prints the medians, the overhead of the
  sandbox over plain execution (target <= 0.5 s) and of the separate environment over the
  grader's interpreter (target <= 0.1 s).
* The hw2 reference notebook run plainly and in the sandbox (both on hw2's environment), one
  after the other in the same process; prints both wall times and the ratio (target <= 1.05),
  and whether the harvested answers are the same.

Usage:  .venv/bin/python benchmarks/bench_sandbox.py [--backend bwrap] [--repeat 5]
        [--reference-repeat 1] [--data DIR] [--notebook PATH] [--skip-reference]

Timings vary with the machine's load; both sides of each comparison run back to back, so the
ratio is what to read. ``plain_execute`` is also used by the tests to get plain answers.
"""

from __future__ import annotations

import argparse
import json
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

from grader.engine import DEFAULT_ENV, harvest_read, run_notebook  # noqa: E402
from grader.engine import harvest_plan as harvest  # noqa: E402
from grader.engine.run import FROM_ASSIGNMENT  # noqa: E402
from grader.limits import Limits  # noqa: E402


def _kernel_manager(python: str, work: Path) -> Any:
    """A stock kernel manager for ``python``'s ipykernel (a kernel spec written into ``work``)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    spec_dir = work / "kernels" / "bench"
    spec_dir.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec_dir / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "bench", "language": "python"})
    )
    return AsyncKernelManager(
        kernel_name="bench", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(work / "kernels")])
    )


def plain_execute(
    notebook: Path,
    data_dir: Path,
    answers: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    python: str | None = None,
) -> tuple[float, dict[str, Any]]:
    """Run ``notebook`` with stock nbclient and a stock kernel (no sandbox, no limits): the
    grader's own, or ``python``'s (an assignment's environment), then read ``answers`` with the
    same in-kernel harvest code. Returns (wall seconds, answers)."""
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
            km=_kernel_manager(python, work) if python else None,
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
    notebook: Path,
    assignment: Any,
    data_dir: Path,
    backend: str,
    out: Path,
    run_id: str,
    kernel: Any = FROM_ASSIGNMENT,
) -> tuple[float, dict[str, Any]]:
    limits = Limits(cell_timeout=1800, notebook_timeout=7200)
    started = time.perf_counter()
    record = run_notebook(
        notebook, assignment, data_dir, out, run_id=run_id, backend=backend, limits=limits, kernel=kernel
    )
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


def bench_trivial(backend: str, repeat: int, data_dir: Path, work: Path, environment: Any) -> None:
    """Plain, process, the sandbox on the grader's own interpreter (as before environments) and
    the sandbox on the assignment's environment, interleaved."""
    notebook = work / "trivial.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1 + 1")]), str(notebook))
    assignment = trivial_assignment()
    with_env = f"{backend}+env"
    times: dict[str, list[float]] = {"plain": [], "process": [], backend: [], with_env: []}
    for i in range(repeat):  # interleaved, so load changes hit every variant alike
        times["plain"].append(plain_execute(notebook, data_dir, [])[0])
        times["process"].append(
            sandbox_execute(notebook, assignment, data_dir, "process", work / "out", f"p{i}", kernel=None)[0]
        )
        times[backend].append(
            sandbox_execute(notebook, assignment, data_dir, backend, work / "out", f"s{i}", kernel=None)[0]
        )
        if environment is not None:
            times[with_env].append(
                sandbox_execute(
                    notebook, assignment, data_dir, backend, work / "out", f"e{i}", kernel=environment
                )[0]
            )
    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"trivial notebook, {repeat} interleaved runs each (median wall seconds):")
    for name, value in med.items():
        spread = f"min {min(times[name]):.3f} max {max(times[name]):.3f}"
        print(f"  {name:12s} {value:7.3f} s   ({spread})")
    overhead = med[backend] - med["plain"]
    verdict = "OK" if overhead <= 0.5 else "OVER TARGET"
    print(f"  sandbox overhead over plain: {overhead:+.3f} s (target <= 0.5 s): {verdict}")
    print(f"  {backend} over process backend: {med[backend] - med['process']:+.3f} s")
    if with_env in med:
        extra = med[with_env] - med[backend]
        print(
            f"  the assignment's environment ({environment.key}) over the grader's interpreter: {extra:+.3f} s "
            f"(target <= 0.1 s): {'OK' if extra <= 0.1 else 'OVER TARGET'}"
        )


def bench_reference(notebook: Path, backend: str, data_dir: Path, work: Path, repeat: int = 1) -> None:
    """Plain and sandboxed runs of the reference, alternating (ABBA...) so drift hits both."""
    from grader.assignment import load_assignment
    from grader.environment import for_assignment

    assignment = load_assignment("hw2")
    environment = for_assignment(assignment)  # plain execution uses the same interpreter and packages
    python = str(environment.python) if environment is not None else None
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
                seconds, plain_answers = plain_execute(notebook, data_dir, names, python=python)
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
    from grader.assignment import load_assignment
    from grader.environment import for_assignment

    hw2 = load_assignment("hw2")
    environment = for_assignment(hw2)  # EnvironmentNotBuilt names `grader env build hw2`
    if args.data is None:
        from grader.datasets import ensure_data

        args.data = ensure_data(hw2)
    work = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    try:
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        bench_trivial(args.backend, args.repeat, args.data, work, environment)
        if not args.skip_reference:
            bench_reference(args.notebook.resolve(), args.backend, args.data, work, args.reference_repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
