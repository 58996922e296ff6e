"""Finish each cell record for people: the cell's name, a readable traceback, a diagnosis.

Runs once per notebook, after the cells and before the record's summary line is written:

* ``code_cell`` (1-based position among code cells), ``execution_count`` (the ``[n]`` the
  student saw when they saved, where there was one), ``first_line`` and ``source_sha256`` (is
  this the template's own cell?) name the cell the way its author sees it;
* tracebacks keep the student's frames only, with host paths and the grader's ``In [n]``
  replaced (``grader.engine.tracebacks``);
* a ``diagnosis`` says why a cell failed where the exception alone does not tell a student what
  to do (``grader.engine.diagnose``); an install cell is recorded as failed.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from pathlib import Path
from typing import TYPE_CHECKING

from nbformat import NotebookNode

from grader.cell_names import first_line, source_sha256
from grader.engine.diagnose import Diagnostician
from grader.engine.tracebacks import PathNames, trim
from grader.records import CellRecord

if TYPE_CHECKING:
    from grader.environment import KernelEnvironment


def diagnostician(
    environment: KernelEnvironment | None, assignment_name: str, data_dir: Path | None
) -> Diagnostician:
    """What the messages need: the kernel's modules and packages (the assignment's environment,
    else the grader's own), and the public data files' names."""
    if environment is not None:
        listed = (frozenset(environment.modules), dict(environment.packages))

        def inventory() -> tuple[frozenset[str], dict[str, str]]:
            return listed

        name = f"{assignment_name}'s grading environment"
    else:
        inventory, name = _own_inventory, "the grading environment"
    files: tuple[str, ...] = ()
    if data_dir is not None and data_dir.is_dir():
        files = tuple(sorted(entry.name for entry in os.scandir(data_dir) if not entry.name.startswith(".")))
    return Diagnostician(environment=name, inventory=inventory, data_files=files)


@functools.cache
def _own_inventory() -> tuple[frozenset[str], dict[str, str]]:
    """The grader's own interpreter's modules and packages (no environment declared), listed once
    per process and only when a message needs them."""
    modules = frozenset(m for m in importlib.metadata.packages_distributions() if m.isidentifier())
    packages = {
        d.metadata["Name"]: d.version for d in importlib.metadata.distributions() if d.metadata["Name"]
    }
    return modules, packages


def annotate_cells(
    cells: list[CellRecord],
    nb: NotebookNode,
    saved_counts: list[int | None],
    names: PathNames,
    doctor: Diagnostician,
) -> None:
    """Add names, readable tracebacks and diagnoses to ``cells`` in place."""
    position: dict[int, int] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            position[index] = len(position) + 1
    # the grader's execution counts (Cell In[n] in tracebacks) -> the cell's short name
    short: dict[int, str] = {}
    for index, cell in enumerate(nb.cells):
        count = cell.get("execution_count") if cell.cell_type == "code" else None
        if isinstance(count, int) and index in position:
            saved = saved_counts[index] if index < len(saved_counts) else None
            short[count] = f"code cell {position[index]}" + (f" [{saved}]" if saved is not None else "")
    for entry in cells:
        index = entry["index"]
        source = str(nb.cells[index].source) if 0 <= index < len(nb.cells) else ""
        entry["code_cell"] = position.get(index, 0)
        saved = saved_counts[index] if 0 <= index < len(saved_counts) else None
        if saved is not None:
            entry["execution_count"] = saved
        entry["first_line"] = first_line(source)
        entry["source_sha256"] = source_sha256(source)
        error = entry.get("error")
        if error is not None:
            error["evalue"] = names.scrub(error["evalue"])
            error["traceback"] = trim(error["traceback"], names, short)
        diagnosis = doctor.diagnose(entry, source)
        if diagnosis is None:
            continue
        entry["diagnosis"] = diagnosis
        if diagnosis["cause"] == "pip_install" and entry["status"] in ("ok", "output_truncated"):
            entry["status"] = "error"
            entry["message"] = "installing packages cannot work: the grading sandbox has no internet"
