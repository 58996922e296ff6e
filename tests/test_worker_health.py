"""What the coordinator shows about its workers: who is there, what each runs, who left."""

from __future__ import annotations

import time

import pytest

from grader.progress import BatchProgress, WorkerBoard
from grader.worker_health import WorkerActivity, dask_activity, pool_activity


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_board_names_each_worker_its_task_and_how_long() -> None:
    clock = Clock()
    board = WorkerBoard(clock)
    line, notes = board.update([WorkerActivity("a", ("alice",)), WorkerActivity("b")])
    assert line == "2 worker(s) | a: alice 0s | b: idle" and notes == []
    clock.now += 12
    line, notes = board.update([WorkerActivity("a", ("alice",)), WorkerActivity("c", ("bob",))])
    assert line == "2 worker(s) | a: alice 12s | c: bob 0s"
    assert notes == ["worker b left; 2 worker(s) now", "worker c joined; 2 worker(s) now"]


def test_the_local_pool_shows_its_slots() -> None:
    assert pool_activity(2, ["alice"]) == [WorkerActivity("slot 1", ("alice",)), WorkerActivity("slot 2")]


def test_workers_leaving_are_noted_without_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    progress = BatchProgress(3, enabled=False)
    progress.workers([WorkerActivity("w1"), WorkerActivity("w2")])
    progress.workers([WorkerActivity("w1", ("alice",))])
    assert progress.workers_line.startswith("1 worker(s) | w1: alice")
    assert "worker w2 left; 1 worker(s) now" in capsys.readouterr().err


@pytest.mark.slow
def test_dask_workers_and_their_tasks_as_the_scheduler_sees_them() -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        future = client.submit(time.sleep, 5, key="grade-alice")
        deadline = time.monotonic() + 30
        while not any(client.processing().values()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        view = dask_activity(client, {"grade-alice": "alice"}, {})
        assert len(view) == 2 and sorted(w.running for w in view) == [(), ("alice",)]
        future.cancel()
