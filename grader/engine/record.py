"""Assemble the RunRecord: the limits that fired, the final status and message, and its files.

The cell runner and the harvest driver report limits through one ``LimitLog``; ``finish``
turns what the run observed into the record's status and summary line; ``write_outputs``
stores OUT/executed/<id>.ipynb and OUT/run/<id>.json.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from grader import notebook_parts
from grader.records import RUN_SCHEMA_VERSION, CellRecord, HarvestRecord, LimitFired, RunRecord
from grader.results import write_json_atomic

log = logging.getLogger(__name__)


class LimitLog:
    """The limits that fired during one run, each named once per (limit, cell)."""

    def __init__(self) -> None:
        self.fired: list[LimitFired] = []

    def fire(self, limit: str, cell: int | None, message: str) -> None:
        for fired in self.fired:
            if fired["limit"] == limit and fired.get("cell") == cell:
                return
        self.fired.append({"limit": limit, "cell": cell, "message": message})

    def has(self, limit: str, cell: int | None) -> bool:
        return any(f["limit"] == limit and f.get("cell") == cell for f in self.fired)

    def name_cell(self, limit: str, cell: int) -> None:
        """Attach a cell to an entry that fired without one (the notebook watchdog's)."""
        for fired in self.fired:
            if fired["limit"] == limit and fired.get("cell") is None:
                fired["cell"] = cell

    def add_backend(self, reported: list[dict[str, Any]]) -> None:
        """Limits the sandbox backend saw fire, unless the engine already named them with a cell."""
        seen = {f["limit"] for f in self.fired}
        for fired in reported:
            if isinstance(fired, dict) and "limit" in fired and fired["limit"] not in seen:
                self.fired.append(
                    {
                        "limit": str(fired["limit"]),
                        "cell": fired.get("cell"),
                        "message": str(fired.get("message", "")),
                    }
                )


def empty_harvest(message: str = "not run") -> HarvestRecord:
    return {
        "status": "failed",
        "message": message,
        "answers": {},
        "predictions": {},
        "free_text": {},
        "figures": {},
        "wall_s": 0.0,
    }


def new_record(notebook: Path, assignment_name: str, run_id: str, backend: str, gpu: str | None) -> RunRecord:
    """The record of a run that has not started: every later stage fills in its part."""
    return {
        "schema_version": RUN_SCHEMA_VERSION,
        "id": run_id,
        "notebook": str(notebook.resolve()) if notebook else "",
        "assignment": assignment_name,
        "backend": backend,
        "isolated": False,
        "gpu": gpu,
        "status": "completed",
        "message": "",
        "cells": [],
        "limits_fired": [],
        "telemetry": {"wall_s": 0.0, "peak_rss_mb": 0.0, "kernel_restarts": 0},
        "harvest": empty_harvest(),
        "executed_notebook": None,
    }


def finish(
    record: RunRecord,
    *,
    cells: list[CellRecord],
    limits: LimitLog,
    wall_s: float,
    peak_rss_mb: float,
    restarts: int,
    watchdog_fired: bool,
    kernel_dead: bool,
    notebook_timeout: float,
) -> None:
    """Fill in cells, limits and telemetry, and (for a run that got to its cells) the status and
    the one-line summary."""
    record["telemetry"] = {
        "wall_s": round(wall_s, 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "kernel_restarts": restarts,
    }
    record["cells"] = cells
    record["limits_fired"] = limits.fired
    if record["status"] != "completed":
        return
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["status"]] = counts.get(cell["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if watchdog_fired:
        record["status"] = "timeout"
        record["message"] = f"the notebook passed its {notebook_timeout:g} s limit; cells: {summary}"
    elif kernel_dead:
        record["status"] = "kernel_died"
        record["message"] = f"the kernel died and could not be restarted; cells: {summary}"
    else:
        note = f"; {restarts} kernel restart(s)" if restarts else ""
        record["message"] = f"ran {len(cells)} code cells: {summary}{note}"


def count_figures(record: RunRecord, nb: NotebookNode, part_of: list[str | None]) -> None:
    record["harvest"]["figures"] = notebook_parts.figures_by_part(nb.cells, part_of)


def write_outputs(record: RunRecord, nb: NotebookNode | None, out_dir: Path) -> None:
    """OUT/executed/<id>.ipynb (when there is a notebook) and OUT/run/<id>.json, atomically."""
    if nb is not None:
        record["executed_notebook"] = _write_notebook(out_dir, record["id"], nb)
    write_json_atomic(out_dir / "run" / f"{record['id']}.json", record)


def _write_notebook(out_dir: Path, run_id: str, nb: NotebookNode) -> str | None:
    path = out_dir / "executed" / f"{run_id}.ipynb"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        nbformat.write(nb, str(tmp))
        tmp.replace(path)
    except Exception as exc:
        log.warning("could not write %s: %s", path, exc)
        return None
    return f"executed/{run_id}.ipynb"
