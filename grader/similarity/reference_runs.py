"""The reference's own predictions on hidden inputs: the common source of honest students' mistakes.

``grader reference`` and ``grader release-check`` keep every completed run of the reference
notebook in the run store (``grader.runstore``), one per seed. Their predictions on the hidden
inputs tell which mistakes the instructor's code makes; students who ran that code share them
without sharing anything with each other, so ``grader.similarity.predictions.ErrorTable`` leaves
them out. Nothing here executes a notebook: only runs already stored, on the same data and the
current reference notebook, are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.keys.execution import sha256_file
from grader.reuse import read_json
from grader.similarity.corpus import run_predictions

MAX_RUNS = 20  # seeds read at most (a calibration over many seeds needs no more)


@dataclass
class CommonSources:
    """Per (model, input): the reference's predictions, one list per stored seed."""

    predictions: dict[tuple[str, str], list[list[Any]]] = field(default_factory=dict)
    seeds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def reference_predictions(assignment: Assignment, data_dir: Path) -> CommonSources:
    """Every stored run of the current reference notebook on this data, as common sources."""
    from grader.runstore import RunStore  # lazy: start-up (the run store imports the engine)

    sources = CommonSources()
    notebook = sha256_file(assignment.reference) if assignment.reference is not None else None
    data = sha256_file(Path(data_dir) / "MANIFEST.json")
    root = RunStore.for_assignment(assignment).root
    if notebook is None:
        sources.notes.append("the assignment has no reference notebook: no common source of errors")
        return sources
    slots = sorted(root.glob("*/run.json")) if root.is_dir() else []
    for path in slots:
        run = read_json(path)
        if run is None:
            continue
        stamp = run.get("execution")
        inputs = stamp.get("inputs") if isinstance(stamp, dict) else None
        if not isinstance(inputs, dict) or inputs.get("notebook") != notebook or inputs.get("data") != data:
            continue
        if inputs.get("public_only"):
            continue
        for key, values in run_predictions(run).items():
            sources.predictions.setdefault(key, []).append(values)
        seed = (inputs.get("env") or {}).get("GRADER_SEED", "?")
        sources.seeds.append(str(seed))
        if len(sources.seeds) >= MAX_RUNS:
            break
    if not sources.seeds:
        sources.notes.append(
            "no stored run of the reference notebook on this data: the reference's own mistakes are "
            f"not told apart from shared ones (`grader reference {assignment.name}` stores its runs)"
        )
    return sources
