"""The outside half of function items: plan the stage, build its kernel code, read its output.

A function item names a function the student writes and the calls to make (plain YAML values,
no Python in the rubric). The stage runs right after the answers, before any hidden input set is
staged into the sandbox, so nothing a function returns can carry hidden data out. The kernel
side is grader/engine/kernel/harvest_calls.py, sent after harvest_kernel.py.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from grader.engine.harvest_plan import HarvestError, Stage, kernel_source

CALLS_SOURCE_PATH = Path(__file__).with_name("kernel") / "harvest_calls.py"
STAGE_KIND = "functions"
ENTRY_STATUSES = {"ok", "missing", "none", "refused"}
CALL_STATUSES = {"returned", "raised", "refused"}


def function_items(assignment: Any) -> list[dict[str, Any]]:
    return [item for item in assignment.items if item.get("kind") == "function"]


def kernel_test_items(assignment: Any) -> list[dict[str, Any]]:
    return [item for item in assignment.items if item.get("kind") == "kernel_test"]


def _test_code(assignment: Any, item: dict[str, Any]) -> str:
    path = assignment.resolve(item["test"])
    try:
        return str(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HarvestError(f"test file of item {item['id']}: {exc}") from exc


def plan_function_stage(assignment: Any, max_items: int, answer_bytes: int) -> list[Stage]:
    """One stage for every function and in-kernel test item of the rubric (none without them)."""
    items = function_items(assignment)
    tests = kernel_test_items(assignment)
    if not items and not tests:
        return []
    functions = [
        {"item": item["id"], "function": item["function"], "calls": list(item["calls"])} for item in items
    ]
    return [
        Stage(
            name=STAGE_KIND,
            out_file=f"functions-{secrets.token_hex(8)}.json",
            config={
                "kind": STAGE_KIND,
                "functions": functions,
                "tests": [{"item": t["id"], "code": _test_code(assignment, t)} for t in tests],
                "names": [f["item"] for f in functions] + [t["id"] for t in tests],  # sizes the output
                "max_items": max_items,
                "max_bytes": answer_bytes,
            },
        )
    ]


def kernel_code(config: dict[str, Any]) -> str:
    """Source for the stage: harvest_kernel.py and harvest_calls.py in a private namespace."""
    source = repr(kernel_source() + "\n\n" + CALLS_SOURCE_PATH.read_text(encoding="utf-8"))
    cfg = repr(json.dumps(config))
    return (
        "(lambda __ns: (exec(compile("
        + source
        + ", '<grader-harvest>', 'exec'), __ns), __ns['calls_main'](globals(), __import__('json').loads("
        + cfg
        + "))))({'__name__': '__grader_harvest__'})"
    )


def _call_entry(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("status") not in CALL_STATUSES:
        return {"status": "refused", "message": "the harvest returned no usable entry"}
    if raw["status"] == "returned":
        return {"status": "returned", "value": raw.get("value")}
    if raw["status"] == "raised":
        bases = [str(b)[:100] for b in raw.get("bases") or [] if isinstance(b, str)][:20]
        return {
            "status": "raised",
            "exception": str(raw.get("exception", "Exception"))[:100],
            "bases": bases,
            "message": str(raw.get("message", ""))[:300],
        }
    return {"status": "refused", "message": str(raw.get("message", ""))[:300]}


def validate_tests(document: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """``{item id: {status: passed|failed, exception?, message?}}`` for the tests asked for."""
    raw = document.get("tests")
    raw = raw if isinstance(raw, dict) else {}
    result: dict[str, Any] = {}
    for spec in stage.config.get("tests") or []:
        entry = raw.get(spec["item"])
        if not isinstance(entry, dict) or entry.get("status") not in ("passed", "failed"):
            result[spec["item"]] = {
                "status": "failed",
                "exception": "NoResult",
                "message": "the test reported nothing",
            }
        elif entry["status"] == "passed":
            result[spec["item"]] = {"status": "passed"}
        else:
            result[spec["item"]] = {
                "status": "failed",
                "exception": str(entry.get("exception", "Exception"))[:100],
                "message": str(entry.get("message", ""))[:300],
            }
    return result


def validate_functions(document: dict[str, Any], stage: Stage) -> dict[str, Any]:
    """``{item id: {status, calls?: [...], message?}}`` for exactly the items asked for."""
    raw = document.get("functions")
    if not isinstance(raw, dict):
        raise HarvestError("harvest output has no 'functions' object")
    result: dict[str, Any] = {}
    for spec in stage.config["functions"]:
        entry = raw.get(spec["item"])
        if not isinstance(entry, dict) or entry.get("status") not in ENTRY_STATUSES:
            result[spec["item"]] = {"status": "refused", "message": "the harvest returned no usable entry"}
            continue
        if entry["status"] != "ok":
            result[spec["item"]] = {"status": entry["status"], "message": str(entry.get("message", ""))[:300]}
            continue
        calls = entry.get("calls")
        if not isinstance(calls, list) or len(calls) != len(spec["calls"]):
            result[spec["item"]] = {
                "status": "refused",
                "message": "the harvest returned the wrong number of calls",
            }
            continue
        result[spec["item"]] = {"status": "ok", "calls": [_call_entry(c) for c in calls]}
    return result
