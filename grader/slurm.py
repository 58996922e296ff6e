"""SLURM: the worker jobs of ``grader grade --slurm`` (dask-jobqueue), and keeping them alive.

* ``slurm_cluster``: a SLURMCluster whose jobs each run one single-threaded Dask worker, with the
  resources an instructor asked for (cores, memory, walltime, GPUs) in the job script.
* ``slurm_request_problem``: before any job is queued, SLURM itself (``sbatch --test-only``) says
  whether the job script's request can ever run here (partition, account, memory, walltime, GPUs),
  so an impossible request is a clear message at once instead of workers that never join.
* ``replace_lost_jobs`` / ``slurm_job_ids``: a job that ends under the batch (``scancel``, a node
  failure, a worker retiring before its walltime) is submitted again, so a lost job costs the task
  it held one retry (the Dask scheduler retries it), never the batch its workers.

dask-jobqueue is imported only inside ``slurm_cluster``, so ``grader --help`` stays fast.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Any

from grader.tasks import GPU_ENV


class SlurmError(ValueError):
    """The SLURM options cannot make a job script (a malformed walltime, for instance)."""


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


def walltime_seconds(walltime: str) -> int:
    """``[D-]HH:MM:SS`` (or ``MM:SS``) in seconds, to fit worker lifetimes under it."""
    days = 0
    if "-" in walltime:
        day_text, walltime = walltime.split("-", 1)
        days = int(day_text)
    parts = [int(p) for p in walltime.split(":")]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"not a walltime: {walltime!r}")
    while len(parts) < 3:
        parts.insert(0, 0)
    hours, minutes, seconds = parts
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def slurm_cluster(options: SlurmOptions) -> Any:
    """A dask-jobqueue SLURMCluster whose workers each run one grading task at a time.

    Workers retire 10 minutes before the walltime (``--lifetime``, staggered) so SLURM never
    kills one in the middle of a notebook; the coordinator submits a job in each one's place
    (``replace_lost_jobs``).
    """
    from dask_jobqueue import SLURMCluster

    try:
        total = walltime_seconds(options.walltime)
    except ValueError as exc:
        raise SlurmError(f"--slurm-walltime {options.walltime!r}: expected [D-]HH:MM:SS") from exc
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


def slurm_job_ids(cluster: Any) -> dict[str, str]:
    """Worker name to SLURM job id, for the jobs a dask-jobqueue cluster has submitted."""
    return {
        str(name): str(job.job_id)
        for name, job in dict(cluster.workers).items()
        if getattr(job, "job_id", None)
    }


def replace_lost_jobs(cluster: Any, jobs: int) -> bool:
    """Submit again the jobs of a dask-jobqueue cluster that ended; True when some were.

    A SpecCluster forgets a worker ``distributed.deploy.lost-worker-timeout`` (15 s) after it
    left, but only scaling brings a replacement, and nothing else scales a fixed-size cluster:
    so scale to the same target whenever fewer jobs remain than were asked for.
    """
    if len(cluster.workers) >= jobs:
        return False
    cluster.scale(jobs=jobs)
    return True


def slurm_request_problem(job_script: str, sbatch: str = "sbatch") -> str | None:
    """What SLURM says against this job script (``sbatch --test-only``: nothing is queued), or None."""
    if shutil.which(sbatch) is None:
        return f"{sbatch} not found: --slurm needs a machine where SLURM's commands work (a login node)"
    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="grader-slurm-") as script:
        script.write(job_script)
        script.flush()
        try:
            done = subprocess.run(
                [sbatch, "--test-only", script.name], capture_output=True, text=True, timeout=60
            )
        except subprocess.TimeoutExpired:
            return f"{sbatch} --test-only did not answer within 60 s: is slurmctld reachable?"
    if done.returncode == 0:
        return None
    return " ".join(done.stderr.split()) or f"{sbatch} --test-only exited with status {done.returncode}"
