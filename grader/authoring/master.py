"""Split a master notebook into the student template and the reference solution.

The master is the reference with solution markers (docs/AUTHORING.md has the full format). The
conventions follow the ones instructors know from otter-grader's and nbgrader's master notebooks,
re-implemented here:

* code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` (any number of ``#``) is the
  reference's; the template gets a ``# TODO`` stub instead, or, when the cell has a
  ``# BEGIN TEMPLATE`` ... ``# END TEMPLATE`` block, that block's lines with their leading ``# ``
  removed (so the master still runs, and the template's text is exactly what the author wrote);
* a line ending in ``# SOLUTION`` (optionally ``# SOLUTION: a comment for students``) keeps its
  target and loses its value: ``depths = [1, 2]  # SOLUTION: list[int]`` becomes
  ``depths = None  # list[int]``; any other such line becomes ``...  # TODO``;
* a ``**ANSWER id**`` markdown cell keeps its first line and gets the placeholder students replace;
* a cell whose first line is ``# REFERENCE ONLY`` (markdown: ``<!-- REFERENCE ONLY -->``) or that
  is tagged ``reference-only`` is dropped from the template; ``# TEMPLATE ONLY`` / ``template-only``
  from the reference;
* a raw cell whose first line is ``# grader config`` holds YAML settings (``rubric:``) and is
  dropped from both.

Everything else (the seed line, ``ASSIGNMENT_DATA``, helpers, prose) is copied unchanged, with
outputs and execution counts cleared. Both results are pure functions of the master's bytes, so
``grader assign --check`` can tell when a committed template or reference has drifted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from grader.notebook_parts import PLACEHOLDER, cell_source

BEGIN_SOLUTION = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\b.*$")
END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION\b.*$")
BEGIN_TEMPLATE = re.compile(r"^(\s*)#+\s*BEGIN TEMPLATE\b.*$")
END_TEMPLATE = re.compile(r"^\s*#+\s*END TEMPLATE\b.*$")
LINE_SOLUTION = re.compile(r"^(?P<code>.*?)\s*#\s*SOLUTION\b(?::\s*(?P<comment>.*))?\s*$")
ASSIGNMENT = re.compile(
    r"^(?P<indent>\s*)(?P<target>[A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*(?::[^=]+)?=(?!=)"
)
MD_BEGIN_SOLUTION = re.compile(r"^\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
MD_END_SOLUTION = re.compile(r"^\s*<!--\s*END SOLUTION\s*-->\s*$")
ANSWER_HEAD = re.compile(r"^\s*\*\*\s*ANSWER\s+([A-Za-z0-9_.-]+)\s*\*\*")
REFERENCE_ONLY = ("# REFERENCE ONLY", "<!-- REFERENCE ONLY -->")
TEMPLATE_ONLY = ("# TEMPLATE ONLY", "<!-- TEMPLATE ONLY -->")
CONFIG_HEAD = "# grader config"
OUR_TAGS = {"reference-only", "template-only"}
TODO_STUB = "# TODO: your code here"


class MasterError(ValueError):
    """A master notebook's markers do not pair up; the message names the cell and line."""


@dataclass
class Split:
    """What ``split_master`` derives from one master notebook."""

    template: nbformat.NotebookNode
    reference: nbformat.NotebookNode
    config: dict[str, Any] = field(default_factory=dict)
    solution_targets: list[str] = field(default_factory=list)  # names assigned on `# SOLUTION` lines
    free_text: list[str] = field(default_factory=list)  # ANSWER ids, in order


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else ""


def _without_first_line(text: str) -> str:
    lines = text.strip("\n").splitlines()
    return "\n".join(lines[1:]).strip("\n")


def _uncomment(line: str, indent: str) -> str:
    """A template block's line: its ``# `` (after the block's indentation) removed."""
    body = line[len(indent) :] if line.startswith(indent) else line.lstrip()
    if body.startswith("# "):
        return indent + body[2:]
    if body.rstrip() == "#" or not body.strip():
        return ""
    raise MasterError(f"a line inside BEGIN/END TEMPLATE must start with '# ': {line.strip()!r}")


def _stub_line(code: str, comment: str | None) -> tuple[str, list[str]]:
    """The template's version of a ``# SOLUTION`` line, and the names it assigns."""
    match = ASSIGNMENT.match(code)
    if match:
        names = [n.strip() for n in match["target"].split(",")]
        value = ", ".join("None" for _ in names)
        return f"{match['indent']}{match['target']} = {value}  # {comment or 'TODO'}", names
    keyword = re.match(r"^(\s*)(return|yield)\b", code)
    if keyword:
        return f"{keyword[1]}{keyword[2]} ...  # {comment or 'TODO'}", []
    indent = re.match(r"^\s*", code)
    return f"{indent[0] if indent else ''}...  # {comment or 'TODO'}", []


def split_code(source: str, where: str = "cell") -> tuple[str, str, list[str]]:
    """(template text, reference text, names assigned on ``# SOLUTION`` lines) of a code cell."""
    lines = source.splitlines()
    template: list[str] = []
    reference: list[str] = []
    targets: list[str] = []
    has_template_block = any(BEGIN_TEMPLATE.match(line) for line in lines)
    state, block_indent = "common", ""
    for number, line in enumerate(lines, start=1):
        if state == "solution":
            if END_SOLUTION.match(line):
                state = "common"
            elif BEGIN_SOLUTION.match(line) or BEGIN_TEMPLATE.match(line):
                raise MasterError(f"{where}, line {number}: a block opens inside a SOLUTION block")
            else:
                reference.append(line)
            continue
        if state == "template":
            if END_TEMPLATE.match(line):
                state = "common"
            elif BEGIN_SOLUTION.match(line) or BEGIN_TEMPLATE.match(line):
                raise MasterError(f"{where}, line {number}: a block opens inside a TEMPLATE block")
            else:
                template.append(_uncomment(line, block_indent))
            continue
        opening = BEGIN_SOLUTION.match(line)
        if opening:
            state, block_indent = "solution", opening[1]
            if not has_template_block:
                template.append(block_indent + ("...  " if block_indent else "") + TODO_STUB)
            continue
        opening = BEGIN_TEMPLATE.match(line)
        if opening:
            state, block_indent = "template", opening[1]
            continue
        if END_SOLUTION.match(line) or END_TEMPLATE.match(line):
            raise MasterError(f"{where}, line {number}: {line.strip()!r} closes a block that is not open")
        marked = LINE_SOLUTION.match(line)
        if marked and marked["code"].strip():
            stub, names = _stub_line(marked["code"], (marked["comment"] or "").strip() or None)
            template.append(stub)
            reference.append(marked["code"].rstrip())
            targets += names
            continue
        template.append(line)
        reference.append(line)
    if state != "common":
        raise MasterError(f"{where}: a BEGIN {state.upper()} block is never closed")
    return "\n".join(template).strip("\n"), "\n".join(reference).strip("\n"), targets


def split_markdown(source: str, placeholder: str = PLACEHOLDER) -> tuple[str, str]:
    """(template, reference) of a markdown cell: ANSWER cells get the placeholder, solution
    comments' blocks are the reference's alone."""
    lines = source.strip("\n").splitlines()
    if lines and ANSWER_HEAD.match(lines[0]):
        head = lines[0].rstrip()
        return f"{head}\n\n{placeholder}", source.strip("\n")
    template: list[str] = []
    reference: list[str] = []
    inside = False
    for line in lines:
        if MD_BEGIN_SOLUTION.match(line):
            inside = True
            continue
        if MD_END_SOLUTION.match(line):
            inside = False
            continue
        reference.append(line)
        if not inside:
            template.append(line)
    return "\n".join(template).strip("\n"), "\n".join(reference).strip("\n")


def _tags(cell: Any) -> set[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return {str(t) for t in tags}


def _clean_metadata(cell: Any) -> dict[str, Any]:
    metadata = {k: v for k, v in dict(cell.get("metadata") or {}).items()}
    tags = [t for t in metadata.get("tags") or [] if t not in OUR_TAGS]
    if tags:
        metadata["tags"] = tags
    else:
        metadata.pop("tags", None)
    return metadata


def _make(kind: str, text: str, cell: Any) -> nbformat.NotebookNode:
    maker = {
        "code": nbformat.v4.new_code_cell,
        "markdown": nbformat.v4.new_markdown_cell,
        "raw": nbformat.v4.new_raw_cell,
    }[kind]
    made = maker(text, id=cell.get("id")) if cell.get("id") else maker(text)
    metadata = _clean_metadata(cell)
    if metadata:
        made["metadata"] = metadata
    return made


def read_config(cell: Any) -> dict[str, Any] | None:
    """The settings of a ``# grader config`` raw cell, or None for any other cell."""
    if cell.get("cell_type") != "raw":
        return None
    text = cell_source(cell)
    if _first_line(text).lower() != CONFIG_HEAD:
        return None
    from grader.assignment import load_yaml  # lazy: yaml only when a config cell exists

    settings = load_yaml(_without_first_line(text)) or {}
    if not isinstance(settings, dict):
        raise MasterError("the '# grader config' cell must hold a YAML mapping")
    return settings


def split_master(master: nbformat.NotebookNode, placeholders: dict[str, str] | None = None) -> Split:
    """The template and the reference of a master notebook (both validated nbformat 4)."""
    placeholders = placeholders or {}
    template_cells: list[Any] = []
    reference_cells: list[Any] = []
    split = Split(template=nbformat.v4.new_notebook(), reference=nbformat.v4.new_notebook())
    for index, cell in enumerate(master.cells):
        config = read_config(cell)
        if config is not None:
            split.config.update(config)
            continue
        kind = cell.get("cell_type")
        text = cell_source(cell)
        first, tags = _first_line(text), _tags(cell)
        in_template = first not in REFERENCE_ONLY and "reference-only" not in tags
        in_reference = first not in TEMPLATE_ONLY and "template-only" not in tags
        if first in REFERENCE_ONLY + TEMPLATE_ONLY:
            text = _without_first_line(text)
        where = f"cell {index} ({cell.get('id', 'no id')})"
        if kind == "code":
            template_text, reference_text, targets = split_code(text, where)
            split.solution_targets += [t for t in targets if t not in split.solution_targets]
        elif kind == "markdown":
            match = ANSWER_HEAD.match(text.strip())
            if match:
                split.free_text.append(match[1])
            placeholder = placeholders.get(match[1], PLACEHOLDER) if match else PLACEHOLDER
            template_text, reference_text = split_markdown(text, placeholder)
        else:
            template_text = reference_text = text.strip("\n")
        if in_template:
            template_cells.append(_make(str(kind), template_text, cell))
        if in_reference:
            reference_cells.append(_make(str(kind), reference_text, cell))
    metadata = {k: v for k, v in dict(master.metadata).items() if k != "ml_autograder"}
    for notebook, cells in ((split.template, template_cells), (split.reference, reference_cells)):
        notebook.cells = cells
        notebook.metadata = nbformat.from_dict(metadata)
        nbformat.validate(notebook)
    return split


def serialise(notebook: nbformat.NotebookNode) -> str:
    """The bytes written for a derived notebook (nbformat's JSON and a final newline)."""
    return nbformat.writes(notebook) + "\n"


def read_master(path: Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as exc:  # nbformat raises several types for a file that is not a notebook
        raise MasterError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from exc
