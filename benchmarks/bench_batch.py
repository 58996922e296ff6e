"""Batch grading benchmarks, measured side by side on the same machine in one run.

1. Throughput with 1 and 2 local workers on a folder of submissions (the hw2 examples by
   default), printed as a ratio (speed-up of 2 workers over 1).
2. Time per submission of a rerun with nothing changed (every submission skipped by hash).
3. The coordinator's memory over a synthetic batch of N submissions (200 by default): a
   stand-in task returns a result document of realistic size without running a notebook, so
   what grows is the coordinator's own bookkeeping (futures, documents, results.jsonl).

    .venv/bin/python benchmarks/bench_batch.py                        # hw2 examples, embedded data
    .venv/bin/python benchmarks/bench_batch.py --assignment tests/assignments/toy/toy.yaml \\
        --submissions DIR --synthetic 200

Timings depend on the machine and its load; compare numbers from the same run only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
SYNTHETIC_ITEMS = 30  # items per synthetic document, about hw2's count


def synthetic_task(submission: Any, options: Any) -> dict[str, Any]:
    """A result document the size of a real one, without executing anything."""
    from grader.batch import submission_hash

    time.sleep(0.005)
    items = [
        {
            "id": f"item{i}",
            "part": "part1",
            "title": "An item title of ordinary length",
            "kind": "curve_band",
            "points": 1.0,
            "max_points": 2.0,
            "status": "partial",
            "message": "validation RMSE at depth 8 is 3.41; expected 2.88 ± 0.15" * 2,
            "extra_credit": False,
            "visibility": "visible",
            "evidence": {"values": [3.1, 3.0, 2.9, 3.2, 3.9], "expected": [2.9, 2.8, 2.8, 2.9, 3.0]},
        }
        for i in range(SYNTHETIC_ITEMS)
    ]
    cells = [
        {"index": i, "cell_type": "code", "status": "ok", "wall_s": 0.1, "peak_rss_mb": 200.0}
        for i in range(40)
    ]
    return {
        "schema_version": 1,
        "id": submission.id,
        "student": submission.student,
        "submission": str(submission.path),
        "assignment": options.assignment.name,
        "status": "graded",
        "message": "synthetic",
        "score": 50.0,
        "max_score": 100.0,
        "items": items,
        "cells": cells,
        "content_hash": submission_hash(submission, options),
    }


class RssSampler:
    """Peak resident memory of this process (the coordinator), sampled every 20 ms."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.end = self._process.memory_info().rss


def _options(assignment: Any, out: Path, data: Path, backend: str, cell_timeout: float = 60.0) -> Any:
    from grader.grading import GradeOptions
    from grader.limits import Limits

    return GradeOptions(
        assignment=assignment,
        out_dir=out,
        data_dir=data,
        backend=backend,
        limits=Limits(cell_timeout=cell_timeout),
    )


def throughput(args: argparse.Namespace, assignment: Any, data: Path, work: Path) -> None:
    from grader.batch import grade_batch

    subs = sorted(Path(args.submissions).glob("*.ipynb"))
    if not subs:
        sys.exit(f"no notebooks in {args.submissions}")
    print(f"throughput: {len(subs)} submissions from {args.submissions}")
    walls = {}
    for workers in (1, 2):
        out = work / f"workers{workers}"
        started = time.perf_counter()
        summary = grade_batch(
            subs, _options(assignment, out, data, args.backend, args.timeout), workers=workers, progress=False
        )
        walls[workers] = time.perf_counter() - started
        print(
            f"  {workers} worker(s): {walls[workers]:7.1f} s, {walls[workers] / len(subs):6.2f} s/submission  "
            f"({dict(summary.statuses)})"
        )
    print(f"  speed-up of 2 workers over 1: {walls[1] / walls[2]:.2f}x")

    out = work / "workers2"
    started = time.perf_counter()
    summary = grade_batch(
        subs, _options(assignment, out, data, args.backend, args.timeout), workers=2, progress=False
    )
    rerun = time.perf_counter() - started
    print(
        f"rerun, nothing changed: {rerun:.2f} s for {len(subs)} ({summary.skipped} skipped): "
        f"{rerun / len(subs) * 1000:.0f} ms/submission, {walls[2] / rerun:.0f}x faster than grading"
    )


def coordinator_memory(args: argparse.Namespace, assignment: Any, data: Path, work: Path) -> None:
    sys.path.insert(0, str(BENCH_DIR))  # so workers import this module by name
    import bench_batch

    from grader.batch import grade_batch

    subs = work / "synthetic"
    subs.mkdir()
    template = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    for i in range(args.synthetic):
        cell = {
            "cell_type": "code",
            "metadata": {},
            "source": f"x = {i}\n" + "y = x * 2\n" * 50,
            "outputs": [],
        }
        cell["execution_count"] = None
        (subs / f"student{i:04d}.ipynb").write_text(
            json.dumps(dict(template, cells=[cell])), encoding="utf-8"
        )
    options = _options(assignment, work / "synthetic-out", data, args.backend)
    options.write_reports = False
    warm = _options(assignment, work / "warm-up-out", data, args.backend)
    warm.write_reports = False
    # A 3-submission warm-up first, so the modules a batch imports are not counted as growth.
    grade_batch(
        sorted(subs.glob("*.ipynb"))[:3], warm, workers=2, progress=False, task=bench_batch.synthetic_task
    )
    with RssSampler() as rss:
        started = time.perf_counter()
        summary = grade_batch([subs], options, workers=2, progress=False, task=bench_batch.synthetic_task)
        wall = time.perf_counter() - started
    size = (options.out_dir / "results.jsonl").stat().st_size
    mib = 1024 * 1024
    print(
        f"coordinator memory, {args.synthetic} synthetic submissions ({summary.graded_now} graded in {wall:.1f} s, "
        f"results.jsonl {size / mib:.1f} MiB): baseline {rss.baseline / mib:.0f} MiB, peak {rss.peak / mib:.0f} MiB "
        f"(+{(rss.peak - rss.baseline) / mib:.1f} MiB, {(rss.peak - rss.baseline) / args.synthetic / 1024:.1f} KiB "
        f"per submission), end {rss.end / mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--assignment", default="hw2")
    parser.add_argument("--submissions", default=str(REPO / "examples" / "submissions" / "hw2"))
    parser.add_argument(
        "--data", type=Path, default=None, help="data directory (default: build into a temp dir)"
    )
    parser.add_argument("--backend", default="auto")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="per-cell timeout (one example loops forever on purpose)"
    )
    parser.add_argument("--synthetic", type=int, default=200)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    from grader.assignment import load_assignment
    from grader.datasets import build_data

    assignment = load_assignment(args.assignment)
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        data = args.data
        if data is None:
            data = work / "data"
            build_data(assignment, data)
        if not args.skip_throughput:
            throughput(args, assignment, data, work)
        if args.synthetic:
            coordinator_memory(args, assignment, data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
