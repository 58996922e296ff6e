"""Read a submitted notebook safely: size cap, strict JSON, nbformat 4, outputs cleared.

Outputs a student saved must not count as figures the grader saw, and the notebook's own
kernelspec is never trusted: the engine always runs its own sandboxed kernel.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbformat import NotebookNode

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


class InvalidNotebook(Exception):
    """The file is not a notebook we can run; the message says why."""


def load_notebook(path: Path) -> NotebookNode:
    """Read and check a notebook: JSON, nbformat 4, at least one cell. Outputs are cleared
    (outputs the student saved must not count as figures the grader saw)."""
    return load_notebook_with_counts(path)[0]


def load_notebook_with_counts(path: Path) -> tuple[NotebookNode, list[int | None]]:
    """``load_notebook``, plus each cell's execution count as the student saved it (the ``[n]``
    Jupyter showed them beside the cell; None for markdown and never-run cells), which feedback
    uses to name cells the way the student sees them."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidNotebook(f"cannot read {path.name}: {exc.strerror}") from None
    if size > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"{path.name} is {size} bytes, over the {MAX_NOTEBOOK_BYTES}-byte limit")
    try:
        text = path.read_bytes().decode("utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidNotebook(f"{path.name} is not a JSON notebook ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise InvalidNotebook(f"{path.name} is JSON but not a Jupyter notebook")
    major = raw.get("nbformat")
    if major != 4:
        raise InvalidNotebook(
            f"{path.name} is nbformat {major}; only nbformat 4 notebooks (Jupyter 4 or later) are supported"
        )
    try:
        nb = nbformat.reads(text, as_version=4)  # joins multi-line sources, fills cell ids
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds; all mean "not a valid notebook"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidNotebook(f"{path.name} is not a valid nbformat 4 notebook: {first[:300]}") from None
    if not nb.cells:
        raise InvalidNotebook(f"{path.name} has no cells")
    saved: list[int | None] = []
    for cell in nb.cells:
        count = cell.get("execution_count") if cell.cell_type == "code" else None
        saved.append(count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb, saved
