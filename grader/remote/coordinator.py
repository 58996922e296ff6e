"""The coordinator's side of the wire: pack what workers need, and write what they send back.

``pack_assignment`` and ``describe_data`` run once per batch; ``pack_data`` makes the archive a
worker fetches when it cannot build the data itself; ``make_task`` wraps one submission;
``deliver`` writes a worker's ``GradeReturn`` into the output folder (the run record, the
executed notebook, the feedback pages) and hands back the result document for ``save_result``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.context import GradingContext
from grader.datasets.manifest import MANIFEST_NAME, DataError, verify_manifest
from grader.grading import GradeOptions
from grader.remote.wire import AssignmentFiles, DataSource, GradeReturn, GradeTask, digest_files
from grader.report.files import write_bytes_atomic, write_text_atomic
from grader.results import write_json_atomic
from grader.submission import Submission, check_id
from grader.tasks import Task


def assignment_paths(context: GradingContext) -> list[Path]:
    """The files of the assignment a worker may need: the rubric, the template, the reference
    notebook, the expected.json of the context's profile and a data builder file named relative
    to the rubric, so the worker can build the data itself (those that exist)."""
    assignment = context.assignment
    candidates = [
        assignment.rubric_path,
        assignment.template,
        assignment.reference,
        assignment.expected_path,
        context.expected_path,
        builder_file(assignment),
    ]
    unique: list[Path] = []
    for path in candidates:
        if path is not None and Path(path).is_file() and Path(path) not in unique:
            unique.append(Path(path))
    return unique


def builder_file(assignment: Assignment) -> Path | None:
    """The data builder's file when the rubric names one (``data: {builder: FILE.py:function}``)."""
    spec = assignment.rubric.get("data")
    builder = spec.get("builder") if isinstance(spec, dict) else None
    if not isinstance(builder, str) or ":" not in builder:
        return None
    module = builder.rsplit(":", 1)[0]
    return (Path(assignment.base_dir) / module).resolve() if module.endswith(".py") else None


def common_root(paths: list[Path]) -> Path:
    """The deepest folder holding every path (the rubric names the others relative to itself)."""
    return Path(os.path.commonpath([str(Path(p).parent) for p in paths]))


def pack_assignment(context: GradingContext) -> AssignmentFiles:
    paths = assignment_paths(context)
    root = common_root(paths)
    files = tuple((path.relative_to(root).as_posix(), path.read_bytes()) for path in paths)
    return AssignmentFiles(root=str(root), files=files, digest=digest_files(files))


def describe_data(context: GradingContext, fetch_from: str | None) -> DataSource:
    """The DataSource for the context's data directory (its manifest read as bytes, unchanged)."""
    assignment = context.assignment
    manifest_bytes = (context.data_dir / MANIFEST_NAME).read_bytes()
    manifest = json.loads(manifest_bytes)
    spec = assignment.rubric.get("data")
    builder = spec.get("builder") if isinstance(spec, dict) else None
    buildable = (
        isinstance(builder, str)
        and manifest.get("builder") == builder
        and manifest.get("profile", context.profile) == context.profile == assignment.default_profile
    )
    return DataSource(
        assignment=assignment.name,
        profile=context.profile,
        manifest=manifest_bytes,
        digest=hashlib.sha256(manifest_bytes).hexdigest(),
        buildable=buildable,
        fetch_from=fetch_from,
        data_dir=str(context.data_dir),
    )


def pack_data(data_dir: Path) -> bytes:
    """A tar of the files the manifest lists (public/ and hidden/), after checking them against it:
    a coordinator whose own data does not match its manifest must not hand it out."""
    problems = verify_manifest(data_dir)
    if problems:
        raise DataError(
            f"{data_dir} does not match its {MANIFEST_NAME}: {'; '.join(problems[:5])}"
            " (rebuild it with `grader data`)"
        )
    listed = json.loads((data_dir / MANIFEST_NAME).read_text(encoding="utf-8"))["files"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in sorted(listed):
            info = archive.gettarinfo(str(data_dir / name), arcname=name)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with (data_dir / name).open("rb") as handle:
                archive.addfile(info, handle)
    return buffer.getvalue()


def make_task(
    task: Task,
    submission: Submission,
    options: GradeOptions,
    assignment: AssignmentFiles,
    data: DataSource,
) -> GradeTask:
    """One submission for the wire; reads the notebook here (OSError if it is gone)."""
    return GradeTask(
        task=task,
        submission=submission,
        notebook=Path(submission.path).read_bytes(),
        options=options,
        assignment=assignment,
        data=data,
    )


def deliver(returned: Any, out_dir: Path) -> dict[str, Any]:
    """Write a worker's outputs under ``out_dir``; the result document, ready for save_result.

    Files are written before the document is handed on, so a saved result never names a run
    record or executed notebook that is not there yet.
    """
    if not isinstance(returned, GradeReturn):
        raise TypeError(f"the worker returned {type(returned).__name__}, not a GradeReturn")
    document = returned.document
    if not isinstance(document, dict) or "status" not in document:
        return document  # the coordinator turns a malformed document into an error row
    run_id = check_id(document.get("id"), what="result id")
    if returned.run_record is not None:
        write_json_atomic(out_dir / "run" / f"{run_id}.json", returned.run_record)
    if returned.executed_notebook is not None:
        write_bytes_atomic(out_dir / "executed" / f"{run_id}.ipynb", returned.executed_notebook)
    for kind, data in sorted(returned.feedback.items()):
        if kind not in {"html", "md"}:
            raise ValueError(f"unknown feedback kind {kind!r} from the worker")
        write_text_atomic(out_dir / "feedback" / f"{run_id}.{kind}", data.decode("utf-8"))
    return document
