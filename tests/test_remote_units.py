"""The wire pieces on their own: path mapping, delivery, and how a worker obtains the data
(its own build checked against the coordinator's manifest, or the coordinator's copy), plus one
task graded by grade_remote after the coordinator's folder has gone from the disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.assignment import load_assignment
from grader.datasets import DataError, build_data
from grader.datasets.manifest import make_manifest, read_manifest, write_manifest
from grader.grading import GradeOptions, grade_one
from grader.remote.coordinator import deliver, describe_data, make_task, pack_assignment, pack_data
from grader.remote.provision import PathMap, WorkerSetupError, provide_data
from grader.remote.wire import GradeReturn
from grader.remote.worker import grade_remote
from grader.submission import Submission

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "assignments" / "toy"


class Fetcher:
    """A stand-in for the scheduler's Variable: hands out one archive and counts the calls."""

    def __init__(self, archive: bytes) -> None:
        self.archive = archive
        self.calls = 0

    def __call__(self, name: str) -> bytes:
        self.calls += 1
        return self.archive


@pytest.fixture
def worker_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A worker's own, empty data cache."""
    cache = tmp_path / "worker-cache"
    monkeypatch.setenv("ML_AUTOGRADER_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def hw2_worker_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One worker cache for the hw2 build tests (the build takes a few seconds)."""
    return tmp_path_factory.mktemp("hw2-worker-cache")


def hw2_source(data: Path, fetch_from: str | None = "archive") -> Any:
    options = GradeOptions(assignment=load_assignment("hw2"), out_dir=data.parent / "out", data_dir=data)
    context = options.resolved().context
    assert context is not None
    return describe_data(context, fetch_from)


def test_path_map_writes_the_coordinators_paths_back() -> None:
    paths = PathMap()
    paths.add("/course/subs/alice.ipynb", "/tmp/task/submission/alice.ipynb")
    paths.add("/course/out", "/tmp/task/out")
    document = {
        "message": "cannot read /tmp/task/submission/alice.ipynb",
        "items": [{"at": "/tmp/task/out/x"}],
    }
    assert paths.back(document) == {
        "message": "cannot read /course/subs/alice.ipynb",
        "items": [{"at": "/course/out/x"}],
    }
    assert paths.here(Path("/course/out/run/a.json")) == Path("/tmp/task/out/run/a.json")
    assert not str(paths.here(Path("/elsewhere/expected.json"))).startswith("/elsewhere")


def test_deliver_writes_the_outputs_and_refuses_unsafe_names(tmp_path: Path) -> None:
    document = {"id": "alice", "status": "graded", "score": 1.0}
    returned = GradeReturn(
        document=document,
        run_record={"id": "alice"},  # type: ignore[typeddict-item]
        executed_notebook=b'{"cells": []}',
        feedback={"html": b"<p>hi</p>", "md": b"hi"},
    )
    assert deliver(returned, tmp_path) == document
    assert json.loads((tmp_path / "run" / "alice.json").read_text()) == {"id": "alice"}
    assert (tmp_path / "executed" / "alice.ipynb").read_bytes() == b'{"cells": []}'
    assert (tmp_path / "feedback" / "alice.html").read_text() == "<p>hi</p>"
    with pytest.raises(ValueError):
        deliver(GradeReturn(document={**document, "id": "../evil"}), tmp_path)
    with pytest.raises(ValueError, match="feedback kind"):
        deliver(GradeReturn(document=document, feedback={"../x": b""}), tmp_path)
    with pytest.raises(TypeError, match="GradeReturn"):
        deliver(document, tmp_path)


def test_a_worker_builds_hw2_itself_and_checks_it(
    hw2_data: Path, hw2_worker_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ML_AUTOGRADER_CACHE", str(hw2_worker_cache))
    source = hw2_source(hw2_data)
    assert source.buildable
    fetch = Fetcher(b"")
    local = provide_data(load_assignment("hw2"), source, fetch)
    assert local == hw2_worker_cache / "hw2" / "embedded" and fetch.calls == 0
    assert read_manifest(local)["files"] == read_manifest(hw2_data)["files"]


def test_a_worker_whose_build_differs_fetches_the_coordinators_data(
    hw2_data: Path, hw2_worker_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coordinator's data claims the builder but is not what it builds (an edited file):
    the worker's own build differs, so it fetches the coordinator's copy and checks that."""
    monkeypatch.setenv("ML_AUTOGRADER_CACHE", str(hw2_worker_cache))
    data = tmp_path / "data"
    shutil.copytree(hw2_data, data)
    edited = sorted((data / "public").iterdir())[0]
    edited.write_bytes(edited.read_bytes() + b"\n")
    write_manifest(data, {**read_manifest(data), "files": make_manifest(data)["files"]})
    source = hw2_source(data)
    assert source.buildable
    fetch = Fetcher(pack_data(data))
    local = provide_data(load_assignment("hw2"), source, fetch)
    assert fetch.calls == 1 and local.parent.parent == hw2_worker_cache / "remote" / "data"
    assert (local / "public" / edited.name).read_bytes() == edited.read_bytes()
    assert provide_data(load_assignment("hw2"), source, fetch) == local and fetch.calls == 1  # kept


def test_data_that_does_not_match_the_manifest_is_refused(tmp_path: Path, worker_cache: Path) -> None:
    toy = load_assignment(TOY / "toy.yaml")
    data = tmp_path / "data"
    build_data(toy, data)
    options = GradeOptions(assignment=toy, out_dir=tmp_path / "out", data_dir=data)
    context = options.resolved().context
    assert context is not None
    source = describe_data(context, "archive")
    assert not source.buildable  # static data: only the coordinator has it
    with pytest.raises(WorkerSetupError, match="no copy of toy's data"):
        provide_data(toy, describe_data(context, None), Fetcher(b""))
    good = pack_data(data)
    (data / "hidden" / "test_y.csv").write_text("tampered\n")
    with pytest.raises(DataError, match="does not match"):
        pack_data(data)  # the coordinator does not hand out data that fails its own manifest
    tampered = pack_data_unchecked(data)
    with pytest.raises(WorkerSetupError, match="does not match its manifest"):
        provide_data(toy, source, Fetcher(tampered))
    assert not list((worker_cache / "remote" / "data" / "toy").glob("[!.]*"))  # nothing kept
    fetcher = Fetcher(good)
    local = provide_data(toy, source, fetcher)
    (local / "MANIFEST.json").unlink()  # a damaged copy on the worker is fetched again
    assert provide_data(toy, source, fetcher) == local and (local / "MANIFEST.json").is_file()
    assert fetcher.calls == 2


def pack_data_unchecked(data: Path) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in read_manifest(data)["files"]:
            archive.add(str(data / name), arcname=name)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_task_carries_everything_its_worker_needs(tmp_path: Path, worker_cache: Path) -> None:
    """Pack two toy submissions, move the coordinator's folder (assignment, data, notebooks)
    out of the way, grade them with grade_remote, deliver: the same documents as grade_one."""
    coordinator = tmp_path / "coordinator"
    shutil.copytree(TOY, coordinator / "toy", ignore=shutil.ignore_patterns("__pycache__"))
    (coordinator / "subs").mkdir()
    for name, source in (("ref", "toy_reference.ipynb"), ("tpl", "toy_template.ipynb")):
        shutil.copy(TOY / source, coordinator / "subs" / f"{name}.ipynb")
    toy = load_assignment(coordinator / "toy" / "toy.yaml")
    build_data(toy, coordinator / "data")
    options = GradeOptions(
        assignment=toy, out_dir=coordinator / "out", data_dir=coordinator / "data"
    ).resolved()
    assert options.context is not None
    submissions = [
        Submission(id=name, student=name, path=coordinator / "subs" / f"{name}.ipynb")
        for name in ("ref", "tpl")
    ]
    local = {s.id: grade_one(s, options) for s in submissions}
    files, fetch = pack_assignment(options.context), Fetcher(pack_data(coordinator / "data"))
    source = describe_data(options.context, "archive")
    tasks = [make_task(grade_one, s, options, files, source) for s in submissions]

    coordinator.rename(tmp_path / "gone")  # nothing of the coordinator's is left to open
    returned = [grade_remote(task, fetch) for task in tasks]
    (tmp_path / "gone").rename(coordinator)

    assert fetch.calls == 1  # the data came once, then from the worker's cache
    for task, back in zip(tasks, returned, strict=True):
        document = deliver(back, coordinator / "remote-out")
        expected = local[task.submission.id]
        for key in ("status", "score", "items", "parts", "content_hash", "submission", "message", "warnings"):
            assert document[key] == expected[key], key
        assert set(document["timings"]) == set(expected["timings"])
        assert document["feedback"] == expected["feedback"]
        run = json.loads((coordinator / "remote-out" / "run" / f"{task.submission.id}.json").read_text())
        assert run["notebook"] == str(task.submission.path)
        for kind in ("html", "md"):
            assert (coordinator / "remote-out" / document["feedback"][kind]).is_file()
