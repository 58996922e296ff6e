"""Rescore many stored runs in a local process pool, streaming each result to the coordinator.

The coordinator alone writes result documents, each results/<id>.json atomically as it arrives
(results.jsonl, derived from them, is rebuilt once at the end: one fsync per document, not two),
and keeps only a small ``ScoreMove`` per submission, so its memory stays flat however large the
class. Workers read run records and
stored results, score, and render the students' pages. A rescore killed at any instant (even
SIGKILL) leaves every result either as it was or rescored; running it again finishes the job:
``rebuild_jsonl`` at the start (unless ``jsonl_current`` finds results.jsonl newer than every
result and one line per result) and at the end repairs results.jsonl.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.grading import GradeOptions
from grader.publish import publish
from grader.rescore.diff import ScoreMove
from grader.rescore.one import Rescored, RescoreJob, rescore_one
from grader.results import iter_results, jsonl_current, rebuild_jsonl, result_path, write_json_atomic

IN_PROCESS_BELOW = 3  # fewer jobs than this are rescored in the coordinator
CHUNK = 4  # jobs per task sent to a worker
IN_FLIGHT = 2  # tasks per worker submitted ahead

_WORKER: dict[str, Any] = {}


def _init(options: GradeOptions, render: bool, dry_run: bool) -> None:
    """A pool worker's one-time setup: the (pickled once) options and flags."""
    _WORKER.update(options=options, render=render, dry_run=dry_run)


def _work(chunk: list[RescoreJob]) -> list[Rescored]:
    return [
        rescore_one(job, _WORKER["options"], render=_WORKER["render"], dry_run=_WORKER["dry_run"])
        for job in chunk
    ]


def rescore_stream(
    jobs: list[RescoreJob], options: GradeOptions, *, workers: int, render: bool, dry_run: bool
) -> Iterator[Rescored]:
    """Each job's outcome, in job order, as workers finish them (``options`` resolved).

    At most ``IN_FLIGHT`` chunks per worker are out at once, so a coordinator slower than its
    workers (it saves every document) never holds more than a few documents in memory."""
    workers = max(1, min(workers, os.cpu_count() or 1, len(jobs)))
    if workers == 1 or len(jobs) < IN_PROCESS_BELOW:
        for job in jobs:
            yield rescore_one(job, options, render=render, dry_run=dry_run)
        return
    chunks = deque(jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK))
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_start_method(),
        initializer=_init,
        initargs=(options, render, dry_run),
    ) as pool:
        pending: deque[Future[list[Rescored]]] = deque()
        while chunks or pending:
            while chunks and len(pending) < IN_FLIGHT * workers:
                pending.append(pool.submit(_work, chunks.popleft()))
            yield from pending.popleft().result()


def _start_method() -> multiprocessing.context.BaseContext:
    """fork when this process runs one thread (workers inherit the imported scorer and plotting
    libraries: measured 0.1 s to start two, against 5 to 11 s for forkserver on a loaded 2-core
    machine); forkserver otherwise, so no other thread's held lock is copied into a worker."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


@dataclass
class RescoreSummary:
    """What a rescore did: counts, the score moves, what needs execution, what failed."""

    out_dir: Path
    dry_run: bool = False
    total: int = 0
    rescored: int = 0
    rendered: int = 0
    moves: list[ScoreMove] = field(default_factory=list)  # only submissions whose score moved
    needs_execution: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    output_errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    wall_s: float = 0.0

    def take(self, outcome: Rescored) -> None:
        """Count one worker outcome (the caller has saved its document)."""
        if outcome.document is not None:
            self.rescored += 1
            self.rendered += int(outcome.rendered)
            if outcome.move is not None and outcome.move.moved:
                self.moves.append(outcome.move)
        elif outcome.needs_execution:
            self.needs_execution[outcome.id] = outcome.needs_execution
        else:
            self.problems[outcome.id] = outcome.problem or "unknown failure"

    def diff_lines(self) -> list[str]:
        """Who moved, by how much, on which items: largest moves first."""
        ordered = sorted(self.moves, key=lambda m: (-abs(m.delta), m.id))
        return [move.describe() for move in ordered]

    def describe(self) -> str:
        verb = "would move" if self.dry_run else "moved"
        text = (
            f"{self.total} stored run(s): {self.rescored} rescored ({len(self.moves)} {verb}, "
            f"{self.rescored - len(self.moves)} unchanged), {len(self.needs_execution)} need execution, "
            f"{len(self.problems)} failed, in {self.wall_s:.1f} s"
        )
        if self.rescored:
            text += f" ({self.wall_s / max(1, self.total) * 1000:.0f} ms per submission)"
        if self.dry_run:
            text += "; dry run: nothing written"
        for sid, reasons in sorted(self.needs_execution.items()):
            text += f"\nNeeds execution (`grader grade` runs it again): {sid}: {'; '.join(reasons)}"
        for sid, problem in sorted(self.problems.items()):
            text += f"\nCould not rescore {sid}: {problem.splitlines()[0]}"
        for problem in self.output_errors:
            text += f"\nCould not write {problem}"
        if self.interrupted:
            text += "\nInterrupted: run the same command again to finish."
        return text


def stored_run_ids(out_dir: Path) -> list[str]:
    """Every submission with a stored run record, sorted."""
    return sorted(path.stem for path in (Path(out_dir) / "run").glob("*.json"))


def slim(document: dict[str, Any]) -> dict[str, Any]:
    """What the class summary and the gradebook exports read of a result (no curves, images or
    clean cells), so publishing a whole class holds little in memory."""
    light = {k: v for k, v in document.items() if k not in ("items", "cells")}
    fired = {limit.get("cell") for limit in document.get("limits_fired") or [] if isinstance(limit, dict)}
    light["cells"] = [  # the class summary groups causes by these (grader.report.problems.causes)
        c
        for c in document.get("cells") or []
        if isinstance(c, dict)
        and (
            c.get("error")
            or c.get("diagnosis")
            or c.get("status") not in (None, "ok")
            or c.get("index") in fired
        )
    ]
    items = []
    for item in document.get("items") or []:
        if isinstance(item, dict):
            evidence = item.get("evidence")
            kept = (
                {"manual": evidence["manual"]} if isinstance(evidence, dict) and "manual" in evidence else {}
            )
            items.append({**item, "evidence": kept})
    light["items"] = items
    return light


def publish_class(out_dir: Path, options: GradeOptions, *, summary: bool) -> list[str]:
    """Summary and exports over every stored result (pages are rendered per submission)."""
    results = [slim(document) for document in iter_results(out_dir)]
    if not results:
        return []
    return publish(results, out_dir, assignment=options.assignment, feedback=False, summary=summary).failures


def rescore_all(
    options: GradeOptions,
    *,
    jobs: Iterable[RescoreJob] | None = None,
    workers: int = 2,
    dry_run: bool = False,
    render: bool = True,
    on_outcome: Callable[[Rescored], None] | None = None,
    publish_outputs: bool = True,
) -> RescoreSummary:
    """Rescore ``jobs`` (default: every stored run in ``options.out_dir``) without executing
    anything; save each new document unless ``dry_run``; then publish the class outputs."""
    started = time.monotonic()
    options = options.resolved()
    out_dir = Path(options.out_dir)
    summary = RescoreSummary(out_dir=out_dir, dry_run=dry_run)
    if not dry_run and not jsonl_current(out_dir):
        rebuild_jsonl(out_dir)  # repair what a killed run left behind
    todo = list(jobs) if jobs is not None else [RescoreJob(sid) for sid in stored_run_ids(out_dir)]
    summary.total = len(todo)
    try:
        for outcome in rescore_stream(todo, options, workers=workers, render=render, dry_run=dry_run):
            if outcome.document is not None and not dry_run:
                write_json_atomic(result_path(out_dir, outcome.id), outcome.document)
            summary.take(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if not dry_run:
            rebuild_jsonl(out_dir)
    if publish_outputs and not dry_run and not summary.interrupted and summary.rescored:
        summary.output_errors = publish_class(out_dir, options, summary=render)
    summary.wall_s = time.monotonic() - started
    return summary
