"""Small, pure pieces of the marking app's pages: URLs, JSON for decisions, rows for items."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from grader.marks.overlay import evidence_of, is_manual
from grader.marks.store import Decision
from grader.review.model import Slot


def mark_url(item: str, student: str) -> str:
    return f"/mark/{quote(item, safe='')}/{quote(student, safe='')}"


def student_url(student: str) -> str:
    return f"/student/{quote(student, safe='')}"


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "student": decision.student,
        "item": decision.item,
        "kind": decision.kind,
        "points": decision.points,
        "comment": decision.comment,
        "reason": decision.reason,
        "marker": decision.marker,
        "version": decision.version,
        "marked_at": decision.marked_at,
    }


def answer_note(evidence: dict[str, Any]) -> str:
    """What the grader found for a free-text answer, beside it: why there is none (the marker
    may find it elsewhere in the notebook), or which cells it was read from."""
    for key, prefix in (("not_answered", "Not answered: "), ("found", "Found: ")):
        note = evidence.get(key)
        if isinstance(note, str) and note:
            return prefix + note
    return ""


def points_text(slot: Slot, decision: Decision | None) -> str:
    value = decision.points if decision is not None else slot.points
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:g}"


def next_unmarked(slots: list[Slot], student: str, item: str) -> str:
    """The next answer in the queue still waiting for a mark (wrapping round), or home."""
    index = next((n for n, s in enumerate(slots) if s.student == student), -1)
    for slot in slots[index + 1 :] + slots[: index + 1]:
        if not slot.marked:
            return mark_url(item, slot.student)
    return "/?queue_done=" + quote(item, safe="")


def item_row(item: dict[str, Any], decision: Decision | None, student: str) -> dict[str, Any]:
    evidence = evidence_of(item)
    found = evidence.get("scored")
    scored: dict[str, Any] = found if isinstance(found, dict) else item
    manual = is_manual(item)
    return {
        "id": str(item.get("id") or ""),
        "title": str(item.get("title") or item.get("id") or ""),
        "part": str(item.get("part") or ""),
        "kind": str(item.get("kind") or ""),
        "status": str(item.get("status") or ""),
        "points": item.get("points"),
        "max_points": item.get("max_points"),
        "message": str(item.get("message") or ""),
        "manual": manual,
        "mark_url": mark_url(str(item.get("id")), student) if manual else "",
        "auto_points": scored.get("points"),
        "override": evidence.get("override") if isinstance(evidence.get("override"), dict) else None,
        "version": decision.version if decision else 0,
        "extra_credit": item.get("extra_credit") is True,
    }
