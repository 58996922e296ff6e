"""`grader grade`'s use of stored runs: skip what is unchanged, rescore what only the rubric
changed, execute the rest (and say why a submission graded before runs again)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.grading import GradeOptions
from grader.rescore.many import rescore_all
from grader.rescore.one import RescoreJob
from grader.results import result_path
from grader.reuse import RESCORE, SKIP, first_look
from grader.submission import Submission


@dataclass
class Triage:
    """A batch's submissions sorted by what they need."""

    execute: list[Submission] = field(default_factory=list)
    rescore: list[RescoreJob] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # their stored documents
    reasons: dict[str, list[str]] = field(default_factory=dict)  # why one graded before runs again


def _stored(out_dir: Path, submission_id: str) -> dict[str, Any] | None:
    try:
        document = json.loads(result_path(out_dir, submission_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def triage(submissions: list[Submission], options: GradeOptions, *, force: bool) -> Triage:
    """Skip, rescore or execute each submission (``options`` resolved, ``out_dir`` absolute)."""
    out_dir = Path(options.out_dir)
    sorted_out = Triage()
    for submission in submissions:
        stored = _stored(out_dir, submission.id)
        keys = options.keys(Path(submission.path))
        verdict = first_look(stored, keys, out_dir, submission.id, force=force)
        if verdict.action == SKIP:
            assert stored is not None
            sorted_out.skipped.append(stored)
        elif verdict.action == RESCORE:
            sorted_out.rescore.append(RescoreJob(submission.id, submission=submission, current=keys.inputs))
        else:
            sorted_out.execute.append(submission)
            if stored is not None and verdict.reasons:
                sorted_out.reasons[submission.id] = list(verdict.reasons)
    return sorted_out


def rescore_in_batch(
    triaged: Triage,
    options: GradeOptions,
    *,
    workers: int,
    on_document: Callable[[dict[str, Any]], None],
) -> tuple[int, bool]:
    """Rescore ``triaged.rescore`` (saved as they come; ``on_document`` counts each); the ones
    whose run cannot answer the current plan move to ``triaged.execute`` with their reasons.
    Returns how many were rescored, and whether an interrupt stopped it."""
    by_id = {job.id: job for job in triaged.rescore}

    def take(outcome: Any) -> None:
        if outcome.document is not None:
            on_document(outcome.document)
            return
        job = by_id[outcome.id]
        assert job.submission is not None
        triaged.execute.append(job.submission)
        triaged.reasons[outcome.id] = outcome.needs_execution or [
            f"its stored run could not be rescored ({(outcome.problem or '').splitlines()[0]})"
        ]

    summary = rescore_all(
        options,
        jobs=triaged.rescore,
        workers=workers,
        render=options.write_reports,
        on_outcome=take,
        publish_outputs=False,  # the batch publishes once, at its end
    )
    return summary.rescored, summary.interrupted


def describe_reasons(reasons: dict[str, list[str]], limit: int = 8) -> list[str]:
    """'<reason>: N submission(s) (a, b, ...)', one line per distinct reason."""
    by_reason: dict[str, list[str]] = {}
    for sid, texts in sorted(reasons.items()):
        for text in texts:
            by_reason.setdefault(text, []).append(sid)
    lines = []
    for text, ids in by_reason.items():
        shown = ", ".join(ids[:limit]) + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")
        lines.append(f"{text}: {len(ids)} submission(s) ({shown})")
    return lines
