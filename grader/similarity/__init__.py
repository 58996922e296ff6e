"""Similarity across a graded class: code, reported results and written answers, side by side.

``grader similarity OUT`` (or ``grader grade ... --similarity``) reads what grading stored in OUT
and writes ``OUT/similarity.html`` and ``OUT/similarity.csv`` for the instructor: pairs of
submissions ranked by the evidence that they share more than unrelated work does. Modules:
tokens (normalised code tokens), fingerprints (winnowing, the class index, matching regions),
numbers and predictions (result evidence with chance probabilities), text (written answers),
combine (one pair's figures and score), analysis (candidates and ranking), render (HTML, CSV).
See docs/SIMILARITY.md for what each figure means.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader.assignment import Assignment
    from grader.similarity.analysis import SimilarityReport

__all__ = ["SimilarityOutput", "run_similarity"]


@dataclass(frozen=True)
class SimilarityOutput:
    report: SimilarityReport
    html: Path
    csv: Path


def _assignment_of(results: list[dict[str, Any]]) -> Assignment | None:
    from grader.assignment import AssignmentError, load_assignment  # lazy: start-up (rubric parsing)

    names = {str(r["assignment"]) for r in results if isinstance(r.get("assignment"), str)}
    if len(names) != 1:
        return None
    try:
        return load_assignment(names.pop())
    except AssignmentError:
        return None


def run_similarity(
    out_dir: Path,
    *,
    assignment: Assignment | None = None,
    data_dir: Path | None = None,
    profile: str | None = None,
    starters: list[Path] | None = None,
) -> SimilarityOutput:
    """Compare every graded submission in ``out_dir`` and write the page and the table there.

    The assignment defaults to the one the results name; its data directory and expected.json
    are resolved as grading resolves them. Without an assignment only code and text are compared.
    """
    from grader.results import load_results  # lazy: start-up (the command imports this package)
    from grader.similarity.analysis import compare_class  # lazy: start-up (numpy, scipy)
    from grader.similarity.corpus import load_class  # lazy: start-up
    from grader.similarity.render import write_report  # lazy: start-up (Jinja2)

    out_dir = Path(out_dir)
    results = load_results(out_dir)
    if assignment is None:
        assignment = _assignment_of(results)
    if profile is None:
        profiles = {str(r["profile"]) for r in results if isinstance(r.get("profile"), str)}
        profile = profiles.pop() if len(profiles) == 1 else None
    expected, data, notes = None, None, []
    if assignment is not None:
        from grader.context import resolve_context  # lazy: start-up (data manifests, expected.json)
        from grader.datasets import DataError  # lazy: start-up

        try:
            context = resolve_context(assignment, data_dir, profile)
            expected, data = context.expected, context.data_dir
        except DataError as exc:
            notes.append(f"data not available ({exc}): shared errors on hidden inputs are left out")
    works = load_class(out_dir, assignment)
    report = compare_class(works, assignment, expected=expected, data_dir=data, starters=starters)
    report.notes[:0] = notes
    html, table = write_report(report, out_dir)
    return SimilarityOutput(report=report, html=html, csv=table)
