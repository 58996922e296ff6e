"""Find each free-text answer where a student put it, without a kernel.

Students answer below a ``**ANSWER <id>**`` markdown cell in more than one way: in that cell
after its first line, or in new markdown cells they add under it (often leaving the template's
placeholder in place). So an answer is the ANSWER cell's text after its first line *plus* the
markdown cells that follow it, up to the next heading cell (a markdown cell whose first line is a
``#`` heading), the next code cell, the next answer cell, or the next cell the template itself
wrote. The template's placeholder text is then removed: the template's own ANSWER cells (when
the template notebook is at hand), a rubric entry's ``placeholder``, and the placeholders every
template uses (``_Write your answer here._``, nbgrader's ``YOUR ANSWER HERE``). What is left is
the answer; nothing left means "not answered", which the scorer still queues for a person.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import nbformat

from grader.notebook_parts import PLACEHOLDER, cell_source
from grader.records import HarvestedValue

if TYPE_CHECKING:
    from grader.assignment import Assignment

FREE_TEXT_MAX_CHARS = 20_000
# what nbgrader leaves in its answer cells for students to replace
NBGRADER_PLACEHOLDERS = ("YOUR ANSWER HERE", "# YOUR CODE HERE\nraise NotImplementedError()")
NBGRADER_TASK = "(an nbgrader task: grade it from the whole notebook)"
KNOWN_PLACEHOLDERS = (PLACEHOLDER, *NBGRADER_PLACEHOLDERS)

_ANSWER = re.compile(r"^\s*\*\*\s*ANSWER\s+([A-Za-z0-9_.-]+)\s*\*\*\s*(.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s|$)")


@dataclass(frozen=True)
class TemplateText:
    """What the template notebook writes around its answers: the text of each id's answer block
    (removed from a student's answer as placeholder) and every markdown cell it has (a cell the
    student kept from the template ends an answer: it is the template's next instruction)."""

    placeholders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cells: frozenset[str] = frozenset()


@dataclass
class _Block:
    """One answer cell and the text found in it and below it: (cell index, text) pieces."""

    answer_id: str
    cell: int
    pieces: list[tuple[int, str]]


def _is_heading(text: str) -> bool:
    lines = text.strip().splitlines()
    return bool(lines) and bool(_HEADING.match(lines[0]))


def _nbgrader_roles(cell: Any) -> dict[str, Any]:
    roles = (cell.get("metadata") or {}).get("nbgrader") or {}
    return roles if isinstance(roles, dict) else {}


def _answer_head(cell: Any) -> tuple[str, str, bool] | None:
    """(id, text in the cell, whether cells below may continue it) for an answer cell, else None.

    Submissions to an assignment imported from nbgrader keep nbgrader's cells: the student answers
    in the cell nbgrader marked (``metadata.nbgrader`` with ``solution`` and ``grade``), and a task
    cell is graded from the whole notebook."""
    roles = _nbgrader_roles(cell)
    if roles.get("grade_id"):
        if roles.get("task"):
            return str(roles["grade_id"]), NBGRADER_TASK, False
        if roles.get("solution") and roles.get("grade"):
            return str(roles["grade_id"]), cell_source(cell).strip(), cell.get("cell_type") == "markdown"
        return None
    if cell.get("cell_type") != "markdown":
        return None
    lines = cell_source(cell).strip().splitlines()
    match = _ANSWER.match(lines[0]) if lines else None
    if not match:
        return None
    return match.group(1), "\n".join([match.group(2), *lines[1:]]).strip(), True


def _blocks(cells: list[Any], stop_at: frozenset[str] = frozenset()) -> list[_Block]:
    """Every answer cell with the markdown cells that continue it, in notebook order."""
    blocks: list[_Block] = []
    for index, cell in enumerate(cells):
        head = _answer_head(cell)
        if head is None:
            continue
        answer_id, text, continues = head
        block = _Block(answer_id, index, [(index, text)])
        for below in range(index + 1, len(cells)) if continues else ():
            nxt = cells[below]
            if nxt.get("cell_type") != "markdown" or _nbgrader_roles(nxt) or _answer_head(nxt):
                break
            body = cell_source(nxt).strip()
            if _is_heading(body) or (body and body in stop_at):
                break
            block.pieces.append((below, body))
        blocks.append(block)
    return blocks


def template_text(cells: list[Any]) -> TemplateText:
    """The placeholders and markdown cells of a template notebook's cells.

    An id's placeholders are its ANSWER cell's text and the cells below it that hold only a known
    placeholder; any other template cell below it (an instruction) ends the answer instead."""
    markdown = frozenset(
        cell_source(c).strip() for c in cells if c.get("cell_type") == "markdown" and cell_source(c).strip()
    )
    pure = frozenset(text for text in markdown if not strip_placeholders(text, KNOWN_PLACEHOLDERS))
    placeholders: dict[str, list[str]] = {}
    for block in _blocks(cells, markdown - pure):
        found = placeholders.setdefault(block.answer_id, [])
        found.extend(text for _, text in block.pieces if text and text != NBGRADER_TASK)
    return TemplateText({k: tuple(v) for k, v in placeholders.items()}, markdown)


def assignment_template_text(assignment: Assignment) -> TemplateText:
    """``template_text`` over the assignment's template notebooks; those not on disk are skipped
    (the known placeholders still apply)."""
    placeholders: dict[str, tuple[str, ...]] = {}
    markdown: set[str] = set()
    for path in assignment.notebook_templates():
        try:
            stat = path.stat()
        except OSError:
            continue
        found = _notebook_template_text(str(path), stat.st_mtime_ns, stat.st_size)
        for key, texts in found.placeholders.items():
            placeholders[key] = placeholders.get(key, ()) + texts
        markdown |= found.cells
    return TemplateText(placeholders, frozenset(markdown))


@functools.lru_cache(maxsize=16)
def _notebook_template_text(path: str, mtime_ns: int, size: int) -> TemplateText:
    """One template file's text, read once per version of the file (a batch grades many runs)."""
    try:
        return template_text(list(nbformat.read(path, as_version=4).cells))
    except (OSError, ValueError):
        return TemplateText()


def strip_placeholders(text: str, placeholders: Iterable[str]) -> str:
    """``text`` without any placeholder: whole placeholder texts, then lines equal to a
    placeholder's line (a student who deleted half of a two-line placeholder)."""
    known = sorted({p.strip() for p in placeholders if p.strip()}, key=len, reverse=True)
    for placeholder in known:
        text = text.replace(placeholder, "")
    lines = {line.strip() for p in known for line in p.splitlines() if line.strip()}
    kept = [line for line in text.splitlines() if line.strip() not in lines]
    return "\n".join(kept).strip()


def _answer(block: _Block, placeholders: Iterable[str]) -> tuple[str, list[int]]:
    """The answer text of one block (pieces joined by a blank line) and the cells it came from."""
    wanted = tuple(placeholders)
    kept = [(i, strip_placeholders(text, wanted)) for i, text in block.pieces]
    kept = [(i, text) for i, text in kept if text]
    return "\n\n".join(text for _, text in kept), [i for i, _ in kept]


def _where(block: _Block, cells: list[int]) -> str:
    below = [i for i in cells if i != block.cell]
    if not below:
        return ""
    inside = "the ANSWER cell and " if block.cell in cells else ""
    count = f"{len(below)} markdown cell{'s' * (len(below) != 1)}"
    return f"read from {inside}{count} below the ANSWER cell (cell {', '.join(map(str, below))})"


def free_text_answers(
    cells: list[Any], wanted: list[dict[str, Any]], template: TemplateText | None = None
) -> dict[str, HarvestedValue]:
    """``{id: {"status": "ok"|"none"|"missing", "value"?, "cell"?, "cells"?, "message"?}}``.

    ``none`` means the answer cell exists but nothing beyond placeholder text is in it or below
    it; ``missing`` means no answer cell exists. ``cell`` is the ANSWER cell, ``cells`` the cells
    the text came from. When a notebook has several answer cells for one id, the first answered
    one counts and the message says so.
    """
    template = template or TemplateText()
    stop_at = frozenset(template.cells - {t for texts in template.placeholders.values() for t in texts})
    found: dict[str, list[_Block]] = {}
    for block in _blocks(cells, stop_at):
        found.setdefault(block.answer_id, []).append(block)

    result: dict[str, HarvestedValue] = {}
    for entry in wanted:
        answer_id = str(entry["id"])
        candidates = found.get(answer_id, [])
        if not candidates:
            result[answer_id] = {"status": "missing", "message": f"no '**ANSWER {answer_id}**' cell"}
            continue
        own = [*KNOWN_PLACEHOLDERS, *template.placeholders.get(answer_id, ())]
        if entry.get("placeholder"):
            own.append(str(entry["placeholder"]))
        answered = [(b, *_answer(b, own)) for b in candidates]
        answered = [(b, text, used) for b, text, used in answered if text]
        if not answered:
            result[answer_id] = {
                "status": "none",
                "cell": candidates[0].cell,
                "message": "nothing but the template's placeholder, in the ANSWER cell or below it",
            }
            continue
        block, body, used = answered[0]
        doc: HarvestedValue = {
            "status": "ok",
            "value": body[:FREE_TEXT_MAX_CHARS],
            "cell": block.cell,
            "cells": used,
        }
        notes = [note for note in (_where(block, used),) if note]
        if len(body) > FREE_TEXT_MAX_CHARS:
            notes.append(f"truncated to {FREE_TEXT_MAX_CHARS} characters")
        if len(answered) > 1:
            notes.append(f"{len(answered)} answer cells for this id; the first (cell {block.cell}) counts")
        if notes:
            doc["message"] = "; ".join(notes)
        result[answer_id] = doc
    return result
