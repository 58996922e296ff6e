"""`grader import otter MASTER.ipynb`: an otter-grader master notebook to an assignment folder.

Reads otter's assign format (raw cells that open and close questions and their tests, a config
raw cell, ``# SOLUTION`` markers in code, prompt blocks, test-config blocks inside test cells) and
writes ``rubric.yaml``, ``master.ipynb`` (our markers), ``tests/*.py`` and an empty static data
folder. Each test cell becomes, in order of preference: a function item (``f(literals)`` compared
with a literal, or whose recorded output is the expected value), an answer check
(``name == literal``), or an in-kernel test item (anything else; its recorded output, when there
is one, is what the last expression must print). Manually graded questions become free-text
items. Points and question names carry over; hidden tests stay hidden. What cannot be carried
over is listed in ``notes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from grader.authoring.imported import ImportedAssignment, Question, TestCase, classify_test
from grader.notebook_parts import cell_source

RAW_MARK = re.compile(r"^\s*#\s*(BEGIN|END)\s+(QUESTION|TESTS|SOLUTION|PROMPT)\b\s*$", re.IGNORECASE)
CONFIG_HEAD = re.compile(r"^\s*#\s*ASSIGNMENT CONFIG\s*$", re.IGNORECASE)
PROMPT_OPEN = re.compile(r'^(\s*)(?:"""|\'\'\')\s*#\s*BEGIN PROMPT\s*$')
PROMPT_CLOSE = re.compile(r'^\s*(?:"""|\'\'\')\s*#\s*END PROMPT\s*$')
TEST_CONFIG = re.compile(
    r'^\s*(?:"""|\'\'\')\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)\n\s*(?:"""|\'\'\')\s*#\s*END TEST CONFIG\s*\n?',
    re.S,
)


@dataclass
class _State:
    question: Question | None = None
    in_tests: bool = False
    in_solution: bool = False
    in_prompt: bool = False
    cells: list[Any] = field(default_factory=list)


def _raw_mark(cell: Any) -> tuple[str, str, str] | None:
    """(BEGIN|END, QUESTION|TESTS|SOLUTION|PROMPT, the YAML after the first line) of a raw marker cell."""
    if cell.get("cell_type") != "raw":
        return None
    lines = cell_source(cell).strip().splitlines()
    match = RAW_MARK.match(lines[0]) if lines else None
    if not match:
        return None
    return match[1].upper(), match[2].upper(), "\n".join(lines[1:])


def prompt_to_template(source: str) -> str:
    """Otter's prompt blocks inside solution code become our TEMPLATE blocks."""
    out: list[str] = []
    indent: str | None = None
    for line in source.splitlines():
        opening = PROMPT_OPEN.match(line)
        if opening and indent is None:
            indent = opening[1]
            out.append(f"{indent}# BEGIN TEMPLATE")
            continue
        if indent is not None and PROMPT_CLOSE.match(line):
            out.append(f"{indent}# END TEMPLATE")
            indent = None
            continue
        if indent is not None:
            body = line[len(indent) :] if line.startswith(indent) else line.lstrip()
            out.append(f"{indent}# {body}" if body.strip() else f"{indent}#")
            continue
        out.append(line)
    return "\n".join(out)


def _recorded_output(cell: Any) -> str | None:
    for output in cell.get("outputs") or []:
        if output.get("output_type") == "execute_result":
            text = (output.get("data") or {}).get("text/plain")
            if text is not None:
                return "".join(text) if isinstance(text, list) else str(text)
    return None


def _test_case(cell: Any, question: Question, imported: ImportedAssignment) -> TestCase:
    source = cell_source(cell)
    config: dict[str, Any] = {}
    match = TEST_CONFIG.match(source)
    if match:
        loaded = yaml.safe_load(match[1]) or {}
        config = loaded if isinstance(loaded, dict) else {}
        source = source[match.end() :]
        for key in sorted(set(config) - {"hidden", "points"}):
            imported.notes.append(f"{question.name}: test setting {key!r} not carried over")
    index = len(question.tests) + 1
    return TestCase(
        name=f"{question.name}_{index}",
        code=source.strip("\n"),
        hidden=bool(config.get("hidden", False)),
        points=float(config["points"]) if isinstance(config.get("points"), (int, float)) else None,
        output=_recorded_output(cell),
    )


def _question(text: str, imported: ImportedAssignment) -> Question:
    settings = yaml.safe_load(text) or {}
    if not isinstance(settings, dict) or not settings.get("name"):
        raise ValueError("a BEGIN QUESTION cell needs at least `name:`")
    for key in sorted(set(settings) - {"name", "points", "manual"}):
        imported.notes.append(f"{settings['name']}: question setting {key!r} not carried over")
    points = settings.get("points")
    return Question(
        name=str(settings["name"]),
        points=float(points)
        if isinstance(points, (int, float))
        else (points if isinstance(points, list) else None),
        manual=bool(settings.get("manual", False)),
    )


def read_otter_master(path: Path) -> ImportedAssignment:
    """The otter master as questions, tests and master cells in our format."""
    master = nbformat.read(str(path), as_version=4)
    imported = ImportedAssignment(name=re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "imported")
    state = _State()
    for cell in master.cells:
        text = cell_source(cell)
        if cell.get("cell_type") == "raw" and CONFIG_HEAD.match(
            text.strip().splitlines()[0] if text.strip() else ""
        ):
            settings = yaml.safe_load("\n".join(text.strip().splitlines()[1:])) or {}
            if isinstance(settings, dict) and settings.get("name"):
                imported.name = re.sub(r"[^A-Za-z0-9_-]", "_", str(settings["name"]))
            ignored = sorted(set(settings) - {"name"}) if isinstance(settings, dict) else []
            if ignored:
                imported.notes.append(f"assignment settings not carried over: {', '.join(ignored)}")
            continue
        mark = _raw_mark(cell)
        if mark is not None:
            edge, what, body = mark
            if what == "QUESTION":
                if edge == "BEGIN":
                    state.question = _question(body, imported)
                    imported.questions.append(state.question)
                else:
                    state.question = None
            elif what == "TESTS":
                state.in_tests = edge == "BEGIN"
            elif what == "SOLUTION":
                state.in_solution = edge == "BEGIN"
            else:
                state.in_prompt = edge == "BEGIN"
            continue
        if state.in_prompt:
            continue  # our template gets its own stub or placeholder
        if state.in_tests and state.question is not None and cell.get("cell_type") == "code":
            state.question.tests.append(_test_case(cell, state.question, imported))
            continue
        if (
            state.question is not None
            and state.question.manual
            and cell.get("cell_type") == "markdown"
            and state.in_solution
        ):
            imported.cells.append(
                nbformat.v4.new_markdown_cell(f"**ANSWER {state.question.name}**\n\n{text.strip()}")
            )
            state.question.answered = True
            continue
        if cell.get("cell_type") == "code":
            imported.cells.append(nbformat.v4.new_code_cell(prompt_to_template(text)))
        elif cell.get("cell_type") == "markdown":
            if state.question is not None and not state.question.heading:
                heading = (
                    re.match(r"^\s*#{1,6}\s+(.+?)\s*$", text.strip().splitlines()[0])
                    if text.strip()
                    else None
                )
                if heading:
                    state.question.heading = heading[1]
            imported.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            imported.cells.append(nbformat.v4.new_raw_cell(text))
    for question in imported.questions:
        if question.manual and not question.answered:
            imported.cells.append(
                nbformat.v4.new_markdown_cell(f"**ANSWER {question.name}**\n\n(no solution given)")
            )
            imported.notes.append(
                f"{question.name}: manual question without a solution cell; an answer cell was added at the end"
            )
        for test in question.tests:
            classify_test(test)
    return imported
