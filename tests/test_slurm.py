"""`grader grade --slurm` on a real single-node SLURM cluster (tests/slurm_cluster.py).

Real munged, slurmctld and slurmd; workers are real ``sbatch`` jobs started by dask-jobqueue.
The bundled examples graded through SLURM score exactly as on the local pool, item by item, and
the jobs carry the requested resources (``scontrol show job``: cores, memory, walltime, and GPUs,
which the test node offers as stand-ins). Cancelling every job mid-batch
costs the running task one retry (the jobs are submitted again); a node drained mid-batch
costs nothing. Skipped where slurm-wlm and munge are missing, except in CI (CI=true): there the
missing cluster fails, since scripts/setup installs it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask
import pytest
from examples_pool import CELL_TIMEOUT_S, PICKED, LocalPoolRun, assert_same_grades, picked_notebooks
from slurm_cluster import SlurmTestCluster, unavailable
from test_batch_tasks import call_log, cell_count_task, toy_options, write_notebook

from grader.batch import EXIT_OK, EXIT_USAGE, grade_batch
from grader.results import load_results
from grader.slurm import SlurmOptions, slurm_request_problem

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
JOB_OPTIONS = SlurmOptions(jobs=2, memory="1GB", walltime="00:10:00")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmTestCluster]:
    """The cluster, with SLURM_CONF set for this process and the jobs it submits.

    The working directory moves to a temporary folder (sbatch writes slurm-<id>.out there), and
    PYTHONPATH names tests/, so the jobs' Dask workers can import this module's tasks.
    """
    reason = unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the SLURM test cluster cannot run in CI: {reason}")
        pytest.skip(reason)
    cluster = SlurmTestCluster(tmp_path_factory.mktemp("slurm"))
    with pytest.MonkeyPatch.context() as patch:
        started = time.monotonic()
        try:
            cluster.start()
            print(f"SLURM test cluster up in {time.monotonic() - started:.1f} s", file=sys.stderr)
            for name, value in cluster.env().items():
                patch.setenv(name, value)
            patch.setenv("PYTHONPATH", os.pathsep.join([str(REPO / "tests"), str(REPO)]))
            patch.chdir(tmp_path_factory.mktemp("slurm-cwd"))
            yield cluster
        finally:
            cluster.stop()


@contextlib.contextmanager
def meanwhile(action: Callable[[], None]) -> Iterator[None]:
    """Run ``action`` in a thread while the body (a batch) runs in this one, then re-raise its error.

    The batch keeps the main thread: the SLURMCluster it starts installs signal handlers.
    """
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    thread.join(60)
    if errors:
        raise errors[0]
    assert not thread.is_alive(), "the action did not finish with the batch"


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def grader(*args: str | Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "grader", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_examples_on_slurm_score_as_on_the_local_pool(
    slurm: SlurmTestCluster, hw2_data: Path, tmp_path: Path, examples_on_the_local_pool: LocalPoolRun
) -> None:
    out = tmp_path / "slurm"
    started = time.monotonic()
    on_slurm = grader(
        "grade",
        *picked_notebooks(),
        "--assignment",
        "hw2",
        "--data",
        hw2_data,
        "--timeout",
        CELL_TIMEOUT_S,
        "--no-progress",
        "--out",
        out,
        "--slurm",
        "--slurm-jobs",
        "2",
        "--slurm-memory",
        "2GB",
        "--slurm-walltime",
        "00:30:00",
        "--wait-workers",
        "180",
        "--slurm-python",
        sys.executable,
        f"--slurm-directive=--output={tmp_path / 'job-%j.out'}",
        cwd=tmp_path,
    )
    try:
        # While the batch runs: the scheduler holds the resources the options asked for.
        wait_until(lambda: len(slurm.jobs("RUNNING")) == 2 or on_slurm.poll() is not None, 180, "2 jobs run")
        for job_id in slurm.jobs("RUNNING"):
            job = slurm.show_job(job_id)
            assert job["NumCPUs"] == "1" and job["TimeLimit"] == "00:30:00", job
            assert job["MinMemoryNode"] == "2G", job
            assert job["Partition"] == "grader" and job["JobName"] == "dask-worker", job
            script = slurm.command("scontrol", "write", "batch_script", job_id, "-")
            for line in ("#SBATCH -t 00:30:00", "#SBATCH --mem=2G", "#SBATCH --cpus-per-task=1"):
                assert line in script, script
            assert f"#SBATCH --output={tmp_path / 'job-%j.out'}" in script and sys.executable in script
        slurm_output, _ = on_slurm.communicate(timeout=900)
    finally:
        if on_slurm.poll() is None:
            on_slurm.kill()
    elapsed = time.monotonic() - started
    assert on_slurm.returncode == EXIT_OK, slurm_output
    docs = {doc["id"]: doc for doc in load_results(out)}
    assert_same_grades(docs, examples_on_the_local_pool.docs())
    for name in PICKED:  # the coordinator wrote what the jobs sent back
        assert docs[name]["submission"] == str(picked_notebooks()[PICKED.index(name)])
        for path in (
            f"run/{name}.json",
            f"executed/{name}.ipynb",
            f"feedback/{name}.html",
            f"feedback/{name}.md",
        ):
            assert (out / path).is_file(), path
    assert len(list(tmp_path.glob("job-*.out"))) >= 2  # the jobs' logs, where --slurm-directive put them
    print(f"{len(PICKED)} examples on SLURM: {elapsed:.0f} s", file=sys.stderr)


def test_gpu_requests_reach_the_scheduler(slurm: SlurmTestCluster, tmp_path: Path) -> None:
    """--slurm-gpus 1: each job asks SLURM for a GPU (the test node's stand-ins), its worker
    offers the GPU resource, and the GPU submissions run there."""
    subs = tmp_path / "subs"
    log = tmp_path / "calls.log"
    for i in range(2):
        write_notebook(subs / f"gpu{i}.ipynb", cells=i + 1, sleep=2, log=str(log))
    options = toy_options(tmp_path)
    seen: list[dict[str, str]] = []

    def look_at_the_job() -> None:
        wait_until(lambda: slurm.jobs("RUNNING"), 240, "the GPU job runs")
        job_id = slurm.jobs("RUNNING")[0]
        seen.append(
            {
                **slurm.show_job(job_id),
                "script": slurm.command("scontrol", "write", "batch_script", job_id, "-"),
            }
        )

    gpu_jobs = SlurmOptions(jobs=1, memory="1GB", walltime="00:10:00", gpus_per_job=1)
    with meanwhile(look_at_the_job):
        summary = grade_batch(
            [subs], options, slurm=gpu_jobs, gpu_glob="*", wait_s=180, progress=False, task=cell_count_task
        )
    assert summary.exit_code == EXIT_OK
    assert {doc["id"]: doc["score"] for doc in load_results(options.out_dir)} == {"gpu0": 1.0, "gpu1": 2.0}
    job = seen[0]
    assert job["TresPerNode"] == "gres:gpu:1", job
    assert "#SBATCH --gres=gpu:1" in job["script"] and "--resources GPU=1" in job["script"]
    assert len({job_id for _, job_id in call_log(log)}) == 1  # both ran in the one GPU job


def test_a_request_slurm_cannot_satisfy_is_refused_with_slurms_reason(
    slurm: SlurmTestCluster, hw2_data: Path, tmp_path: Path
) -> None:
    """More GPUs per job than the node has: refused at once, with SLURM's words, nothing queued."""
    command = grader(
        "grade",
        picked_notebooks()[0],
        "--assignment",
        "hw2",
        "--data",
        hw2_data,
        "--out",
        tmp_path / "out",
        "--slurm",
        "--slurm-gpus",
        str(slurm.gpus + 1),
        "--gpu-notebooks",
        "*",
        cwd=tmp_path,
    )
    output, _ = command.communicate(timeout=300)
    assert command.returncode == EXIT_USAGE, output
    assert "SLURM refuses the worker jobs' request" in output
    assert "Requested node configuration is not available" in output
    assert slurm.jobs() == []
    problem = slurm_request_problem("#!/bin/bash\n#SBATCH -p no-such-partition\nhostname\n")
    assert problem is not None and "invalid partition" in problem.lower()
    assert slurm_request_problem("#!/bin/bash\n#SBATCH -t 00:05:00 --mem=1G\nhostname\n") is None


def test_cancelling_every_job_mid_batch_costs_one_retry(
    slurm: SlurmTestCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = tmp_path / "subs"
    log = tmp_path / "calls.log"
    write_notebook(subs / "slow.ipynb", cells=3, sleep=8, log=str(log))
    for i in range(3):
        write_notebook(subs / f"quick{i}.ipynb", cells=i + 1, sleep=1, log=str(log))
    options = toy_options(tmp_path)
    doomed: list[str] = []

    def cancel_every_job_once_slow_runs() -> None:
        wait_until(lambda: any(i == "slow" for i, _ in call_log(log)), 240, "slow starts")
        doomed.extend(slurm.jobs())
        slurm.command("scancel", *doomed)

    # A lost job is replaced once the cluster forgets its worker (15 s by default; 3 s here).
    with (
        dask.config.set({"distributed.deploy.lost-worker-timeout": "3s"}),
        meanwhile(cancel_every_job_once_slow_runs),
    ):
        summary = grade_batch(
            [subs], options, slurm=JOB_OPTIONS, wait_s=180, progress=False, task=cell_count_task
        )

    docs = {doc["id"]: doc for doc in load_results(options.out_dir)}
    assert sorted(docs) == ["quick0", "quick1", "quick2", "slow"]  # no submission lost
    assert summary.exit_code == EXIT_OK and {d["status"] for d in docs.values()} == {"graded"}
    assert docs["slow"]["score"] == 3.0
    runs = [job for name, job in call_log(log) if name == "slow"]
    assert len(runs) == 2, runs  # one retry, no more
    assert runs[0] in doomed and runs[1] not in doomed  # the retry ran in a job submitted anew
    assert "left" in capsys.readouterr().err  # the coordinator said that workers went away


def test_a_node_drained_mid_batch_costs_nothing(slurm: SlurmTestCluster, tmp_path: Path) -> None:
    """Draining lets running jobs finish; the workers in them finish the batch, no task reruns."""
    subs = tmp_path / "subs"
    log = tmp_path / "calls.log"
    for i in range(4):
        write_notebook(subs / f"nb{i}.ipynb", cells=i + 1, sleep=3, log=str(log))
    options = toy_options(tmp_path)
    states: list[str] = []

    def drain_once_a_task_runs() -> None:
        wait_until(lambda: call_log(log), 240, "a task starts")
        slurm.command("scontrol", "update", f"nodename={slurm.node}", "state=drain", "reason=grader-test")
        states.append(slurm.node_state())

    try:
        with meanwhile(drain_once_a_task_runs):
            summary = grade_batch(
                [subs], options, slurm=JOB_OPTIONS, wait_s=180, progress=False, task=cell_count_task
            )
        assert states and states[0] in {"drng", "drain"}, states
    finally:
        slurm.command("scontrol", "update", f"nodename={slurm.node}", "state=resume", check=False)
    assert summary.exit_code == EXIT_OK
    docs = {doc["id"]: doc for doc in load_results(options.out_dir)}
    assert {name: doc["score"] for name, doc in docs.items()} == {f"nb{i}": float(i + 1) for i in range(4)}
    assert sorted(name for name, _ in call_log(log)) == [f"nb{i}" for i in range(4)]  # each exactly once


def test_cluster_files_stay_in_their_folder(slurm: SlurmTestCluster) -> None:
    """The cluster's configuration names only its own folder and this node (nothing from /etc)."""
    conf = slurm.conf.read_text(encoding="utf-8")
    assert f"NodeName={slurm.node} " in conf and "ProctrackType=proctrack/linuxproc" in conf
    for line in conf.splitlines():
        if line.split("=")[0].endswith(("Location", "SpoolDir", "PidFile", "LogFile")):
            assert line.split("=", 1)[1].startswith(str(slurm.root)), line
