"""The batch coordinator on Dask: a real LocalCluster, worker deaths, GPU routing, `grader worker`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_batch_tasks import calls, cell_count_task, jsonl_ids, toy_options, write_notebook

from grader.batch import EXIT_INCOMPLETE, EXIT_OK, BatchError, grade_batch
from grader.results import load_results

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


def scores(out: Path) -> dict[str, float]:
    return {doc["id"]: doc["score"] for doc in load_results(out)}


@pytest.fixture
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


def test_local_cluster_gives_the_local_pools_results(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    log = tmp_path / "calls.log"
    for i in range(4):
        write_notebook(subs / f"s{i}.ipynb", cells=i + 2, log=str(log))
    write_notebook(subs / "twin_a.ipynb", cells=3, log=str(log))
    write_notebook(
        subs / "twin_b.ipynb", cells=3, log=str(log)
    )  # identical bytes: pure=False keeps two tasks
    local = toy_options(tmp_path / "local")
    dask = toy_options(tmp_path / "dask")
    grade_batch([subs], local, workers=2, progress=False, task=cell_count_task)
    on_the_pool = sorted(calls(log))
    summary = grade_batch([subs], dask, workers=2, executor="dask", progress=False, task=cell_count_task)
    assert summary.exit_code == EXIT_OK and summary.graded_now == 6
    assert scores(dask.out_dir) == scores(local.out_dir)
    assert sorted(calls(log)) == sorted(on_the_pool * 2)  # each submission ran once per batch
    assert {doc["worker"] is not None for doc in load_results(dask.out_dir)} == {True}
    assert sorted(jsonl_ids(dask.out_dir)) == sorted(scores(local.out_dir))


def test_worker_deaths_are_retried_then_become_an_error_row(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    log = str(tmp_path / "calls.log")
    write_notebook(subs / "killer.ipynb", die=True, log=log)
    write_notebook(subs / "flaky.ipynb", die_once=str(tmp_path / "died-once"), log=log)
    write_notebook(subs / "ok.ipynb", log=log)
    options = toy_options(tmp_path)
    summary = grade_batch([subs], options, workers=2, executor="dask", progress=False, task=cell_count_task)
    docs = {doc["id"]: doc for doc in load_results(options.out_dir)}
    assert docs["flaky"]["status"] == "graded" and docs["ok"]["status"] == "graded"
    assert docs["killer"]["status"] == "error" and "worker died" in docs["killer"]["message"]
    assert 1 < calls(tmp_path / "calls.log").count("killer") <= 3  # bounded by allowed-failures
    assert summary.exit_code == EXIT_INCOMPLETE


def test_external_scheduler_without_gpu_workers_is_refused(tmp_path: Path, cluster) -> None:
    write_notebook(tmp_path / "subs" / "g.ipynb")
    with pytest.raises(BatchError, match="no Dask worker offers the GPU resource"):
        grade_batch(
            [tmp_path / "subs"],
            toy_options(tmp_path),
            scheduler=cluster.scheduler_address,
            gpu_glob="*",
            wait_s=2,
            progress=False,
            task=cell_count_task,
        )


def _start_gpu_worker(address: str, gpu: str) -> subprocess.Popen:
    code = f"import sys; sys.path[:0] = [{str(REPO / 'tests')!r}, {str(REPO)!r}]; from grader.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--scheduler", address, "--gpu", gpu, "--name", f"gpu{gpu}"],
        cwd=REPO,
    )


def test_gpu_submissions_reach_only_gpu_workers(tmp_path: Path, cluster) -> None:
    from distributed import Client

    worker = _start_gpu_worker(cluster.scheduler_address, "5")
    try:
        with Client(cluster.scheduler_address) as client:
            deadline = time.monotonic() + 60
            while len(client.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, "the grader worker did not join"
                time.sleep(0.2)
            gpu_address = next(
                addr
                for addr, info in client.scheduler_info()["workers"].items()
                if info["resources"].get("GPU")
            )
        subs = tmp_path / "subs"
        for i in range(3):
            write_notebook(subs / f"gpu{i}.ipynb", sleep=1.0)  # keep the GPU worker busy
        for i in range(4):
            write_notebook(subs / f"cpu{i}.ipynb", sleep=0.1)
        options = toy_options(tmp_path)
        summary = grade_batch(
            [subs],
            options,
            scheduler=cluster.scheduler_address,
            gpu_glob="gpu*",
            progress=False,
            task=cell_count_task,
        )
        assert summary.exit_code == EXIT_OK
        docs = {doc["id"]: doc for doc in load_results(options.out_dir)}
        for i in range(3):
            assert docs[f"gpu{i}"]["worker"] == gpu_address
            assert docs[f"gpu{i}"]["gpu"] == "5"  # the worker's pinned GPU reached GradeOptions.gpu
        cpu_workers = {docs[f"cpu{i}"]["worker"] for i in range(4)}
        assert cpu_workers - {gpu_address}, "CPU submissions waited for the GPU worker"
        assert all(docs[f"cpu{i}"]["gpu"] is None for i in range(4))
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) is not None


def test_a_task_the_scheduler_lost_becomes_an_error_instead_of_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import concurrent.futures as cf

    import grader.dask_executor as dask_executor
    from grader.dask_executor import DaskExecutor
    from grader.executors import WorkerDied

    monkeypatch.setattr(dask_executor, "LOST_AFTER_S", 0.0)
    executor = DaskExecutor(workers=1)
    try:
        assert (
            executor.capacity() == 1
        )  # one task per worker thread: no innocent task waits on a dying worker
        waiting: cf.Future = cf.Future()
        executor._keys[waiting] = "grade-never-submitted-0123456789ab"  # the scheduler holds no such task
        executor._give_up_lost([waiting])
        assert waiting.done()
        with pytest.raises(WorkerDied, match="'forgotten'.*never came back"):
            waiting.result()
    finally:
        executor.shutdown()
