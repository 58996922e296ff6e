"""Drive the harvest after the student's cells: one silent request per stage, within a budget.

The stages (the answers; then each model on each input set) are planned by
``grader.engine.harvest_plan``; the kernel side is grader/engine/kernel/harvest_kernel.py. Here each
stage's inputs are staged in just before it runs, its request is sent, its reply awaited
within the harvest's time budget, and its output file read and validated. A stage that breaks
the kernel stops the ones after it, each of which says why it did not run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from grader.engine import harvest_audits, harvest_calls, harvest_plan, harvest_read
from grader.engine.record import LimitLog
from grader.engine.session import KernelSession
from grader.limits import Limits
from grader.records import HarvestRecord
from grader.sandbox.base import SANDBOX_HOME, Sandbox

log = logging.getLogger(__name__)


def make_room(sandbox: Sandbox, assignment: Any, data_dir: Path, limits: Limits) -> None:
    """Let a size-capped working directory take the harvest's files (every input set it may
    stage, one output file per stage) on top of what the notebook wrote, so a notebook that
    filled it still gets harvested. Before planning, so the harvest's timing is unchanged."""
    per_file = limits.answer_bytes + 64 * 1024  # as plan_harvest sizes each stage's output file
    models = sum(len(spec.get("inputs", [])) for spec in assignment.models.values())
    need = (max(1, len(assignment.answers)) + models) * per_file
    for spec in assignment.inputs.values():
        for key in ("file", "labels"):
            try:
                need += (data_dir / str(spec[key])).stat().st_size if spec.get(key) else 0
            except OSError:
                pass
    try:
        sandbox.make_room(need)
    except Exception as exc:
        log.warning("sandbox make_room: %s", exc)


async def harvest(
    session: KernelSession,
    sandbox: Sandbox,
    limits_log: LimitLog,
    limits: Limits,
    assignment: Any,
    data_dir: Path,
    *,
    public_only: bool,
    draw_key: str = "",
) -> HarvestRecord:
    """Every stage of the harvest; the record's ``free_text`` and ``figures`` are the caller's.

    ``draw_key`` (the notebook's sha256) seeds the draw of each audit's configuration."""
    started = time.perf_counter()
    result: HarvestRecord = {
        "status": "ok",
        "message": "",
        "answers": {},
        "predictions": {},
        "free_text": {},
        "figures": {},
        "wall_s": 0.0,
    }
    inside_home = sandbox.environment().get("HOME", SANDBOX_HOME)
    make_room(sandbox, assignment, data_dir, limits)
    try:
        plan = harvest_plan.plan_harvest(
            assignment,
            data_dir,
            session.workdir,
            inside_home,
            public_only=public_only,
            max_items=max(1000, limits.answer_bytes // 4),
            answer_bytes=limits.answer_bytes,
        )
    except (harvest_plan.HarvestError, OSError) as exc:
        result["status"], result["message"] = "failed", f"harvest could not start: {exc}"
        return result
    deadline = time.monotonic() + limits.harvest_timeout
    problems: list[str] = []
    try:
        for model_id, skipped in plan.skipped.items():
            result["predictions"].setdefault(model_id, {}).update(skipped)  # type: ignore[arg-type]
        broken: str | None = None
        absent: dict[str, str] = {}  # model variables the answers stage found undefined or None
        for stage in plan.stages:
            variable = str(stage.config["model"]["variable"]) if stage.model is not None else ""
            if variable in absent:  # nothing to run: no need to stage its inputs or ask the kernel
                assert stage.input is not None
                result["predictions"].setdefault(str(stage.model), {})[stage.input] = (
                    harvest_read.absent_model_entry(variable, absent[variable])  # type: ignore[assignment]
                )
                continue
            if broken is None and time.monotonic() >= deadline:
                broken = "the harvest time limit was used up"
                limits_log.fire(
                    "harvest_timeout", None, f"harvest passed its {limits.harvest_timeout:g} s limit"
                )
            if stage.name == harvest_audits.STAGE_KIND:
                broken = await _run_audits(
                    session, limits_log, limits, plan, stage, (deadline, broken), assignment, result, draw_key
                )
                continue
            if broken is None:
                entry, lost = await _run_stage(session, limits_log, limits, plan, stage, deadline)
                broken = lost
            else:
                entry = {"status": "error", "message": f"not run: {broken}"}
            if stage.name == harvest_calls.STAGE_KIND:
                if entry.get("status") == "ok":
                    result["functions"], result["tests"] = entry["value"], entry["tests"]
                else:
                    problems.append(f"functions: {entry['message']}")
            elif stage.name == "answers":
                absent = entry.pop("absent", {})
                if entry.get("status") == "ok":
                    result["answers"] = entry["value"]
                else:
                    # no per-answer entries: "missing" means "not defined", which would be wrong here
                    problems.append(f"answers: {entry['message']}")
            else:
                assert stage.model is not None and stage.input is not None
                result["predictions"].setdefault(stage.model, {})[stage.input] = entry  # type: ignore[assignment]
                if entry["status"] == "error" and entry.get("message", "").startswith(("not run", "harvest")):
                    problems.append(f"{stage.name}: {entry['message']}")
    finally:
        plan.cleanup()
    harvest_read.explain_withheld(result, plan.stages)
    if problems:
        answers_failed = any(p.startswith("answers:") for p in problems)
        result["status"] = "failed" if answers_failed else "partial"
        result["message"] = "; ".join(problems)[:2000]
    result["wall_s"] = round(time.perf_counter() - started, 3)
    return result


async def _run_audits(
    session: KernelSession,
    limits_log: LimitLog,
    limits: Limits,
    plan: harvest_plan.HarvestPlan,
    stage: harvest_plan.Stage,
    budget: tuple[float, str | None],
    assignment: Any,
    result: HarvestRecord,
    draw_key: str,
) -> str | None:
    """Draw and run the audit re-runs within their own budget (inside the harvest's) and put
    them in ``result["audits"]``; returns why later stages cannot run, if the kernel was lost."""
    deadline, broken = budget
    entries = harvest_audits.finalize(stage, assignment, result["answers"], draw_key)
    result["audits"] = entries
    if not stage.config["audits"]:
        return broken
    own_budget = harvest_audits.budget_s(assignment)
    audit_deadline = min(deadline, time.monotonic() + own_budget)
    if broken is None and time.monotonic() >= audit_deadline:
        broken_here: str | None = "the harvest time limit was used up"
        entry: dict[str, Any] = {"status": "error", "message": f"not run: {broken_here}"}
    elif broken is not None:
        entry = {"status": "error", "message": f"not run: {broken}"}
    else:
        started = time.perf_counter()
        entry, broken = await _run_stage(
            session, limits_log, limits, plan, stage, audit_deadline, own_limit=deadline > audit_deadline
        )
        for audit_id in (a["id"] for a in stage.config["audits"]):
            entries[audit_id]["wall_s"] = round(time.perf_counter() - started, 3)
    for audit_id in (a["id"] for a in stage.config["audits"]):
        if entry.get("status") == "ok":
            entries[audit_id].update(entry["value"].get(audit_id, {"status": "refused"}))
        elif "timed out" in str(entry.get("message", "")):
            entries[audit_id].update(
                status="timeout",
                message=f"the audit re-run did not finish within its {min(own_budget, limits.harvest_timeout):g} s",
            )
        else:
            entries[audit_id].update(status="error", message=str(entry.get("message", ""))[:500])
    return broken


async def _run_stage(
    session: KernelSession,
    limits_log: LimitLog,
    limits: Limits,
    plan: harvest_plan.HarvestPlan,
    stage: harvest_plan.Stage,
    deadline: float,
    *,
    own_limit: bool = False,
) -> tuple[dict[str, Any], str | None]:
    """Send one harvest request, wait for it within the budget, read and validate its file.

    Returns the stage's entry and, when the kernel is gone afterwards, why (later stages are
    then not run). ``own_limit``: the deadline is the stage's own budget (an audit's), shorter
    than the harvest's, so passing it is the stage's verdict, not a fired harvest limit."""
    if not await session.is_alive():
        return {
            "status": "error",
            "message": "not run: the kernel is not running",
        }, "the kernel is not running"
    try:
        plan.prepare(stage)  # copy its input set in now, not earlier
    except (harvest_plan.HarvestError, OSError) as exc:
        return {"status": "error", "message": f"harvest: could not stage the input set: {exc}"}, None
    if stage.name == harvest_calls.STAGE_KIND:
        code = harvest_calls.kernel_code(stage.config)
    elif stage.name == harvest_audits.STAGE_KIND:
        code = harvest_audits.kernel_code(stage.config)
    else:
        code = harvest_plan.kernel_code(stage.config)
    reply = await session.request(code, deadline)
    if reply.status == "not_running":
        return {
            "status": "error",
            "message": "not run: the kernel is not running",
        }, "the kernel is not running"
    if reply.status == "died":
        return {
            "status": "error",
            "message": "harvest: the kernel died",
        }, "the kernel died during the harvest"
    if reply.status == "timeout" and not own_limit:
        limits_log.fire(
            "harvest_timeout",
            None,
            f"harvest stage {stage.name} passed the {limits.harvest_timeout:g} s limit",
        )
    if reply.status == "timeout":
        await session.interrupt()
        if not await session.alive_and_idle():
            return {"status": "error", "message": "harvest: timed out"}, f"{stage.name} never returned"
        return {"status": "error", "message": "harvest: timed out (interrupted)"}, None
    if reply.content.get("status") != "ok":
        # the exception's name is the student's to choose: never echo it for a hidden input set
        ename = "withheld" if stage.hidden else str(reply.content.get("ename", "error"))[:100]
        return {
            "status": "error",
            "message": f"harvest: the harvest code failed in the kernel ({ename})",
        }, None
    try:
        document = harvest_read.read_stage_output(plan.outputs_dir, stage.out_file, stage.max_bytes)
        if stage.name == harvest_calls.STAGE_KIND:
            return {
                "status": "ok",
                "value": harvest_calls.validate_functions(document, stage),
                "tests": harvest_calls.validate_tests(document, stage),
            }, None
        if stage.name == harvest_audits.STAGE_KIND:
            return {"status": "ok", "value": harvest_audits.validate_audits(document, stage)}, None
        if stage.name == "answers":
            answers = harvest_read.validate_answers(document, list(stage.config["names"]))
            absent = harvest_read.model_presence(document, list(stage.config.get("models", [])))
            return {"status": "ok", "value": answers, "absent": absent}, None
        return harvest_read.validate_prediction(document, stage), None
    except harvest_plan.HarvestError as exc:
        if "limit" in str(exc):
            limits_log.fire("harvest_size", None, f"{stage.name}: {exc}")
        return {
            "status": "error" if stage.name != "answers" else "failed",
            "message": f"harvest: {exc}",
        }, None
