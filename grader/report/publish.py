"""Render everything a run publishes from its stored results: feedback, summary, exports.

``grader report`` and ``grader manual --merge`` both end here, so a re-render after manual marks
produces exactly what a fresh grading run would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.assignment import Assignment


@dataclass
class Published:
    """What one publish wrote and how long rendering took."""

    feedback: dict[str, dict[str, Path]] = field(default_factory=dict)
    summary: Path | None = None
    exports: dict[str, Any] = field(default_factory=dict)
    render_s: float = 0.0

    @property
    def per_student_s(self) -> float:
        return self.render_s / len(self.feedback) if self.feedback else 0.0


def publish(
    results: list[dict[str, Any]],
    out_dir: Path,
    *,
    assignment: Assignment | None = None,
    expected: dict[str, Any] | None = None,
    canvas_column: str | None = None,
    roster: Path | None = None,
    workers: int = 1,
) -> Published:
    """Write OUT/feedback/<id>.html|md, OUT/summary.html, grades.csv, canvas.csv, gradescope/.

    Manual marks and overrides from the marks store are applied to ``results`` first (in place,
    and saved to OUT/results), so every output shows them, however the results were produced.

    ``workers`` > 1 renders the per-student pages in that many processes (plots dominate the
    time and matplotlib holds the GIL, so threads would not help).
    """
    from grader.exports import write_all
    from grader.marks import apply_store
    from grader.report import render_student, render_summary

    out_dir = Path(out_dir)
    apply_store(out_dir, results)  # people's decisions in OUT/marks.sqlite, laid over `results` in place
    done = Published()
    start = time.perf_counter()
    if workers > 1 and len(results) > 1:
        from concurrent.futures import ProcessPoolExecutor

        render = partial(render_student, out_dir=out_dir, assignment=assignment, expected=expected)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result, paths in zip(results, pool.map(render, results, chunksize=4), strict=True):
                done.feedback[result["id"]] = paths
    else:
        for result in results:
            done.feedback[result["id"]] = render_student(
                result, out_dir, assignment=assignment, expected=expected
            )
    done.render_s = time.perf_counter() - start
    done.summary = render_summary(results, out_dir, assignment=assignment)
    done.exports = write_all(results, out_dir, canvas_column=canvas_column, roster=roster)
    return done


def feedback_field(out_dir: Path, paths: dict[str, Path]) -> dict[str, str]:
    """The result document's ``feedback`` value: paths relative to OUT."""
    return {kind: str(Path(path).relative_to(out_dir)) for kind, path in paths.items()}
