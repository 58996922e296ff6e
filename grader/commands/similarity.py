"""`grader similarity DIR`: rank pairs of graded submissions by shared code, results and text.

Reads what `grader grade` stored in DIR and writes DIR/similarity.html and DIR/similarity.csv for
the instructor (never for students: nothing of it enters feedback or the exports). The page shows
evidence for a person to judge; docs/SIMILARITY.md says what each figure means.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from grader.commands.options import data_option

if TYPE_CHECKING:
    from grader.assignment import Assignment


@click.command("similarity")
@click.argument("out_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--assignment", "assignment_name", help="Assignment name or rubric path (default: from the results)."
)
@data_option("Data directory with the hidden labels (default: the one grading used, from the cache).")
@click.option("--profile", default=None, help="Data profile (default: the one the results name).")
@click.option(
    "--starter",
    "starters",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="More instructor code to leave out (a notebook or .py file handed to students); repeatable.",
)
def similarity(
    out_dir: Path,
    assignment_name: str | None,
    data_dir: Path | None,
    profile: str | None,
    starters: tuple[Path, ...],
) -> None:
    """Write DIR/similarity.html and DIR/similarity.csv: pairs of submissions ranked by evidence."""
    from grader.commands.report import load_or_fail, resolve_assignment
    from grader.similarity import run_similarity

    results = load_or_fail(out_dir)
    assignment = resolve_assignment(assignment_name, results)
    done = run_similarity(
        out_dir, assignment=assignment, data_dir=data_dir, profile=profile, starters=list(starters)
    )
    report = done.report
    click.echo(
        f"compared {report.n} submissions ({report.candidates} candidate pairs of {report.pairs_in_class}) "
        f"in {report.seconds:.2f} s; {len(report.above_line)} at or above the 'look at this' line; "
        f"wrote {done.html} and {done.csv}"
    )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)


def after_grading(
    out_dir: Path, assignment: Assignment, data_dir: Path | None, profile: str | None, exit_code: int
) -> int:
    """`grader grade --similarity`: write the page once the batch is done. The grades are already
    saved, so a failure here is reported as a failed export (exit 1), never a lost batch."""
    from grader.similarity import run_similarity

    try:
        done = run_similarity(out_dir, assignment=assignment, data_dir=data_dir, profile=profile)
    except Exception as exc:  # noqa: BLE001 - any failure of the extra page leaves the saved grades intact
        click.echo(f"similarity page not written: {type(exc).__name__}: {exc}", err=True)
        return exit_code or 1
    click.echo(
        f"similarity: {len(done.report.above_line)} pairs at or above the line; see {done.html}", err=True
    )
    return exit_code
