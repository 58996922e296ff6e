"""Where grading tasks run: a local process pool or a Dask cluster, behind one small interface.

Both hand back ``concurrent.futures.Future`` objects resolving to a result document, so the
coordinator (grader.batch) has one code path: hand over a submission, wait for the first to
finish, save its result. What differs is hidden behind ``Executor``:

* ``LocalExecutor`` (here): a process pool (forkserver: no threads of the coordinator are
  copied) whose workers ignore Ctrl-C (the coordinator handles it) and run one BLAS/torch thread
  each. The workers share the coordinator's disk: a task reads the notebook where it lies and
  writes its run record, executed notebook and feedback into the output folder itself. A worker
  that dies breaks the whole pool in the standard library, so the pool is rebuilt and the
  coordinator retries the submissions that were in flight, a bounded number of times.
* ``DaskExecutor`` (grader.dask_executor): a LocalCluster, a scheduler address or file, or SLURM
  jobs (grader.slurm). Tasks travel over the wire (grader.remote): workers need no shared file
  system, and the coordinator alone writes the output folder.

``watch`` tells the coordinator which workers there are and what each runs (grader.worker_health).
dask is imported only when a Dask executor is made, so ``grader --help`` stays fast.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from grader.slurm import SlurmError, SlurmOptions, slurm_cluster
from grader.tasks import GPU_ENV, Task, run_task
from grader.worker_health import WorkerActivity, pool_activity

if TYPE_CHECKING:
    from grader.grading import GradeOptions
    from grader.submission import Submission

__all__ = [
    "GPU_ENV",
    "MAX_ATTEMPTS",
    "THREAD_VARS",
    "WATCH_EVERY_S",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "SlurmOptions",
    "WorkerDied",
    "make_executor",
    "slurm_cluster",
]

# Environment for one-thread workers: numeric libraries read these when they start.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
MAX_ATTEMPTS = 3  # how often a submission may kill its worker before it becomes an error row
WATCH_EVERY_S = 2.0  # how often the coordinator looks at its workers


class ExecutorError(RuntimeError):
    """The executor cannot run this batch (no workers, no GPU workers, bad scheduler address)."""


class WorkerDied(RuntimeError):
    """The process running a task died (killed, out of memory) before it returned."""


class Executor(Protocol):
    """What the coordinator needs from wherever tasks run."""

    name: str
    gpu_slots: list[str]  # local pool: GPU ids handed out one per running task; empty otherwise
    retries_deaths: bool  # True: a WorkerDied is final (the executor retried already)

    def capacity(self) -> int:
        """How many tasks the coordinator should keep in flight."""

    def check(self, needs_gpu: bool) -> None:
        """Raise ExecutorError (clear message) when the batch cannot run here."""

    def grade(
        self, task: Task, submission: Submission, options: GradeOptions, *, gpu: bool = False
    ) -> cf.Future:
        """Start ``task`` on ``submission``: a future of its result document, which raises
        WorkerDied if the worker dies (``gpu``: only a GPU worker may run it)."""

    def recover(self) -> None:
        """Called after a WorkerDied: make the executor usable again."""

    def watch(self, labels: Mapping[cf.Future, str]) -> list[WorkerActivity]:
        """The workers now and what each runs (``labels``: the futures in flight, by submission);
        also where lost SLURM jobs are submitted again. Called every couple of seconds."""

    def shutdown(self, *, cancel: bool = False) -> None:
        """Release workers; ``cancel`` stops running tasks now (Ctrl-C)."""


def relay(
    inner: Any,
    death: type[BaseException],
    describe: Callable[[BaseException], str],
    transform: Callable[[Any], Any] | None = None,
) -> cf.Future:
    """A concurrent.futures.Future mirroring ``inner`` (a pool or Dask future), where the executor's
    own worker-death exception ``death`` becomes WorkerDied, so the coordinator sees one vocabulary.
    ``transform`` turns the inner result into the outer one (its exception becomes the outer's)."""
    outer: cf.Future = cf.Future()

    def mirror(done: Any) -> None:
        if outer.done():  # the coordinator gave up on it already (DaskExecutor.watch: a lost task)
            return
        if done.cancelled():
            outer.cancel()
            outer.set_running_or_notify_cancel()
            return
        error = done.exception()
        if isinstance(error, death):
            outer.set_exception(WorkerDied(describe(error)))
        elif error is not None:
            outer.set_exception(error)
        elif transform is None:
            outer.set_result(done.result())
        else:
            try:
                outer.set_result(transform(done.result()))
            except Exception as exc:
                outer.set_exception(exc)

    inner.add_done_callback(mirror)
    return outer


# ------------------------------------------------------------------------------- local pool


def _init_worker(threads: int) -> None:
    """Pool worker start-up: the coordinator owns Ctrl-C; SIGTERM unwinds so sandboxes clean up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    for var in THREAD_VARS:
        os.environ[var] = str(threads)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


@dataclass
class LocalExecutor:
    """A process pool of ``workers`` processes; ``gpus`` lists one slot per concurrent GPU job."""

    workers: int = 1
    threads: int = 1
    gpus: list[str] = field(default_factory=list)
    name: str = "local"
    retries_deaths: bool = False

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ExecutorError(f"--workers must be at least 1, got {self.workers}")
        self.gpu_slots = list(self.gpus)
        self._pool = self._new_pool()

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        return cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=_init_worker, initargs=(self.threads,)
        )

    def capacity(self) -> int:
        return self.workers

    def check(self, needs_gpu: bool) -> None:
        if needs_gpu and not self.gpu_slots:
            raise ExecutorError(
                "some submissions need a GPU but the local pool has none: pass --gpus 0[,1...] "
                "or grade them on a Dask cluster with GPU workers (grader worker --gpu ID)"
            )

    def grade(
        self, task: Task, submission: Submission, options: GradeOptions, *, gpu: bool = False
    ) -> cf.Future:
        return relay(
            self._pool.submit(run_task, task, submission, options),
            cf.process.BrokenProcessPool,
            lambda error: f"the worker process died ({error})",
        )

    def recover(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def watch(self, labels: Mapping[cf.Future, str]) -> list[WorkerActivity]:
        return pool_activity(self.workers, labels.values())

    def shutdown(self, *, cancel: bool = False) -> None:
        if cancel:
            # The stdlib has no public way to stop running workers before Python 3.14.
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
        else:
            self._pool.shutdown(wait=True)


def make_executor(
    executor: str,
    *,
    workers: int,
    scheduler: str | None,
    gpus: list[str] | None,
    threads: int,
    slurm: SlurmOptions | None,
    wait_s: float = 60.0,
) -> Executor:
    """``local`` (a process pool) or ``dask`` (a scheduler address/file, SLURM, or a LocalCluster)."""
    if executor == "local" and scheduler is None and slurm is None:
        return LocalExecutor(workers=workers, threads=threads, gpus=list(gpus or []))
    if executor not in {"local", "dask"}:
        raise ExecutorError(f"unknown executor {executor!r}; use 'local' or 'dask'")
    if gpus:
        raise ExecutorError(
            "--gpus is for the local pool; on Dask start GPU workers with `grader worker --gpu ID` "
            "(or use --slurm-gpus)"
        )
    from grader.dask_executor import DaskExecutor  # lazy: imports dask, which `grader --help` must not

    try:
        return DaskExecutor(scheduler, workers=workers, slurm=slurm, wait_s=wait_s)
    except SlurmError as exc:
        raise ExecutorError(str(exc)) from exc
