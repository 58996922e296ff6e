"""Grade ONE submission: execute in the sandbox, score outside it, render its feedback.

This is the function every executor runs (local pool, Dask worker, Gradescope container, the
student's self-check). It returns the result document and never raises for anything a
submission does: a grader failure on one file becomes a result row with status ``error``.
Saving the document (results/<id>.json, results.jsonl) is the coordinator's job.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import Assignment
from grader.results import SCHEMA_VERSION
from grader.sandbox.base import Limits
from grader.submission import Submission


@dataclass
class GradeOptions:
    """How to grade; shared by every submission of a batch (so it must pickle)."""

    assignment: Assignment
    out_dir: Path
    data_dir: Path | None = None
    profile: str | None = None
    backend: str = "auto"
    gpu: str | None = None
    limits: Limits | None = None
    public_only: bool = False
    write_reports: bool = True
    env: dict[str, str] | None = None  # extra kernel environment (e.g. GRADER_SEED), on top of the defaults


def expected_file(assignment: Assignment, data_dir: Path | None, profile: str | None = None) -> Path | None:
    """The expected.json that applies to this data: one per data profile (bands differ with data)."""
    from grader.expected import expected_path_for
    from grader.scoring import resolve_profile

    if data_dir is not None:
        profile = resolve_profile(assignment, Path(data_dir), profile)
    return expected_path_for(assignment, profile)


def load_expected(
    assignment: Assignment, data_dir: Path | None = None, profile: str | None = None
) -> dict[str, Any] | None:
    """The calibrated expected metrics for this data profile, or None when not calibrated yet."""
    return _read_expected(expected_file(assignment, data_dir, profile))


def _read_expected(path: Path | None) -> dict[str, Any] | None:
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _expected_warnings(
    assignment: Assignment, path: Path | None, expected: dict[str, Any] | None, data_dir: Path
) -> list[str]:
    """Say when the metrics students are scored against are missing or out of date."""
    if path is None:
        return []
    if expected is None:
        return [
            f"{path.name} is missing: items scored against the reference were not "
            f"calibrated (run `grader reference {assignment.name}`)"
        ]
    from grader.expected import check_current

    stale = check_current(assignment, expected, data_dir)
    if not stale:
        return []
    return [
        f"{path.name} is stale ("
        + "; ".join(stale[:5])
        + f"): recalibrate with `grader reference {assignment.name}`"
    ]


def resolve_data_dir(options: GradeOptions) -> Path:
    """The data directory to grade against: the one given, or the built-once cache."""
    if options.data_dir is not None:
        return Path(options.data_dir)
    from grader.datasets import ensure_data

    return ensure_data(options.assignment, profile=options.profile)


def content_hash(
    notebook: Path, assignment: Assignment, data_dir: Path | None = None, profile: str | None = None
) -> str:
    """What a result depends on: the notebook's bytes, the rubric, expected.json, the data.

    A rerun skips a submission whose hash is unchanged; any change to one of these regrades it.
    """
    digest = hashlib.sha256()
    for label, path in (
        ("notebook", notebook),
        ("rubric", assignment.rubric_path),
        ("expected", expected_file(assignment, data_dir, profile)),
        ("manifest", (Path(data_dir) / "MANIFEST.json") if data_dir else None),
    ):
        digest.update(label.encode())
        if path is not None and Path(path).is_file():
            digest.update(Path(path).read_bytes())
        else:
            digest.update(b"<absent>")
    return digest.hexdigest()


def error_result(
    submission: Submission,
    options: GradeOptions,
    message: str,
    *,
    status: str = "error",
    detail: str | None = None,
) -> dict[str, Any]:
    """A result row for a submission that could not be graded: score 0, the reason stated."""
    assignment = options.assignment
    max_score = _max_score(assignment)
    return {
        "schema_version": SCHEMA_VERSION,
        "submission": str(submission.path),
        "id": submission.id,
        "student": submission.student,
        "assignment": assignment.name,
        "profile": options.profile or assignment.default_profile,
        "status": status,
        "message": message,
        "error_detail": detail,
        "score": 0.0,
        "max_score": max_score,
        "auto_score": 0.0,
        "auto_max_score": max_score,
        "pending_manual": 0.0,
        "extra_credit": 0.0,
        "parts": [],
        "items": [],
        "cells": [],
        "limits_fired": [],
        "telemetry": {},
        "notes": list(submission.notes),
        "graded_at": _now(),
        "grader_version": __version__,
    }


def _max_score(assignment: Assignment) -> float:
    return float(sum(item.get("points", 0) for item in assignment.items if not item.get("extra_credit")))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def grade_one(submission: Submission, options: GradeOptions) -> dict[str, Any]:
    """Execute, score and (optionally) render feedback for one submission; return its document."""
    started = time.perf_counter()
    try:
        return _grade(submission, options, started)
    except Exception as exc:  # the grader's own failure on this file: a row, not a crashed batch
        return error_result(
            submission,
            options,
            f"the grader failed on this submission ({type(exc).__name__}: {exc}); "
            "please report it to the course staff",
            detail=traceback.format_exc(),
        )


def _grade(submission: Submission, options: GradeOptions, started: float) -> dict[str, Any]:
    from grader.execute import run_notebook
    from grader.scoring import score_run

    assignment = options.assignment
    out_dir = Path(options.out_dir)
    data_dir = resolve_data_dir(options)
    expected_path = expected_file(assignment, data_dir, options.profile)  # resolved once per submission
    expected = _read_expected(expected_path)

    run = run_notebook(
        Path(submission.path),
        assignment,
        data_dir,
        out_dir,
        run_id=submission.id,
        backend=options.backend,
        gpu=options.gpu,
        limits=options.limits,
        public_only=options.public_only,
        env=options.env,
    )
    executed_at = time.perf_counter()
    document = score_run(
        run, assignment, expected, data_dir, profile=options.profile, public_only=options.public_only
    )
    scored_at = time.perf_counter()
    document.update(
        {
            "submission": str(submission.path),
            "id": submission.id,
            "student": submission.student,
            "content_hash": content_hash(Path(submission.path), assignment, data_dir, options.profile),
            "graded_at": _now(),
            "grader_version": __version__,
            "executed_notebook": run.get("executed_notebook"),
            "notes": list(submission.notes) + list(document.get("notes", [])),
        }
    )
    warnings = list(document.get("warnings", []))
    warnings += _expected_warnings(assignment, expected_path, expected, data_dir)
    document["warnings"] = warnings
    timings = {
        "execute_s": round(executed_at - started, 3),
        "score_s": round(scored_at - executed_at, 3),
    }
    if options.write_reports:
        from grader.report import render_student

        paths = render_student(document, out_dir, assignment=assignment, expected=expected)
        document["feedback"] = {kind: str(Path(p).relative_to(out_dir)) for kind, p in paths.items()}
        timings["report_s"] = round(time.perf_counter() - scored_at, 3)
    timings["total_s"] = round(time.perf_counter() - started, 3)
    document["timings"] = timings
    return document
