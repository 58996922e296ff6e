"""The one publish path: everything a graded folder shows people, rendered from stored results.

``grader grade`` (at the end of a batch), ``grader report`` and ``grader manual --merge`` all end
here, so an output added to it reaches every command, and a re-render after manual marks gives
exactly what a fresh grading run would. Each output is attempted on its own: the results are
already saved, so one failing writer neither hides the others nor loses anything; failures are
returned for the caller to report (and to turn into its exit status).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from grader.assignment import Assignment
from grader.exports import write_canvas_csv, write_grades_csv, write_gradescope
from grader.marks import apply_store
from grader.report import render_student, render_summary


@dataclass
class Published:
    """What one publish wrote, what failed, and how long the per-student pages took."""

    feedback: dict[str, dict[str, Path]] = field(default_factory=dict)
    summary: Path | None = None
    exports: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # "<output>: <what went wrong>"
    render_s: float = 0.0

    @property
    def per_student_s(self) -> float:
        return self.render_s / len(self.feedback) if self.feedback else 0.0


def feedback_field(out_dir: Path, paths: dict[str, Path]) -> dict[str, str]:
    """The result document's ``feedback`` value: paths relative to OUT."""
    return {kind: str(Path(path).relative_to(out_dir)) for kind, path in paths.items()}


def publish(
    results: list[dict[str, Any]],
    out_dir: Path,
    *,
    assignment: Assignment | None = None,
    feedback: bool = True,
    summary: bool = True,
    canvas_column: str | None = None,
    roster: Path | None = None,
    workers: int = 1,
) -> Published:
    """Write OUT/feedback/<id>.html|md (with ``feedback``), OUT/summary.html (with ``summary``),
    grades.csv, canvas.csv and gradescope/<id>/results.json.

    People's decisions in the marks store (OUT/marks.sqlite: manual marks, overrides) are laid
    over ``results`` first, in place and saved to OUT/results, so every output shows them however
    the results were produced; a student whose document changed gets fresh feedback pages even
    when ``feedback`` is False (grader grade renders the others as each submission finishes).

    ``workers`` > 1 renders the per-student pages in that many processes (plots dominate the
    time and matplotlib holds the GIL, so threads would not help).
    """
    out_dir = Path(out_dir)
    done = Published()
    changed = set(apply_store(out_dir, results))
    if feedback:
        _render_feedback(results, out_dir, assignment, workers, done)
    elif changed:
        _render_feedback([r for r in results if r.get("id") in changed], out_dir, assignment, 1, done)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("grades.csv", lambda: write_grades_csv(results, out_dir / "grades.csv")),
        (
            "canvas.csv",
            lambda: write_canvas_csv(results, out_dir / "canvas.csv", column=canvas_column, roster=roster),
        ),
        ("gradescope/", lambda: write_gradescope(results, out_dir / "gradescope")),
    ]
    if summary:
        steps.append(("summary.html", lambda: render_summary(results, out_dir, assignment=assignment)))
    for name, step in steps:
        try:
            value = step()
        except Exception as exc:  # reported and reflected in the exit status, never a lost batch
            done.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if name == "summary.html":
            done.summary = value
        elif name == "canvas.csv":
            done.exports["canvas_unmatched"] = value
        else:
            done.exports[name.rstrip("/").replace(".csv", "")] = value
    return done


def _render_feedback(
    results: list[dict[str, Any]], out_dir: Path, assignment: Assignment | None, workers: int, done: Published
) -> None:
    start = time.perf_counter()
    render = partial(_render_one, out_dir=out_dir, assignment=assignment)
    if workers > 1 and len(results) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(render, results, chunksize=4))
    else:
        outcomes = [render(result) for result in results]
    for result, (paths, problem) in zip(results, outcomes, strict=True):
        if paths is not None:
            done.feedback[str(result["id"])] = paths
        else:
            done.failures.append(f"feedback for {result.get('id')!r}: {problem}")
    done.render_s = time.perf_counter() - start


def _render_one(
    result: dict[str, Any], *, out_dir: Path, assignment: Assignment | None
) -> tuple[dict[str, Path] | None, str | None]:
    """One student's pages, or why they could not be written (a module-level function, so a
    process pool can run it)."""
    try:
        return render_student(result, out_dir, assignment=assignment), None
    except Exception as exc:
        return None, str(exc)
