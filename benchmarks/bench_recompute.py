"""Benchmark: what recomputing reported numbers costs per notebook, measured side by side.

The hw2 reference notebook runs through ``run_notebook`` in its kernel environment twice per
repeat, alternating: with the rubric as it is (Part 1 refits of every curve, the Part 2 audit
re-run, figure summaries) and with a copy of the rubric without ``audits:`` (nothing re-run).
Prints, per side, the median whole-run wall time and harvest time, the audits' own wall time, and
the extra cost as a share of the reference notebook's own execution (issue 11's target: at most
15%).

Usage:  .venv/bin/python benchmarks/bench_recompute.py [--repeat 1] [--data DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from grader.assignment import load_assignment  # noqa: E402
from grader.datasets import ensure_data  # noqa: E402
from grader.engine import run_notebook  # noqa: E402
from grader.runstore import REFERENCE_LIMITS  # noqa: E402


def without_audits(work: Path) -> Path:
    """A copy of hw2's rubric folder layout with the audits removed (paths stay valid)."""
    rubric = yaml.safe_load((REPO / "rubrics" / "hw2.yaml").read_text(encoding="utf-8"))
    gated = {
        i
        for a in rubric.get("audits", {}).values()
        for c in a["configurations"]
        for x in c["compare"]
        for i in x["items"]
    }
    assert gated, "hw2 declares no audits"
    rubric.pop("audits", None)
    folder = work / "rubrics"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hw2.yaml"
    path.write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    return path


def one_run(assignment: Any, data: Path, out: Path, run_id: str) -> dict[str, float]:
    record = run_notebook(
        assignment.reference,
        assignment,
        data,
        out,
        run_id=run_id,
        limits=REFERENCE_LIMITS,
        env={"GRADER_SEED": "0"},
    )
    harvest = record.get("harvest") or {}
    audits = harvest.get("audits") or {}
    cells = sum(float(c.get("wall_s") or 0.0) for c in record.get("cells") or [])
    return {
        "total": float((record.get("telemetry") or {}).get("wall_s") or 0.0),
        "cells": cells,
        "harvest": float(harvest.get("wall_s") or 0.0),
        # every audit of a notebook runs in one harvest stage; each entry carries that stage's time
        "audits": max(
            (float(a.get("wall_s") or 0.0) for a in audits.values() if isinstance(a, dict)), default=0.0
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args(argv)
    full = load_assignment("hw2")
    data = args.data or ensure_data(full)
    work = Path(tempfile.mkdtemp(prefix="bench-recompute-"))
    try:
        plain_rubric = without_audits(work)
        # the copy's relative paths must resolve as the original's do
        for name in ("student_template", "reference"):
            (work / name).symlink_to(REPO / name)
        bare = load_assignment(plain_rubric)
        sides: dict[str, list[dict[str, float]]] = {"with re-runs": [], "without": []}
        for i in range(args.repeat):
            for label, assignment in (("with re-runs", full), ("without", bare)):
                timing = one_run(assignment, data, work / f"out-{i}-{len(sides[label])}", f"ref-{i}")
                sides[label].append(timing)
                print(
                    f"{label:13s} run {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()),
                    flush=True,
                )
        med = {
            label: {k: statistics.median(t[k] for t in runs) for k in runs[0]}
            for label, runs in sides.items()
        }
        extra = med["with re-runs"]["harvest"] - med["without"]["harvest"]
        own = med["without"]["cells"]
        print(f"\nreference notebook's own cells: {own:.2f} s (median)")
        print(
            f"harvest: {med['with re-runs']['harvest']:.2f} s with re-runs, {med['without']['harvest']:.2f} s without"
        )
        print(f"re-runs (the audit stage's wall time): {med['with re-runs']['audits']:.2f} s")
        print(
            f"extra harvest cost: {extra:.2f} s = {100 * extra / own:.1f}% of the notebook's own execution (target <= 15%)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
