"""Score one RunRecord against the rubric, expected.json and hidden labels, outside the sandbox.

Each item kind has a scorer (credit + a message a student can act on) and an observer (the raw
quantity, which ``grader.expected.calibrate`` summarises over the reference's seeds). One item's
failure never spoils another: a missing answer scores 0 with a message saying exactly that; a
grader bug on one item becomes that item's ``error`` status.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.datasets import resolve_profile
from grader.scoring import audits, bands, choices, functions, kernel_tests, metrics, presence, reported
from grader.scoring.context import NotCalibrated, Pending, ScoreContext, Unanswered
from grader.scoring.document import assemble, validate_result
from grader.scoring.outcome import Outcome, pending
from grader.scoring.withhold import withhold_reference

if TYPE_CHECKING:
    from grader.assignment import Assignment
    from grader.records import RunRecord

__all__ = [
    "KINDS",
    "SUMMARISERS",
    "ScoreContext",
    "observe_item",
    "score_item",
    "score_run",
    "validate_result",
]

Scorer = Callable[[dict[str, Any], ScoreContext], Outcome]
Observer = Callable[[dict[str, Any], ScoreContext], Any]

# kind -> (scorer, observer or None when the reference has nothing to calibrate)
KINDS: dict[str, tuple[Scorer, Observer | None]] = {
    "curve_band": (bands.score_curve, bands.observe_curve),
    "value_band": (bands.score_value, bands.observe_value),
    "threshold": (metrics.score_threshold, metrics.observe_threshold),
    "consistency": (metrics.score_consistency, metrics.observe_consistency),
    "choice": (choices.score_choice, choices.observe_choice),
    "figure": (presence.score_figure, presence.observe_figure),
    "answer_check": (presence.score_answer_check, presence.observe_answer_check),
    "free_text": (presence.score_free_text, None),
    "function": (functions.score_function, functions.observe_function),
    "kernel_test": (kernel_tests.score_kernel_test, None),
}
# kinds whose observations are not numbers: how calibration summarises them over seeds
SUMMARISERS: dict[str, Callable[[list[Any]], dict[str, Any]]] = {"function": functions.summarise_calls}
GRADED_ON_SUBMISSION = "graded on submission: this item uses hidden data that a self-check does not run"


def uses_hidden_data(item: dict[str, Any], ctx: ScoreContext) -> bool:
    """Whether scoring the item needs an input set (or its labels) under hidden/."""

    def walk(metric: dict[str, Any]) -> bool:
        if "input" in metric and ctx.input_is_hidden(metric["input"]):
            return True
        return any(isinstance(metric.get(s), dict) and walk(metric[s]) for s in ("left", "right"))

    return isinstance(item.get("metric"), dict) and walk(item["metric"])


def _evidence_answers(item: dict[str, Any], ctx: ScoreContext) -> dict[str, Any]:
    """The answers an item declares as extra evidence (for the report's plots); absent ones skipped."""
    extra = {}
    for key, name in (item.get("evidence") or {}).items():
        try:
            extra[key] = ctx.raw_answer(name)
        except Unanswered:
            continue
    return extra


def score_item(item: dict[str, Any], ctx: ScoreContext) -> dict[str, Any]:
    """One item's entry of the result document; never raises."""
    max_points = float(item["points"])
    scorer = KINDS[item["kind"]][0]
    try:
        if ctx.public_only and uses_hidden_data(item, ctx):
            outcome = pending(GRADED_ON_SUBMISSION)
        else:
            outcome = audits.gate(item, ctx, scorer(item, ctx))  # audit re-runs may take its points
            outcome = reported.gate(item, ctx, outcome)  # so may the student's own model
    except Unanswered as exc:
        outcome = Outcome(0.0, str(exc))
    except Pending as exc:
        outcome = pending(str(exc) if str(exc) else GRADED_ON_SUBMISSION)
    except NotCalibrated as exc:
        outcome = Outcome(0.0, f"this item could not be scored: {exc}", status="error")
    except Exception as exc:  # a grader bug on one item must not sink the others
        detail = traceback.format_exc(limit=-4)
        outcome = Outcome(
            0.0,
            f"the grader failed on this item ({type(exc).__name__}: {exc}); the course staff will check it",
            {"traceback": detail[-2000:]},
            status="error",
        )
    evidence = {**_evidence_answers(item, ctx), **outcome.evidence}
    status = outcome.resolved_status()
    points = (
        0.0 if status in ("pending", "error") else round(max(0.0, min(1.0, outcome.credit)) * max_points, 2)
    )
    result = {
        "id": item["id"],
        "part": item["part"],
        "title": item.get("title") or item["id"],
        "kind": item["kind"],
        "points": points,
        "max_points": max_points,
        "status": status,
        "message": outcome.message,
        "extra_credit": bool(item.get("extra_credit")),
        "visibility": item.get("visibility", "visible"),
        "evidence": evidence,
    }
    # a self-check never shows the reference's numbers (they could be copied into the answers)
    return withhold_reference(item, result) if ctx.public_only else result


def observe_item(item: dict[str, Any], ctx: ScoreContext) -> Any:
    """The item's raw quantity on this run (for calibration); None when the kind has none."""
    observer = KINDS[item["kind"]][1]
    return None if observer is None else observer(item, ctx)


def score_run(
    run: RunRecord,
    assignment: Assignment,
    expected: dict[str, Any] | None,
    data_dir: Path,
    *,
    profile: str | None = None,
    public_only: bool = False,
    labels: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The result document (without file paths and timings) for one RunRecord.

    A run that did not complete (timeout, dead kernel) is still scored on what was harvested.
    ``labels``: a cache of label arrays by input set, shared by the runs a caller scores with
    the same assignment and data (so rescoring a class reads each label file once).
    """
    ctx = ScoreContext(
        run=run,
        assignment=assignment,
        expected=expected,
        data_dir=Path(data_dir),
        profile=resolve_profile(assignment, Path(data_dir), profile),
        public_only=public_only,
        _labels=labels if labels is not None else {},
    )
    items = [score_item(item, ctx) for item in assignment.items]
    return assemble(run, assignment, items, profile=ctx.profile, public_only=public_only)
