"""A student's self-check: the same grading as on submission, on public data only.

Hidden-data items are reported as "graded on submission"; ``parts`` narrows execution to the
set-up cells plus the chosen parts, so a student working on Part 1 gets an answer in seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from grader.assignment import RUBRICS_DIR, Assignment, AssignmentError, load_assignment, rubric_in_folder
from grader.notebook_parts import assign_parts


def assignment_for_notebook(notebook: Path) -> Assignment:
    """The assignment a notebook belongs to when none is named: a rubric in the notebook's own
    folder (or its parent: an assignment folder's ``student/``), else the one rubric in this
    repository whose template has the notebook's file name."""
    for folder in (notebook.parent, notebook.parent.parent):
        try:
            return load_assignment(rubric_in_folder(folder))
        except AssignmentError:
            continue
    matches = []
    for rubric in sorted(RUBRICS_DIR.glob("*.yaml")):
        try:
            candidate = load_assignment(rubric)
        except AssignmentError:
            continue
        names = {p.name.lower() for p in candidate.notebook_templates()}
        if notebook.name.lower() in names:
            matches.append(candidate)
    if len(matches) == 1:
        return matches[0]
    raise AssignmentError(
        f"which assignment is {notebook.name} for? pass --assignment FOLDER_OR_RUBRIC "
        "(the assignment's folder, its rubric file, or its name)"
    )


def restrict_to_parts(notebook: Path, assignment: Assignment, parts: list[str], out: Path) -> Path:
    """Write a copy of ``notebook`` keeping the set-up cells (before the first part) and ``parts``."""
    known = {str(p["id"]) for p in assignment.parts}
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise ValueError(
            f"unknown part(s) {', '.join(unknown)}; this assignment has {', '.join(sorted(known))}"
        )
    nb = nbformat.read(str(notebook), as_version=4)
    part_of = assign_parts(nb.cells, assignment.parts)
    nb.cells = [cell for cell, part in zip(nb.cells, part_of, strict=True) if part is None or part in parts]
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))
    return out


_MARK = {"passed": "PASS", "partial": "PART", "failed": "FAIL", "pending": "TODO", "error": "ERR "}


def summarise(document: dict[str, Any], parts: list[str] | None = None) -> tuple[str, bool]:
    """A terminal summary of a result document, and whether any automatically graded item failed.

    Pending items (free text for a person, hidden-data items graded on submission) are listed but
    never count as failures.
    """
    lines = [
        f"{document.get('student', '?')}: {document.get('status')} "
        f"- {document.get('auto_score', 0):g} of {document.get('auto_max_score', 0):g} automatic points "
        f"on public data"
    ]
    if document.get("message"):
        lines.append(f"  {document['message']}")
    failed = document.get("status") not in ("graded", None)
    for item in document.get("items", []):
        if parts and item.get("part") not in parts:
            continue
        status = item.get("status", "error")
        mark = _MARK.get(status, status.upper()[:4])
        lines.append(
            f"  [{mark}] {item.get('id')}: {item.get('points', 0):g}/{item.get('max_points', 0):g}"
            f" - {item.get('message', '')}"
        )
        if status in ("failed", "partial", "error"):
            failed = True
    for cell in document.get("cells", []):
        if cell.get("status") not in ("ok", "skipped", None):
            error = cell.get("error") or {}
            lines.append(
                f"  cell {cell.get('index')}: {cell.get('status')}"
                + (f" ({error.get('ename')}: {error.get('evalue')})" if error else "")
            )
    return "\n".join(lines), failed
