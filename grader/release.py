"""The release check an instructor (and CI) runs before handing an assignment out.

It proves four promises: the rubric is valid; expected.json is current; the reference earns
every automatic point and the untouched template earns none, without crashing; and every
threshold is cleared by the reference with a margin of at least 3 seed standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.context import GradingContext
from grader.expected import SEED_ENV, threshold_margin
from grader.grading import GradeOptions, error_result
from grader.rescore.one import RescoreJob, rescore_one
from grader.runstore import REFERENCE_LIMITS, RunStore, run_or_reuse
from grader.submission import Submission


@dataclass
class Check:
    """One line of the release report."""

    name: str
    ok: bool
    detail: str


def _grade(
    notebook: Path,
    who: str,
    context: GradingContext,
    out: Path,
    backend: str,
    env: dict[str, str] | None,
    store: RunStore | None,
) -> dict:
    """Grade the reference or the template, from the run store when calibration (or an earlier
    check) already ran it with the same inputs: the same runs `grader reference` summarises."""
    options = GradeOptions(
        assignment=context.assignment,
        out_dir=out,
        data_dir=context.data_dir,
        profile=context.profile,
        context=context,
        backend=backend,
        limits=REFERENCE_LIMITS,
        env=env,
        write_reports=True,
    )
    submission = Submission(id=who, student=who, path=notebook)
    run_or_reuse(
        notebook, context.assignment, context.data_dir, out, run_id=who, store=store, env=env, backend=backend
    )
    job = RescoreJob(who, submission=submission, current=options.keys(notebook).inputs)
    outcome = rescore_one(job, options, render=True, dry_run=False)
    if outcome.document is not None:
        return outcome.document
    reason = "; ".join(outcome.needs_execution) or (outcome.problem or "unknown failure").splitlines()[0]
    return error_result(submission, options, f"the {who} run could not be scored: {reason}")


def check_reference(document: dict[str, Any]) -> Check:
    """Every automatically graded item at full marks; only free text left for a person."""
    short = [
        f"{item['id']} ({item['status']}: {item.get('message', '')})"
        for item in document.get("items", [])
        if item.get("status") not in ("passed", "pending")
        or (item.get("status") == "pending" and item.get("kind") != "free_text")
    ]
    ok = document.get("status") == "graded" and not short
    detail = (
        f"{document.get('auto_score', 0):g}/{document.get('auto_max_score', 0):g} automatic points, "
        f"{document.get('pending_manual', 0):g} pending for a person"
    )
    if document.get("status") != "graded":
        detail += f"; status {document.get('status')}: {document.get('message')}"
    if short:
        detail += "; not full marks: " + "; ".join(short[:10])
    return Check("reference earns full automatic marks", ok, detail)


def check_template(document: dict[str, Any]) -> Check:
    """Zero automatic points, a graded status (no crash), and a message on every item."""
    scoring = [i["id"] for i in document.get("items", []) if float(i.get("points") or 0) > 0]
    broken = [i["id"] for i in document.get("items", []) if i.get("status") == "error"]
    silent = [i["id"] for i in document.get("items", []) if not str(i.get("message") or "").strip()]
    ok = document.get("status") == "graded" and not scoring and not broken and not silent
    detail = f"{document.get('auto_score', 0):g} automatic points, status {document.get('status')}"
    for label, ids in (("scores points", scoring), ("scorer error", broken), ("no message", silent)):
        if ids:
            detail += f"; {label}: {', '.join(ids)}"
    return Check("untouched template earns zero without crashing", ok, detail)


def current_margins(context: GradingContext) -> list[dict[str, Any]]:
    """Each threshold item's margin against the bar the rubric states NOW (the bar stored in
    expected.json is the one at calibration time; a later edit of the bar must show here)."""
    calibrated = (context.expected or {}).get("items") or {}
    margins = []
    for item in context.assignment.items:
        entry = calibrated.get(item["id"])
        if item["kind"] != "threshold" or not isinstance(entry, dict) or "observed" not in entry:
            continue
        margins.append({"item": item["id"], **threshold_margin(item, entry["observed"], context.profile)})
    return margins


def run_release_check(
    context: GradingContext, out_dir: Path, *, backend: str = "auto", store: RunStore | None = None
) -> list[Check]:
    """All release checks, in order; later checks still run when earlier ones fail. With
    ``store``, the reference (seed 0) and the template run only when no stored run fits."""
    assignment = context.assignment
    checks = [Check("rubric is valid", True, f"{assignment.rubric_path} ({len(assignment.items)} items)")]
    expected = context.expected
    if expected is None:
        checks.append(
            Check(
                "expected.json is current",
                False,
                f"{context.expected_path} is missing: run `grader reference {assignment.command_ref}`",
            )
        )
    else:
        stale = context.stale
        checks.append(
            Check(
                "expected.json is current",
                not stale,
                "; ".join(stale) or "matches rubric, reference and data",
            )
        )
        margins = current_margins(context)
        weak = [m for m in margins if not m["cleared"]]
        detail = ", ".join(
            f"{m['item']}: {m['reference_mean']:.4g} vs bar {m['full_at']:g}"
            + (
                f" ({m['margin_in_std']:.1f} sd)"
                if m.get("margin_in_std") is not None
                else " (no seed spread)"
            )
            for m in margins
        )
        checks.append(
            Check(
                "thresholds cleared by >= 3 seed standard deviations",
                not weak,  # an assignment without threshold items has none to clear
                detail or "no threshold items",
            )
        )
    for label, notebook, check, env in (
        ("reference", assignment.reference, check_reference, {SEED_ENV: "0"}),
        ("template", assignment.template, check_template, None),
    ):
        if notebook is None or not notebook.is_file():
            checks.append(Check(f"{label} notebook exists", False, f"{notebook} not found"))
            continue
        checks.append(check(_grade(notebook, f"release-{label}", context, out_dir, backend, env, store)))
    return checks
