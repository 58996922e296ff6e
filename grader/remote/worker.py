"""``grade_remote``: what a Dask worker runs for one submission, with no path of the coordinator's.

It writes the notebook's bytes into a scratch folder, grades it there with the assignment and
data of this worker (grader.remote.provision), renders the feedback, and returns every output as
bytes (``GradeReturn``) with the coordinator's paths written back in, then removes the scratch
folder. Files a task writes besides the run record, the executed notebook and the feedback stay
on the worker and are removed with it.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader.publish import feedback_field
from grader.remote.provision import Fetch, PathMap, WorkerSetupError, localize
from grader.remote.wire import WIRE_VERSION, GradeReturn, GradeTask
from grader.report import render_student
from grader.submission import check_id
from grader.tasks import run_task

FETCH_TIMEOUT_S = 300.0  # the coordinator's data archive, through the scheduler


def fetch_from_scheduler(name: str) -> bytes:
    """The coordinator's data archive, published on the Dask scheduler as Variable ``name``."""
    from distributed import Variable, get_client  # lazy: dask is imported only on Dask workers

    value = Variable(name, client=get_client()).get(timeout=FETCH_TIMEOUT_S)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise WorkerSetupError(f"the scheduler's {name} holds {type(value).__name__}, not a data archive")
    return bytes(value)


def grade_remote(task: GradeTask, fetch: Fetch = fetch_from_scheduler) -> GradeReturn:
    """Grade ``task`` on this worker; everything it produced, ready for grader.remote.deliver."""
    if task.version != WIRE_VERSION:
        raise WorkerSetupError(
            f"the coordinator speaks wire version {task.version}, this worker {WIRE_VERSION}: "
            "install the same grader version on both"
        )
    options, paths, prepare_s = localize(task.options, task.assignment, task.data, fetch)
    run_id = check_id(task.submission.id, what="submission id")
    with tempfile.TemporaryDirectory(prefix=f"grader-task-{run_id}-") as scratch:
        notebook = Path(scratch) / "submission" / (Path(task.submission.path).name or "notebook.ipynb")
        notebook.parent.mkdir()
        notebook.write_bytes(task.notebook)
        out_dir = Path(scratch) / "out"
        out_dir.mkdir()
        paths.add(task.submission.path, notebook)
        paths.add(task.options.out_dir, out_dir)
        submission = replace(task.submission, path=notebook)
        local = replace(options, out_dir=out_dir, write_reports=False)
        document = paths.back(run_task(task.task, submission, local))
        feedback: dict[str, bytes] = {}
        if task.options.write_reports and isinstance(document, dict) and "status" in document:
            feedback = _render_feedback(document, out_dir, options)
        return GradeReturn(
            document=document,
            run_record=_read_json(out_dir / "run" / f"{run_id}.json", paths),
            executed_notebook=_read(out_dir / "executed" / f"{run_id}.ipynb"),
            feedback=feedback,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            prepare_s=round(prepare_s, 3),
        )


def _render_feedback(document: dict[str, Any], out_dir: Path, options: Any) -> dict[str, bytes]:
    """The student's feedback pages, rendered here from the document as the coordinator will
    store it (grade_one renders them itself on the local pool; the timings say the same)."""
    started = time.perf_counter()
    rendered = render_student(document, out_dir, assignment=options.assignment)
    document["feedback"] = feedback_field(out_dir, rendered)
    timings = document.get("timings")
    if isinstance(timings, dict):
        report_s = round(time.perf_counter() - started, 3)
        total = timings.pop("total_s", None)
        timings["report_s"] = report_s
        if isinstance(total, (int, float)):
            timings["total_s"] = round(total + report_s, 3)
    return {kind: Path(path).read_bytes() for kind, path in rendered.items()}


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _read_json(path: Path, paths: PathMap) -> Any:
    data = _read(path)
    return paths.back(json.loads(data)) if data is not None else None
