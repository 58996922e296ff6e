"""Lay the marks store over result documents: manual marks, overrides, totals brought up to date.

Result documents come from the scorer; people's decisions live in ``OUT/marks.sqlite``. Every
output (feedback, summary, grades.csv, canvas.csv, Gradescope, the marking sheet) is rendered
from documents that went through ``overlay_marks``, so they all agree with the store, and a
rescore, which rewrites the documents from scratch, loses no decision.

The overlay is idempotent: the first time it changes an item it keeps the scorer's verdict in
``evidence.scored`` ({points, status, message}), and every later overlay starts from there.
Totals move by the difference between the item's old and new contribution, so the scorer's own
arithmetic (rounding, extra credit, pending points) is kept rather than recomputed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.marks.store import Decision, MarksStore, store_path
from grader.results import rebuild_jsonl, result_path, write_json_atomic


@dataclass
class Overlaid:
    """Documents after the overlay, which ids changed, and decisions that matched no item."""

    results: list[dict[str, Any]]
    changed: list[str] = field(default_factory=list)
    orphans: list[Decision] = field(default_factory=list)


def num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def evidence_of(item: dict[str, Any]) -> dict[str, Any]:
    evidence = item.get("evidence")
    return evidence if isinstance(evidence, dict) else {}


def is_manual(item: dict[str, Any]) -> bool:
    """Items a person marks: free-text items, anything pending, anything already marked by hand."""
    return item.get("kind") == "free_text" or item.get("status") == "pending" or "manual" in evidence_of(item)


def item_status(points: float, max_points: float) -> str:
    if points >= max_points:
        return "passed"
    return "failed" if points <= 0 else "partial"


_SCORE_PREFIX = re.compile(r"^\d+(?:\.\d+)? of (\d+(?:\.\d+)?) points")
_PENDING_CLAUSE = re.compile(r"\d+(?:\.\d+)? points of written answers await a person")


def refresh_message(doc: dict[str, Any]) -> str:
    """The scorer's summary ("71.5 of 100 points (...; 20 points of written answers await a
    person)") with the score and pending points brought up to date; other messages unchanged."""
    found = doc.get("message")
    message = found if isinstance(found, str) else ""
    message = _SCORE_PREFIX.sub(lambda m: f"{num(doc.get('score')):g} of {m.group(1)} points", message)
    pending = num(doc.get("pending_manual"))
    clause = f"{pending:g} points of written answers await a person" if pending else "written answers marked"
    return _PENDING_CLAUSE.sub(clause, message)


def _contribution(item: dict[str, Any]) -> tuple[float, float]:
    """(points counted in the score, points still pending) for one item as it stands."""
    if item.get("status") == "pending":
        return 0.0, num(item.get("max_points"))
    return num(item.get("points")), 0.0


def _baseline(item: dict[str, Any]) -> dict[str, Any]:
    """The scorer's verdict on the item, from before any overlay."""
    scored = evidence_of(item).get("scored")
    if isinstance(scored, dict):
        return scored
    return {"points": item.get("points"), "status": item.get("status"), "message": item.get("message")}


def _override_message(scorer_message: Any, auto_points: float, decision: Decision, max_points: float) -> str:
    note = (
        f"Points changed by a marker from {auto_points:g} to {num(decision.points):g} of {max_points:g}: "
        f"{decision.reason}"
    )
    return f"{scorer_message} — {note}" if isinstance(scorer_message, str) and scorer_message else note


def _target(item: dict[str, Any], decision: Decision | None) -> dict[str, Any] | None:
    """The item's new fields under ``decision``, or None when the overlay leaves it alone."""
    evidence = evidence_of(item)
    touched = "scored" in evidence
    if decision is None or decision.points is None:
        if not touched:
            return None  # never overlaid (a legacy mark in the document stays as it is)
        base = evidence["scored"]
        return {
            "points": num(base.get("points")),
            "status": base.get("status"),
            "message": base.get("message"),
            "manual": None,
            "override": None,
        }
    base = _baseline(item)
    max_points = num(item.get("max_points"))
    points = min(max(num(decision.points), 0.0), max_points) if max_points > 0 else num(decision.points)
    stamp = {"marker": decision.marker, "marked_at": decision.marked_at, "version": decision.version}
    if decision.kind == "override":
        auto_points = num(base.get("points"))
        return {
            "points": points,
            "status": item_status(points, max_points),
            "message": _override_message(base.get("message"), auto_points, decision, max_points),
            "manual": None,
            "override": {"points": points, "auto_points": auto_points, "reason": decision.reason, **stamp},
        }
    return {
        "points": points,
        "status": item_status(points, max_points),
        "message": decision.comment or f"marked by hand: {points:g} / {max_points:g}",
        "manual": {"points": points, "comment": decision.comment, **stamp},
        "override": None,
    }


def _apply(doc: dict[str, Any], item: dict[str, Any], target: dict[str, Any]) -> bool:
    """Move one item to ``target`` and shift the totals by the difference; True if anything changed."""
    evidence = dict(evidence_of(item))
    base = _baseline(item)
    keys = ("manual", "override", "scored")
    before = (item.get("points"), item.get("status"), item.get("message"), *(evidence.get(k) for k in keys))
    old_points, old_pending = _contribution(item)
    for key in ("manual", "override"):
        if target[key] is None:
            evidence.pop(key, None)
        else:
            evidence[key] = target[key]
    if target["manual"] is None and target["override"] is None:
        evidence.pop("scored", None)
    else:
        evidence["scored"] = base
    after = (target["points"], target["status"], target["message"], *(evidence.get(k) for k in keys))
    if before == after:
        return False
    item["points"], item["status"], item["message"] = target["points"], target["status"], target["message"]
    item["evidence"] = evidence
    new_points, new_pending = _contribution(item)
    delta, released = new_points - old_points, old_pending - new_pending
    doc["score"] = round(num(doc.get("score")) + delta, 6)
    doc["pending_manual"] = round(max(0.0, num(doc.get("pending_manual")) - released), 6)
    if item.get("extra_credit") is True:
        doc["extra_credit"] = round(num(doc.get("extra_credit")) + delta, 6)
    for part in doc.get("parts") or []:
        if isinstance(part, dict) and part.get("id") == item.get("part"):
            part["score"] = round(num(part.get("score")) + delta, 6)
            part["pending_manual"] = round(max(0.0, num(part.get("pending_manual")) - released), 6)
    return True


def saved_version(item: dict[str, Any], kind: str) -> int | None:
    """The version of the decision of ``kind`` a saved item already shows (None: none shown)."""
    shown = evidence_of(item).get("override" if kind == "override" else "manual")
    version = shown.get("version") if isinstance(shown, dict) else None
    return version if isinstance(version, int) else None


def overlay_marks(results: list[dict[str, Any]], decisions: Mapping[tuple[str, str], Decision]) -> Overlaid:
    """Apply ``decisions`` to copies of the documents they touch; the inputs are not changed."""
    by_student: dict[str, dict[str, Decision]] = {}
    for (student, item_id), decision in decisions.items():
        by_student.setdefault(student, {})[item_id] = decision
    done = Overlaid(results=[])
    matched: set[tuple[str, str]] = set()
    for doc in results:
        rid = doc.get("id") if isinstance(doc, dict) else None
        mine = by_student.get(rid, {}) if isinstance(rid, str) else {}
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list) or not any(
            isinstance(i, dict) and (i.get("id") in mine or "scored" in evidence_of(i)) for i in items
        ):
            done.results.append(doc)
            continue
        copy_ = copy.deepcopy(doc)
        changed = False
        for item in copy_["items"]:
            if not isinstance(item, dict):
                continue
            mark = mine.get(str(item.get("id")))
            if mark is not None:
                matched.add((mark.student, mark.item))
            target = _target(item, mark)
            if target is not None:
                changed = _apply(copy_, item, target) or changed
        if changed:
            copy_["message"] = refresh_message(copy_)
            done.changed.append(str(rid))
            done.results.append(copy_)
        else:
            done.results.append(doc)
    done.orphans = [d for key, d in sorted(decisions.items()) if key not in matched and d.points is not None]
    return done


def apply_store(out_dir: Path, results: list[dict[str, Any]]) -> list[str]:
    """The publish hook: overlay ``OUT/marks.sqlite`` on ``results`` IN PLACE and save the changed
    documents (results/<id>.json and results.jsonl), so every output and every later reader of
    the results sees the store's decisions. Without a store nothing happens. Returns changed ids."""
    out_dir = Path(out_dir)
    if not store_path(out_dir).exists():
        return []
    done = overlay_marks(results, MarksStore.for_out(out_dir).decisions())
    if not done.changed:
        return []
    results[:] = done.results
    changed = set(done.changed)
    for doc in results:
        if doc.get("id") in changed:
            write_json_atomic(result_path(out_dir, doc["id"]), doc)
    rebuild_jsonl(out_dir)
    return done.changed
