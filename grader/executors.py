"""Where grading tasks run: a local process pool or a Dask cluster, behind one small interface.

Both hand back ``concurrent.futures.Future`` objects, so the coordinator (grader.batch) has one
code path: submit, wait for the first to finish, save its result. What differs is hidden here:

* ``LocalExecutor``: a process pool (forkserver: no threads of the coordinator are copied) whose
  workers ignore Ctrl-C (the coordinator handles it) and run one BLAS/torch thread each. A worker
  that dies breaks the whole pool in the standard library, so the pool is rebuilt and the
  coordinator retries the submissions that were in flight, a bounded number of times.
* ``DaskExecutor``: ``Client.get_executor(pure=False)`` (two identical submissions stay two
  tasks); GPU submissions carry ``resources={"GPU": 1}``. Worker deaths are retried by the
  scheduler up to its ``allowed-failures`` and then surface as ``KilledWorker``.

dask is imported only here and only when a Dask executor is made, so ``grader --help`` stays fast.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# Environment for one-thread workers: numeric libraries read these when they start.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
GPU_ENV = "GRADER_GPU"  # set on a GPU worker: the GPU it is pinned to (passed on as GradeOptions.gpu)
MAX_ATTEMPTS = 3  # how often a submission may kill its worker before it becomes an error row


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

    def submit(self, fn: Callable[..., Any], *args: Any, gpu: bool = False) -> cf.Future:
        """Start ``fn(*args)``; a future that raises WorkerDied if the worker dies."""

    def recover(self) -> None:
        """Called after a WorkerDied: make the executor usable again."""

    def shutdown(self, *, cancel: bool = False) -> None:
        """Release workers; ``cancel`` stops running tasks now (Ctrl-C)."""


def _relay(inner: Any, death: type[BaseException], describe: Callable[[BaseException], str]) -> cf.Future:
    """A concurrent.futures.Future mirroring ``inner`` (a pool or Dask future), where the executor's
    own worker-death exception ``death`` becomes WorkerDied, so the coordinator sees one vocabulary."""
    outer: cf.Future = cf.Future()

    def relay(done: Any) -> None:
        if done.cancelled():
            outer.cancel()
            outer.set_running_or_notify_cancel()
            return
        error = done.exception()
        if isinstance(error, death):
            outer.set_exception(WorkerDied(describe(error)))
        elif error is not None:
            outer.set_exception(error)
        else:
            outer.set_result(done.result())

    inner.add_done_callback(relay)
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

    def submit(self, fn: Callable[..., Any], *args: Any, gpu: bool = False) -> cf.Future:
        return _relay(
            self._pool.submit(fn, *args),
            cf.process.BrokenProcessPool,
            lambda error: f"the worker process died ({error})",
        )

    def recover(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

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


# ------------------------------------------------------------------------------------- Dask


@dataclass
class SlurmOptions:
    """Options of ``grader grade --slurm``: one single-threaded worker per SLURM job."""

    jobs: int = 4
    partition: str | None = None
    account: str | None = None
    walltime: str = "02:00:00"
    memory: str = "8GB"
    gpus_per_job: int = 0
    python: str | None = None
    extra_directives: list[str] = field(default_factory=list)
    interface: str | None = None


def _walltime_seconds(walltime: str) -> int:
    """``[D-]HH:MM:SS`` (or ``MM:SS``) in seconds, to fit worker lifetimes under it."""
    days = 0
    if "-" in walltime:
        day_text, walltime = walltime.split("-", 1)
        days = int(day_text)
    parts = [int(p) for p in walltime.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def slurm_cluster(options: SlurmOptions) -> Any:
    """A dask-jobqueue SLURMCluster whose workers each run one grading task at a time.

    Workers retire 10 minutes before the walltime (``--lifetime``, staggered) so SLURM never
    kills one in the middle of a notebook; the cluster's adaptive scaling replaces them.
    """
    from dask_jobqueue import SLURMCluster

    try:
        total = _walltime_seconds(options.walltime)
    except ValueError as exc:
        raise ExecutorError(f"--slurm-walltime {options.walltime!r}: expected [D-]HH:MM:SS") from exc
    lifetime = max(total - 600, total // 2)
    worker_args = ["--lifetime", f"{lifetime}s", "--lifetime-stagger", "120s"]
    directives = list(options.extra_directives)
    prologue = ["export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"]
    if options.gpus_per_job:
        directives.append(f"--gres=gpu:{options.gpus_per_job}")
        worker_args += ["--resources", f"GPU={options.gpus_per_job}"]
        prologue.append(f'export {GPU_ENV}="${{CUDA_VISIBLE_DEVICES%%,*}}"')
    kwargs: dict[str, Any] = {
        "cores": 1,
        "processes": 1,
        "memory": options.memory,
        "walltime": options.walltime,
        "queue": options.partition,
        "account": options.account,
        "job_extra_directives": directives,
        "worker_extra_args": worker_args,
        "job_script_prologue": prologue,
    }
    if options.python:
        kwargs["python"] = options.python
    if options.interface:
        kwargs["interface"] = options.interface
    return SLURMCluster(**kwargs)


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
        import dask
        from distributed import Client, LocalCluster

        self.gpu_slots: list[str] = []
        self._cluster = None
        self._wait_s = wait_s
        try:
            if slurm is not None:
                self._cluster = slurm_cluster(slurm)
                self._cluster.scale(jobs=slurm.jobs)
                self._client = Client(self._cluster)
            elif scheduler is None:
                # One task per worker at a time: a task merely queued on a worker that a notebook
                # kills would otherwise count that death too, and an innocent one could be dropped.
                settings = {
                    "distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1,
                    "distributed.scheduler.worker-saturation": 1.0,
                }
                with dask.config.set(settings):
                    self._cluster = LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                    )
                self._client = Client(self._cluster)
            elif Path(scheduler).is_file():
                self._client = Client(scheduler_file=scheduler, timeout=wait_s)
            else:
                self._client = Client(scheduler, timeout=wait_s)
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
        return self._client.scheduler_info(n_workers=-1).get("workers", {})

    def gpu_workers(self) -> list[str]:
        return [
            addr for addr, info in self._workers().items() if (info.get("resources") or {}).get("GPU", 0) >= 1
        ]

    def capacity(self) -> int:
        threads = sum(info.get("nthreads", 1) for info in self._workers().values())
        return max(2 * threads, 8)

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

    def submit(self, fn: Callable[..., Any], *args: Any, gpu: bool = False) -> cf.Future:
        from distributed import KilledWorker

        return _relay(
            (self._gpu if gpu else self._cpu).submit(fn, *args),
            KilledWorker,
            lambda error: f"Dask workers died {MAX_ATTEMPTS} times running it ({error})",
        )

    def recover(self) -> None:
        """The scheduler already retried (allowed-failures): nothing to rebuild."""

    def shutdown(self, *, cancel: bool = False) -> None:
        self._cpu.shutdown(wait=False)
        self._gpu.shutdown(wait=False)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


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
    return DaskExecutor(scheduler, workers=workers, slurm=slurm, wait_s=wait_s)
