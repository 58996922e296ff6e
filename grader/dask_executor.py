"""``DaskExecutor``: grading tasks on a Dask cluster, with no file system shared with the workers.

The cluster is a LocalCluster (``--executor dask``), a scheduler address or file (``--scheduler``)
or SLURM jobs (``--slurm``, grader.slurm). Every task travels over the wire (grader.remote): the
coordinator packs the assignment's files once, publishes its data archive once on the scheduler
(a Dask Variable, fetched only by a worker that cannot build the same bytes itself), and writes
what each task returns into the output folder as its future completes.

``Client.get_executor(pure=False)``: two identical submissions stay two tasks; GPU submissions
carry ``resources={"GPU": 1}``. Worker deaths are retried by the scheduler up to its
``allowed-failures`` and then surface as ``KilledWorker`` (WorkerDied to the coordinator). With
``--slurm``, a job that ends under the batch is submitted again (``watch``).
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import dask
from distributed import Client, KilledWorker, LocalCluster, Variable

from grader.context import GradingContext
from grader.datasets import DataError
from grader.executors import MAX_ATTEMPTS, WATCH_EVERY_S, ExecutorError, WorkerDied, relay
from grader.grading import GradeOptions
from grader.remote.coordinator import deliver, describe_data, make_task, pack_assignment, pack_data
from grader.remote.wire import AssignmentFiles, DataSource
from grader.remote.worker import grade_remote
from grader.slurm import SlurmOptions, replace_lost_jobs, slurm_cluster, slurm_job_ids, slurm_request_problem
from grader.submission import Submission
from grader.tasks import Task
from grader.worker_health import WorkerActivity, dask_activity

# Scheduler settings for the clusters grader starts (LocalCluster, SLURM). One task per worker at
# a time: a task merely queued on a worker that a notebook kills would otherwise count that death
# too, and an innocent one could be dropped.
SCHEDULER_SETTINGS = {
    "distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1,
    "distributed.scheduler.worker-saturation": 1.0,
}


@dataclass(frozen=True)
class Shipment:
    """What every task of a batch shares: the assignment's files and where its data comes from."""

    context: GradingContext
    assignment: AssignmentFiles
    data: DataSource
    archive_bytes: int


# Scheduler task states that no waiting future can come back from by itself.
LOST_STATES = frozenset({"forgotten", "released", "erred", "memory"})
LOST_AFTER_S = 30.0  # a result in transit arrives well within this


def _task_states(keys: list[str], dask_scheduler: Any = None) -> dict[str, str]:
    """Run on the scheduler: each key's state ("forgotten" when it holds no such task)."""
    tasks = dask_scheduler.tasks
    return {key: (tasks[key].state if key in tasks else "forgotten") for key in keys}


class DaskExecutor:
    """Tasks on a Dask cluster: a scheduler address or file, a LocalCluster, or SLURM jobs."""

    name = "dask"
    retries_deaths = True

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        workers: int = 1,
        slurm: SlurmOptions | None = None,
        wait_s: float = 60.0,
    ) -> None:
        self.gpu_slots: list[str] = []
        self._cluster: Any = None
        self._wait_s = wait_s
        self._slurm_jobs = 0
        self._keys: WeakKeyDictionary[cf.Future, str] = WeakKeyDictionary()
        self._watched: tuple[float, list[WorkerActivity]] = (0.0, [])
        self._lost_since: dict[str, float] = {}  # keys that look lost, since when
        self._shipment: Shipment | None = None
        self._variables: list[Any] = []  # the data archives this coordinator published
        try:
            if slurm is not None:
                with dask.config.set(SCHEDULER_SETTINGS):
                    self._cluster = slurm_cluster(slurm)
                problem = slurm_request_problem(self._cluster.job_script())
                if problem:
                    raise ExecutorError(f"SLURM refuses the worker jobs' request: {problem}")
                self._slurm_jobs = slurm.jobs
                self._cluster.scale(jobs=slurm.jobs)
                self._client = Client(self._cluster)
            elif scheduler is None:
                with dask.config.set(SCHEDULER_SETTINGS):
                    self._cluster = LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                    )
                self._client = Client(self._cluster)
            elif Path(scheduler).is_file():
                self._client = Client(scheduler_file=scheduler, timeout=wait_s)
            else:
                self._client = Client(scheduler, timeout=wait_s)
        except ExecutorError:
            if self._cluster is not None:
                self._cluster.close()
            raise
        except (OSError, TimeoutError, ValueError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ExecutorError(f"cannot reach the Dask scheduler {scheduler or ''}: {exc}") from exc
        self._cpu = self._client.get_executor(pure=False)
        self._gpu = self._client.get_executor(pure=False, resources={"GPU": 1})

    @property
    def client(self) -> Any:
        return self._client

    def _workers(self) -> dict[str, Any]:
        workers: dict[str, Any] = self._client.scheduler_info(n_workers=-1).get("workers", {})
        return workers

    def gpu_workers(self) -> list[str]:
        return [
            addr for addr, info in self._workers().items() if (info.get("resources") or {}).get("GPU", 0) >= 1
        ]

    def capacity(self) -> int:
        """One task per worker thread, never more: tasks merely waiting on a worker that a notebook
        kills are blamed for its death too (each grading task is its own task group, so the
        scheduler's queuing, worker-saturation, does not hold them back), and an innocent one could
        be failed after ``allowed-failures`` deaths that were not its own."""
        threads = sum(info.get("nthreads", 1) for info in self._workers().values())
        return max(threads, 1)

    def check(self, needs_gpu: bool) -> None:
        """Wait (bounded) for workers; a GPU batch needs a worker offering GPU=1, or Dask waits forever."""
        deadline = time.monotonic() + self._wait_s
        while not self._workers():
            if time.monotonic() > deadline:
                raise ExecutorError(
                    f"no Dask worker joined the scheduler within {self._wait_s:.0f} s; "
                    "start some with `grader worker --scheduler ADDRESS`"
                )
            time.sleep(0.2)
        if needs_gpu:
            while not self.gpu_workers():
                if time.monotonic() > deadline:
                    raise ExecutorError(
                        "some submissions need a GPU but no Dask worker offers the GPU resource; start GPU "
                        "workers with `grader worker --scheduler ADDRESS --gpu ID` (or --slurm-gpus)"
                    )
                time.sleep(0.2)

    def ship(self, options: GradeOptions) -> Shipment:
        """Pack the assignment and publish the data archive, once per grading context."""
        context = options.resolved().context
        assert context is not None
        if self._shipment is not None and self._shipment.context is context:
            return self._shipment
        try:
            archive = pack_data(context.data_dir)
            files = pack_assignment(context)
        except (DataError, OSError) as exc:
            raise ExecutorError(f"cannot send the assignment to the workers: {exc}") from exc
        variable = Variable(f"grader-data-{uuid.uuid4().hex}", client=self._client)
        variable.set(archive)
        self._variables.append(variable)
        self._shipment = Shipment(context, files, describe_data(context, variable.name), len(archive))
        return self._shipment

    def grade(
        self, task: Task, submission: Submission, options: GradeOptions, *, gpu: bool = False
    ) -> cf.Future:
        shipment = self.ship(options)
        try:
            wire = make_task(task, submission, options, shipment.assignment, shipment.data)
        except OSError as exc:  # the notebook went away since intake: that submission's error row
            failed: cf.Future = cf.Future()
            failed.set_exception(exc)
            return failed
        key = f"grade-{submission.id}-{uuid.uuid4().hex[:12]}"  # watch() tells tasks apart by key
        future = relay(
            (self._gpu if gpu else self._cpu).submit(grade_remote, wire, key=key),
            KilledWorker,
            lambda error: f"Dask workers died {MAX_ATTEMPTS} times running it ({error})",
            transform=lambda returned: deliver(returned, Path(options.out_dir)),
        )
        self._keys[future] = key
        return future

    def recover(self) -> None:
        """The scheduler already retried (allowed-failures): nothing to rebuild."""

    def watch(self, labels: Mapping[cf.Future, str]) -> list[WorkerActivity]:
        """At most every WATCH_EVERY_S: replace lost SLURM jobs, and ask who runs what."""
        now = time.monotonic()
        if now - self._watched[0] < WATCH_EVERY_S:
            return self._watched[1]
        jobs: dict[str, str] = {}
        if self._slurm_jobs and self._cluster is not None:
            replace_lost_jobs(self._cluster, self._slurm_jobs)
            jobs = slurm_job_ids(self._cluster)
        by_key = {self._keys[f]: label for f, label in labels.items() if f in self._keys}
        self._give_up_lost([f for f in labels if f in self._keys and not f.done()])
        self._watched = (now, dask_activity(self._client, by_key, jobs))
        return self._watched[1]

    def _give_up_lost(self, pending: list[cf.Future]) -> None:
        """A task the scheduler has finished, failed or forgotten while its future here still waits
        (a result lost between scheduler and client) is given up once it has looked so for
        ``LOST_AFTER_S``: it becomes that submission's error row, and the batch goes on instead of
        waiting forever."""
        keys = {self._keys[f]: f for f in pending}
        if not keys:
            self._lost_since = {}
            return
        try:
            states = self._client.run_on_scheduler(_task_states, list(keys))
        except Exception:  # the scheduler is busy or gone: the next look tries again
            return
        now = time.monotonic()
        lost = {k: self._lost_since.get(k, now) for k, state in states.items() if state in LOST_STATES}
        for key, since in lost.items():
            if now - since >= LOST_AFTER_S:
                keys[key].set_exception(
                    WorkerDied(
                        f"the Dask scheduler has held this task as {states[key]!r} for {now - since:.0f} s, "
                        "but its result never came back"
                    )
                )
        self._lost_since = lost

    def shutdown(self, *, cancel: bool = False) -> None:
        self._cpu.shutdown(wait=False)
        self._gpu.shutdown(wait=False)
        for variable in self._variables:  # a long-lived scheduler keeps no copy of the data
            try:
                variable.delete()
            except Exception:  # the scheduler may be gone already
                pass
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
