"""Manual marks for free-text answers: export what waits for a person, merge their marks back.

The round trip is a CSV because markers work in spreadsheets. The marks go into the marks store
(``OUT/marks.sqlite``, shared with ``grader review``), which is the source for every output. A
merge is all or nothing: every row is checked first (known student, known free-text item, points
within 0..max, no duplicates), then all marks are saved in one transaction, and only then are
result documents rewritten and reports re-rendered. A sheet carries no versions, so its marks
replace whatever was saved before (each replacement is in the store's audit log).
"""

from __future__ import annotations

import csv
import getpass
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.exports import spreadsheet_safe
from grader.marks.overlay import evidence_of, is_manual, num, overlay_marks, refresh_message
from grader.marks.store import MarksStore, NewDecision, store_path
from grader.publish import feedback_field, publish
from grader.report.files import write_text_atomic
from grader.results import load_results, rebuild_jsonl, result_path, write_json_atomic

if TYPE_CHECKING:
    from grader.assignment import Assignment

COLUMNS = [
    "student",
    "item",
    "part",
    "title",
    "max_points",
    "answer",
    "found",
    "guidance",
    "points",
    "comment",
]
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


def _guidance(assignment: Assignment | None) -> dict[str, str]:
    if assignment is None:
        return {}
    return {
        str(i.get("id")): str(i.get("guidance", ""))
        for i in assignment.items
        if isinstance(i, dict) and i.get("kind") == "free_text"
    }


def answer_text(evidence: dict[str, Any]) -> str:
    """What the marker reads in the sheet's answer column: the answer, or why none was found
    (still marked by a person, who may find it elsewhere in the notebook)."""
    answer = evidence.get("answer")
    if isinstance(answer, str) and answer.strip():
        return answer
    why = evidence.get("not_answered")
    return f"(not answered: {why})" if isinstance(why, str) and why else "(no answer)"


def _found(evidence: dict[str, Any]) -> str:
    """Where the answer was read from, when not only the ANSWER cell itself."""
    found = evidence.get("found")
    return found if isinstance(found, str) else ""


def pending_rows(
    results: list[dict[str, Any]], *, assignment: Assignment | None = None, include_marked: bool = False
) -> list[dict[str, Any]]:
    """One row per answer awaiting a person (and, with ``include_marked``, per answer already marked).

    Every free-text item waits for a person, answered or not, so every one has a row until marked."""
    guidance = _guidance(assignment)
    rows = []
    for result in sorted(results, key=lambda r: str(r.get("id"))):
        for item in result.get("items") or []:
            if not isinstance(item, dict) or not is_manual(item):
                continue
            evidence = evidence_of(item)
            mark = evidence.get("manual") if isinstance(evidence.get("manual"), dict) else None
            if item.get("status") != "pending" and not include_marked:
                continue
            rows.append(
                {
                    "student": result.get("id"),
                    "item": item.get("id"),
                    "part": item.get("part", ""),
                    "title": item.get("title", ""),
                    "max_points": item.get("max_points"),
                    "answer": answer_text(evidence),
                    "found": _found(evidence),
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


def check_marks(
    results: list[dict[str, Any]], marks: list[Mark], *, source: str = "marks"
) -> list[NewDecision]:
    """Check every mark against the results; return the decisions to save (nothing is written)."""
    by_id = {r.get("id"): r for r in results}
    seen: dict[tuple[str, str], int] = {}
    decisions = []
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
        max_points = num(item.get("max_points"))
        if mark.points < 0 or mark.points > max_points:
            raise ManualMarkError(f"{where}: points {mark.points:g} outside 0..{max_points:g}")
        key = (mark.student, mark.item)
        if key in seen:
            raise ManualMarkError(f"{where}: marked twice (also in row {seen[key]})")
        seen[key] = mark.row
        scored = evidence_of(item).get("scored")
        base = scored if isinstance(scored, dict) else item
        baseline = None if base.get("status") == "pending" else num(base.get("points"))
        decisions.append(
            NewDecision(
                mark.student,
                mark.item,
                "manual",
                mark.points,
                comment=mark.comment,
                seen_version=None,
                baseline=baseline,
            )
        )
    return decisions


def with_marks(out_dir: Path, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``results`` as the marks store has them now (in memory; nothing is written)."""
    if not store_path(out_dir).exists():
        return results
    return overlay_marks(results, MarksStore.for_out(out_dir).decisions()).results


def merge(
    out_dir: Path,
    marks_path: Path,
    *,
    assignment: Assignment | None = None,
    marker: str | None = None,
) -> MergeSummary:
    """Save a filled-in sheet's marks in the store, then re-render results, reports and exports."""
    out_dir = Path(out_dir)
    results = load_results(out_dir)
    if not results:
        raise ManualMarkError(f"{out_dir}: no result documents in {out_dir / 'results'}")
    marks, blank = read_marks(marks_path)
    decisions = check_marks(with_marks(out_dir, results), marks, source=str(marks_path))
    if decisions:
        who = marker or f"{getpass.getuser()} (sheet {Path(marks_path).name})"
        MarksStore.for_out(out_dir).save_many(decisions, marker=who)
    results = load_results(out_dir)
    done = publish(results, out_dir, assignment=assignment)  # saves the marked documents
    stale = False
    for doc in results:
        if doc.get("id") not in done.feedback:
            continue
        wanted = feedback_field(out_dir, done.feedback[doc["id"]])
        if doc.get("feedback") != wanted:
            doc["feedback"] = wanted
            write_json_atomic(result_path(out_dir, doc["id"]), doc)
            stale = True
    if stale:
        rebuild_jsonl(out_dir)
    return MergeSummary(
        merged=len(marks), blank=blank, students=sorted({m.student for m in marks}), failures=done.failures
    )


__all__ = [
    "COLUMNS",
    "ManualMarkError",
    "Mark",
    "MergeSummary",
    "answer_text",
    "check_marks",
    "is_manual",
    "merge",
    "pending_rows",
    "read_marks",
    "refresh_message",
    "with_marks",
    "write_pending_csv",
]
