"""A worker's side of the wire: the assignment, its data and its kernel environment, locally.

A worker sees none of the coordinator's paths. What a task needs is obtained once per worker
machine into the worker's own cache (``$ML_AUTOGRADER_CACHE/remote``, else
``~/.cache/ml-autograder/remote``) and checked once per worker process:

* the assignment: its files arrive with every task (``AssignmentFiles``, tens of kB) and are
  written once under ``remote/assignments/<digest>``, keeping their layout;
* the data: built here when the coordinator's manifest says the rubric's builder made it
  (builds are deterministic), else fetched from the coordinator (``DataSource.fetch_from``) into
  ``remote/data/<assignment>/<digest>``; either way every file must match the coordinator's
  manifest (sha256) before a notebook sees it;
* the kernel environment: ``provide_environment`` is the one hook for per-assignment kernel
  environments (issue 13).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from grader.assignment import Assignment
from grader.context import GradingContext
from grader.datasets import DataError, cache_root, ensure_data
from grader.datasets.manifest import MANIFEST_NAME, read_manifest, verify_manifest
from grader.environment.store import ENVS_ENV, locate
from grader.grading import GradeOptions
from grader.remote.wire import AssignmentFiles, DataSource
from grader.submission import safe_id

Fetch = Callable[[str], bytes]  # a DataSource.fetch_from name -> the coordinator's data archive


class WorkerSetupError(RuntimeError):
    """A worker cannot obtain what a task needs; the message says what is missing and why."""


# (assignment digest, data digest, cache root) -> (local assignment, its folder, local data
# directory), checked in this process already
_LOCAL: dict[tuple[str, str, str], tuple[Assignment, Path, Path]] = {}


def remote_root() -> Path:
    return cache_root() / "remote"


def _install(target: Path, fill: Callable[[Path], None]) -> Path:
    """Fill a fresh folder beside ``target`` and rename it into place: workers sharing a machine
    (and its cache) never see a half-written folder; the loser of a race drops its copy."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.staging-"))
    try:
        fill(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise WorkerSetupError(f"refusing the assignment file name {name!r} from the coordinator")
    return path


def materialize_assignment(files: AssignmentFiles) -> Path:
    """The worker's folder holding the assignment's files (written once per digest)."""

    def fill(folder: Path) -> None:
        for name, data in files.files:
            path = folder / _relative(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

    return _install(remote_root() / "assignments" / files.digest[:32], fill)


class PathMap:
    """Coordinator paths to their places on this worker, and the worker's back (for messages)."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []  # (coordinator, worker)

    def add(self, coordinator: str | Path, worker: str | Path) -> None:
        self.pairs.append((str(coordinator), str(worker)))

    def here(self, path: Path | None) -> Path | None:
        """Where a coordinator path lives on this worker (a path that does not exist here when
        it is outside every mapped folder, as it did not exist for the task on the coordinator)."""
        if path is None:
            return None
        for theirs, ours in sorted(self.pairs, key=lambda pair: -len(pair[0])):
            try:
                return Path(ours) / Path(path).relative_to(theirs)
            except ValueError:
                continue
        return Path(self.pairs[0][1]) / ".not-shipped" / Path(path).name if self.pairs else Path(path)

    def back(self, value: Any) -> Any:
        """``value`` (a document, a record) with every worker path replaced by the coordinator's."""
        if isinstance(value, str):
            for theirs, ours in sorted(self.pairs, key=lambda pair: -len(pair[1])):
                if ours in value:
                    value = value.replace(ours, theirs)
            return value
        if isinstance(value, dict):
            return {key: self.back(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.back(item) for item in value]
        return value


def local_assignment(assignment: Assignment, files: AssignmentFiles, folder: Path) -> Assignment:
    """The coordinator's Assignment with every path moved into ``folder``."""
    paths = PathMap()
    paths.add(files.root, folder)
    here = paths.here
    return replace(
        assignment,
        rubric_path=here(assignment.rubric_path) or folder,
        template=here(assignment.template),
        reference=here(assignment.reference),
        expected_path=here(assignment.expected_path),
        base_dir=here(assignment.base_dir) or folder,
    )


def _differences(data_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """How ``data_dir`` differs from the coordinator's manifest (every file's sha256 and size)."""
    try:
        problems = verify_manifest(data_dir)  # the files against the directory's own manifest
        ours = read_manifest(data_dir)["files"]
    except (DataError, OSError) as exc:
        return [str(exc)]
    theirs = manifest.get("files", {})
    for name in sorted(set(ours) | set(theirs)):
        if ours.get(name, {}).get("sha256") != theirs.get(name, {}).get("sha256"):
            problems.append(f"{name}: not the coordinator's file")
    return problems


def _unpack(archive: bytes, manifest: bytes) -> Callable[[Path], None]:
    def fill(folder: Path) -> None:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(folder, filter="data")
        (folder / MANIFEST_NAME).write_bytes(manifest)
        problems = verify_manifest(folder)
        if problems:
            raise WorkerSetupError(
                "the data fetched from the coordinator does not match its manifest: "
                + "; ".join(problems[:5])
            )

    return fill


def provide_data(assignment: Assignment, source: DataSource, fetch: Fetch) -> Path:
    """A data directory on this worker whose every file matches the coordinator's manifest:
    fetched before, built here, or fetched now."""
    manifest = json.loads(source.manifest)
    fetched = remote_root() / "data" / safe_id(source.assignment) / source.digest[:32]
    if fetched.is_dir() and not _differences(fetched, manifest):
        return fetched
    reasons: list[str] = []
    if source.buildable:
        try:
            built = ensure_data(assignment, profile=source.profile)
            problems = _differences(built, manifest)
            if not problems:
                return built
            reasons.append("the data built here differs: " + "; ".join(problems[:3]))
        except (DataError, OSError) as exc:
            reasons.append(f"it cannot be built here: {exc}")
    else:
        reasons.append("the coordinator's data is not the rubric builder's default build")
    if source.fetch_from is None:
        raise WorkerSetupError(f"no copy of {source.assignment}'s data for this worker: {'; '.join(reasons)}")
    shutil.rmtree(fetched, ignore_errors=True)  # a copy that no longer matches
    return _install(fetched, _unpack(fetch(source.fetch_from), source.manifest))


def provide_environment(context: GradingContext) -> GradingContext:
    """The hook for per-assignment kernel environments (issue 13): the context with its kernel
    environment as it exists on this worker.

    An environment is built once per machine from its specification and found by its hash, so
    a worker uses its own build of the same key and hash (build it there with `grader env build`,
    or ship the built folder to the same cache path). A worker without it is refused with what to run.
    """
    environment = context.environment
    if environment is None:
        return context
    here = locate(environment)
    if here is None:
        name = context.assignment.name
        raise WorkerSetupError(
            f"{name}'s kernel environment ({environment.key}) is not built on this worker: "
            f"run `grader env build {name}` there (or copy {environment.key}/ into its "
            f"${ENVS_ENV} folder)"
        )
    return replace(context, environment=here)


def localize(
    options: GradeOptions, files: AssignmentFiles, source: DataSource, fetch: Fetch
) -> tuple[GradeOptions, PathMap, float]:
    """The options with the assignment, data and environment of this worker; the map from the
    coordinator's paths to them; and the seconds spent obtaining them (0 when done before)."""
    context = options.context
    if context is None:
        raise WorkerSetupError("the task's options carry no grading context (resolve them first)")
    started = time.perf_counter()
    key = (files.digest, source.digest, str(cache_root()))
    known = _LOCAL.get(key)
    if known is None or not (known[1].is_dir() and known[2].is_dir()):
        folder = materialize_assignment(files)
        assignment = local_assignment(context.assignment, files, folder)
        known = (assignment, folder, provide_data(assignment, source, fetch))
        _LOCAL[key] = known
    assignment, folder, data_dir = known
    paths = PathMap()
    paths.add(files.root, folder)
    paths.add(source.data_dir, data_dir)
    local = replace(
        context, assignment=assignment, data_dir=data_dir, expected_path=paths.here(context.expected_path)
    )
    local = provide_environment(local)
    options = replace(options, assignment=assignment, data_dir=data_dir, context=local)
    return options, paths, time.perf_counter() - started
