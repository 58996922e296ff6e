"""Shared pieces of the batch tests: a toy assignment, notebooks, and a coordinator-level task.

``cell_count_task`` is a real, importable per-submission function that exercises the coordinator
(it reads the notebook and obeys instructions in its metadata: sleep, raise, kill its worker).
It stands in for grading only where the coordinator's behaviour is under test; the end-to-end
tests run the real grader.grading.grade_one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from grader.assignment import Assignment, load_assignment
from grader.executors import GPU_ENV
from grader.grading import GradeOptions

RUBRIC = """\
schema_version: 1
assignment: batchtoy
parts:
  - {id: p1, title: "Part one", heading: "Part 1"}
items:
  - {id: p1_fig, part: p1, kind: figure, title: "A figure", points: 1, min_count: 1}
"""


def toy_assignment(root: Path) -> Assignment:
    root.mkdir(parents=True, exist_ok=True)
    (root / "batchtoy.yaml").write_text(RUBRIC, encoding="utf-8")
    return load_assignment(root / "batchtoy.yaml")


def toy_data(root: Path) -> Path:
    for sub in ("public", "hidden"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "MANIFEST.json").write_text('{"schema_version": 1, "files": {}}\n', encoding="utf-8")
    return root


def toy_options(tmp_path: Path, **overrides: Any) -> GradeOptions:
    values: dict[str, Any] = {
        "assignment": toy_assignment(tmp_path / "assignment"),
        "out_dir": tmp_path / "out",
        "data_dir": toy_data(tmp_path / "data"),
        "write_reports": False,
    }
    values.update(overrides)
    return GradeOptions(**values)


def write_notebook(path: Path, *, cells: int = 1, **instructions: Any) -> Path:
    """A notebook with ``cells`` code cells; ``instructions`` go to metadata for the task."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": f"x = {i}",
                "outputs": [],
                "execution_count": None,
            }
            for i in range(cells)
        ],
        "metadata": {"batch_test": instructions},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def cell_count_task(submission: Any, options: GradeOptions) -> dict[str, Any]:
    """Score = number of code cells; metadata may ask to sleep, raise, or kill the worker.

    Each call is logged (submission id, SLURM job id) to OUT/calls.log, or to the notebook's
    ``log`` instruction: on Dask the task's OUT is a scratch folder of the worker's (grader.remote),
    so tests of the Dask paths name a log file of their own.
    """
    from grader.batch import submission_hash

    text = Path(submission.path).read_text(encoding="utf-8")
    try:
        notebook = json.loads(text)
    except ValueError:
        notebook = {"metadata": {}, "cells": []}  # logged, then fails below like any broken file
    todo = notebook["metadata"].get("batch_test", {})
    log = Path(todo.get("log") or Path(options.out_dir) / "calls.log")
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"{submission.id} {os.environ.get('SLURM_JOB_ID', '-')}\n")
    notebook = json.loads(text)
    time.sleep(float(todo.get("sleep", 0)))
    if todo.get("raise"):
        raise ValueError(f"deliberate failure in {submission.id}")
    if todo.get("die"):
        os._exit(17)
    if todo.get("die_once"):
        marker = Path(todo["die_once"])
        if not marker.exists():
            marker.touch()
            os._exit(17)
    if todo.get("return_garbage"):
        return "not a document"  # type: ignore[return-value]
    worker = None
    try:
        from distributed import get_worker

        worker = get_worker().address
    except (ImportError, ValueError):
        pass
    return {
        "schema_version": 1,
        "id": submission.id,
        "student": submission.student,
        "submission": str(submission.path),
        "assignment": options.assignment.name,
        "status": todo.get("status", "graded"),
        "message": "",
        "score": float(sum(c["cell_type"] == "code" for c in notebook["cells"])),
        "items": [],
        "content_hash": submission_hash(submission, options),
        "gpu": options.gpu,
        "worker_gpu_env": os.environ.get(GPU_ENV),
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        "pid": os.getpid(),
        "worker": worker,
        "notes": list(submission.notes),
    }


def calls(where: Path) -> list[str]:
    """The submission ids cell_count_task was called for: ``where`` is OUT or a log file."""
    return [name for name, _ in call_log(where)]


def call_log(where: Path) -> list[tuple[str, str]]:
    """(submission id, SLURM job id or '-') per call of cell_count_task, in order."""
    log = where / "calls.log" if where.is_dir() else where
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [(line.split()[0], line.split()[1]) for line in lines if line.strip()]


def jsonl_ids(out_dir: Path) -> list[str]:
    lines = (out_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines if line.strip()]
