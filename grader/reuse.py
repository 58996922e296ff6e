"""Whether a stored run can be scored again, or the notebook must run again, and why.

``grader grade`` (through ``first_look``, then the rescoring worker's ``run_reasons``),
``grader rescore``, ``grader reference`` and ``release-check`` all decide here, from the
execution keys of grader.keys: a submission is skipped when both its keys are unchanged,
rescored from OUT/run/<id>.json when only the scoring key changed or when its run's harvest
plan covers the current one, and executed again otherwise, with the reasons in words. A run
record is never scored against a plan it was not harvested for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.keys import ExecutionBasis, SubmissionKeys, differences, plan_fingerprint, plan_gaps

FINAL = frozenset({"graded", "timeout", "invalid_notebook"})  # a rerun keeps these when unchanged
SKIP, RESCORE, EXECUTE = "skip", "rescore", "execute"


@dataclass(frozen=True)
class Verdict:
    """What to do with one submission, and why (reasons are shown to the instructor)."""

    action: str  # skip | rescore | execute
    reasons: tuple[str, ...] = field(default=())


def run_path(out_dir: Path, submission_id: str) -> Path:
    return Path(out_dir) / "run" / f"{submission_id}.json"


def read_json(path: Path) -> dict[str, Any] | None:
    """A stored JSON document, or None when it is absent or unreadable."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def first_look(
    stored: dict[str, Any] | None, keys: SubmissionKeys, out_dir: Path, submission_id: str, *, force: bool
) -> Verdict:
    """The coordinator's cheap pass, from the stored result alone (and whether a run record
    exists): skip, execute, or try to rescore (the worker then reads the run record)."""
    if force:
        return Verdict(EXECUTE, ("--force",))
    if stored is None:
        return Verdict(EXECUTE)
    status = stored.get("status")
    if status not in FINAL:
        return Verdict(EXECUTE, (f"its last grading ended with status {status}",))
    if stored.get("content_hash") == keys.content_hash:
        return Verdict(SKIP)
    if not run_path(out_dir, submission_id).is_file():
        return Verdict(EXECUTE, ("no stored run record",))
    return Verdict(RESCORE)


def kernel_harvest_ran(run: dict[str, Any]) -> bool:
    """Whether the harvest inside the kernel ran at all (it does not after an invalid notebook,
    a sandbox failure, or a kernel that was unusable once the cells were done)."""
    harvest = run.get("harvest")
    message = harvest.get("message") if isinstance(harvest, dict) else None
    return not str(message or "").startswith("not run")


def inputs_for_rescore(run: dict[str, Any], basis: ExecutionBasis) -> dict[str, Any] | None:
    """The execution inputs ``grader rescore`` holds a run to: the run's own notebook, limits,
    seed and mode, with the current data, kernel environment and harvest plan. None when the
    record carries no execution stamp."""
    stamp = run.get("execution")
    if not isinstance(stamp, dict) or not isinstance(stamp.get("inputs"), dict):
        return None
    return {
        **stamp["inputs"],
        "data": basis.data,
        "environment": basis.environment,
        "plan": plan_fingerprint(basis.plan),
    }


def run_reasons(
    run: dict[str, Any] | None, current: dict[str, Any] | None, plan: dict[str, Any]
) -> list[str]:
    """Why ``run`` cannot be scored under the execution inputs ``current`` and harvest plan
    ``plan``; [] when it can (the same inputs, and a plan that asks nothing the run lacks)."""
    if run is None:
        return ["no stored run record"]
    stamp = run.get("execution")
    if not isinstance(stamp, dict) or not isinstance(stamp.get("inputs"), dict) or current is None:
        return ["its run record predates execution keys (made by an older grader)"]
    reasons = differences(stamp["inputs"], current)
    if stamp["inputs"].get("plan") != current.get("plan") and run.get("status") != "invalid_notebook":
        stored_plan = stamp.get("plan")
        reasons += plan_gaps(
            stored_plan if isinstance(stored_plan, dict) else {}, plan, kernel=kernel_harvest_ran(run)
        )
    return reasons
