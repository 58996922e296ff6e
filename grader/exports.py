"""Gradebook exports from result documents: grades.csv, canvas.csv and Gradescope results.json.

All three take scores through ``grader.report.format.points`` so they agree with the HTML and
Markdown reports to the last printed digit. Text cells that a spreadsheet would run as a formula
(starting with = + - @) are prefixed with an apostrophe: student-controlled names and messages
must not execute in the instructor's spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grader.report import evidence as ev
from grader.report import problems
from grader.report.files import write_text_atomic
from grader.report.format import points
from grader.report.student import result_id

GRADES_FIXED = ["id", "student", "status", "total", "max_score", "pending_manual", "extra_credit"]
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# Submissions whose score says nothing about the student: the grader or its sandbox failed.
GRADER_FAULTS = frozenset({"error", "sandbox_error"})
GRADESCOPE_VISIBILITY = frozenset({"visible", "hidden", "after_due_date", "after_published"})
MAX_OUTPUT = 8000
MAX_LISTED = 10


class ExportError(ValueError):
    """An export cannot be written; the message names the file or row at fault."""


def spreadsheet_safe(value: Any) -> Any:
    """Neutralise text a spreadsheet would treat as a formula; numbers pass through."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_text(header: list[str], rows: Iterable[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue()


def _parts(results: list[dict[str, Any]]) -> list[str]:
    """Part ids in first-seen order across all results."""
    seen: dict[str, None] = {}
    for result in results:
        for part in result.get("parts") or []:
            if isinstance(part, dict) and isinstance(part.get("id"), str):
                seen.setdefault(part["id"], None)
    return list(seen)


def grades_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of grades.csv: one row per submission, one column per part."""
    part_ids = _parts(results)
    header = GRADES_FIXED + part_ids + ["message"]
    rows = []
    for result in sorted(results, key=result_id):
        by_part = {
            p["id"]: points(p.get("score"))
            for p in result.get("parts") or []
            if isinstance(p, dict) and isinstance(p.get("id"), str)
        }
        rows.append(
            [
                result_id(result),
                ev.text(result.get("student"), 200),
                ev.text(result.get("status"), 40),
                points(result.get("score")),
                points(result.get("max_score")),
                points(result.get("pending_manual")),
                points(result.get("extra_credit")),
                *[by_part.get(pid, "") for pid in part_ids],
                ev.text(result.get("message"), 500).replace("\n", " "),
            ]
        )
    return header, rows


def write_grades_csv(results: list[dict[str, Any]], path: Path) -> Path:
    """``grades.csv``: id, student, status, total, max, pending manual points, per-part totals."""
    header, rows = grades_rows(list(results))
    return write_text_atomic(Path(path), _csv_text(header, rows), newline="")


def read_roster(path: Path) -> list[dict[str, str]]:
    """Rows of a Canvas gradebook export (the file Canvas's "Export" button writes)."""
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("Student", "ID") if c not in (reader.fieldnames or [])]
            if missing:
                raise ExportError(f"{path}: not a Canvas gradebook export (no column {', '.join(missing)})")
            return [
                row
                for row in reader
                if (row.get("Student") or "").strip() and "Points Possible" not in row["Student"]
            ]
    except OSError as exc:
        raise ExportError(f"{path}: cannot read the Canvas roster: {exc}") from exc


def _match(student: str, roster: list[dict[str, str]]) -> dict[str, str] | None:
    key = student.strip().casefold()
    for column in ("SIS Login ID", "SIS User ID", "ID", "Student"):
        hits = [row for row in roster if (row.get(column) or "").strip().casefold() == key]
        if len(hits) == 1:
            return hits[0]
    return None


def write_canvas_csv(
    results: list[dict[str, Any]],
    path: Path,
    *,
    column: str | None = None,
    roster: Path | None = None,
) -> list[str]:
    """``canvas.csv`` in Canvas's gradebook import layout; return the students not on the roster.

    ``column`` is the assignment column header (Canvas matches "Name (assignment id)"; a new name
    creates an assignment). With ``roster`` (a Canvas gradebook export) each student is matched on
    SIS Login ID, SIS User ID, Canvas ID or name, and unmatched students are left out and
    returned; without it the student goes in Student and SIS Login ID. Submissions the grader
    failed on get an empty cell, which Canvas's import leaves unchanged rather than posting a 0.
    """
    results = sorted(results, key=result_id)
    people = read_roster(roster) if roster is not None else None
    if column is None:
        names = {ev.text(r.get("assignment"), 100) for r in results} - {""}
        column = names.pop() if len(names) == 1 else "Assignment"
    max_score = max((points(r.get("max_score")) for r in results), default=0.0)
    rows: list[list[Any]] = [["    Points Possible", "", "", "", "", max_score]]
    unmatched = []
    for result in results:
        student = ev.text(result.get("student"), 200) or result_id(result)
        score: Any = "" if result.get("status") in GRADER_FAULTS else points(result.get("score"))
        if people is None:
            rows.append([student, "", "", student, "", score])
            continue
        person = _match(student, people)
        if person is None:
            unmatched.append(student)
            continue
        rows.append([*(person.get(c, "") for c in CANVAS_FIXED), score])
    write_text_atomic(Path(path), _csv_text(CANVAS_FIXED + [column], rows), newline="")
    return unmatched


def _item_output(item: dict[str, Any]) -> str:
    message = ev.text(item.get("message"), MAX_OUTPUT)
    evidence = ev.mapping(item.get("evidence"))
    mark = evidence.get("manual") if isinstance(evidence.get("manual"), dict) else None
    if mark and ev.text(mark.get("comment")):
        message = f"{message}\nMarker: {ev.text(mark.get('comment'), MAX_OUTPUT)}".strip()
    return message


def gradescope_document(result: dict[str, Any]) -> dict[str, Any]:
    """One submission in Gradescope's autograder results format (a test per rubric item).

    The top-level ``score`` is the result's score, so Gradescope shows exactly what grades.csv
    and the reports show. Items awaiting a person are listed with max_score 0 and say so: their
    points belong to a manually graded question, never to an autograder zero.
    """
    rid = result_id(result)
    part_titles = {
        p["id"]: ev.text(p.get("title"), 200) or p["id"]
        for p in result.get("parts") or []
        if isinstance(p, dict) and isinstance(p.get("id"), str)
    }
    part_order = list(part_titles)
    tests = []
    counters: dict[str, int] = {}
    for item in result.get("items") or []:
        if not isinstance(item, dict):
            continue
        raw_part = item.get("part")
        part = raw_part if isinstance(raw_part, str) else ""
        counters[part] = counters.get(part, 0) + 1
        part_no = part_order.index(part) + 1 if part in part_order else len(part_order) + 1
        title = ev.text(item.get("title"), 200) or ev.text(item.get("id"), 200)
        visibility = item.get("visibility") if item.get("visibility") in GRADESCOPE_VISIBILITY else "visible"
        test: dict[str, Any] = {
            "name": f"{part_titles.get(part, part)}: {title}" if part else title,
            "number": f"{part_no}.{counters[part]}",
            "visibility": visibility,
            "tags": [t for t in (part, ev.text(item.get("kind"), 60)) if t],
        }
        if item.get("status") == "pending":
            test.update(
                score=0.0,
                max_score=0.0,
                output=f"Marked by hand (up to {points(item.get('max_points')):g} points); not marked yet.",
            )
        else:
            test.update(
                score=points(item.get("points")),
                max_score=points(item.get("max_points")),
                output=_item_output(item),
            )
            if item.get("status") in ("passed", "failed"):
                test["status"] = item["status"]
        tests.append(test)
    tests += notebook_tests(result)
    timings = ev.mapping(result.get("timings"))
    telemetry = ev.mapping(result.get("telemetry"))
    seconds = ev.number(timings.get("total_s")) or ev.number(telemetry.get("wall_s")) or 0.0
    status = ev.text(result.get("status"), 40)
    lines = [f"Status: {status}."]
    top = problems.top_message(result)
    if top is not None:
        lines.append(f"{top['title']}. {ev.text(top['text'], MAX_OUTPUT)}")
    elif ev.text(result.get("message")):
        lines.append(ev.text(result.get("message"), MAX_OUTPUT))
    failed = problems.cell_problems(result)
    if failed:
        lines.append(
            f'{len(failed)} cell{"s" * (len(failed) != 1)} failed (see the tests named "Cell error"):'
        )
        lines += [f"- {p['label']}: {p['advice'] or _exception(p)}" for p in failed[:MAX_LISTED]]
    for limit in problems.limit_problems(result):
        lines.append(
            f"Limit reached: {limit['what']}{' in ' + limit['cell'] if limit['cell'] else ''}: {limit['message']}"
        )
    pending = points(result.get("pending_manual"))
    if pending:
        lines.append(f"{pending:g} points of free-text answers will be marked by a person.")
    return {
        "score": points(result.get("score")),
        "execution_time": round(seconds),
        "output": "\n".join(lines),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "stdout_visibility": "hidden",
        "extra_data": {
            "id": rid,
            "status": status,
            "max_score": points(result.get("max_score")),
            "pending_manual": pending,
        },
        "tests": tests,
    }


def _exception(problem: dict[str, Any]) -> str:
    if problem["ename"]:
        return f"{problem['ename']}: {problem['evalue']}".rstrip(": ")
    return problem["message"] or problem["status"]


def notebook_tests(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Gradescope tests worth no points that show what went wrong while the notebook ran: one per
    failed cell (what to do, then the exception and the student's frames) and one per limit."""
    tests: list[dict[str, Any]] = []
    for number, problem in enumerate(problems.cell_problems(result), start=1):
        body = [problem["advice"]] if problem["advice"] else []
        if problem["ename"]:
            body.append(_exception(problem))
            if problem["traceback"]:
                body.append(problem["traceback"])
        elif problem["message"] and not problem["advice"]:
            body.append(problem["message"])
        tests.append(
            {
                "name": f"Cell error: {problem['label']}",
                "number": f"0.{number}",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "visibility": "visible",
                "tags": ["notebook", "cell_error", *([problem["cause"]] if problem["cause"] else [])],
                "output": ev.text("\n\n".join(body), MAX_OUTPUT),
            }
        )
    for number, limit in enumerate(problems.limit_problems(result), start=len(tests) + 1):
        where = f" in {limit['cell']}" if limit["cell"] else ""
        tests.append(
            {
                "name": f"Limit reached: {limit['what']}{where}",
                "number": f"0.{number}",
                "score": 0.0,
                "max_score": 0.0,
                "status": "failed",
                "visibility": "visible",
                "tags": ["notebook", "limit", limit["limit"]],
                "output": limit["message"],
            }
        )
    return tests


def write_gradescope_document(result: dict[str, Any], path: Path) -> Path:
    """Write one submission's Gradescope results.json to ``path`` (left alone when unchanged).

    Compact JSON: Gradescope reads it by machine, and the standard library encodes compact JSON in
    C but indented JSON in Python, which made these files most of a class rescore's publishing."""
    path = Path(path)
    text = json.dumps(gradescope_document(result), ensure_ascii=False) + "\n"
    try:
        if path.read_text(encoding="utf-8") == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    return write_text_atomic(path, text, durable=False)  # derived from the result, per student


def write_gradescope(results: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """``<out_dir>/<id>/results.json`` for every submission; a run passes ``OUT/gradescope``."""
    return [write_gradescope_document(r, Path(out_dir) / result_id(r) / "results.json") for r in results]


def write_all(
    results: list[dict[str, Any]],
    out_dir: Path,
    *,
    canvas_column: str | None = None,
    roster: Path | None = None,
) -> dict[str, Any]:
    """Every export of one run into ``OUT``: grades.csv, canvas.csv, gradescope/<id>/results.json."""
    out_dir = Path(out_dir)
    return {
        "grades": write_grades_csv(results, out_dir / "grades.csv"),
        "canvas_unmatched": write_canvas_csv(
            results, out_dir / "canvas.csv", column=canvas_column, roster=roster
        ),
        "gradescope": write_gradescope(results, out_dir / "gradescope"),
    }
