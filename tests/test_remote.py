"""No shared file system on the Dask paths: workers that cannot see the coordinator's files.

The workers run in a hidden view (tests/hidden_view.py): the coordinator's repository folders
(rubrics, reference, templates, examples, tests), its output folder, submissions and data are
covered by empty tmpfs mounts, and each worker has its own working directory, HOME and
ML_AUTOGRADER_CACHE. They grade the bundled examples with exactly the local pool's scores, item
by item, on a real LocalCluster (its workers spawned into the view) and on a separately started
scheduler with a `grader worker` and a plain `dask worker`. hw2's workers build the data
themselves (the manifest says the rubric's builder made it); the toy assignment's static data
comes from the coordinator. Skipped without root and unshare, except in CI (CI=true).
"""

from __future__ import annotations

import json
import multiprocessing.resource_tracker
import multiprocessing.spawn
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from examples_pool import CELL_TIMEOUT_S, PICKED, LocalPoolRun, assert_same_grades, picked_notebooks
from hidden_view import HiddenView, unavailable

from grader.assignment import load_assignment
from grader.batch import EXIT_OK, grade_batch
from grader.datasets import build_data, cache_root
from grader.grading import GradeOptions
from grader.limits import Limits
from grader.results import load_results

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
TOY = REPO / "tests" / "assignments" / "toy"
# What a worker elsewhere would not have: the repository's assignment folders (the grader
# package itself is installed there), and the coordinator's data cache.
REPOSITORY_FOLDERS = [
    REPO / name for name in ("rubrics", "reference", "student_template", "examples", "tests")
]


@pytest.fixture(scope="module", autouse=True)
def _can_hide() -> None:
    reason = unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the no-shared-file-system tests cannot run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture
def coordinator(tmp_path: Path) -> Path:
    """The coordinator's folder (submissions, output), which no worker can see."""
    folder = tmp_path / "coordinator"
    subs = folder / "subs"
    subs.mkdir(parents=True)
    for notebook in picked_notebooks():
        shutil.copy(notebook, subs / notebook.name)
    return folder


def hidden(coordinator: Path, hw2_data: Path) -> list[Path]:
    return [coordinator, hw2_data, cache_root(), *REPOSITORY_FOLDERS]


def hw2_options(coordinator: Path, hw2_data: Path) -> GradeOptions:
    """As `grader grade --assignment hw2 --data DATA --timeout 300` makes them."""
    return GradeOptions(
        assignment=load_assignment("hw2"),
        out_dir=coordinator / "out",
        data_dir=hw2_data,
        limits=Limits(cell_timeout=float(CELL_TIMEOUT_S)),
    )


def sees(view: HiddenView, path: Path) -> bool:
    """Whether a process in ``view`` can list ``path`` (an empty tmpfs stands for a hidden one)."""
    code = "import os, sys; p = sys.argv[1]; print(os.path.isdir(p) and bool(os.listdir(p)))"
    done = subprocess.run(
        [str(view.python()), "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


def check_outputs(out: Path) -> None:
    """The coordinator wrote every file the workers sent back, naming its own paths."""
    for name in PICKED:
        doc = json.loads((out / "results" / f"{name}.json").read_text(encoding="utf-8"))
        assert doc["submission"] == str(out.parent / "subs" / f"{name}.ipynb")
        run = json.loads((out / "run" / f"{name}.json").read_text(encoding="utf-8"))
        assert run["notebook"] == doc["submission"] and run["status"] == "completed"
        assert (
            doc["executed_notebook"] == f"executed/{name}.ipynb"
            and (out / doc["executed_notebook"]).is_file()
        )
        assert all((out / path).is_file() for path in doc["feedback"].values())
    assert (out / "summary.html").is_file() and (out / "grades.csv").is_file()


def test_local_cluster_workers_that_cannot_see_the_coordinators_files(
    coordinator: Path,
    hw2_data: Path,
    tmp_path: Path,
    examples_on_the_local_pool: LocalPoolRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--executor dask`: the LocalCluster's workers are spawned into the hidden view (through
    multiprocessing's spawn executable); their working directory is the coordinator's, as
    multiprocessing sets it, but HOME and the data cache are their own."""
    view = HiddenView(hidden(coordinator, hw2_data), tmp_path / "workers")
    assert sees(view, REPO / "grader") and not sees(view, coordinator) and not sees(view, REPO / "rubrics")
    multiprocessing.resource_tracker.ensure_running()  # a helper of this process: keep it out of the view
    monkeypatch.setattr(multiprocessing.spawn, "_python_exe", os.fsencode(view.python()))
    options = hw2_options(coordinator, hw2_data)
    started = time.monotonic()
    summary = grade_batch([coordinator / "subs"], options, executor="dask", workers=2, progress=False)
    elapsed = time.monotonic() - started
    monkeypatch.undo()
    assert summary.exit_code == EXIT_OK, summary.describe()
    assert_same_grades(
        {doc["id"]: doc for doc in load_results(options.out_dir)}, examples_on_the_local_pool.docs()
    )
    check_outputs(options.out_dir)
    assert (view.cache / "hw2" / "embedded" / "MANIFEST.json").is_file()  # the workers built the data
    print(f"{len(PICKED)} examples on a LocalCluster in a hidden view: {elapsed:.0f} s", file=sys.stderr)


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[str]:
    """A `dask scheduler` of its own (the coordinator only connects to it)."""
    scheduler_file = tmp_path / "scheduler.json"
    log = (tmp_path / "scheduler.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "dask", "scheduler", "--port", "0", "--no-dashboard"]
        + ["--scheduler-file", str(scheduler_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "scheduler.log"
            ).read_text()
            time.sleep(0.2)
        time.sleep(0.2)
        yield str(json.loads(scheduler_file.read_text())["address"])
    finally:
        process.terminate()
        process.wait(timeout=30)


def stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def toy_batch(coordinator: Path) -> tuple[GradeOptions, Path]:
    """The toy assignment (static data) in the coordinator's folder: its reference and template
    notebooks as two students, its data built by the coordinator."""
    assignment_dir = coordinator / "toy"
    shutil.copytree(TOY, assignment_dir, ignore=shutil.ignore_patterns("__pycache__"))
    subs = coordinator / "toy-subs"
    subs.mkdir()
    shutil.copy(TOY / "toy_reference.ipynb", subs / "ref.ipynb")
    shutil.copy(TOY / "toy_template.ipynb", subs / "tpl.ipynb")
    assignment = load_assignment(assignment_dir / "toy.yaml")
    build_data(assignment, coordinator / "toy-data")
    options = GradeOptions(
        assignment=assignment, out_dir=coordinator / "toy-out", data_dir=coordinator / "toy-data"
    )
    return options, subs


def scores(out: Path) -> dict[str, Any]:
    return {
        doc["id"]: (doc["status"], doc["score"], [i["points"] for i in doc["items"]])
        for doc in load_results(out)
    }


def test_separately_started_workers_that_cannot_see_the_coordinators_files(
    coordinator: Path,
    hw2_data: Path,
    tmp_path: Path,
    scheduler: str,
    examples_on_the_local_pool: LocalPoolRun,
) -> None:
    """A `grader worker` and a plain `dask worker`, each in a hidden view with its own working
    directory, HOME and data cache, join a scheduler; hw2's examples and the toy assignment (whose
    static data only the coordinator has) grade as on the local pool."""
    toy_options, toy_subs = toy_batch(coordinator)
    views = [HiddenView(hidden(coordinator, hw2_data), tmp_path / f"worker{i}") for i in (1, 2)]
    assert not sees(views[0], coordinator / "subs") and not sees(views[1], hw2_data)
    workers = [
        views[0].popen("-m", "grader", "worker", "--scheduler", scheduler, "--name", "grader-worker"),
        views[1].popen("-m", "dask", "worker", scheduler, "--nthreads", "1", "--name", "dask-worker"),
    ]
    try:
        options = hw2_options(coordinator, hw2_data)
        started = time.monotonic()
        summary = grade_batch(
            [coordinator / "subs"], options, scheduler=scheduler, wait_s=120, progress=False
        )
        elapsed = time.monotonic() - started
        assert summary.exit_code == EXIT_OK, summary.describe()
        on_the_pool = examples_on_the_local_pool.docs()
        assert_same_grades({doc["id"]: doc for doc in load_results(options.out_dir)}, on_the_pool)
        check_outputs(options.out_dir)

        toy = grade_batch([toy_subs], toy_options, scheduler=scheduler, progress=False)
        local_toy = grade_batch(
            [toy_subs], replace(toy_options, out_dir=coordinator / "toy-local"), progress=False
        )
        assert toy.exit_code == local_toy.exit_code == EXIT_OK
        assert scores(toy_options.out_dir) == scores(coordinator / "toy-local")
        assert scores(toy_options.out_dir)["ref"][0] == "graded"
    finally:
        stop(workers)
    for view in views:  # each worker obtained the data itself: hw2 built, toy's fetched
        assert (view.cache / "hw2" / "embedded" / "MANIFEST.json").is_file() or not any(
            (view.cache / "remote").glob("data/hw2/*")
        )
    fetched = [path for view in views for path in (view.cache / "remote" / "data" / "toy").glob("*")]
    assert fetched, "no worker fetched the toy assignment's data from the coordinator"
    print(
        f"{len(PICKED)} examples on separately started workers in hidden views: {elapsed:.0f} s",
        file=sys.stderr,
    )
