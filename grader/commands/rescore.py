"""`grader rescore OUT [--assignment PATH] [--dry-run]`: score every stored run again, run nothing.

After a rubric edit (a threshold, a band, points) or a new expected.json, every run record in
OUT/run/ is scored against the current rubric; results, the students' pages, the class summary and
the exports are rewritten through the one publish path, manual marks are kept, and a diff says
who moved, by how much, on which items. A run whose harvest cannot answer the rubric any more (a
new answer or model) is listed with the reason and left for `grader grade` to execute again.

Exit codes: 0 done; 1 results saved but an output could not be written, or a run could not be
rescored; 2 usage error; 4 some runs need execution; 130 interrupted (run it again to finish).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from grader.commands.options import data_option

EXIT_NEEDS_EXECUTION = 4


@click.command("rescore")
@click.argument("out_dir", metavar="OUT", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--assignment",
    "assignment_name",
    default=None,
    help="Assignment name or rubric path (default: the one the stored results name).",
)
@data_option("Data directory (default: the profile's data, built once into the cache).")
@click.option("--profile", default=None, help="Data profile (default: the one the stored results name).")
@click.option("--dry-run", is_flag=True, help="Print the diff of scores; write nothing.")
@click.option(
    "--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Rescoring processes."
)
@click.option("--no-reports", is_flag=True, help="Do not re-render the students' pages or the summary.")
def rescore(
    out_dir: Path,
    assignment_name: str | None,
    data_dir: Path | None,
    profile: str | None,
    dry_run: bool,
    workers: int,
    no_reports: bool,
) -> None:
    """Rescore every run stored in OUT against the current rubric and expected.json."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.batch import EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUTS
    from grader.datasets import DataError
    from grader.grading import GradeOptions
    from grader.rescore.many import rescore_all, stored_run_ids
    from grader.results import iter_results

    if not stored_run_ids(out_dir):
        raise click.UsageError(f"no run records in {out_dir / 'run'} (run `grader grade` first)")
    names, profiles = set(), set()
    for document in iter_results(out_dir):
        names.add(document.get("assignment"))
        profiles.add(document.get("profile"))
    names.discard(None)
    profiles.discard(None)
    if assignment_name is None:
        if len(names) != 1:
            raise click.UsageError(f"the results name {len(names)} assignments; pass --assignment")
        assignment_name = str(names.pop())
    try:
        assignment = load_assignment(assignment_name)
    except AssignmentError as exc:
        raise click.UsageError(str(exc)) from exc
    if profile is None and len(profiles) == 1:
        profile = str(profiles.pop())
    options = GradeOptions(
        assignment=assignment, out_dir=out_dir.resolve(), data_dir=data_dir, profile=profile
    )
    try:
        options = options.resolved()
    except (DataError, OSError, ValueError) as exc:
        raise click.ClickException(f"the assignment's data cannot be prepared: {exc}") from exc
    summary = rescore_all(options, workers=workers, dry_run=dry_run, render=not no_reports)
    lines = summary.diff_lines()
    if lines:
        click.echo(("Would move" if dry_run else "Moved") + f" ({len(lines)}):")
        for line in lines:
            click.echo(f"  {line}")
    else:
        click.echo("No score moved.")
    for warning in options.context.warnings() if options.context else []:
        click.echo(f"warning: {warning}", err=True)
    click.echo(summary.describe(), err=True)
    if summary.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if summary.output_errors or summary.problems:
        sys.exit(EXIT_OUTPUTS)
    sys.exit(EXIT_NEEDS_EXECUTION if summary.needs_execution else EXIT_OK)
