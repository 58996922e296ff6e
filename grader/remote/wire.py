"""The wire format of the Dask paths: what a grading task carries to a worker and brings back.

A worker needs no path of the coordinator's: a ``GradeTask`` carries the notebook's bytes, the
assignment's files (``AssignmentFiles``) and the description of its data (``DataSource``: the
manifest with every file's sha256, whether a worker can build the data itself, and where to fetch
the coordinator's copy otherwise). A ``GradeReturn`` brings back everything the task produced
(the result document, the run record, the executed notebook, the feedback pages), so the
coordinator alone writes the output folder.

Paths inside the records (``Submission.path``, the options' ``out_dir``, the context's data
directory) are the coordinator's. The worker never opens them; it grades copies under its own
folders and writes the coordinator's paths back into what it returns, so a result graded on a
worker reads exactly like one graded on the local pool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from grader.grading import GradeOptions
from grader.records import RunRecord
from grader.submission import Submission
from grader.tasks import Task

WIRE_VERSION = 1


def digest_files(files: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over names and contents, in order: the cache key of a set of files."""
    digest = hashlib.sha256()
    for name, data in files:
        digest.update(name.encode() + b"\0" + str(len(data)).encode() + b"\0")
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class AssignmentFiles:
    """The assignment's own files (rubric, template, reference, expected.json, data builder file) as bytes.

    ``files`` holds (path relative to ``root``, bytes); ``root`` is the coordinator's folder that
    holds them all. A worker writes them under a folder of its own with the same layout, so the
    paths the rubric names relative to itself still resolve there.
    """

    root: str
    files: tuple[tuple[str, bytes], ...]
    digest: str

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)


@dataclass(frozen=True)
class DataSource:
    """The data a batch is graded on, as a worker can obtain it without the coordinator's disk.

    ``manifest`` is the coordinator's MANIFEST.json (every file's sha256): whatever a worker uses
    must match it. ``buildable``: the manifest names the rubric's own builder at its current
    version and the default profile, so a worker can build the same bytes itself (builds are
    deterministic). ``fetch_from`` names where the coordinator published its copy (a Dask
    Variable holding a tar of public/ and hidden/), for a worker whose build differs or that
    cannot build (static data, an instructor's ``--source``); None when there is none.
    """

    assignment: str
    profile: str
    manifest: bytes
    digest: str  # sha256 of the manifest's bytes: the worker's cache key
    buildable: bool
    fetch_from: str | None
    data_dir: str  # the coordinator's data directory (mapped back in messages; never opened)


@dataclass(frozen=True)
class GradeTask:
    """One submission to grade on a worker, self-contained but for the data (``DataSource``)."""

    task: Task  # the per-submission function (grade_one), pickled by reference
    submission: Submission  # as the coordinator sees it: its path names the coordinator's file
    notebook: bytes  # that file's bytes
    options: GradeOptions  # resolved: the context carries the rubric and expected.json documents
    assignment: AssignmentFiles
    data: DataSource
    version: int = WIRE_VERSION


@dataclass(frozen=True)
class GradeReturn:
    """What a worker sends back; grader.remote.deliver writes the files into the output folder."""

    document: dict[str, Any]  # the result document (coordinator paths), unsaved
    run_record: RunRecord | None = None  # for OUT/run/<id>.json
    executed_notebook: bytes | None = None  # for OUT/executed/<id>.ipynb
    feedback: dict[str, bytes] = field(default_factory=dict)  # "html"/"md" -> OUT/feedback/<id>.<kind>
    worker: str = ""  # host:pid, for messages
    prepare_s: float = 0.0  # seconds the worker spent obtaining the assignment and data (0 when cached)
