"""Name a notebook cell the way its author sees it in Jupyter.

A cell is named by its position among the code cells (1-based: what a student counts), the
execution count it had when the notebook was saved (``[5]``, shown beside it in Jupyter) where
it had one, and its first line. Never by the grader's 0-based index over all cells, nor by the
grader's own execution count (the ``In [n]`` of its run), which the student never sees.
Used by the engine (cell records, traceback headers) and by every report and export.
"""

from __future__ import annotations

import hashlib
from typing import Any

FIRST_LINE_CHARS = 80


def first_line(source: str) -> str:
    """The first non-blank line of a cell's source, shortened to FIRST_LINE_CHARS."""
    for line in source.splitlines():
        text = line.strip()
        if text:
            return text if len(text) <= FIRST_LINE_CHARS else text[: FIRST_LINE_CHARS - 1] + "…"
    return ""


def source_sha256(source: str) -> str:
    """A cell's identity by content (trailing blanks ignored): is it the template's cell?"""
    text = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cell_label(cell: Any) -> str:
    """``code cell 3 [5]: import seaborn as sns`` from a cell record (any of the fields may be
    missing in an older record: it then falls back to what there is)."""
    if not isinstance(cell, dict):
        return "a cell"
    position = cell.get("code_cell")
    count = cell.get("execution_count")
    line = cell.get("first_line")
    if isinstance(position, int) and not isinstance(position, bool):
        text = f"code cell {position}"
    elif isinstance(cell.get("index"), int):
        text = f"cell {cell['index'] + 1}"
    else:
        text = "a cell"
    if isinstance(count, int) and not isinstance(count, bool):
        text += f" [{count}]"
    if isinstance(line, str) and line:
        text += f": {line}"
    return text
