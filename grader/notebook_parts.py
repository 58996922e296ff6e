"""Map a notebook's cells to rubric parts and read its free-text answers, without a kernel.

A part opens at a markdown heading whose text starts with the part's ``heading`` and lasts until
the next part's heading; cells before the first part belong to no part (the preamble: imports,
data loading). Free-text answers are markdown cells whose first line is ``**ANSWER <id>**``.
All of this reads the notebook file itself, so it works even when the kernel never started.
"""

from __future__ import annotations

import re
from typing import Any

from grader.records import HarvestedValue

PLACEHOLDER = "_Write your answer here._"
FREE_TEXT_MAX_CHARS = 20_000

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_ANSWER = re.compile(r"^\s*\*\*\s*ANSWER\s+([A-Za-z0-9_.-]+)\s*\*\*\s*(.*)$")
_DECORATION = re.compile(r"[*_`]")


def cell_source(cell: Any) -> str:
    """A cell's source as one string (nbformat allows a list of lines on disk)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _headings(text: str) -> list[str]:
    """The text of each markdown heading line, with emphasis marks removed."""
    found = []
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match:
            found.append(_DECORATION.sub("", match.group(1)).strip())
    return found


def assign_parts(cells: list[Any], parts: list[dict[str, Any]]) -> list[str | None]:
    """The part id of every cell (None before the first part heading).

    Parts are matched in any order, so a notebook that moved a section still maps correctly;
    a heading matching several parts opens the one with the longest (most specific) prefix.
    """
    prefixes = sorted(
        ((str(p["heading"]).strip(), str(p["id"])) for p in parts if p.get("heading")),
        key=lambda item: -len(item[0]),
    )
    current: str | None = None
    result: list[str | None] = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for heading in _headings(cell_source(cell)):
                lowered = heading.lower()
                for prefix, part_id in prefixes:
                    if lowered.startswith(prefix.lower()):
                        current = part_id
                        break
        result.append(current)
    return result


def free_text_answers(cells: list[Any], wanted: list[dict[str, Any]]) -> dict[str, HarvestedValue]:
    """``{id: {"status": "ok"|"none"|"missing", "value"?, "cell"?, "message"?}}`` per wanted answer.

    ``none`` means the cell exists but holds only the template placeholder (or nothing);
    ``missing`` means no ``**ANSWER <id>**`` cell exists. When a notebook has several cells for
    one id, the first answered one counts and the message says so.
    """
    found: dict[str, list[tuple[int, str]]] = {}
    for index, cell in enumerate(cells):
        nbgrader_id, body = _nbgrader_answer(cell)
        if nbgrader_id:
            found.setdefault(nbgrader_id, []).append((index, body))
            continue
        if cell.get("cell_type") != "markdown":
            continue
        lines = cell_source(cell).strip().splitlines()
        if not lines:
            continue
        match = _ANSWER.match(lines[0])
        if not match:
            continue
        body = "\n".join([match.group(2), *lines[1:]]).strip()
        found.setdefault(match.group(1), []).append((index, body))

    result: dict[str, HarvestedValue] = {}
    for entry in wanted:
        answer_id = str(entry["id"])
        candidates = found.get(answer_id, [])
        if not candidates:
            result[answer_id] = {"status": "missing", "message": f"no '**ANSWER {answer_id}**' cell"}
            continue
        answered = [(i, b) for i, b in candidates if _is_answered(b)]
        if not answered:
            result[answer_id] = {
                "status": "none",
                "cell": candidates[0][0],
                "message": "still the template placeholder (unanswered)",
            }
            continue
        index, body = answered[0]
        doc: HarvestedValue = {"status": "ok", "value": body[:FREE_TEXT_MAX_CHARS], "cell": index}
        notes = []
        if len(body) > FREE_TEXT_MAX_CHARS:
            notes.append(f"truncated to {FREE_TEXT_MAX_CHARS} characters")
        if len(answered) > 1:
            notes.append(f"{len(answered)} answer cells for this id; the first (cell {index}) counts")
        if notes:
            doc["message"] = "; ".join(notes)
        result[answer_id] = doc
    return result


# what nbgrader leaves in its answer cells for students to replace
NBGRADER_PLACEHOLDERS = ("YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()")
NBGRADER_TASK = "(an nbgrader task: grade it from the whole notebook)"


def _nbgrader_answer(cell: Any) -> tuple[str, str]:
    """(grade_id, text) of a hand-graded cell of an nbgrader-format notebook, else ("", "").

    Submissions to an assignment imported from nbgrader keep nbgrader's cells: the student
    answers in the cell nbgrader marked (``metadata.nbgrader`` with ``solution`` and ``grade``),
    and a task cell is graded from the whole notebook."""
    roles = (cell.get("metadata") or {}).get("nbgrader") or {}
    if not isinstance(roles, dict) or not roles.get("grade_id"):
        return "", ""
    if roles.get("task"):
        return str(roles["grade_id"]), NBGRADER_TASK
    if roles.get("solution") and roles.get("grade"):
        return str(roles["grade_id"]), cell_source(cell).strip()
    return "", ""


def _is_answered(body: str) -> bool:
    remaining = body.replace(PLACEHOLDER, "")
    for placeholder in NBGRADER_PLACEHOLDERS:
        remaining = remaining.replace(placeholder, "")
    return bool(remaining.strip())


def count_figures(cell: Any) -> int:
    """How many image outputs (PNG, SVG or JPEG) a code cell produced."""
    count = 0
    for output in cell.get("outputs", []) or []:
        data = output.get("data") or {}
        if any(kind in data for kind in ("image/png", "image/svg+xml", "image/jpeg")):
            count += 1
    return count


def figures_by_part(cells: list[Any], part_of: list[str | None]) -> dict[str, int]:
    """Figures per part id (the preamble is ``"preamble"``), counted from executed outputs."""
    totals: dict[str, int] = {}
    for cell, part in zip(cells, part_of, strict=True):
        if cell.get("cell_type") != "code":
            continue
        n = count_figures(cell)
        if n:
            key = part or "preamble"
            totals[key] = totals.get(key, 0) + n
    return totals
