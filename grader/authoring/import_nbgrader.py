"""`grader import nbgrader SOURCE`: an nbgrader source notebook (or folder of them) to assignment folders.

nbgrader keeps its roles in cell metadata (``metadata.nbgrader``: ``solution``, ``grade``, ``task``,
``grade_id``, ``points``). A solution code cell keeps its ``### BEGIN/END SOLUTION`` region (our
master reads the same markers; a cell without them becomes one solution block). An autograded test
cell (``grade`` without ``solution``) becomes one question with one test, worth the cell's points;
``### BEGIN/END HIDDEN TESTS`` regions make the test hidden. A manually graded markdown answer or a
task cell becomes a free-text item. nbgrader scores a test cell all or nothing, so a test made of
several calls of one function becomes a function item with step credit. What cannot be carried
over (manually graded code, unknown settings) is listed in ``notes``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

from grader.authoring.imported import ImportedAssignment, Question, TestCase, classify_test
from grader.notebook_parts import cell_source

SOLUTION_REGION = re.compile(r"^\s*#+\s*(BEGIN|END)\s+SOLUTION\b", re.MULTILINE)
HIDDEN_REGION = re.compile(r"^[ \t]*#+\s*(BEGIN|END)\s+HIDDEN TESTS\b.*\n?", re.MULTILINE)
HEADING = re.compile(r"^\s*#{1,6}\s+(.+?)\s*$")


def _roles(cell: Any) -> dict[str, Any]:
    meta = (cell.get("metadata") or {}).get("nbgrader") or {}
    return meta if isinstance(meta, dict) else {}


def _points(roles: dict[str, Any]) -> float:
    points = roles.get("points")
    return float(points) if isinstance(points, (int, float)) else 0.0


def _solution_code(text: str) -> str:
    """Our master's markers: nbgrader's regions as they are, a whole-cell solution as one block."""
    if SOLUTION_REGION.search(text):
        return text
    return f"# BEGIN SOLUTION\n{text.rstrip()}\n# END SOLUTION"


def _answer_text(text: str) -> str:
    lines = [line for line in text.splitlines() if not SOLUTION_REGION.match(line)]
    return "\n".join(lines).strip() or "(no solution given)"


def read_nbgrader_notebook(path: Path) -> ImportedAssignment:
    """One nbgrader source notebook as questions, tests and master cells in our format."""
    source = nbformat.read(str(path), as_version=4)
    imported = ImportedAssignment(name=re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "imported")
    heading = ""
    for cell in source.cells:
        text = cell_source(cell)
        roles = _roles(cell)
        kind = cell.get("cell_type")
        grade_id = str(roles.get("grade_id") or f"cell{len(imported.cells) + 1}")
        if kind == "markdown" and text.strip():
            first = HEADING.match(text.strip().splitlines()[0])
            heading = first[1] if first else heading
        if roles.get("task"):
            question = Question(name=grade_id, points=_points(roles), manual=True, heading=heading)
            imported.questions.append(question)
            imported.cells.append(nbformat.v4.new_markdown_cell(text))
            imported.cells.append(
                nbformat.v4.new_markdown_cell(f"**ANSWER {grade_id}**\n\n(no solution given)")
            )
            question.answered = True
            imported.notes.append(
                f"{grade_id}: task cell; students answer it in the ANSWER cell added after it"
            )
            continue
        if roles.get("grade") and not roles.get("solution") and kind == "code":
            hidden = bool(HIDDEN_REGION.search(text))
            question = Question(name=grade_id, points=_points(roles), heading=heading)
            question.tests.append(
                TestCase(name=grade_id, code=HIDDEN_REGION.sub("", text).strip("\n"), hidden=hidden)
            )
            imported.questions.append(question)
            if hidden:
                imported.notes.append(
                    f"{grade_id}: has hidden tests; the whole test cell is hidden from students"
                )
            continue
        if roles.get("grade") and roles.get("solution"):
            question = Question(name=grade_id, points=_points(roles), manual=True, heading=heading)
            imported.questions.append(question)
            question.answered = True
            if kind == "markdown":
                imported.cells.append(
                    nbformat.v4.new_markdown_cell(f"**ANSWER {grade_id}**\n\n{_answer_text(text)}")
                )
            else:
                imported.cells.append(nbformat.v4.new_code_cell(_solution_code(text)))
                imported.cells.append(
                    nbformat.v4.new_markdown_cell(
                        f"**ANSWER {grade_id}**\n\n(the code above is graded by hand)"
                    )
                )
                imported.notes.append(
                    f"{grade_id}: manually graded code; a person grades it from an ANSWER cell added after it"
                )
            continue
        if roles.get("solution") and kind == "code":
            imported.cells.append(nbformat.v4.new_code_cell(_solution_code(text)))
        elif roles.get("solution") and kind == "markdown":
            imported.cells.append(nbformat.v4.new_markdown_cell(_answer_text(text)))
            imported.notes.append(f"{grade_id}: ungraded markdown solution cell kept as text")
        elif kind == "code":
            imported.cells.append(nbformat.v4.new_code_cell(text))
        elif kind == "markdown":
            imported.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            imported.cells.append(nbformat.v4.new_raw_cell(text))
    for question in imported.questions:
        for test in question.tests:
            classify_test(test)
    return imported


def nbgrader_sources(source: Path) -> list[Path]:
    """The notebooks to import: SOURCE itself, or the notebooks of a source folder (checkpoints skipped)."""
    if source.is_file():
        return [source]
    found = sorted(p for p in source.glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not found:
        raise ValueError(f"{source} holds no .ipynb notebook; give an nbgrader source notebook or its folder")
    return found
