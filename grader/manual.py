"""Manual marks for free-text answers: export what waits for a person, merge their marks back.

The round trip is a CSV because markers work in spreadsheets. A merge is all or nothing: every
row is checked first (known student, known free-text item, points within 0..max, no duplicates),
and only then are result documents rewritten and reports re-rendered.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.exports import spreadsheet_safe
from grader.publish import feedback_field, publish
from grader.report import evidence as ev
from grader.report.files import write_text_atomic
from grader.report.student import feedback_paths
from grader.results import load_results, rebuild_jsonl, result_path, write_json_atomic

if TYPE_CHECKING:
    from grader.assignment import Assignment

COLUMNS = ["student", "item", "part", "title", "max_points", "answer", "guidance", "points", "comment"]
REQUIRED = ("student", "item", "points", "comment")


class ManualMarkError(ValueError):
    """A filled-in marks file cannot be merged; the message names the row and what is wrong."""


@dataclass(frozen=True)
class Mark:
    row: int  # spreadsheet row number (the header is row 1)
    student: str
    item: str
    points: float
    comment: str


@dataclass
class MergeSummary:
    merged: int
    blank: int
    students: list[str]
    failures: list[str]  # outputs the re-render could not write (the marks are saved regardless)


def is_manual(item: dict[str, Any]) -> bool:
    """Items a person marks: free-text items, anything pending, anything already marked by hand."""
    evidence = ev.mapping(item.get("evidence"))
    return item.get("kind") == "free_text" or item.get("status") == "pending" or "manual" in evidence


def _guidance(assignment: Assignment | None) -> dict[str, str]:
    if assignment is None:
        return {}
    return {
        str(i.get("id")): str(i.get("guidance", ""))
        for i in assignment.items
        if isinstance(i, dict) and i.get("kind") == "free_text"
    }


def pending_rows(
    results: list[dict[str, Any]], *, assignment: Assignment | None = None, include_marked: bool = False
) -> list[dict[str, Any]]:
    """One row per answer awaiting a person (and, with ``include_marked``, per answer already marked)."""
    guidance = _guidance(assignment)
    rows = []
    for result in sorted(results, key=lambda r: str(r.get("id"))):
        for item in result.get("items") or []:
            if not isinstance(item, dict) or not is_manual(item):
                continue
            evidence = ev.mapping(item.get("evidence"))
            mark = evidence.get("manual") if isinstance(evidence.get("manual"), dict) else None
            if item.get("status") != "pending" and not include_marked:
                continue
            answer = evidence.get("answer")
            rows.append(
                {
                    "student": result.get("id"),
                    "item": item.get("id"),
                    "part": item.get("part", ""),
                    "title": item.get("title", ""),
                    "max_points": item.get("max_points"),
                    "answer": answer if isinstance(answer, str) else "(no answer)",
                    "guidance": guidance.get(str(item.get("id")), ""),
                    "points": "" if mark is None else mark.get("points", ""),
                    "comment": "" if mark is None else mark.get("comment", ""),
                }
            )
    return rows


def write_pending_csv(
    results: list[dict[str, Any]],
    path: Path,
    *,
    assignment: Assignment | None = None,
    include_marked: bool = False,
) -> int:
    """Write the marking sheet; return how many answers it lists."""
    rows = pending_rows(results, assignment=assignment, include_marked=include_marked)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    write_text_atomic(Path(path), buffer.getvalue(), newline="")
    return len(rows)


def _points(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ManualMarkError(f"{where}: points {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ManualMarkError(f"{where}: points {text!r} is not a finite number")
    return value


def read_marks(path: Path) -> tuple[list[Mark], int]:
    """The marks in a filled-in sheet, plus how many rows were left blank (not marked yet)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManualMarkError(f"{path}: cannot read the marks file: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ManualMarkError(f"{path}: the header lacks column(s) {', '.join(missing)}")
    marks, blank = [], 0
    for number, row in enumerate(reader, start=2):
        where = f"{path} row {number}"
        student = (row.get("student") or "").strip().lstrip("'")
        item = (row.get("item") or "").strip().lstrip("'")
        raw_points = (row.get("points") or "").strip()
        if not raw_points:
            blank += 1
            continue
        if not student or not item:
            raise ManualMarkError(f"{where}: points given but student or item is empty")
        comment = (row.get("comment") or "").strip()
        marks.append(Mark(number, student, item, _points(raw_points, where), comment))
    return marks, blank


def _status(points: float, max_points: float) -> str:
    if points >= max_points:
        return "passed"
    return "failed" if points <= 0 else "partial"


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def apply_marks(
    results: list[dict[str, Any]], marks: list[Mark], *, source: str = "marks"
) -> tuple[list[dict[str, Any]], list[str]]:
    """Check every mark, then return updated copies of the results they touch (inputs unchanged)."""
    by_id = {r.get("id"): r for r in results}
    seen: dict[tuple[str, str], int] = {}
    for mark in marks:
        where = f"{source} row {mark.row} (student {mark.student!r}, item {mark.item!r})"
        result = by_id.get(mark.student)
        if result is None:
            raise ManualMarkError(f"{where}: unknown student; no result document has id {mark.student!r}")
        item = next(
            (i for i in result.get("items") or [] if isinstance(i, dict) and i.get("id") == mark.item), None
        )
        if item is None:
            raise ManualMarkError(f"{where}: unknown item for this student")
        if not is_manual(item):
            raise ManualMarkError(
                f"{where}: this item is scored automatically; only free-text items take manual marks"
            )
        max_points = _num(item.get("max_points"))
        if mark.points < 0 or mark.points > max_points:
            raise ManualMarkError(f"{where}: points {mark.points:g} outside 0..{max_points:g}")
        key = (mark.student, mark.item)
        if key in seen:
            raise ManualMarkError(f"{where}: marked twice (also in row {seen[key]})")
        seen[key] = mark.row

    updated: dict[str, dict[str, Any]] = {}
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for mark in marks:
        doc = updated.setdefault(mark.student, copy.deepcopy(by_id[mark.student]))
        item = next(i for i in doc["items"] if isinstance(i, dict) and i.get("id") == mark.item)
        _apply_one(doc, item, mark, stamp)
    for doc in updated.values():
        doc["message"] = refresh_message(doc)
    return list(updated.values()), sorted(updated)


_SCORE_PREFIX = re.compile(r"^\d+(?:\.\d+)? of (\d+(?:\.\d+)?) points")
_PENDING_CLAUSE = re.compile(r"\d+(?:\.\d+)? points of written answers await a person")


def refresh_message(doc: dict[str, Any]) -> str:
    """The scorer's summary ("71.5 of 100 points (...; 20 points of written answers await a
    person)") with the score and pending points brought up to date; other messages unchanged."""
    raw = doc.get("message")
    message = raw if isinstance(raw, str) else ""
    message = _SCORE_PREFIX.sub(lambda m: f"{_num(doc.get('score')):g} of {m.group(1)} points", message)
    pending = _num(doc.get("pending_manual"))
    clause = f"{pending:g} points of written answers await a person" if pending else "written answers marked"
    return _PENDING_CLAUSE.sub(clause, message)


def _apply_one(doc: dict[str, Any], item: dict[str, Any], mark: Mark, stamp: str) -> None:
    """Move one item from pending (or a previous manual mark) to the marker's points."""
    max_points = _num(item.get("max_points"))
    was_pending = item.get("status") == "pending"
    delta = mark.points - (0.0 if was_pending else _num(item.get("points")))
    released = max_points if was_pending else 0.0
    item["points"] = mark.points
    item["status"] = _status(mark.points, max_points)
    item["message"] = mark.comment or f"marked by hand: {mark.points:g} / {max_points:g}"
    evidence = item["evidence"] if isinstance(item.get("evidence"), dict) else {}
    evidence["manual"] = {"points": mark.points, "comment": mark.comment, "marked_at": stamp}
    item["evidence"] = evidence
    doc["score"] = round(_num(doc.get("score")) + delta, 6)
    doc["pending_manual"] = round(max(0.0, _num(doc.get("pending_manual")) - released), 6)
    for part in doc.get("parts") or []:
        if isinstance(part, dict) and part.get("id") == item.get("part"):
            part["score"] = round(_num(part.get("score")) + delta, 6)
            part["pending_manual"] = round(max(0.0, _num(part.get("pending_manual")) - released), 6)


def merge(out_dir: Path, marks_path: Path, *, assignment: Assignment | None = None) -> MergeSummary:
    """Merge a filled-in sheet into OUT/results, then re-render reports and exports."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    if not results:
        raise ManualMarkError(f"{out_dir}: no result documents in {out_dir / 'results'}")
    marks, blank = read_marks(marks_path)
    changed, students = apply_marks(results, marks, source=str(marks_path))
    for doc in changed:
        doc["feedback"] = feedback_field(out_dir, feedback_paths(out_dir, doc["id"]))
        write_json_atomic(result_path(out_dir, doc["id"]), doc)
    rebuild_jsonl(out_dir)
    done = publish(load_results(out_dir), out_dir, assignment=assignment)
    return MergeSummary(merged=len(marks), blank=blank, students=students, failures=done.failures)
