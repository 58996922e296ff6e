"""Batch grading: the coordinator that runs grade_one over many submissions.

The coordinator alone writes results, the moment each future completes (``save_result``:
results/<id>.json atomically, then a line in results.jsonl). ``rebuild_jsonl`` runs when a batch
starts and ends, so a run killed at any instant (even SIGKILL) loses no row and duplicates none
once the same command runs again. A rerun skips a submission whose stored result has both keys
unchanged (grader.keys) and a final status (``graded``, ``timeout``, ``invalid_notebook``); one
whose scoring key alone changed, or whose stored run's harvest plan still covers the rubric, is
rescored from OUT/run/<id>.json without running anything (grader.rescore.in_batch); ``error`` and
``sandbox_error`` rows are retried, ``force`` regrades all. The same loop drives the local pool
and Dask (grader.executors).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import signal
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from grader.datasets import DataError
from grader.environment import KernelEnvironmentError
from grader.executors import (
    MAX_ATTEMPTS,
    WATCH_EVERY_S,
    Executor,
    ExecutorError,
    SlurmOptions,
    WorkerDied,
    make_executor,
)
from grader.grading import GradeOptions, error_result, grade_one
from grader.intake import Intake, IntakeError, Rejected, collect
from grader.progress import BatchProgress
from grader.publish import publish
from grader.rescore.in_batch import describe_reasons, rescore_in_batch, triage
from grader.results import load_results, rebuild_jsonl, result_path, save_result
from grader.submission import Submission
from grader.tasks import Task, run_task

EXIT_OK = 0
EXIT_OUTPUTS = 1  # every result is saved, but the class summary or an export could not be written
EXIT_USAGE = 2  # bad arguments, unknown assignment, no GPU where one is needed
EXIT_INCOMPLETE = 3  # some submissions could not be graded (status error or sandbox_error)
EXIT_INTERRUPTED = 130  # Ctrl-C: finished results are kept, rerun to resume

NOT_GRADED = frozenset({"error", "sandbox_error"})


class BatchError(RuntimeError):
    """The batch cannot start (usage-level problem); the CLI exits with EXIT_USAGE."""


@dataclass
class BatchSummary:
    """What a batch did; ``statuses`` counts every submission of the batch, skipped ones too."""

    out_dir: Path
    total: int = 0
    graded_now: int = 0  # executed now
    rescored: int = 0  # scored again from their stored runs (only the scoring key changed)
    skipped: int = 0
    retried: int = 0
    interrupted: bool = False
    statuses: Counter[str] = field(default_factory=Counter)
    not_graded: list[str] = field(default_factory=list)  # ids with status error/sandbox_error
    output_errors: list[str] = field(default_factory=list)  # summary/exports that failed

    def count(self, document: dict[str, Any]) -> None:
        """Count one submission's result by its status (every result of the batch, skipped too)."""
        status = str(document.get("status"))
        self.statuses[status] += 1
        if status in NOT_GRADED:
            self.not_graded.append(str(document.get("id")))

    reasons: dict[str, list[str]] = field(default_factory=dict)  # why one graded before ran again
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.output_errors:
            return EXIT_OUTPUTS
        return EXIT_INCOMPLETE if self.not_graded else EXIT_OK

    def describe(self) -> str:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items())) or "nothing"
        text = (
            f"{self.total} submission(s): {counts}; {self.graded_now} executed, {self.rescored} rescored "
            f"from stored runs, {self.skipped} unchanged (skipped) in {self.wall_s:.1f} s. "
            f"Results: {self.out_dir / 'results.jsonl'}"
        )
        for line in describe_reasons(self.reasons):
            text += f"\nExecuted again: {line}"
        if self.not_graded:
            text += f"\nCould not be graded: {', '.join(self.not_graded)} (see their result rows)"
        for problem in self.output_errors:
            text += f"\nCould not write {problem}"
        if self.interrupted:
            text += "\nInterrupted: run the same command again to resume."
        return text


def submission_hash(submission: Submission, options: GradeOptions) -> str:
    """The ``content_hash`` a result of ``submission`` under ``options`` carries (for resume).

    ``options`` should already be resolved (grade_batch does it once for the batch).
    """
    return options.resolved().keys(Path(submission.path)).content_hash


def crash_result(
    submission: Submission, options: GradeOptions, message: str, detail: str | None
) -> dict[str, Any]:
    """The row for a submission the grader itself failed on (exception, dead worker)."""
    document = error_result(submission, options, message, detail=detail)
    document["content_hash"] = submission_hash(submission, options)
    return document


def rejected_result(item: Rejected, options: GradeOptions) -> dict[str, Any]:
    """The row for an input intake could not turn into a gradable notebook."""
    submission = Submission(id=item.id, student=item.student, path=Path(item.source), source=item.source)
    document = error_result(submission, options, item.message, status=item.status)
    document["submission"] = item.source
    document["content_hash"] = item.content_hash
    return document


def grade_batch(
    paths: list[Path],
    options: GradeOptions,
    *,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    force: bool = False,
    progress: bool = True,
    gpus: list[str] | None = None,
    gpu_glob: str | None = None,
    threads: int = 1,
    slurm: SlurmOptions | None = None,
    wait_s: float = 60.0,
    task: Task = grade_one,
) -> BatchSummary:
    """Grade every submission found in ``paths`` into ``options.out_dir``; see the module docstring.

    ``task`` is the per-submission function (a module-level function, so workers can import it).
    ``wait_s`` bounds the wait for Dask workers (and GPU workers) to join before grading starts.
    Raises BatchError for problems that stop the batch before it starts.
    """
    started = time.monotonic()
    out_dir = Path(options.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    rebuild_jsonl(out_dir)  # repair whatever a killed run left behind
    try:
        options = options.resolved()  # data built once here, not by every worker at once
    except KernelEnvironmentError as exc:
        raise BatchError(str(exc)) from exc
    except (DataError, OSError, ValueError) as exc:
        raise BatchError(f"the assignment's data cannot be prepared: {exc}") from exc
    options = replace(options, out_dir=out_dir)  # absolute, like the context's paths: workers have any cwd
    summary = BatchSummary(out_dir=out_dir)

    intake = _intake(paths, out_dir, options, gpu_glob)
    for item in intake.rejected:
        document = rejected_result(item, options)
        stored = _stored(out_dir, item.id)
        unchanged = stored is not None and all(
            stored.get(key) == document[key] for key in ("content_hash", "status", "message")
        )
        if not unchanged:
            save_result(out_dir, document)
        summary.count(document)

    triaged = triage(intake.submissions, options, force=force)
    summary.skipped = len(triaged.skipped)
    for stored in triaged.skipped:
        summary.count(stored)
    summary.total = len(intake.submissions) + len(intake.rejected)
    if triaged.rescore:
        with _sigterm_interrupts():
            summary.rescored, summary.interrupted = rescore_in_batch(
                triaged, options, workers=workers, on_document=lambda doc: summary.count(doc)
            )
    summary.reasons = triaged.reasons
    jobs = [] if summary.interrupted else triaged.execute

    if jobs:
        try:
            pool = make_executor(
                executor,
                workers=workers,
                scheduler=scheduler,
                gpus=gpus,
                threads=threads,
                slurm=slurm,
                wait_s=wait_s,
            )
        except ExecutorError as exc:
            raise BatchError(str(exc)) from exc
        bar = BatchProgress(len(jobs), enabled=progress, skipped=summary.skipped)
        try:
            with _sigterm_interrupts():
                pool.check(any(job.needs_gpu for job in jobs))
                _drive(jobs, options, pool, task, bar, summary)
        except KeyboardInterrupt:
            summary.interrupted = True
            bar.note("Interrupted: stopping workers; finished results are saved.")
            pool.shutdown(cancel=True)
            pool = None  # type: ignore[assignment]
        except ExecutorError as exc:
            raise BatchError(str(exc)) from exc
        finally:
            bar.close()
            if pool is not None:
                pool.shutdown()
            rebuild_jsonl(out_dir)
    else:
        rebuild_jsonl(out_dir)
    if not summary.interrupted:
        summary.output_errors = _finish(out_dir, options)
    summary.wall_s = time.monotonic() - started
    return summary


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, a batch system ending the job) stops the batch as cleanly as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _intake(paths: list[Path], out_dir: Path, options: GradeOptions, gpu_glob: str | None) -> Intake:
    context = options.context
    assert context is not None  # grade_batch resolved it
    template = context.assignment.template
    preferred = template.name if template is not None else None
    try:
        return collect(
            [Path(p) for p in paths],
            out_dir / ".intake",
            preferred_name=preferred,
            gpu_glob=gpu_glob,
            all_need_gpu=context.needs_gpu,
        )
    except IntakeError as exc:
        raise BatchError(str(exc)) from exc


def _stored(out_dir: Path, submission_id: str) -> dict[str, Any] | None:
    path = result_path(out_dir, submission_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _drive(
    jobs: list[Submission],
    options: GradeOptions,
    pool: Executor,
    task: Task,
    bar: BatchProgress,
    summary: BatchSummary,
) -> None:
    """Keep up to ``pool.capacity()`` tasks in flight; save each result as its future completes.

    A local pool with GPU slots hands each task one slot (``GradeOptions.gpu``) and takes it back
    when the task ends. A dead worker breaks a local pool and fails every task it held, so no one
    is blamed for a death shared with others: those tasks become suspects and rerun one at a
    time; a death while running alone counts, and MAX_ATTEMPTS of them make an error row.
    """
    pending = deque(jobs)
    in_flight: dict[cf.Future, tuple[Submission, str | None]] = {}
    free_gpus = list(pool.gpu_slots)
    attempts: Counter[str] = Counter()  # deaths while running alone (local pool)
    suspects: set[str] = set()  # in flight when a local pool broke; rerun alone

    def finish(submission: Submission, document: dict[str, Any]) -> None:
        save_result(options.out_dir, document)
        summary.graded_now += 1
        summary.count(document)
        bar.done(document)

    while pending or in_flight:
        capacity = pool.capacity()
        while pending and len(in_flight) < capacity:
            if in_flight and (
                pending[0].id in suspects or any(s.id in suspects for s, _ in in_flight.values())
            ):
                break  # a suspect runs alone, so its next death is its own
            slot = None
            if pool.gpu_slots:
                if not free_gpus:
                    break
                slot = free_gpus.pop(0)
            submission = pending.popleft()
            task_options = replace(options, gpu=slot) if slot is not None else options
            future = pool.grade(task, submission, task_options, gpu=submission.needs_gpu)
            in_flight[future] = (submission, slot)
        done, _ = cf.wait(list(in_flight), timeout=WATCH_EVERY_S, return_when=cf.FIRST_COMPLETED)
        bar.workers(pool.watch({future: s.id for future, (s, _) in in_flight.items()}))
        if not pool.retries_deaths and any(isinstance(f.exception(), WorkerDied) for f in done):
            # A dead worker breaks the whole local pool: collect every task it held, then rebuild.
            done, _ = cf.wait(list(in_flight), return_when=cf.ALL_COMPLETED)
            broken = True
        else:
            broken = False
        shared = sum(isinstance(f.exception(), WorkerDied) for f in done) > 1
        for future in done:
            submission, slot = in_flight.pop(future)
            if slot is not None:
                free_gpus.append(slot)
            if broken and shared and isinstance(future.exception(), WorkerDied):
                suspects.add(submission.id)
                document = None
            else:
                document = _outcome(future, submission, options, pool, attempts)
            if document is None:
                summary.retried += 1
                bar.note(f"{submission.id}: its worker died ({future.exception()}); retrying")
                pending.appendleft(submission)
            else:
                finish(submission, document)
        if broken:
            pool.recover()


def _outcome(
    future: cf.Future, submission: Submission, options: GradeOptions, pool: Executor, attempts: Counter[str]
) -> dict[str, Any] | None:
    """The result document a finished future stands for; None means "retry it"."""
    try:
        document = future.result()
    except WorkerDied as exc:
        attempts[submission.id] += 1
        if not pool.retries_deaths and attempts[submission.id] < MAX_ATTEMPTS:
            return None
        tries = "repeatedly" if pool.retries_deaths else f"{attempts[submission.id]} time(s)"
        message = (
            f"the grading worker died while running this notebook, {tries} (killed, or out of memory?): {exc}"
        )
        return crash_result(submission, options, message, None)
    except Exception as exc:  # the grader itself crashed on this file
        message = f"the grader crashed on this submission ({type(exc).__name__}: {exc})"
        return crash_result(submission, options, message, "".join(traceback.format_exception(exc)))
    if not isinstance(document, dict) or "status" not in document:
        message = f"the grading task returned {type(document).__name__}, not a result document"
        return crash_result(submission, options, message, None)
    return document


def _finish(out_dir: Path, options: GradeOptions) -> list[str]:
    """Gradebook exports and the class summary over every stored result (the per-student pages
    were rendered as each submission was graded); the outputs that failed, if any."""
    results = load_results(out_dir)
    if not results:
        return []
    done = publish(
        results, out_dir, assignment=options.assignment, feedback=False, summary=options.write_reports
    )
    return done.failures


__all__ = [
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUTPUTS",
    "EXIT_USAGE",
    "BatchError",
    "BatchSummary",
    "grade_batch",
    "run_task",
    "submission_hash",
]
