"""Function items: the student's function against the master's, call by call, outside the sandbox.

The harvest called the student's function on the rubric's arguments (``harvest.functions``); the
reference run did the same, and calibration stored its outcomes in expected.json. A call matches
when both returned equal plain values (numbers within the item's tolerance, the same structure
otherwise) or both raised, the student's exception being of the master's type or a subclass of it.
"""

from __future__ import annotations

import math
from typing import Any

from grader.rubric import ramp_credit
from grader.scoring.context import NotCalibrated, ScoreContext, Unanswered
from grader.scoring.outcome import Outcome

SHOWN = 3
DEFAULT_TOLERANCE = {"abs": 1e-9, "rel": 1e-6}


def _entry(item: dict[str, Any], ctx: ScoreContext) -> list[dict[str, Any]]:
    functions = ctx.harvest.get("functions") or {}
    entry = functions.get(item["id"])
    name = f"`{item['function']}`"
    if not isinstance(entry, dict):
        raise Unanswered(ctx.not_harvested(name))
    status = entry.get("status")
    if status == "missing":
        raise Unanswered(f"{name} is not defined: write it{ctx._where(item['function'])}")
    if status == "none":
        raise Unanswered(f"{name} is still None: write the function{ctx._where(item['function'])}")
    if status != "ok":
        raise Unanswered(f"{name} could not be called: {entry.get('message', status)}")
    return list(entry.get("calls") or [])


def observe_function(item: dict[str, Any], ctx: ScoreContext) -> list[dict[str, Any]]:
    """The reference's outcome of every call (what calibration stores)."""
    return [
        {k: v for k, v in call.items() if k in ("status", "value", "exception", "bases")}
        for call in _entry(item, ctx)
    ]


def summarise_calls(values: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Calibration's summary: the first seed's outcomes, and whether any seed disagreed."""
    first = values[0]
    return {"calls": first, "n": len(values), "varies": any(v != first for v in values[1:])}


def same_value(got: Any, want: Any, tolerance: dict[str, float]) -> bool:
    """Equal plain values; numbers within max(abs, rel * |want|)."""
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        if not (math.isfinite(got) and math.isfinite(want)):
            return got == want
        return abs(got - want) <= max(tolerance.get("abs", 0.0), tolerance.get("rel", 0.0) * abs(want))
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(
            same_value(g, w, tolerance) for g, w in zip(got, want, strict=True)
        )
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) == set(want) and all(same_value(got[k], want[k], tolerance) for k in want)
    return type(got) is type(want) and got == want


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(outcome: dict[str, Any]) -> str:
    if outcome.get("status") == "returned":
        return f"returned {_short(outcome.get('value'))}"
    if outcome.get("status") == "raised":
        return f"raised {outcome.get('exception')}"
    return f"gave no usable value ({outcome.get('message', 'refused')})"


def _call_text(item: dict[str, Any], index: int) -> str:
    call = item["calls"][index]
    if call.get("label"):
        return str(call["label"])
    args = [_short(a) for a in call.get("args") or []]
    args += [f"{k}={_short(v)}" for k, v in (call.get("kwargs") or {}).items()]
    return f"{item['function']}({', '.join(args)})"


def _matches(got: dict[str, Any], want: dict[str, Any], tolerance: dict[str, float]) -> bool:
    if want.get("status") == "raised":
        return got.get("status") == "raised" and (
            got.get("exception") == want.get("exception") or want.get("exception") in (got.get("bases") or [])
        )
    return got.get("status") == "returned" and same_value(got.get("value"), want.get("value"), tolerance)


def score_function(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    reference = ctx.expected_item(item["id"])["observed"]
    wanted = list(reference.get("calls") or [])
    if len(wanted) != len(item["calls"]):
        raise NotCalibrated(
            f"expected.json holds {len(wanted)} calls for {item['id']}; the rubric has {len(item['calls'])}"
        )
    calls = _entry(item, ctx)
    tolerance = {**DEFAULT_TOLERANCE, **(item.get("tolerance") or {})}
    matched = [_matches(got, want, tolerance) for got, want in zip(calls, wanted, strict=True)]
    fraction = sum(matched) / len(matched)
    partial = item.get("partial") or {"function": "linear"}
    credit = fraction if partial["function"] == "linear" else ramp_credit(fraction, 1.0, 0.0, "step")
    evidence = {"calls": len(matched), "matched": sum(matched)}
    name = f"`{item['function']}`"
    if all(matched):
        return Outcome(credit, f"{name} gives the expected result on all {len(matched)} calls", evidence)
    hidden = item.get("visibility") == "hidden"
    wrong = [i for i, ok in enumerate(matched) if not ok]
    if hidden:
        detail = f"{len(wrong)} of {len(matched)} calls give a different result (the calls are hidden)"
    else:
        shown = "; ".join(
            f"{_call_text(item, i)} {_describe(calls[i])}, expected it to {_describe(wanted[i]).replace('returned', 'return').replace('raised', 'raise')}"
            for i in wrong[:SHOWN]
        )
        more = f" (and {len(wrong) - SHOWN} more)" if len(wrong) > SHOWN else ""
        detail = f"{shown}{more}"
    return Outcome(credit, f"{name}: {sum(matched)} of {len(matched)} calls right. {detail}", evidence)
