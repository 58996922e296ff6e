"""Assemble scored items into the result document (docs/ARCHITECTURE.md, results.schema.json).

Totals: ``score`` counts what is graded now (automatic items, free text already marked or left
unanswered, extra credit); answered free text adds to ``pending_manual`` instead of counting as
zero; in a self-check, hidden-data items add to ``pending_on_submission``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import __version__
from grader.scoring.context import NOT_RUN
from grader.scoring.off_template import STATUS as OFF_TEMPLATE
from grader.scoring.off_template import off_template_message

if TYPE_CHECKING:
    from grader.assignment import Assignment
    from grader.records import RunRecord

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "results.schema.json"
RUN_TO_RESULT_STATUS = {
    "completed": "graded",
    "timeout": "timeout",
    "invalid_notebook": "invalid_notebook",
    "sandbox_error": "sandbox_error",
    "kernel_died": "error",
    "error": "error",
}


def _round(value: float) -> float:
    return round(float(value) + 0.0, 2)


def assemble(
    run: RunRecord,
    assignment: Assignment,
    items: list[dict[str, Any]],
    *,
    profile: str,
    public_only: bool,
) -> dict[str, Any]:
    """The result document for one run, with part and overall totals."""
    regular = [i for i in items if not i["extra_credit"]]
    manual = [i for i in regular if i["kind"] == "free_text"]
    automatic = [i for i in regular if i["kind"] != "free_text"]
    pending_manual = sum(i["max_points"] for i in manual if i["status"] == "pending")
    pending_submission = sum(i["max_points"] for i in automatic if i["status"] == "pending")
    extra = sum(i["points"] for i in items if i["extra_credit"])
    auto_score = sum(i["points"] for i in automatic)
    score = auto_score + sum(i["points"] for i in manual) + extra
    max_score = sum(i["max_points"] for i in regular)
    parts = []
    for part in assignment.parts:
        own = [i for i in items if i["part"] == part["id"]]
        parts.append(
            {
                "id": part["id"],
                "title": part["title"],
                "score": _round(sum(i["points"] for i in own)),
                "max_score": _round(sum(i["max_points"] for i in own)),
                "pending_manual": _round(
                    sum(i["max_points"] for i in own if i["kind"] == "free_text" and i["status"] == "pending")
                ),
                "extra_credit": bool(part.get("extra_credit"))
                or (bool(own) and all(i["extra_credit"] for i in own)),
            }
        )
    run_status = str(run.get("status") or "error")
    status = RUN_TO_RESULT_STATUS.get(run_status, "error")
    message = _message(run, score, max_score, pending_manual, pending_submission, extra, items)
    stranger = off_template_message(run, assignment) if status == "graded" else None
    if stranger is not None:
        status, message = OFF_TEMPLATE, f"{score:g} of {max_score:g} points. {stranger}"
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "submission": str(run.get("notebook") or ""),
        "id": str(run.get("id") or ""),
        "student": str(run.get("student") or run.get("id") or ""),
        "assignment": assignment.name,
        "profile": profile,
        "status": status,
        "message": message,
        "score": _round(score),
        "max_score": _round(max_score),
        "auto_score": _round(auto_score),
        "auto_max_score": _round(sum(i["max_points"] for i in automatic)),
        "pending_manual": _round(pending_manual),
        "extra_credit": _round(extra),
        "parts": parts,
        "items": items,
        "cells": list(run.get("cells") or []),
        "limits_fired": list(run.get("limits_fired") or []),
        "telemetry": dict(run.get("telemetry") or {}),
        "backend": run.get("backend"),
        "isolated": run.get("isolated"),
        "grader_version": __version__,
        "notes": [str(n) for n in run.get("notes") or []],
    }
    if run.get("environment"):
        document["environment"] = run["environment"]
    if public_only:
        document["pending_on_submission"] = _round(pending_submission)
    errors = [i["id"] for i in items if i["status"] == "error"]
    if errors:
        document["warnings"] = [
            f"the grader could not score {', '.join(errors)}; the course staff will check"
        ]
    return document


def _message(
    run: RunRecord,
    score: float,
    max_score: float,
    pending_manual: float,
    pending_submission: float,
    extra: float,
    items: list[dict[str, Any]],
) -> str:
    text = f"{score:g} of {max_score:g} points"
    extras = []
    if extra:
        extras.append(f"including {extra:g} extra credit")
    if pending_manual:
        extras.append(f"{pending_manual:g} points of written answers await a person")
    if pending_submission:
        extras.append(f"{pending_submission:g} points on hidden data are graded on submission")
    if extras:
        text += " (" + "; ".join(extras) + ")"
    status = run.get("status") or "completed"
    if status in NOT_RUN:
        text += f". The notebook could not be run: {run.get('message') or status}"
    elif status != "completed":
        text += f". The notebook did not finish: {run.get('message') or status}; what it produced was scored"
    return text


@functools.lru_cache(maxsize=1)
def results_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_result(document: dict[str, Any]) -> list[str]:
    """Problems with a result document against results.schema.json; [] when it conforms."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(results_schema())
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]
