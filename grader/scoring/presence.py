"""Items about what a notebook contains: figures in a part, declared answer checks, free text.

Free text is never scored automatically: every free-text item is ``pending`` for a person (it adds
to ``pending_manual``, not to zero), answered or not. An answer ``grader.free_text`` did not find
(no ANSWER cell, or only the template's placeholder) is pending with the note "not answered", so a
marker sees it in the queue and can look through the notebook, rather than a silent 0.
"""

from __future__ import annotations

import re
from typing import Any

from grader.scoring.context import ScoreContext, Unanswered, fmt
from grader.scoring.figures import score_shows
from grader.scoring.outcome import Outcome, pending

TEMPLATE_PLACEHOLDER = "_Write your answer here._"


def _part_name(ctx: ScoreContext, part_id: str) -> str:
    for part in ctx.assignment.parts:
        if part["id"] == part_id:
            return part.get("heading") or part["title"]
    return part_id


def observe_figure(item: dict[str, Any], ctx: ScoreContext) -> int:
    return ctx.figures(item["part"])


def template_figures(ctx: ScoreContext, part_id: str) -> int:
    """Figures the template's own helper cells draw in this notebook's part (measured at
    calibration). Those come from cells the student did not write, so they earn nothing; a
    notebook that does not contain those cells (matched by content) has none of them to discount.
    """
    template = (ctx.expected or {}).get("template") or {}
    count = (template.get("figures") or {}).get(part_id, 0)
    count = int(count) if isinstance(count, int) else 0
    cells = (template.get("figure_cells") or {}).get(part_id)
    if not isinstance(cells, list):
        return count  # calibrated before figure cells were recorded
    kept = sum(
        int(cell.get("figures") or 0)
        for cell in ctx.run.get("cells") or []
        if cell.get("part") == part_id and cell.get("source_sha256") in cells
    )
    return min(count, kept)


def score_figure(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    wanted = int(item.get("min_count", 1))
    baseline = template_figures(ctx, item["part"])
    count = ctx.figures(item["part"])
    own = max(0, count - baseline)
    where = _part_name(ctx, item["part"])
    what = item.get("what") or "a figure"
    if item.get("shows"):
        return score_shows(item, ctx, what, where)
    evidence = {"figures": count, "template_figures": baseline, "min_count": wanted}
    given = f" besides the {baseline} the template draws" if baseline else ""
    if own >= wanted:
        return Outcome(1.0, f"{where} draws {own} figure{'s' * (own != 1)}{given} ({what})", evidence)
    have = "no figure" if own == 0 else f"only {own} figure{'s' * (own != 1)}"
    return Outcome(
        0.0,
        f"{where} has {have}{given}; expected at least {wanted}: draw {what} and keep its output",
        evidence,
    )


# ----------------------------------------------------------------------------------------------
# answer checks


def _check(check: dict[str, Any], ctx: ScoreContext) -> str | None:
    """None when the check passes, else what is wrong (in words a student can act on)."""
    name = check["answer"]
    label = check.get("label") or f"`{name}`"
    try:
        value = ctx.raw_answer(name)  # the declared checks judge the value, not the answers: type
    except Unanswered as exc:
        return str(exc)
    if "equals" in check and value != check["equals"]:
        return f"{label} (`{name}`) is {value!r}; it should be {check['equals']!r}"
    sized = isinstance(value, (list, str))
    if "length" in check and (not sized or len(value) != check["length"]):
        return f"{label} (`{name}`) should have {check['length']} items; it has {len(value) if sized else 'none'}"
    if "min_length" in check and (not sized or len(value) < check["min_length"]):
        return f"{label} (`{name}`) should have at least {check['min_length']} items; it has {len(value) if sized else 'none'}"
    if "same_length_as" in check:
        try:
            other = ctx.raw_answer(check["same_length_as"])
        except Unanswered as exc:
            return str(exc)
        if not (isinstance(value, list) and isinstance(other, list) and len(value) == len(other)):
            return f"{label} (`{name}`) should have one entry per item of `{check['same_length_as']}`"
    items = check.get("items")
    if items and isinstance(value, list):
        number = items in ("number", "integer")
        ok = all(
            (isinstance(v, (int, float)) and not isinstance(v, bool)) if number else isinstance(v, str)
            for v in value
        )
        if not ok:
            return f"{label} (`{name}`) should hold only {items}s"
    if "range" in check:
        low, high = check["range"]
        values = value if isinstance(value, list) else [value]
        bad = [
            v
            for v in values
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not low <= v <= high
        ]
        if bad:
            return f"{label} (`{name}`) has {fmt(bad[0]) if not isinstance(bad[0], str) else repr(bad[0])}, outside [{low}, {high}]"
    if check.get("unique") and isinstance(value, list) and len(set(map(repr, value))) != len(value):
        return f"{label} (`{name}`) repeats an entry"
    if "subset_of" in check:
        values = value if isinstance(value, list) else [value]
        stray = [v for v in values if v not in check["subset_of"]]
        if stray:
            return (
                f"{label} (`{name}`) has {stray[0]!r}, not one of {', '.join(map(str, check['subset_of']))}"
            )
    if "disjoint_from" in check:
        try:
            other = ctx.raw_answer(check["disjoint_from"])
        except Unanswered as exc:
            return str(exc)
        shared = sorted(
            set(map(str, value if isinstance(value, list) else [value]))
            & set(map(str, other if isinstance(other, list) else [other]))
        )
        if shared:
            return f"{label} (`{name}`) shares {', '.join(shared)} with `{check['disjoint_from']}`; use other features"
    if "pattern" in check and not (isinstance(value, str) and re.search(check["pattern"], value)):
        return f"{label} (`{name}`) does not look right: expected text matching {check['pattern']!r}"
    return None


def observe_answer_check(item: dict[str, Any], ctx: ScoreContext) -> float:
    results = [_check(check, ctx) for check in item["checks"]]
    return sum(r is None for r in results) / len(results)


def score_answer_check(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    problems = [p for p in (_check(check, ctx) for check in item["checks"]) if p is not None]
    passed = len(item["checks"]) - len(problems)
    function = (item.get("partial") or {"function": "step"})["function"]
    credit = passed / len(item["checks"]) if function == "linear" else float(not problems)
    evidence = {"checks_passed": passed, "checks": len(item["checks"])}
    if not problems:
        labels = list(dict.fromkeys(c.get("label") or f"`{c['answer']}`" for c in item["checks"]))
        return Outcome(1.0, f"{' and '.join(labels)}: correct", evidence)
    unique = list(dict.fromkeys(problems))
    return Outcome(credit, "; ".join(unique), evidence)


# ----------------------------------------------------------------------------------------------
# free text


def _placeholders(ctx: ScoreContext, text_id: str) -> set[str]:
    found = {TEMPLATE_PLACEHOLDER}
    for entry in ctx.assignment.free_text:
        if entry["id"] == text_id and entry.get("placeholder"):
            found.add(entry["placeholder"])
    return {p.strip() for p in found}


def _not_found(entry: dict[str, Any] | None, text_id: str, harvested: bool) -> str:
    """Why no answer was found, in words a marker and the student both read."""
    if entry is None:
        return "the notebook's answers were not read" if not harvested else f"no answer {text_id} was read"
    if entry.get("status") == "missing":
        return f"the notebook has no **ANSWER {text_id}** cell"
    return f"nothing but the template's placeholder under **ANSWER {text_id}**"


def score_free_text(item: dict[str, Any], ctx: ScoreContext) -> Outcome:
    """Pending for a person whether answered or not: a person decides, never a silent zero."""
    text_id = item["text"]
    entry = ctx.free_text(text_id)
    value = entry.get("value") if entry is not None and entry.get("status") == "ok" else None
    text = value.strip() if isinstance(value, str) else ""
    if text and text not in _placeholders(ctx, text_id):
        # the whole answer travels in the evidence: `grader manual` and `grader review` show it
        evidence: dict[str, Any] = {"answer": text}
        if entry is not None and entry.get("message"):
            evidence["found"] = str(entry["message"])
        return pending(f"answered ({len(text.split())} words); awaits marking by a person", evidence)
    why = _not_found(entry, text_id, bool(ctx.harvest))
    return pending(
        f"not answered: {why}. Write your answer in the cell **ANSWER {text_id}** or in markdown "
        "cells right below it; a person checks every answer, written or not",
        {"answer": "", "not_answered": why},
    )
