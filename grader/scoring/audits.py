"""Audit re-runs, outside the sandbox: do the reported numbers come from the student's own code?

The harvest ran the student's training function on one configuration drawn for this notebook
(``grader.engine.harvest_audits``). Here each item that a compare entry of the drawn
configuration names is *gated*: its own scorer's verdict stands only when the re-run comes near
the reported numbers, within max(abs, rel * |re-run|, k * sqrt(2) * std), std being the
reference's calibrated seed spread of the ``spread`` item (two independent runs differ by
sqrt(2) of one run's spread; with ``spread_mode: relative`` its std/|mean| times |re-run|). Otherwise, or when the re-run could not run at all, the item earns
nothing as a computed result, and the message shows the reported and the re-run numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from grader.scoring.context import ScoreContext, Unanswered, fmt
from grader.scoring.outcome import Outcome

DEFAULT_BAND = {"k": 3.0, "abs": 0.0, "rel": 0.0}
EXACT_REL = 1e-6  # a reproducible re-run: only float rounding (another RMSE formula) may differ
EXACT_ABS = 1e-9
MAX_FAILURES_SHOWN = 2


@dataclass(frozen=True)
class Check:
    """One compare entry of the drawn configuration that gates an item."""

    audit_id: str
    spec: dict[str, Any]  # the audit's rubric entry
    entry: dict[str, Any]  # the harvest's audit entry
    compare: dict[str, Any]


def _checks(item_id: str, ctx: ScoreContext) -> list[Check]:
    harvested = ctx.harvest.get("audits")
    if not isinstance(harvested, dict):
        return []
    out: list[Check] = []
    for audit_id, spec in (ctx.assignment.rubric.get("audits") or {}).items():
        # one drawn configuration under the audit's id; with ``draw: all`` one entry per configuration
        runs = [key for key in harvested if key == audit_id or key.startswith(f"{audit_id}@")]
        for key in runs:
            entry = harvested[key]
            if not isinstance(entry, dict):
                continue
            for config in spec["configurations"]:
                if config["id"] != entry.get("configuration"):
                    continue
                out.extend(
                    Check(key, spec, entry, compare)
                    for compare in config["compare"]
                    if item_id in compare.get("items", [])
                )
    return out


def describe_call(spec: dict[str, Any], entry: dict[str, Any]) -> str:
    """'train() with lr=0.03' as the student reads it."""
    params = entry.get("params") or {}
    shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    return f"{spec['function']}()" + (f" with {shown}" if shown else "")


def _spread(compare: dict[str, Any], ctx: ScoreContext) -> tuple[Any, bool]:
    """The reference's seed std (a number or a per-element list; 0 when not calibrated) and
    whether it is relative: with ``spread_mode: relative`` the std over |mean| (the coefficient
    of variation), to be scaled by the re-run's own value (a sweep's rates differ from the one
    the reference calibrated, and the spread of an error rate shrinks with it)."""
    item = compare.get("spread")
    entry = ctx.expected_or_none(item) if item else None
    observed = (entry or {}).get("observed") or {}
    std = observed.get("std", 0.0)
    if compare.get("spread_mode") != "relative":
        return std, False
    mean = observed.get("mean", 0.0)
    if isinstance(std, list) or not _number(std) or not _number(mean) or mean == 0:
        return 0.0, True
    return float(std) / abs(float(mean)), True


def _pairs(reported: Any, rerun: Any, index: int | None) -> list[tuple[int | None, float, float]] | str:
    """(position, reported, re-run) per compared number, or why they cannot be compared."""
    if index is not None:
        if not isinstance(reported, list) or index >= len(reported):
            return f"has no element {index}"
        reported = reported[index]
    if isinstance(reported, list) or isinstance(rerun, list):
        if not (isinstance(reported, list) and isinstance(rerun, list)):
            return "is not the same kind of value as the re-run's"
        n = min(len(reported), len(rerun))
        if n == 0 or len(reported) < len(rerun):
            return f"holds {len(reported)} values; the re-run produced {len(rerun)}"
        return [(i, reported[i], rerun[i]) for i in range(n)]
    return [(None, reported, rerun)]


def _apart(a: float, b: float) -> tuple[str, str]:
    """Both numbers with the fewest significant digits (3 to 10) that tell them apart: a typed-in
    4.42 beside the refit's 4.4213 must not read "4.42 ... gives 4.42"."""
    for digits in range(3, 11):
        left, right = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if left != right:
            return left, right
    return fmt(a), fmt(b)


def _exact(compare: dict[str, Any], entry: dict[str, Any]) -> bool:
    """True when ``exact_when`` names a measure the re-run reported True (every random_state set)."""
    name = compare.get("exact_when")
    measure = (entry.get("measures") or {}).get(name) if name else None
    return isinstance(measure, dict) and measure.get("status") == "ok" and measure.get("value") is True


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def judge(check: Check, ctx: ScoreContext) -> tuple[bool, str, dict[str, Any]]:
    """(came near, sentence, evidence) for one compare entry of an audit that ran."""
    compare, entry = check.compare, check.entry
    call = describe_call(check.spec, entry)
    measure = (entry.get("measures") or {}).get(compare["measure"]) or {}
    if measure.get("status") != "ok":
        why = measure.get("message") or f"it produced no {compare['measure']}"
        return False, f"the audit re-run of {call} could not be compared: {why}", {}
    index = entry.get("index") if compare.get("at") == "sweep" else None
    name = compare["reported"] + (f"[{index}]" if index is not None else "")
    try:
        reported = ctx.raw_answer(compare["reported"])
    except Unanswered:
        return True, "", {}  # the item's own scorer already says it is missing
    pairs = _pairs(reported, measure["value"], index)
    if isinstance(pairs, str):
        return False, f"{name} {pairs} (audit re-run of {call})", {}
    band = {**DEFAULT_BAND, **(compare.get("band") or {})}
    std, relative = _spread(compare, ctx)
    if index is not None and isinstance(std, list):  # a curve's spread, at the swept element
        std = std[index] if index < len(std) else 0.0
    exact = _exact(compare, entry)
    if exact:  # the re-run is reproducible: the student's own run gave exactly these numbers
        band, std, relative = {"k": 0.0, "abs": EXACT_ABS, "rel": EXACT_REL}, 0.0, False
    worst: tuple[float, int | None, float, float, float] | None = None
    for position, rep, new in pairs:
        if not (_number(rep) and _number(new)):
            return False, f"{name} or its re-run by {call} is not a finite number", {}
        s = std[position] if isinstance(std, list) and position is not None and position < len(std) else std
        s = (float(s) if _number(s) else 0.0) * (abs(new) if relative else 1.0)
        half = max(float(band["abs"]), float(band["rel"]) * abs(new), float(band["k"]) * math.sqrt(2) * s)
        excess = abs(rep - new) - half
        if worst is None or excess > worst[0]:
            worst = (excess, position, rep, new, half)
    assert worst is not None
    excess, position, rep, new, half = worst
    evidence = {
        "audit": check.audit_id,
        "configuration": entry.get("configuration"),
        "params": entry.get("params"),
        "reported": [p[1] for p in pairs] if len(pairs) > 1 else pairs[0][1],
        "rerun": [p[2] for p in pairs] if len(pairs) > 1 else pairs[0][2],
    }
    where = f" at {compare.get('x_label', 'position')} {position + 1}" if position is not None else ""
    shown_rep, shown_new = _apart(rep, new)
    numbers = f"reported {shown_rep}, your {call} gives {shown_new} (allowed ±{fmt(half)})"
    if excess > 0:
        # a fixed configuration is the one the assignment gives: a student who trained another one
        # (another learning rate, say) reads here which one the numbers must come from
        given = (
            "; that is the configuration the assignment gives"
            if index is None and entry.get("params")
            else ""
        )
        return (
            False,
            f"{name} does not come from your code: {where.strip() + ': ' if where else ''}{numbers}{given}",
            evidence,
        )
    closest = f"{where.strip()}: " if where else ""
    return (
        True,
        f"audited: your {call} reproduces {name} ({closest}reported {fmt(rep)}, re-run {fmt(new)}, "
        f"allowed ±{fmt(half)})",
        evidence,
    )


def keep_hint(spec: dict[str, Any]) -> str:
    keep = spec.get("keep")
    return f"; keep {keep} defined when the notebook ends" if keep else ""


def gate(item: dict[str, Any], ctx: ScoreContext, outcome: Outcome) -> Outcome:
    """The item's outcome, or none of its points when the drawn audit contradicts or cannot
    reproduce what it scored. Pending outcomes (and items no audit names) pass unchanged."""
    if outcome.status == "pending":
        return outcome
    checks = _checks(item["id"], ctx)
    if not checks:
        return outcome
    notes: list[str] = []
    failed: list[str] = []
    evidence: dict[str, Any] = {}
    for check in checks:
        status = check.entry.get("status")
        call = describe_call(check.spec, check.entry)
        if status == "not_drawn":
            continue
        if status != "ok":
            failed.append(
                f"the audit re-run of {call} ({check.compare['reported']}) did not work: "
                f"{check.entry.get('message') or status}{keep_hint(check.spec)}"
            )
            continue
        came_near, sentence, found = judge(check, ctx)
        if found:
            evidence.setdefault("audits", []).append(found)
        if sentence:
            (notes if came_near else failed).append(sentence)
    if failed:
        more = len(failed) - MAX_FAILURES_SHOWN
        shown = failed[:MAX_FAILURES_SHOWN] + ([f"and {more} more like it"] if more > 0 else [])
        message = (
            "; ".join(shown)
            + f". Without that, it earns nothing as a computed result (was: {outcome.message})"
        )
        return Outcome(0.0, message, {**outcome.evidence, **evidence}, status="failed")
    if notes:
        return Outcome(
            outcome.credit,
            f"{outcome.message} ({'; '.join(notes)})",
            {**outcome.evidence, **evidence},
            outcome.status,
        )
    return outcome
