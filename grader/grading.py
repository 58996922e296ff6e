"""Grade ONE submission: execute in the sandbox, score outside it, render its feedback.

This is the function every executor runs (local pool, Dask worker, Gradescope container, the
student's self-check). It returns the result document and never raises for anything a
submission does: a grader failure on one file becomes a result row with status ``error``.
Saving the document (results/<id>.json, results.jsonl) is the coordinator's job.
"""

from __future__ import annotations

import datetime as _dt
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grader import __version__
from grader.assignment import Assignment
from grader.context import GradingContext, resolve_context
from grader.engine import run_notebook
from grader.environment import KernelEnvironmentError
from grader.keys import SubmissionKeys
from grader.limits import Limits
from grader.publish import feedback_field
from grader.records import RESULT_SCHEMA_VERSION, RunRecord
from grader.report import render_student
from grader.scoring import score_run
from grader.submission import Submission


@dataclass
class GradeOptions:
    """How to grade; shared by every submission of a batch (so it must pickle).

    ``assignment``, ``data_dir`` and ``profile`` say what to grade against; ``resolved()`` turns
    them into a ``GradingContext`` once (grade_batch does it for the whole batch), which every
    stage then reads instead of working it out again.
    """

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
    context: GradingContext | None = None

    def resolved(self) -> GradeOptions:
        """These options with the grading context resolved (a no-op when it already is)."""
        if self.context is not None:
            return self
        context = resolve_context(self.assignment, self.data_dir, self.profile)
        return replace(self, data_dir=context.data_dir, profile=context.profile, context=context)

    def keys(self, notebook: Path) -> SubmissionKeys:
        """The execution and scoring keys of ``notebook`` graded with these options."""
        context = self.resolved().context
        assert context is not None
        return context.keys(notebook, limits=self.limits, env=self.env, public_only=self.public_only)


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
    max_score = float(sum(item.get("points", 0) for item in assignment.items if not item.get("extra_credit")))
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "submission": str(submission.path),
        "id": submission.id,
        "student": submission.student,
        "assignment": assignment.name,
        "rubric": str(assignment.rubric_path),
        # the context's profile; unresolved (the data could not be prepared) only the one asked for
        "profile": options.context.profile if options.context is not None else options.profile,
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


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def grade_one(submission: Submission, options: GradeOptions) -> dict[str, Any]:
    """Execute, score and (optionally) render feedback for one submission; return its document."""
    started = time.perf_counter()
    try:
        options = options.resolved()
        return _grade(submission, options, started)
    except KernelEnvironmentError as exc:  # not built here: a set-up step, named in the message
        return error_result(submission, options, str(exc), status="sandbox_error")
    except Exception as exc:  # the grader's own failure on this file: a row, not a crashed batch
        return error_result(
            submission,
            options,
            f"the grader failed on this submission ({type(exc).__name__}: {exc}); "
            "please report it to the course staff",
            detail=traceback.format_exc(),
        )


def _grade(submission: Submission, options: GradeOptions, started: float) -> dict[str, Any]:
    context = options.context
    assert context is not None  # grade_one resolved it
    assignment = context.assignment
    out_dir = Path(options.out_dir)
    run = run_notebook(
        Path(submission.path),
        assignment,
        context.data_dir,
        out_dir,
        run_id=submission.id,
        backend=options.backend,
        gpu=options.gpu,
        limits=options.limits,
        public_only=options.public_only,
        env=options.env,
        kernel=context.environment,
    )
    executed_at = time.perf_counter()
    document = score_run(
        run,
        assignment,
        context.expected,
        context.data_dir,
        profile=context.profile,
        public_only=options.public_only,
    )
    scored_at = time.perf_counter()
    complete_document(document, submission, run, options, options.keys(Path(submission.path)))
    timings = {
        "execute_s": round(executed_at - started, 3),
        "score_s": round(scored_at - executed_at, 3),
    }
    if options.write_reports:
        paths = render_student(document, out_dir, assignment=assignment)
        document["feedback"] = feedback_field(out_dir, paths)
        timings["report_s"] = round(time.perf_counter() - scored_at, 3)
    timings["total_s"] = round(time.perf_counter() - started, 3)
    document["timings"] = timings
    return document


def complete_document(
    document: dict[str, Any],
    submission: Submission,
    run: RunRecord,
    options: GradeOptions,
    keys: SubmissionKeys,
) -> None:
    """Add to a scored document what the scorer does not know: the submission, its keys, the
    time, the executed notebook, intake notes and the context's warnings. Grading and
    rescoring (grader.rescore) both end here, so their documents differ only in their scores."""
    context = options.context
    assert context is not None  # resolved by the caller
    document.update(
        {
            "submission": str(submission.path),
            "id": submission.id,
            "student": submission.student,
            "rubric": str(context.assignment.rubric_path),
            "content_hash": keys.content_hash,
            "execution_key": keys.execution,
            "scoring_key": keys.scoring,
            "graded_at": _now(),
            "grader_version": __version__,
            "executed_notebook": run.get("executed_notebook"),
            "notes": list(submission.notes) + list(document.get("notes", [])),
        }
    )
    document["warnings"] = list(document.get("warnings", [])) + context.warnings()
