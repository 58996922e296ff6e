"""`grader release-check ASSIGNMENT`: is this assignment ready to hand out?"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from grader.commands.options import backend_option, data_option


@click.command("release-check")
@click.argument("assignment_name", metavar="ASSIGNMENT")
@data_option("Data directory (default: the embedded data, built once).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the graded reference and template here.",
)
@backend_option
def release_check(assignment_name: str, data_dir: Path | None, out_dir: Path | None, backend: str) -> None:
    """Check ASSIGNMENT: valid rubric, current expected.json, reference full marks, template zero,
    thresholds reachable with margin. Exits 1 and lists what is wrong otherwise."""
    from grader.assignment import AssignmentError, load_assignment
    from grader.context import resolve_context
    from grader.datasets import DataError
    from grader.release import run_release_check

    try:
        assignment = load_assignment(assignment_name)
    except AssignmentError as exc:
        click.echo(f"FAIL rubric is valid: {exc}")
        sys.exit(1)
    try:
        context = resolve_context(assignment, data_dir)
    except DataError as exc:
        raise click.ClickException(
            f"the data of {assignment.name} could not be prepared: {exc}. Build it with "
            f"`grader data {assignment.name} --out DATA` and pass --data DATA"
        ) from exc
    out = out_dir or Path(tempfile.mkdtemp(prefix=f"release-check-{assignment.name}-"))
    checks = run_release_check(context, Path(out), backend=backend)
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    failed = [c for c in checks if not c.ok]
    click.echo(
        f"\n{assignment.name}: {'ready to release' if not failed else f'{len(failed)} check(s) failed'} (graded notebooks in {out})"
    )
    sys.exit(1 if failed else 0)
