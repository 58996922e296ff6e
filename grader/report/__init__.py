"""Feedback reports: per-student HTML and Markdown, and the class summary page.

Reports render from result documents alone (plus the optional assignment for titles), so they can
be re-rendered at any time, for instance after manual marks are merged. Heavy imports
(matplotlib, Pillow, Jinja2) happen inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.assignment import Assignment

__all__ = ["render_student", "render_summary"]


def render_student(
    result: dict[str, Any],
    out_dir: Path,
    *,
    assignment: Assignment | None = None,
) -> dict[str, Path]:
    """Write ``OUT/feedback/<id>.html`` and ``.md`` for one result document; return both paths."""
    from grader.report.student import render_student as _render  # lazy: start-up (Jinja2 for CSV-only users)

    return _render(result, out_dir, assignment=assignment)


def render_summary(
    results: list[dict[str, Any]], out_dir: Path, *, assignment: Assignment | None = None
) -> Path:
    """Write the class summary page ``OUT/summary.html``; return its path."""
    from grader.report.summary import render_summary as _render  # lazy: start-up (Jinja2, matplotlib)

    return _render(results, out_dir, assignment=assignment)
