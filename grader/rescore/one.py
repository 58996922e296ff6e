"""Rescore ONE stored run: read OUT/run/<id>.json, score it under the current rubric, keep the
manual marks, render the student's pages. No kernel, no sandbox.

This is what a rescoring worker runs (``grader rescore``, and ``grader grade`` for submissions
whose scoring key alone changed). It checks the run record's execution stamp first
(grader.reuse.run_reasons), so a run is never scored against a plan it was not harvested for:
such a submission comes back as "needs execution", with the reasons.
"""

from __future__ import annotations

import functools
import hashlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import report
from grader.grading import GradeOptions, complete_document
from grader.keys import SubmissionKeys, execution_key
from grader.keys.plan import canonical
from grader.publish import feedback_field
from grader.report import render_student
from grader.report.files import write_text_atomic
from grader.report.student import assignment_title, feedback_paths
from grader.rescore.diff import ScoreMove, compare
from grader.rescore.marks import keep_manual_marks
from grader.results import result_path
from grader.reuse import inputs_for_rescore, read_json, run_path, run_reasons
from grader.scoring import score_run
from grader.submission import Submission

VOLATILE = ("graded_at", "timings", "feedback")  # what differs between two identical scorings
PAGE_KEYS = Path(".cache") / "pages"  # OUT/.cache/pages/<id>: what the pages were rendered from
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
UNSEEN = ("feedback", "content_hash", "execution_key", "scoring_key")  # in no page
KEYS = ("content_hash", "execution_key", "scoring_key")


@dataclass(frozen=True)
class RescoreJob:
    """One submission to rescore. ``submission`` and ``current`` (the execution inputs it must
    match) are known to ``grader grade``; ``grader rescore`` takes both from the stored files."""

    id: str
    submission: Submission | None = None
    current: dict[str, Any] | None = None


@dataclass
class Rescored:
    """What a worker sends back: the new document, or why it needs execution, or what failed."""

    id: str
    document: dict[str, Any] | None = None
    move: ScoreMove | None = None
    needs_execution: list[str] = field(default_factory=list)
    problem: str | None = None
    rendered: bool = False
    seconds: float = 0.0


_LABELS: dict[tuple[str, str], dict[str, Any]] = {}  # per worker process: labels read once


def _labels_for(options: GradeOptions) -> dict[str, Any]:
    """This process's label cache for the context's data and input sets (never reloaded per run)."""
    context = options.context
    assert context is not None
    key = (str(context.data_dir), repr(sorted(context.assignment.inputs.items())))
    return _LABELS.setdefault(key, {})


def _submission(job: RescoreJob, stored: dict[str, Any], run: dict[str, Any]) -> Submission:
    if job.submission is not None:
        return job.submission
    run_notes = set(run.get("notes") or [])
    intake_notes = [n for n in stored.get("notes") or [] if isinstance(n, str) and n not in run_notes]
    return Submission(
        id=job.id,
        student=str(stored.get("student") or job.id),
        path=Path(str(stored.get("submission") or "")),
        notes=tuple(intake_notes),
    )


def same_result(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Whether two documents tell the student the same thing (times, page paths and keys aside)."""
    if before is None:
        return False
    strip = set(VOLATILE) | set(KEYS)
    return {k: v for k, v in before.items() if k not in strip} == {
        k: v for k, v in after.items() if k not in strip
    }


@functools.lru_cache(maxsize=1)
def _report_code() -> str:
    """The templates and the report code: a change to either renders every page again."""
    digest = hashlib.sha256()
    for folder, pattern in ((TEMPLATES, "*"), (Path(report.__file__).parent, "*.py")):
        for path in sorted(folder.rglob(pattern)):  # templates has sub-folders (review/)
            if path.is_file():
                digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def page_key(document: dict[str, Any], options: GradeOptions) -> str:
    """What a student's pages show: the document (its keys and page paths aside), the
    assignment's title, the report code."""
    seen = {k: v for k, v in document.items() if k not in UNSEEN}
    title = assignment_title(document, options.assignment)
    return hashlib.sha256(canonical({"document": seen, "title": title, "code": _report_code()})).hexdigest()


def _pages_current(out_dir: Path, rid: str, key: str) -> bool:
    pages = feedback_paths(out_dir, rid)
    try:
        stored_key = (out_dir / PAGE_KEYS / rid).read_text(encoding="utf-8")
    except OSError:
        return False
    return stored_key == key and all(path.is_file() for path in pages.values())


def rescore_one(job: RescoreJob, options: GradeOptions, *, render: bool, dry_run: bool) -> Rescored:
    """Rescore one stored run (see the module docstring); never raises for a submission's files."""
    started = time.perf_counter()
    try:
        outcome = _rescore(job, options, render=render, dry_run=dry_run)
    except Exception as exc:  # a grader bug on one record: reported, the others go on
        outcome = Rescored(job.id, problem=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}")
    outcome.seconds = time.perf_counter() - started
    return outcome


def _rescore(job: RescoreJob, options: GradeOptions, *, render: bool, dry_run: bool) -> Rescored:
    context = options.context
    assert context is not None and context.basis is not None  # resolved by the caller
    out_dir = Path(options.out_dir)
    stored = read_json(result_path(out_dir, job.id))
    run = read_json(run_path(out_dir, job.id))
    current = (
        job.current
        if job.current is not None
        else (inputs_for_rescore(run, context.basis) if run is not None else None)
    )
    reasons = run_reasons(run, current, context.basis.plan)
    if reasons:
        return Rescored(job.id, needs_execution=reasons)
    assert run is not None and current is not None
    if stored is None:
        stored = {"id": job.id, "student": run.get("student") or job.id, "submission": run.get("notebook")}
    scored_at = time.perf_counter()
    document = score_run(
        run,  # type: ignore[arg-type]  # a RunRecord read back from its JSON file
        context.assignment,
        context.expected,
        context.data_dir,
        profile=context.profile,
        public_only=bool(current.get("public_only")),
        labels=_labels_for(options),
    )
    submission = _submission(job, stored, run)
    keys = SubmissionKeys(execution=execution_key(current), scoring=context.scoring, inputs=current)
    complete_document(document, submission, run, options, keys)  # type: ignore[arg-type]
    document = keep_manual_marks(out_dir, document)
    timings = dict(stored.get("timings") or {})
    execute_s = float(timings.get("execute_s") or 0.0)
    timings = {"execute_s": execute_s, "score_s": round(time.perf_counter() - scored_at, 3)}
    timings["total_s"] = round(execute_s + timings["score_s"], 3)
    document["timings"] = timings
    if same_result(stored, document):  # nothing a student sees changed: keep when it was graded
        document["graded_at"] = stored.get("graded_at", document["graded_at"])
        document["timings"] = stored.get("timings", timings)
    rendered = False
    if stored.get("feedback"):
        document["feedback"] = stored["feedback"]
    if render and not dry_run:
        key = page_key(document, options)
        if not _pages_current(out_dir, job.id, key):  # re-render only pages whose content changed
            paths = render_student(document, out_dir, assignment=context.assignment)
            document["feedback"] = feedback_field(out_dir, paths)
            write_text_atomic(out_dir / PAGE_KEYS / job.id, key, durable=False)
            rendered = True
    return Rescored(job.id, document=document, move=compare(stored, document), rendered=rendered)
