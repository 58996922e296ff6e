"""Assignments that span several notebooks: one submission is a set, graded as one row.

A set rubric lists ``notebooks:`` (each a name and its own single-notebook rubric, docs/AUTHORING.md).
Grading one runs in three steps, so each notebook is executed and scored exactly as a
one-notebook assignment is (its own sandboxed kernel, its own data, resume and exports):

1. intake gathers every notebook the PATHs hold and matches each student's files to the set's
   notebooks by file name (``problem1.ipynb``; Canvas prefixes and resubmission suffixes ignored);
2. each notebook is graded as its own batch into ``OUT/notebooks/<name>/``;
3. the rows of one student are merged into one row in ``OUT/results`` (the items of all the
   notebooks together, scores summed), from which the report and the exports are published.

A notebook a student did not submit is a clear message on the row, and its items are listed as
failed with that message; the student's other notebooks are still graded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, AssignmentError, load_assignment
from grader.batch import BatchError, BatchSummary, grade_batch, rejected_result
from grader.grading import GradeOptions, error_result, grade_one
from grader.intake import IntakeError, gather, submitted_name
from grader.publish import publish
from grader.results import load_results, rebuild_jsonl, result_path, save_result
from grader.rubric import total_points
from grader.submission import Submission, safe_id

__all__ = ["Member", "grade_notebook_set", "grade_set_submission", "is_notebook_set", "members", "merge_rows"]

STATUS_ORDER = ("error", "sandbox_error", "timeout", "invalid_notebook", "graded")  # worst first


@dataclass(frozen=True)
class Member:
    """One notebook of a set: the file name students submit and its own assignment."""

    name: str
    assignment: Assignment

    @property
    def file_name(self) -> str:
        return f"{self.name}.ipynb"


def is_notebook_set(assignment: Assignment) -> bool:
    return bool(assignment.rubric.get("notebooks"))


def members(assignment: Assignment) -> list[Member]:
    """The set's notebooks, each rubric loaded and validated; item ids must be unique across them
    (the merged row lists them together)."""
    found: list[Member] = []
    owner: dict[str, str] = {}
    for entry in assignment.rubric.get("notebooks") or []:
        path = assignment.resolve(entry["rubric"])
        try:
            member = load_assignment(path)
        except AssignmentError as exc:
            raise AssignmentError(f"{assignment.rubric_path}: notebook {entry['name']!r}: {exc}") from exc
        if is_notebook_set(member):
            raise AssignmentError(f"{path}: a set's notebook cannot itself be a set")
        for item in member.items:
            if item["id"] in owner:
                raise AssignmentError(
                    f"{assignment.rubric_path}: item id {item['id']!r} is used by notebooks "
                    f"{owner[item['id']]!r} and {entry['name']!r}; rename one"
                )
            owner[item["id"]] = entry["name"]
        found.append(Member(str(entry["name"]), member))
    return found


def grade_notebook_set(paths: list[Path], options: GradeOptions, **batch_args: Any) -> BatchSummary:
    """Grade every student's set of notebooks found in ``paths`` into ``options.out_dir``.

    ``batch_args`` go to each notebook's ``grade_batch`` (workers, executor, force, ...).
    """
    began = time.monotonic()
    out_dir = Path(options.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    assignment = options.assignment
    try:
        parts = members(assignment)
    except AssignmentError as exc:
        raise BatchError(str(exc)) from exc
    if options.data_dir is not None:
        raise BatchError(
            f"--data names one data directory, but {assignment.name} has {len(parts)} notebooks, "
            "each with its own data: leave --data out (each is built once into the cache)"
        )
    try:
        candidates, rejected = gather([Path(p) for p in paths], out_dir / ".intake")
    except IntakeError as exc:
        raise BatchError(str(exc)) from exc
    wanted = {m.file_name.lower(): m.name for m in parts}
    sets: dict[str, dict[str, Path]] = {}
    extras: dict[str, list[str]] = {}
    for candidate in sorted(candidates, key=lambda c: (c.when, str(c.path))):  # newest last, so it wins
        name = wanted.get(submitted_name(candidate.path))
        student = candidate.student
        if candidate.direct:  # named on the command line: the student is the folder holding it
            student = candidate.path.resolve().parent.name or student
        elif candidate.holder:  # a file directly in a folder or zip given: that is one student's set
            student = candidate.holder
        if name is None:
            extras.setdefault(student, []).append(candidate.path.name)
            continue
        sets.setdefault(student, {})[name] = candidate.path.resolve()
    ids = {student: safe_id(student) for student in sorted(set(sets) | set(extras))}
    if len(set(ids.values())) < len(ids):
        taken: dict[str, int] = {}
        for student, sid in ids.items():
            taken[sid] = taken.get(sid, 0) + 1
            ids[student] = sid if taken[sid] == 1 else f"{sid}-{taken[sid]}"

    started_summary = BatchSummary(out_dir=out_dir)
    for member in parts:
        staging = out_dir / ".notebooks-in" / member.name
        shutil.rmtree(staging, ignore_errors=True)
        holders = [s for s in sets if member.name in sets[s]]
        for student in holders:
            folder = staging / ids[student]
            folder.mkdir(parents=True)
            shutil.copy2(sets[student][member.name], folder / member.file_name)
        if not holders:
            continue
        member_options = replace(
            options,
            assignment=member.assignment,
            out_dir=out_dir / "notebooks" / member.name,
            profile=options.profile if options.profile in member.assignment.profiles else None,
            data_dir=None,  # each notebook's own data, built once into the cache
            write_reports=False,  # students get the merged feedback, not one page per notebook
            context=None,
        )
        done = grade_batch([staging], member_options, **batch_args)
        started_summary.graded_now += done.graded_now
        started_summary.retried += done.retried
        started_summary.output_errors += [f"{member.name}: {e}" for e in done.output_errors]
        if done.interrupted:
            started_summary.interrupted = True
            return started_summary

    summary = BatchSummary(out_dir=out_dir, retried=started_summary.retried)
    summary.output_errors = started_summary.output_errors
    rows = {m.name: {r["id"]: r for r in load_results(out_dir / "notebooks" / m.name)} for m in parts}
    for student, sid in ids.items():
        document = merge_rows(
            assignment, parts, student, sid, sets.get(student, {}), rows, extras.get(student, [])
        )
        if _stored_hash(out_dir, sid) == document["content_hash"]:
            summary.skipped += 1  # every notebook of the set unchanged since the last run
        else:
            summary.graded_now += 1
        save_result(out_dir, document)
        summary.count(document)
    for item in rejected:
        document = rejected_result(item, options)
        save_result(out_dir, document)
        summary.count(document)
    summary.total = len(ids) + len(rejected)
    rebuild_jsonl(out_dir)
    results = load_results(out_dir)
    if results:
        published = publish(
            results,
            out_dir,
            assignment=assignment,
            feedback=options.write_reports,
            summary=options.write_reports,
        )
        summary.output_errors += published.failures
    summary.wall_s = time.monotonic() - began
    return summary


def grade_set_submission(folder: Path, student: str, options: GradeOptions) -> dict[str, Any]:
    """One student's set in ``folder`` (inside Gradescope's autograder): each notebook matched by
    name (the newest wins) and graded with ``grade_one`` in its own kernel, then merged."""
    parts = members(options.assignment)
    sid = safe_id(student)
    out_dir = Path(options.out_dir)
    candidates, _ = gather([folder], out_dir / ".intake")
    wanted = {m.file_name.lower(): m.name for m in parts}
    files: dict[str, Path] = {}
    extras: list[str] = []
    for candidate in sorted(candidates, key=lambda c: (c.when, str(c.path))):
        name = wanted.get(submitted_name(candidate.path))
        if name is None:
            extras.append(candidate.path.name)
        else:
            files[name] = candidate.path.resolve()
    rows: dict[str, dict[str, dict[str, Any]]] = {m.name: {} for m in parts}
    for member in parts:
        if member.name not in files:
            continue
        member_options = replace(
            options,
            assignment=member.assignment,
            out_dir=out_dir / "notebooks" / member.name,
            data_dir=None,
            profile=None,
            context=None,
        )
        submission = Submission(id=sid, student=student, path=files[member.name], source="gradescope")
        rows[member.name][sid] = grade_one(submission, member_options)
    return merge_rows(options.assignment, parts, student, sid, files, rows, extras)


def merge_rows(
    assignment: Assignment,
    parts: list[Member],
    student: str,
    sid: str,
    files: dict[str, Path],
    rows: dict[str, dict[str, dict[str, Any]]],
    extras: list[str],
) -> dict[str, Any]:
    """One student's row: every notebook's items together, scores summed, missing notebooks said."""
    submission = Submission(id=sid, student=student, path=Path(", ".join(str(p) for p in files.values())))
    merged = error_result(
        submission, GradeOptions(assignment=assignment, out_dir=Path(".")), "graded", status="graded"
    )
    merged["max_score"] = merged["auto_max_score"] = 0.0
    messages: list[str] = []
    statuses: list[str] = []
    hashes: list[str] = []
    for member in parts:
        row = rows[member.name].get(sid) if member.name in files else None
        if row is None:
            missing = f"{member.file_name} was not submitted: its items score 0"
            messages.append(missing)
            merged["items"] += [_missing_item(item, member, missing) for item in member.assignment.items]
            merged["parts"] += [_missing_part(part, member) for part in member.assignment.parts]
            points = total_points(member.assignment.rubric)
            merged["max_score"] += points["total"]
            merged["auto_max_score"] += points["automatic"]
            hashes.append("missing")
            continue
        statuses.append(str(row["status"]))
        if row["status"] != "graded":
            messages.append(f"{member.file_name}: {row['message']}")
        for key in ("score", "max_score", "auto_score", "auto_max_score", "pending_manual", "extra_credit"):
            merged[key] += float(row.get(key) or 0.0)
        merged["parts"] += [
            {**p, "id": f"{member.name}/{p['id']}", "title": f"{member.name}: {p['title']}"}
            for p in row["parts"]
        ]
        merged["items"] += [{**i, "part": f"{member.name}/{i['part']}"} for i in row["items"]]
        merged["cells"] += row.get("cells") or []
        merged["limits_fired"] += row.get("limits_fired") or []
        merged["notes"] += [f"{member.file_name}: {n}" for n in row.get("notes") or []]
        merged["telemetry"][member.name] = row.get("telemetry") or {}
        hashes.append(str(row.get("content_hash")))
    if not statuses:
        merged["status"] = "invalid_notebook"
        submitted = ", ".join(extras) or "nothing"
        messages = [
            f"none of the set's notebooks ({', '.join(m.file_name for m in parts)}) was submitted; found: {submitted}"
        ]
    else:
        merged["status"] = min(statuses, key=STATUS_ORDER.index)
    if extras and statuses:
        merged["notes"].append(f"not part of the assignment, not graded: {', '.join(extras)}")
    said = f"{merged['score']:g} of {merged['max_score']:g} points"
    merged["message"] = "; ".join(messages if not statuses else [said, *messages])
    merged["content_hash"] = hashlib.sha256("|".join(hashes).encode()).hexdigest()
    merged.pop("error_detail", None)
    return merged


def _stored_hash(out_dir: Path, sid: str) -> str | None:
    try:
        return str(json.loads(result_path(out_dir, sid).read_text(encoding="utf-8")).get("content_hash"))
    except (OSError, ValueError):
        return None


def _missing_part(part: dict[str, Any], member: Member) -> dict[str, Any]:
    points = [i for i in member.assignment.items if i.get("part") == part["id"]]
    return {
        "id": f"{member.name}/{part['id']}",
        "title": f"{member.name}: {part.get('title') or part['id']}",
        "score": 0.0,
        "max_score": float(sum(i.get("points", 0) for i in points if not i.get("extra_credit"))),
        "pending_manual": 0.0,
        "extra_credit": False,
    }


def _missing_item(item: dict[str, Any], member: Member, message: str) -> dict[str, Any]:
    return {
        "id": item["id"],
        "part": f"{member.name}/{item.get('part', '')}",
        "title": str(item.get("title") or item["id"]),
        "kind": str(item["kind"]),
        "points": 0.0,
        "max_points": float(item.get("points", 0)),
        "status": "failed",
        "message": message,
        "extra_credit": bool(item.get("extra_credit")),
        "visibility": "visible",
        "evidence": {},
    }
