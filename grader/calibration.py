"""Calibrate expected metrics from the reference solution over several model seeds.

The reference notebook runs through the same sandbox and harvest as a student's, K times with
different model seeds (env ``GRADER_SEED``; data splits never change), and every item's raw
quantity is observed and summarised into expected.json (grader.expected holds the document's
rules: its path per profile, provenance, staleness, release margins).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.datasets import resolve_profile
from grader.expected import (
    SCHEMA_VERSION,
    SEED_ENV,
    expected_path_for,
    provenance,
    summarise,
    threshold_margin,
)
from grader.records import RunRecord
from grader.results import write_json_atomic
from grader.runstore import RunStore, run_or_reuse
from grader.scoring import KINDS, SUMMARISERS, observe_item
from grader.scoring.context import ScoreContext, Unanswered


class CalibrationError(RuntimeError):
    """The reference could not be calibrated; the message names the seed and the item."""


def summarise_runs(
    assignment: Assignment,
    runs: list[tuple[int, RunRecord]],
    data_dir: Path,
    *,
    profile: str | None = None,
    template_run: RunRecord | None = None,
) -> dict[str, Any]:
    """Observe every calibratable item on every (seed, RunRecord) and summarise over seeds.

    ``template_run`` (the untouched template, executed once) records the figures its helper
    cells draw per part, which figure items do not credit. Raises ``CalibrationError`` naming
    the seed and item when the reference fails to answer.
    """
    if not runs:
        raise CalibrationError("no reference runs to summarise")
    profile = resolve_profile(assignment, Path(data_dir), profile)
    problems: list[str] = []
    for seed, run in runs:
        if run.get("status") != "completed":
            problems.append(
                f"seed {seed}: the reference run ended with {run.get('status')}: {run.get('message')}"
            )
    observations: dict[str, list[Any]] = {}
    for seed, run in runs:
        ctx = ScoreContext(
            run=run, assignment=assignment, expected=None, data_dir=Path(data_dir), profile=profile
        )
        for item in assignment.items:
            if KINDS[item["kind"]][1] is None:
                continue
            try:
                observations.setdefault(item["id"], []).append(observe_item(item, ctx))
            except Unanswered as exc:
                problems.append(f"seed {seed}: item {item['id']}: {exc}")
    if problems:
        raise CalibrationError("the reference does not answer every item:\n  " + "\n  ".join(problems[:20]))
    items: dict[str, Any] = {}
    for item in assignment.items:
        if item["id"] not in observations:
            continue
        summariser = SUMMARISERS.get(item["kind"], summarise)
        entry: dict[str, Any] = {"kind": item["kind"], "observed": summariser(observations[item["id"]])}
        if item["kind"] == "threshold":
            entry["threshold"] = threshold_margin(item, entry["observed"], profile)
        items[item["id"]] = entry
    return {
        "schema_version": SCHEMA_VERSION,
        "assignment": assignment.name,
        "profile": profile,
        "provenance": provenance(assignment, Path(data_dir), [seed for seed, _ in runs]),
        "runs": [
            {
                "seed": seed,
                "status": run.get("status"),
                "backend": run.get("backend"),
                "wall_s": (run.get("telemetry") or {}).get("wall_s"),
            }
            for seed, run in runs
        ],
        "items": items,
        "template": _template_summary(assignment, template_run),
    }


def _template_summary(assignment: Assignment, run: RunRecord | None) -> dict[str, Any] | None:
    """Figures per part drawn by the untouched template (its helper cells), or None if not run."""
    if run is None:
        return None
    ctx = ScoreContext(run=run, assignment=assignment, expected=None, data_dir=Path("."), profile="")
    return {
        "status": run.get("status"),
        "figures": {part["id"]: ctx.figures(part["id"]) for part in assignment.parts},
        # which cells draw them (by content): only a notebook that kept them has them to discount
        "figure_cells": {
            part["id"]: sorted(
                {
                    str(cell["source_sha256"])
                    for cell in run.get("cells") or []
                    if cell.get("part") == part["id"]
                    and int(cell.get("figures") or 0) > 0
                    and cell.get("source_sha256")
                }
            )
            for part in assignment.parts
        },
    }


def calibrate(
    assignment: Assignment,
    seeds: int,
    *,
    data_dir: Path,
    backend: str = "auto",
    out: Path | None = None,
    work_dir: Path | None = None,
    store: RunStore | None = None,
    reuse_only: bool = False,
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Run the reference ``seeds`` times (GRADER_SEED = 0..seeds-1) and the template once, and
    write expected.json.

    ``out`` defaults to the rubric's ``expected:`` path. Executed notebooks and RunRecords go to
    ``work_dir`` (a temporary directory, removed afterwards, when not given). With ``store``, a
    stored run with the same execution inputs and a covering harvest plan is reused instead of
    executed (``reuse_only``: never execute; ``NotStored`` says which run is missing and why);
    ``counts`` receives how many runs were ``reused`` and ``executed``.
    """
    if seeds < 1:
        raise CalibrationError(f"--seeds must be at least 1, got {seeds}")
    if assignment.reference is None or not assignment.reference.is_file():
        raise CalibrationError(
            f"assignment {assignment.name}: reference notebook {assignment.reference} not found"
        )
    if out is None:
        out = expected_path_for(assignment, resolve_profile(assignment, Path(data_dir), None))
    target = Path(out) if out is not None else None
    if target is None:
        raise CalibrationError(
            f"assignment {assignment.name}: the rubric names no 'expected:' file; pass --out"
        )
    scratch = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="grader-reference-"))
    try:
        tally = counts if counts is not None else {}
        tally.update(reused=0, executed=0)

        def run(notebook: Path, run_id: str, env: dict[str, str] | None) -> RunRecord:
            record, reused = run_or_reuse(
                notebook,
                assignment,
                Path(data_dir),
                scratch,
                run_id=run_id,
                store=store,
                env=env,
                backend=backend,
                reuse_only=reuse_only,
            )
            tally["reused" if reused else "executed"] += 1
            return record

        runs = [
            (seed, run(assignment.reference, f"reference-seed{seed}", {SEED_ENV: str(seed)}))
            for seed in range(seeds)
        ]
        template_run = None
        if assignment.template is not None and assignment.template.is_file():
            template_run = run(assignment.template, "template", None)
        expected = summarise_runs(assignment, runs, Path(data_dir), template_run=template_run)
    finally:
        if work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    write_json_atomic(target, expected, indent=1)
    return expected


def summarise_kept(assignment: Assignment, keep_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Re-summarise RunRecords kept by an earlier ``calibrate(work_dir=...)`` without rerunning.

    For rubric edits that do not change what the reference computes (a threshold, a band's
    floor, a title): the runs are the same, only their reading changes.
    """
    run_dir = Path(keep_dir) / "run"
    runs = []
    for path in sorted(run_dir.glob("reference-seed*.json")):
        seed = int(path.stem.removeprefix("reference-seed"))
        runs.append((seed, json.loads(path.read_text(encoding="utf-8"))))
    if not runs:
        raise CalibrationError(f"{run_dir} holds no reference-seed*.json RunRecords")
    runs.sort(key=lambda pair: pair[0])
    template_path = run_dir / "template.json"
    template_run = json.loads(template_path.read_text(encoding="utf-8")) if template_path.is_file() else None
    expected = summarise_runs(assignment, runs, Path(data_dir), template_run=template_run)
    expected["provenance"]["runs_reused_from"] = str(Path(keep_dir).resolve())
    return expected
