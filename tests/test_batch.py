"""The batch coordinator on the local process pool: results, resume, crashes, dead workers, kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from test_batch_tasks import calls, cell_count_task, jsonl_ids, toy_options, write_notebook

from grader.assignment import load_assignment
from grader.batch import EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, BatchError, grade_batch
from grader.results import load_results

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def results_by_id(out: Path) -> dict[str, dict]:
    return {doc["id"]: doc for doc in load_results(out)}


def test_grades_every_submission_and_writes_rows(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    for i in range(5):
        write_notebook(subs / f"s{i}.ipynb", cells=i + 1)
    options = toy_options(tmp_path)
    summary = grade_batch([subs], options, workers=2, progress=False, task=cell_count_task)
    assert summary.exit_code == EXIT_OK
    assert summary.graded_now == 5 and summary.statuses["graded"] == 5
    docs = results_by_id(options.out_dir)
    assert {k: v["score"] for k, v in docs.items()} == {f"s{i}": float(i + 1) for i in range(5)}
    assert sorted(jsonl_ids(options.out_dir)) == sorted(docs)
    assert {d["omp_threads"] for d in docs.values()} == {"1"}  # one BLAS/torch thread per worker
    assert len({d["pid"] for d in docs.values()}) >= 1


def test_rerun_skips_unchanged_and_regrades_changed(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    for i in range(3):
        write_notebook(subs / f"s{i}.ipynb")
    options = toy_options(tmp_path)
    grade_batch([subs], options, workers=2, progress=False, task=cell_count_task)
    assert sorted(calls(options.out_dir)) == ["s0", "s1", "s2"]

    again = grade_batch([subs], options, workers=2, progress=False, task=cell_count_task)
    assert again.skipped == 3 and again.graded_now == 0 and again.exit_code == EXIT_OK
    assert len(calls(options.out_dir)) == 3

    write_notebook(subs / "s1.ipynb", cells=4)  # the student's notebook changed
    third = grade_batch([subs], options, workers=2, progress=False, task=cell_count_task)
    assert third.skipped == 2 and third.graded_now == 1
    assert results_by_id(options.out_dir)["s1"]["score"] == 4.0

    rubric = options.assignment.rubric_path
    rubric.write_text(rubric.read_text() + "# a comment\n")  # the rubric as data is unchanged
    options = replace(options, assignment=load_assignment(rubric))
    assert grade_batch([subs], options, workers=2, progress=False, task=cell_count_task).skipped == 3
    rubric.write_text(rubric.read_text().replace("points: 1", "points: 2"))  # the scoring changed
    options = replace(options, assignment=load_assignment(rubric))
    fourth = grade_batch([subs], options, workers=2, progress=False, task=cell_count_task)
    # this stand-in task stores no run record to rescore from, so each one runs again, saying why
    assert fourth.graded_now == 3 and fourth.rescored == 0
    assert fourth.reasons == {f"s{i}": ["no stored run record"] for i in range(3)}

    forced = grade_batch([subs], options, workers=2, progress=False, force=True, task=cell_count_task)
    assert forced.graded_now == 3
    assert sorted(jsonl_ids(options.out_dir)) == ["s0", "s1", "s2"]  # never duplicated


def test_bad_inputs_become_rows_and_the_batch_goes_on(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    write_notebook(subs / "good.ipynb", cells=2)
    write_notebook(subs / "crash.ipynb", **{"raise": True})
    write_notebook(subs / "garbage.ipynb", return_garbage=True)
    (subs / "broken.ipynb").write_text("{oops")
    txt = tmp_path / "readme.txt"
    txt.write_text("not a notebook")
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.ipynb", "{}")
    options = toy_options(tmp_path)
    summary = grade_batch([subs, txt, archive], options, workers=2, progress=False, task=cell_count_task)
    docs = results_by_id(options.out_dir)
    assert docs["good"]["status"] == "graded"
    crash = docs["crash"]
    assert crash["status"] == "error" and crash["score"] == 0 and crash["items"] == []
    assert "ValueError: deliberate failure in crash" in crash["message"]
    assert "deliberate failure" in crash["error_detail"]
    assert docs["garbage"]["status"] == "error" and "not a result document" in docs["garbage"]["message"]
    assert docs["broken"]["status"] == "error"  # this stand-in task crashes on broken JSON: a row
    assert docs["readme"]["status"] == "invalid_notebook"
    evil = [d for d in docs.values() if d["id"].startswith("evil")]
    assert len(evil) == 1 and "climbs out" in evil[0]["message"]
    assert summary.exit_code == EXIT_INCOMPLETE
    assert sorted(summary.not_graded) == sorted(["broken", "crash", "garbage", evil[0]["id"]])
    assert sorted(jsonl_ids(options.out_dir)) == sorted(docs)

    # A rerun retries the grader's own failures only, and rejected rows are not duplicated.
    before = len(calls(options.out_dir))
    grade_batch([subs, txt, archive], options, workers=1, progress=False, task=cell_count_task)
    assert sorted(calls(options.out_dir)[before:]) == ["broken", "crash", "garbage"]
    assert sorted(jsonl_ids(options.out_dir)) == sorted(docs)


def test_a_worker_killed_every_time_ends_as_an_error_row(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    write_notebook(subs / "killer.ipynb", die=True)
    write_notebook(subs / "flaky.ipynb", die_once=str(tmp_path / "died-once"))
    for i in range(3):
        write_notebook(subs / f"ok{i}.ipynb", sleep=0.2)
    options = toy_options(tmp_path)
    summary = grade_batch([subs], options, workers=2, progress=False, task=cell_count_task)
    docs = results_by_id(options.out_dir)
    assert docs["killer"]["status"] == "error"
    assert "worker died" in docs["killer"]["message"] and "3 time(s)" in docs["killer"]["message"]
    # Bounded: three deaths while running alone (plus possibly one shared with flaky's first death).
    assert 3 <= calls(options.out_dir).count("killer") <= 4
    assert docs["flaky"]["status"] == "graded"  # retried after its worker died once
    assert all(docs[f"ok{i}"]["status"] == "graded" for i in range(3))
    assert summary.exit_code == EXIT_INCOMPLETE and summary.not_graded == ["killer"]


def test_gpu_slots_are_handed_out_one_per_job(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    for i in range(6):
        write_notebook(subs / f"g{i}.ipynb", sleep=0.3)
    options = toy_options(tmp_path)
    summary = grade_batch(
        [subs], options, workers=3, gpus=["7", "8"], gpu_glob="g*", progress=False, task=cell_count_task
    )
    assert summary.exit_code == EXIT_OK
    docs = results_by_id(options.out_dir)
    assert {d["gpu"] for d in docs.values()} == {"7", "8"}


def test_gpu_submissions_without_gpus_are_refused_clearly(tmp_path: Path) -> None:
    write_notebook(tmp_path / "subs" / "g.ipynb")
    with pytest.raises(BatchError, match="need a GPU but the local pool has none"):
        grade_batch(
            [tmp_path / "subs"], toy_options(tmp_path), gpu_glob="*", progress=False, task=cell_count_task
        )


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="no such file"):
        grade_batch([tmp_path / "nope"], toy_options(tmp_path), progress=False, task=cell_count_task)


RUNNER = """
import sys
sys.path[:0] = [{tests!r}, {repo!r}]
from pathlib import Path
from test_batch_tasks import cell_count_task, toy_options
from grader.batch import grade_batch
options = toy_options(Path({tmp!r}))
summary = grade_batch([Path({subs!r})], options, workers=2, progress=False, task=cell_count_task)
sys.exit(summary.exit_code)
"""


def _runner(tmp_path: Path, subs: Path) -> list[str]:
    code = RUNNER.format(tests=str(TESTS), repo=str(REPO), tmp=str(tmp_path), subs=str(subs))
    return [sys.executable, "-c", code]


def _wait_for_results(out: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list((out / "results").glob("*.json"))) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} results after {timeout} s")


def _live_group_members(pgid: int, wait: float) -> list[str]:
    """Processes of a process group that are still running (zombies excluded), after ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        listing = subprocess.run(["ps", "-o", "pid=,stat=", "-g", str(pgid)], capture_output=True, text=True)
        live = [
            line.split()[0] for line in listing.stdout.splitlines() if not line.split()[1].startswith("Z")
        ]
        if not live or time.monotonic() > deadline:
            return live
        time.sleep(0.2)


@pytest.mark.slow
def test_sigkill_mid_batch_then_rerun_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    names = [f"s{i:02d}" for i in range(12)]
    for name in names:
        write_notebook(subs / f"{name}.ipynb", sleep=0.4)
    out = tmp_path / "out"
    process = subprocess.Popen(_runner(tmp_path, subs), start_new_session=True)
    _wait_for_results(out, 3)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p.stem for p in (out / "results").glob("*.json")}
    assert 3 <= len(finished) < len(names)
    # Simulate the worst moment: a half-written line at the end of results.jsonl.
    with (out / "results.jsonl").open("a") as handle:
        handle.write('{"id": "s00", "trunc')

    rerun = subprocess.run(_runner(tmp_path, subs), timeout=120)
    assert rerun.returncode == EXIT_OK
    assert sorted(jsonl_ids(out)) == names  # no row lost, none duplicated
    regraded = calls(out)[-(len(names) - len(finished)) :]
    assert not finished & set(regraded)  # finished ones were not graded again
    for line in (out / "results.jsonl").read_text().splitlines():
        json.loads(line)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_stops_cleanly_and_resumes(tmp_path: Path, signum: int) -> None:
    subs = tmp_path / "subs"
    names = [f"s{i:02d}" for i in range(10)]
    for name in names:
        write_notebook(subs / f"{name}.ipynb", sleep=0.5)
    out = tmp_path / "out"
    process = subprocess.Popen(_runner(tmp_path, subs), start_new_session=True)
    _wait_for_results(out, 2)
    if signum == signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    else:
        process.send_signal(signal.SIGTERM)  # `kill PID`, or a batch system ending the job
    assert process.wait(timeout=30) == EXIT_INTERRUPTED
    assert _live_group_members(process.pid, wait=15) == [], "worker processes outlived the coordinator"
    done = sorted(p.stem for p in (out / "results").glob("*.json"))
    assert sorted(jsonl_ids(out)) == done
    rerun = subprocess.run(_runner(tmp_path, subs), timeout=120)
    assert rerun.returncode == EXIT_OK
    assert sorted(jsonl_ids(out)) == names


def test_grade_help_does_not_import_dask() -> None:
    code = (
        "import sys, grader.batch, grader.commands.grade, grader.commands.worker; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'dask', 'distributed', 'dask_jobqueue'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "[]"


def test_progress_counts_outcomes(capsys: pytest.CaptureFixture[str]) -> None:
    from grader.progress import BatchProgress

    bar = BatchProgress(4, enabled=True, skipped=2)
    for status in ("graded", "timeout", "error", "invalid_notebook"):
        bar.done({"status": status})
    bar.close()
    assert (bar.graded, bar.failed, bar.timed_out) == (1, 2, 1)
    err = capsys.readouterr().err
    assert "2 submission(s) unchanged" in err and "graded=1" in err and "failed=2" in err and "4/4" in err


def test_a_failing_export_keeps_results_and_exits_1(tmp_path: Path) -> None:
    from grader.batch import EXIT_OUTPUTS

    write_notebook(tmp_path / "subs" / "a.ipynb")
    options = toy_options(tmp_path)
    (options.out_dir / "grades.csv").mkdir(parents=True)  # a directory where the CSV must go
    summary = grade_batch([tmp_path / "subs"], options, progress=False, task=cell_count_task)
    assert summary.exit_code == EXIT_OUTPUTS
    assert summary.output_errors and summary.output_errors[0].startswith("grades.csv")
    assert (options.out_dir / "canvas.csv").is_file()  # the other outputs were still written
    assert jsonl_ids(options.out_dir) == ["a"]
